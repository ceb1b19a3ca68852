package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// keyFormatsWithSchema are the formats whose key carries a schema ksqlDB
// can infer key columns from.
var keyFormatsWithSchema = []string{"AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"}

func propMap(props []parse.Property) map[string]string {
	m := map[string]string{}
	for _, p := range props {
		m[p.Name], _ = parse.PropString(props, p.Name)
	}
	return m
}

func propPos(props []parse.Property, name string, def parse.Pos) parse.Pos {
	for _, p := range props {
		if p.Name == name {
			return p.Value.Position()
		}
	}
	return def
}

// checkReplace enforces CREATE's rules for an existing name: an error,
// nothing (IF NOT EXISTS), or a replacement (OR REPLACE) of a relation no
// query uses. It reports whether the statement goes on.
func (pl *planner) checkReplace(name parse.Ident, kind ir.Kind, ifNotExists, orReplace bool) bool {
	old := pl.rels[name.Name]
	if old == nil {
		return true
	}
	if ifNotExists {
		return false
	}
	if !orReplace {
		bail(name.Pos, "%s %s already exists (line %d); choose another name, or CREATE OR REPLACE it", strings.ToLower(kindName(old.Kind)), old.Name, old.Pos.Line)
	}
	if old.Kind != kind {
		bail(name.Pos, "cannot replace %s %s with a %s", strings.ToLower(kindName(old.Kind)), old.Name, strings.ToLower(kindName(kind)))
	}
	return true
}

// createSource declares a stream or table over a sluice stream.
func (pl *planner) createSource(s *parse.CreateSource) {
	kind := ir.Stream
	if s.Table {
		kind = ir.Table
	}
	if !pl.checkReplace(s.Name, kind, s.IfNotExists, s.OrReplace) {
		return
	}
	if old := pl.rels[s.Name.Name]; old != nil {
		if old.Query != "" {
			bail(s.Name.Pos, "cannot replace %s: query %s writes it", old.Name, old.Query)
		}
		if rs := pl.readers(old.Name); len(rs) > 0 {
			bail(s.Name.Pos, "cannot replace %s: %s reads it", old.Name, suggest.Or(rs))
		}
	}
	props := propMap(s.Props)
	what := kindName(kind)
	topic, ok := props["KAFKA_TOPIC"]
	if !ok {
		bail(s.Pos, "CREATE %s %s needs WITH (kafka_topic = '…'): the sluice stream it reads", what, s.Name.Name)
	}
	if _, ok := props["WINDOW_TYPE"]; ok {
		bail(propPos(s.Props, "WINDOW_TYPE", s.Pos), "window_type is not supported: read a windowed aggregation's result through the table its CREATE TABLE … AS SELECT declares")
	}
	for _, c := range s.Columns {
		if c.Headers || c.HasHeader {
			bail(c.Pos, "HEADERS columns are not supported: sluice events carry no Kafka headers (column %s)", c.Name.Name)
		}
	}
	rel := &Relation{Name: s.Name.Name, Kind: kind, Topic: topic, Props: props, Pos: s.Pos}
	src := &ir.Source{Name: rel.Name, Stream: topic, K: kind, TimestampCol: -1}
	if kind == ir.Stream {
		src.DeleteHandling = "drop"
	}

	declared, keyOnly := declaredColumns(s)
	var known *event.Schema // the stream's schema, when known
	var derived *Relation   // the relation whose query writes the stream
	rewrite := false        // deletes come as rows with __deleted = 'true'
	switch info, inCatalog := pl.cat.Stream(topic); {
	case pl.topics[topic] != nil:
		derived = pl.topics[topic]
		if derived.Pending {
			panic(wait{derived.Topic})
		}
	case inCatalog:
		known = info.Schema
		rewrite = info.DeleteHandling == "rewrite"
		if kind == ir.Stream && info.DeleteHandling != "" {
			src.DeleteHandling = info.DeleteHandling
		}
		if known == nil && (len(declared) == 0 || keyOnly) {
			panic(wait{topic})
		}
	case props["PARTITIONS"] != "":
		// ksqlDB creates the topic: here a new sluice stream that INSERT
		// INTO fills.
		if len(declared) == 0 {
			bail(s.Pos, "CREATE %s %s declares the new stream '%s' (partitions given): list its columns", what, rel.Name, topic)
		}
		pl.topics[topic] = rel
	default:
		var names []string
		names = append(names, pl.cat.Streams()...)
		for t := range pl.topics {
			names = append(names, t)
		}
		slices.Sort(names)
		bail(propPos(s.Props, "KAFKA_TOPIC", s.Pos), "unknown sluice stream '%s'%s: kafka_topic names a source's stream, a Kafka topic a kafka source reads, or a query's result; %s", topic, suggest.Hint(topic, names), knownStreams(names))
	}

	var cols []types.Field
	var from []string
	var keys []string
	switch {
	case derived != nil:
		if len(declared) > 0 {
			checkDeclared(declared, derivedColumns(derived), topic)
		}
		for _, c := range derived.Schema.Columns {
			cols = append(cols, c)
			from = append(from, c.Name)
		}
		for _, k := range derived.Schema.Key {
			keys = append(keys, derived.Schema.Columns[k].Name)
		}
		rel.Windowed = derived.Windowed
	case known != nil && (len(declared) == 0 || keyOnly):
		inferred, inferredFrom, inferredKeys := inferColumns(s, known, rewrite)
		if keyOnly {
			checkDeclared(declared, columnsOf(known), topic)
			for _, d := range declared {
				keys = append(keys, d.Name.Name)
			}
		} else {
			format := strings.ToUpper(props["KEY_FORMAT"])
			if format == "" {
				format = strings.ToUpper(props["FORMAT"])
			}
			if kind == ir.Table || slices.Contains(keyFormatsWithSchema, format) {
				keys = inferredKeys
			}
		}
		cols, from = inferred, inferredFrom
	default:
		if known != nil {
			checkDeclared(declared, columnsOf(known), topic)
		}
		for _, d := range declared {
			cols = append(cols, types.Field{Name: d.Name.Name, Type: d.Type.T})
			from = append(from, sourceName(d.Name.Name, known))
			if d.Key {
				keys = append(keys, d.Name.Name)
			}
		}
	}
	rel.Schema, src.FromColumns = keyFirst(cols, from, keys)
	if kind == ir.Table && len(rel.Schema.Key) == 0 {
		bail(s.Pos, "table %s has no key: declare its PRIMARY KEY column (CREATE TABLE %s (id STRING PRIMARY KEY, …)), or read a stream whose source has a primary key", rel.Name, rel.Name)
	}
	pl.timestamp(s, rel, src)
	src.S = types.Schema{Columns: sourceRow(rel), Key: rel.Schema.Key}
	rel.Source = src
	pl.addRelation(rel)
}

// declaredColumns returns the column list, and whether it declares only
// key columns (the value columns are then inferred, as ksqlDB allows).
func declaredColumns(s *parse.CreateSource) ([]parse.ColumnDef, bool) {
	seen := map[string]bool{}
	keyOnly := len(s.Columns) > 0
	for _, c := range s.Columns {
		if seen[c.Name.Name] {
			bail(c.Name.Pos, "column %s is declared twice", c.Name.Name)
		}
		seen[c.Name.Name] = true
		if !c.Key {
			keyOnly = false
		}
	}
	return s.Columns, keyOnly
}

// srcColumn is a column of the stream being read: its name there and SQL
// type.
type srcColumn struct {
	name string
	t    types.Type
}

func columnsOf(es *event.Schema) []srcColumn {
	var out []srcColumn
	for i := range es.Columns {
		if t, ok := types.FromColumn(&es.Columns[i]); ok {
			out = append(out, srcColumn{es.Columns[i].Name, t})
		}
	}
	return out
}

func derivedColumns(r *Relation) []srcColumn {
	out := make([]srcColumn, len(r.Schema.Columns))
	for i, c := range r.Schema.Columns {
		out[i] = srcColumn{c.Name, c.Type}
	}
	return out
}

// checkDeclared requires every declared column to be in the stream (its
// name matched case-insensitively) with a type it converts to: the same
// type, another numeric type, STRING to any type it can be CAST to, or
// anything to STRING.
func checkDeclared(declared []parse.ColumnDef, have []srcColumn, stream string) {
	var names []string
	for _, h := range have {
		names = append(names, h.name)
	}
	for _, d := range declared {
		var found *srcColumn
		for i := range have {
			if strings.EqualFold(have[i].name, d.Name.Name) {
				found = &have[i]
				break
			}
		}
		if found == nil {
			bail(d.Name.Pos, "column %s is not in sluice stream '%s'%s", d.Name.Name, stream, hintOrList(d.Name.Name, names, nil))
		}
		dt, st := d.Type.T, found.t
		ok := dt.Equal(st) || dt.IsNumeric() && st.IsNumeric() || dt.Base == types.String
		if st.Base == types.String && !ok {
			switch dt.Base {
			case types.Boolean, types.Integer, types.Bigint, types.Double, types.Decimal, types.Date, types.Time, types.Timestamp:
				ok = true
			}
		}
		if !ok {
			bail(d.Type.Pos, "column %s is %s in sluice stream '%s', declared %s", d.Name.Name, st, stream, dt)
		}
	}
}

// sourceName is the stream's own name of a declared column: its name in
// the known schema (matched case-insensitively), else as declared.
func sourceName(name string, known *event.Schema) string {
	if known != nil {
		for _, c := range known.Columns {
			if strings.EqualFold(c.Name, name) {
				return c.Name
			}
		}
	}
	return name
}

// inferColumns is a stream's columns as ksqlDB infers them from the
// schema Debezium registers: each column the type mapping knows, its name
// upper-cased (ksqlDB's default translation policy), __DELETED last when
// deletes are rewritten; and the source's key columns.
func inferColumns(s *parse.CreateSource, es *event.Schema, rewrite bool) (cols []types.Field, from []string, keys []string) {
	seen := map[string]string{}
	for i := range es.Columns {
		c := &es.Columns[i]
		t, ok := types.FromColumn(c)
		if !ok {
			continue
		}
		name := strings.ToUpper(c.Name)
		if prev, dup := seen[name]; dup {
			bail(s.Pos, "columns %q and %q of sluice stream '%s' are both %s once upper-cased (as ksqlDB names inferred columns): declare the columns", prev, c.Name, es.Stream, name)
		}
		seen[name] = c.Name
		cols = append(cols, types.Field{Name: name, Type: t})
		from = append(from, c.Name)
		if slices.Contains(es.KeyIdx, i) {
			keys = append(keys, name)
		}
	}
	if rewrite && seen["__DELETED"] == "" {
		cols = append(cols, types.Field{Name: "__DELETED", Type: types.TString})
		from = append(from, "__deleted")
	}
	return cols, from, keys
}

// keyFirst orders columns as ksqlDB's schemas are ordered, key columns
// first, and returns the schema and the matching source names.
func keyFirst(cols []types.Field, from []string, keys []string) (types.Schema, []string) {
	var s types.Schema
	var f []string
	for _, k := range keys {
		for i, c := range cols {
			if c.Name == k {
				s.Key = append(s.Key, len(s.Columns))
				s.Columns = append(s.Columns, c)
				f = append(f, from[i])
			}
		}
	}
	for i, c := range cols {
		if !slices.Contains(keys, c.Name) {
			s.Columns = append(s.Columns, c)
			f = append(f, from[i])
		}
	}
	return s, f
}

// timestamp applies the timestamp and timestamp_format properties: the
// column giving event time must be a BIGINT (epoch milliseconds), a
// TIMESTAMP, or a STRING with a timestamp_format.
func (pl *planner) timestamp(s *parse.CreateSource, rel *Relation, src *ir.Source) {
	name, ok := rel.Props["TIMESTAMP"]
	format, hasFormat := rel.Props["TIMESTAMP_FORMAT"]
	if !ok {
		if hasFormat {
			bail(propPos(s.Props, "TIMESTAMP_FORMAT", s.Pos), "timestamp_format needs the timestamp property: the column it parses")
		}
		return
	}
	pos := propPos(s.Props, "TIMESTAMP", s.Pos)
	col := strings.ToUpper(name)
	if len(name) > 1 && name[0] == '`' && name[len(name)-1] == '`' {
		col = name[1 : len(name)-1]
	}
	idx := -1
	var names []string
	for i, c := range rel.Schema.Columns {
		if c.Name == col {
			idx = i
		}
		names = append(names, c.Name)
	}
	if idx < 0 {
		bail(pos, "timestamp column %s is not a column of %s%s", col, rel.Name, hintOrList(col, names, nil))
	}
	t := rel.Schema.Columns[idx].Type
	switch {
	case t.Base == types.String && !hasFormat:
		bail(pos, "timestamp column %s is a STRING: give its timestamp_format (a Java DateTimeFormatter pattern such as 'yyyy-MM-dd''T''HH:mm:ss')", col)
	case t.Base != types.String && hasFormat:
		bail(propPos(s.Props, "TIMESTAMP_FORMAT", s.Pos), "timestamp_format parses a STRING column, but %s is %s", col, t)
	case t.Base != types.String && t.Base != types.Bigint && t.Base != types.Timestamp:
		bail(pos, "timestamp column %s is %s: it must be a BIGINT (epoch milliseconds), a TIMESTAMP, or a STRING with a timestamp_format", col, t)
	}
	if hasFormat && strings.TrimSpace(format) == "" {
		bail(propPos(s.Props, "TIMESTAMP_FORMAT", s.Pos), "timestamp_format is empty")
	}
	src.TimestampCol, src.TimestampFormat = idx, format
}

// knownStreams lists the streams a kafka_topic may name, for the error
// of one that names none: the first 12, sorted.
func knownStreams(names []string) string {
	if len(names) == 0 {
		return "no stream is known: configure the source that captures it"
	}
	quoted := make([]string, 0, len(names))
	for i, n := range names {
		if i == 12 {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(names)-12))
			break
		}
		quoted = append(quoted, "'"+n+"'")
	}
	return "the known streams are " + strings.Join(quoted, ", ")
}
