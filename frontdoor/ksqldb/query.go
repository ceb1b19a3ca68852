package ksqldb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/topiclog"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// column is a relation's column as queries over its topic see it.
type column struct {
	Name string
	Type types.Type
	Key  bool
	idx  int // in the event's row
}

// sqlColumns are the columns of a topic's records: each typed by
// types.FromColumn and upper-cased (ksqlDB's inference), key columns
// first; columns without a SQL type are left out.
func sqlColumns(sch *event.Schema) []column {
	var keys, vals []column
	for i := range sch.Columns {
		c := &sch.Columns[i]
		t, ok := types.FromColumn(c)
		if !ok {
			continue
		}
		col := column{Name: strings.ToUpper(c.Name), Type: t, Key: c.Key, idx: i}
		if c.Key {
			keys = append(keys, col)
		} else {
			vals = append(vals, col)
		}
	}
	return append(keys, vals...)
}

// topicSchema is the schema of the oldest retained record of a topic of
// the topic log (the sql processor, too, fixes a stream's columns by its
// first record); nil when the topic is empty or missing.
func (s *Server) topicSchema(topic string) (*schemaView, error) {
	var last *event.Event
	err := s.scan(context.Background(), topic, true, false, func(ev *event.Event) bool { last = ev; return false })
	if err != nil || last == nil {
		return nil, err
	}
	return &schemaView{Columns: sqlColumns(last.Schema)}, nil
}

type schemaView struct{ Columns []column }

// scan reads a topic's records from the start (fromStart) or its end,
// decoding each to an event; follow waits for more until ctx ends. fn
// returns false to stop.
func (s *Server) scan(ctx context.Context, topic string, fromStart, follow bool, fn func(*event.Event) bool) error {
	if s.opt.LogDir == "" {
		return errors.New("queries read the topic log: this server carries its topics in Kafka")
	}
	l, err := topiclog.Open(s.opt.LogDir, topiclog.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	var t *topiclog.Topic
	for {
		t, err = l.Topic(topic)
		if err == nil {
			break
		}
		if !errors.Is(err, topiclog.ErrUnknownTopic) || !follow {
			if errors.Is(err, topiclog.ErrUnknownTopic) {
				return nil
			}
			return err
		}
		select {
		case <-l.Changed():
		case <-ctx.Done():
			return nil
		}
	}
	start, end, err := t.Offsets()
	if err != nil {
		return err
	}
	off := start
	if !fromStart {
		off = end
	}
	rd := t.NewReader(off)
	defer rd.Close()
	dec := format.NewDecoder()
	var buf []topiclog.Record
	for {
		buf, err = rd.Read(buf[:0], 256, 4<<20)
		if err != nil {
			return err
		}
		for i := range buf {
			if buf[i].Value == nil {
				continue // a tombstone: its key's row is deleted
			}
			ev, err := dec.Decode(topic, buf[i].Key, buf[i].Value)
			if err != nil {
				return fmt.Errorf("topic %s offset %d: %v", topic, buf[i].Offset, err)
			}
			if !fn(&ev) {
				return nil
			}
		}
		if len(buf) > 0 {
			continue
		}
		if !follow {
			return nil
		}
		if err := rd.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// jsonValue renders a value as ksqlDB's JSON does.
func jsonValue(v event.Value) any {
	switch v.Kind {
	case event.KindNull, event.KindUnchanged:
		return nil
	case event.KindBool:
		return v.AsBool()
	case event.KindInt:
		return v.AsInt()
	case event.KindFloat:
		f := v.AsFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return f
	case event.KindDecimal:
		return json.Number(v.Str)
	case event.KindBytes:
		return base64.StdEncoding.EncodeToString([]byte(v.Str))
	case event.KindArray:
		out := []any{}
		for _, e := range v.Elems() {
			out = append(out, jsonValue(e))
		}
		return out
	}
	return v.Text()
}

// selection is a pull or push query sluice runs: SELECT * or columns
// FROM one relation [WHERE col = literal [AND …]] [EMIT CHANGES] [LIMIT n].
type selection struct {
	rel   *relation
	items []selItem // nil: *
	where []cond
	push  bool
	limit int // 0: none
}

type selItem struct{ col, alias string }

type cond struct {
	col string
	val any // string, int64, float64, bool
}

func literal(e parse.Expr) (any, bool) {
	switch e := e.(type) {
	case *parse.StringLit:
		return e.Value, true
	case *parse.NumberLit:
		if i, err := strconv.ParseInt(e.Text, 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(e.Text, 64)
		return f, err == nil
	case *parse.BoolLit:
		return e.Value, true
	}
	return nil, false
}

func conds(e parse.Expr, out *[]cond) bool {
	b, ok := e.(*parse.Binary)
	if !ok {
		return false
	}
	if b.Op.String() == "AND" {
		return conds(b.L, out) && conds(b.R, out)
	}
	if b.Op.String() != "=" {
		return false
	}
	c, ok := b.L.(*parse.ColumnRef)
	v, lok := literal(b.R)
	if !ok || !lok {
		return false
	}
	*out = append(*out, cond{col: c.Name.Name, val: v})
	return true
}

const selectShape = "sluice runs SELECT * (or columns) FROM one stream or table [WHERE column = literal [AND …]] [EMIT CHANGES] [LIMIT n]; run other queries as CREATE STREAM|TABLE … AS SELECT and read their relation"

func (s *Server) prepare(text string) (*selection, *stmtErr) {
	pieces := Split(text)
	if len(pieces) != 1 {
		return nil, bad("send one SELECT statement")
	}
	stmts, err := parse.Parse(pieces[0].Text)
	if err != nil {
		return nil, bad("%s", err.Error())
	}
	q, ok := stmts[0].(*parse.Query)
	if !ok {
		return nil, bad("only SELECT statements go to this endpoint (hint: POST other statements to /ksql)")
	}
	sel := q.Select
	tbl, ok := sel.From.(*parse.Table)
	if !ok || sel.Window != nil || sel.GroupBy != nil || sel.PartitionBy != nil || sel.Having != nil {
		return nil, bad("%s", selectShape)
	}
	s.mu.Lock()
	rel := s.rels[tbl.Name.Name]
	s.mu.Unlock()
	if rel == nil {
		return nil, bad("%s does not exist.", tbl.Name.Name)
	}
	out := &selection{rel: rel, push: sel.Emit == parse.EmitChanges}
	if sel.HasLimit {
		out.limit = sel.Limit
	}
	if !out.push && !rel.Table {
		return nil, bad("Pull queries don't support STREAMs in sluice: %s is a stream (hint: add EMIT CHANGES for a push query)", rel.Name)
	}
	for _, it := range sel.Items {
		if it.Star && it.Qualifier == nil {
			out.items = nil
			continue
		}
		c, ok := it.Expr.(*parse.ColumnRef)
		if !ok {
			return nil, bad("%s", selectShape)
		}
		a := c.Name.Name
		if it.Alias != nil {
			a = it.Alias.Name
		}
		out.items = append(out.items, selItem{col: c.Name.Name, alias: a})
	}
	if sel.Where != nil && !conds(sel.Where, &out.where) {
		return nil, bad("%s", selectShape)
	}
	return out, nil
}

// header is the first line of /query-stream's answer.
type header struct {
	QueryID     string   `json:"queryId"`
	ColumnNames []string `json:"columnNames"`
	ColumnTypes []string `json:"columnTypes"`
}

// rowsOf applies the selection to an event: the row's values, or false
// when WHERE drops it (or a column is missing).
func (sel *selection) row(ev *event.Event, cols []column) ([]any, bool) {
	byName := map[string]any{}
	for _, c := range cols {
		if c.idx < len(ev.After) {
			byName[c.Name] = jsonValue(ev.After[c.idx])
		}
	}
	for _, w := range sel.where {
		v, ok := byName[w.col]
		if !ok || !sameValue(v, w.val) {
			return nil, false
		}
	}
	var out []any
	if sel.items == nil {
		for _, c := range cols {
			out = append(out, byName[c.Name])
		}
		return out, true
	}
	for _, it := range sel.items {
		out = append(out, byName[it.col])
	}
	return out, true
}

func sameValue(v, lit any) bool {
	switch l := lit.(type) {
	case string:
		return fmt.Sprint(v) == l
	case int64:
		switch v := v.(type) {
		case int64:
			return v == l
		case float64:
			return v == float64(l)
		}
	case float64:
		switch v := v.(type) {
		case int64:
			return float64(v) == l
		case float64:
			return v == l
		}
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	}
	return false
}

func (sel *selection) header(id string, cols []column) header {
	h := header{QueryID: id, ColumnNames: []string{}, ColumnTypes: []string{}}
	if sel.items == nil {
		for _, c := range cols {
			h.ColumnNames = append(h.ColumnNames, c.Name)
			h.ColumnTypes = append(h.ColumnTypes, c.Type.String())
		}
		return h
	}
	for _, it := range sel.items {
		t := "STRING"
		for _, c := range cols {
			if c.Name == it.col {
				t = c.Type.String()
			}
		}
		h.ColumnNames = append(h.ColumnNames, it.alias)
		h.ColumnTypes = append(h.ColumnTypes, t)
	}
	return h
}

// run runs a selection, calling emit with the header once (when the
// relation's columns are known) and with each row. A pull query reads the
// table's changelog topic to its end and keeps the newest row per key; a
// push query follows the topic from its end (auto.offset.reset=latest,
// the default) or its start until ctx ends or LIMIT rows went out.
func (s *Server) run(ctx context.Context, sel *selection, props map[string]string, emitHeader func([]column), emit func([]any) bool) error {
	var cols []column
	var sch *event.Schema
	colsOf := func(ev *event.Event) []column {
		if ev.Schema != sch {
			sch = ev.Schema
			cols = sqlColumns(sch)
		}
		return cols
	}
	if !sel.push {
		type kept struct {
			key string
			row []any
		}
		var order []string
		rows := map[string][]any{}
		headerDone := false
		err := s.scan(ctx, sel.rel.Topic, true, false, func(ev *event.Event) bool {
			c := colsOf(ev)
			if !headerDone {
				emitHeader(c)
				headerDone = true
			}
			key := keyString(ev)
			if ev.Op == event.OpDelete {
				delete(rows, key)
				return true
			}
			r, ok := sel.row(ev, c)
			if _, seen := rows[key]; !seen {
				order = append(order, key)
			}
			if ok {
				rows[key] = r
			} else {
				delete(rows, key)
			}
			return true
		})
		if err != nil {
			return err
		}
		if !headerDone {
			emitHeader(nil)
		}
		n := 0
		for _, k := range order {
			if r, ok := rows[k]; ok {
				if sel.limit > 0 && n == sel.limit {
					break
				}
				if !emit(r) {
					return nil
				}
				rows[k] = nil
				delete(rows, k)
				n++
			}
		}
		return nil
	}
	fromStart := strings.EqualFold(props["auto.offset.reset"], "earliest")
	n := 0
	headerDone := false
	if cached, _ := s.topicSchema(sel.rel.Topic); cached != nil {
		emitHeader(cached.Columns)
		headerDone = true
	}
	return s.scan(ctx, sel.rel.Topic, fromStart, true, func(ev *event.Event) bool {
		c := colsOf(ev)
		if !headerDone {
			emitHeader(c)
			headerDone = true
		}
		if ev.Op == event.OpDelete {
			return true
		}
		r, ok := sel.row(ev, c)
		if !ok {
			return true
		}
		if !emit(r) {
			return false
		}
		n++
		return sel.limit == 0 || n < sel.limit
	})
}

func keyString(ev *event.Event) string {
	var b strings.Builder
	for _, v := range ev.Key() {
		j, _ := json.Marshal(jsonValue(v))
		b.Write(j)
		b.WriteByte(0)
	}
	return b.String()
}

// queryRequest is the body of /query-stream ({"sql": …, "properties": …})
// and /query ({"ksql": …, "streamsProperties": …}).
type queryRequest struct {
	SQL               string         `json:"sql"`
	Properties        map[string]any `json:"properties"`
	KSQL              string         `json:"ksql"`
	StreamsProperties map[string]any `json:"streamsProperties"`
}

func (s *Server) startQuery(w http.ResponseWriter, r *http.Request) (*selection, map[string]string, bool) {
	var req queryRequest
	if !readBody(w, r, &req) {
		return nil, nil, false
	}
	text := firstOf(req.SQL, req.KSQL)
	props := propsOf(req.Properties)
	for k, v := range propsOf(req.StreamsProperties) {
		props[k] = v
	}
	sel, serr := s.prepare(text)
	if serr != nil {
		writeJSON(w, serr.code, statementError{Type: "statement_error", Code: errBadStatement, Message: serr.msg, StatementText: text, Entities: []any{}})
		return nil, nil, false
	}
	return sel, props, true
}

// transientID names a push query as ksqlDB does (transient_<relation>_n,
// n counting the server's push queries); a pull query has none.
func (s *Server) transientID(sel *selection) string {
	if !sel.push {
		return ""
	}
	s.mu.Lock()
	s.pushes++
	n := s.pushes
	s.mu.Unlock()
	return fmt.Sprintf("transient_%s_%d", sel.rel.Name, n)
}

// queryStream serves POST /query-stream: the header object, then one JSON
// array per row, each on its own line (ksqlDB's delimited format).
func (s *Server) queryStream(w http.ResponseWriter, r *http.Request) {
	sel, props, ok := s.startQuery(w, r)
	if !ok {
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/vnd.ksqlapi.delimited.v1")
	id := s.transientID(sel)
	enc := json.NewEncoder(w)
	err := s.run(r.Context(), sel, props, func(cols []column) {
		enc.Encode(sel.header(id, cols))
		if fl != nil {
			fl.Flush()
		}
	}, func(row []any) bool {
		if enc.Encode(row) != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	})
	if err != nil {
		enc.Encode(genericError{Type: "generic_error", Code: errServer, Message: err.Error()})
	}
}

// queryOld serves POST /query: ksqlDB's older JSON array — a header
// object, then {"row":{"columns":[…]}} per row.
func (s *Server) queryOld(w http.ResponseWriter, r *http.Request) {
	sel, props, ok := s.startQuery(w, r)
	if !ok {
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	id := s.transientID(sel)
	if id == "" {
		id = "query_" + sel.rel.Name
	}
	io := func(s string) {
		w.Write([]byte(s))
		if fl != nil {
			fl.Flush()
		}
	}
	io("[")
	err := s.run(r.Context(), sel, props, func(cols []column) {
		h := sel.header(id, cols)
		schema := make([]string, len(h.ColumnNames))
		for i := range h.ColumnNames {
			schema[i] = "`" + h.ColumnNames[i] + "` " + h.ColumnTypes[i]
		}
		b, _ := json.Marshal(map[string]any{"header": map[string]any{"queryId": id, "schema": strings.Join(schema, ", ")}})
		io(string(b))
	}, func(row []any) bool {
		b, _ := json.Marshal(map[string]any{"row": map[string]any{"columns": row}})
		io(",\n" + string(b))
		return r.Context().Err() == nil
	})
	if err != nil {
		b, _ := json.Marshal(map[string]any{"errorMessage": map[string]any{"@type": "generic_error", "error_code": errServer, "message": err.Error()}})
		io(",\n" + string(b))
	}
	io("]\n")
}
