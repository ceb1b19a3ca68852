package mysql

// Incremental snapshots: tables re-read while the binlog streams, without
// locks, by the DBLog watermark algorithm of Debezium's incremental
// snapshots (as source/postgres does; see its incremental.go). MySQL has
// no logical messages, so the watermarks are rows inserted into the signal
// table (signal_data_collection), as Debezium writes them: id
// "<chunk>-open" / "<chunk>-close", type snapshot-window-open /
// snapshot-window-close. For each chunk, between two transactions of the
// stream, the decoder inserts the low watermark, selects the chunk
// (SELECT cols FROM t WHERE (key) > (last) AND (filter) ORDER BY key LIMIT
// snapshot_chunk_rows) and inserts the high watermark. Between the two
// rows in the binlog, a change to a row of the chunk drops it from the
// chunk; at the commit of the high watermark's transaction the rest are
// emitted as reads (source.snapshot "incremental"), in binlog order. Their
// event.Version stays 1.
//
// Progress (tables, filters, last key) is in the stream checkpoint and
// changes only at a commit or right after a chunk's rows were emitted; a
// chunk in flight at a crash is read again with new watermarks.
// Requests: execute-snapshot / stop-snapshot rows in the signal table
// (Debezium's), or RequestSnapshot, which inserts such a row.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// incrState is the incremental snapshot progress in the checkpoint.
type incrState struct {
	Tables []*incrTable `json:"tables"`
}

// incrTable is one table of an incremental snapshot.
type incrTable struct {
	Table   string   `json:"table"`
	Filter  string   `json:"filter,omitempty"`
	LastKey []string `json:"last_key,omitempty"`
}

func (s *incrState) clone() *incrState {
	if s == nil || len(s.Tables) == 0 {
		return nil
	}
	c := &incrState{Tables: make([]*incrTable, len(s.Tables))}
	for i, t := range s.Tables {
		tt := *t
		tt.LastKey = slices.Clone(t.LastKey)
		c.Tables[i] = &tt
	}
	return c
}

func (s *incrState) add(table, filter string) bool {
	for _, t := range s.Tables {
		if t.Table == table && t.Filter == filter {
			return false
		}
	}
	s.Tables = append(s.Tables, &incrTable{Table: table, Filter: filter})
	return true
}

type signalRow struct{ id, typ, data string }

type signalData struct {
	DataCollections      []string `json:"data-collections"`
	Type                 string   `json:"type"`
	AdditionalConditions []struct {
		DataCollection string `json:"data-collection"`
		Filter         string `json:"filter"`
	} `json:"additional-conditions,omitempty"`
}

// incrRun is the decoder's incremental snapshot state. Owned by the
// decoding goroutine.
type incrRun struct {
	signal tableRef // the signal table; zero when none
	state  *incrState
	atEmit *incrState // the progress in the newest emitted checkpoint
	staged []signalRow
	chunk  *incrChunk
	// closing: the current transaction holds the chunk's high watermark.
	closing bool
	kick    bool
	conn    *sql.Conn
}

type incrChunk struct {
	id      string
	table   tableRef
	filter  string
	t       *tableState
	open    bool
	rows    map[string][]event.Value
	order   []string
	lastKey []string
	full    bool
}

func keyString(sch *event.Schema, img []event.Value) string {
	var b strings.Builder
	for _, i := range sch.KeyIdx {
		v := img[i]
		b.WriteByte(byte(v.Kind))
		b.WriteString(strconv.FormatUint(v.Num, 16))
		b.WriteByte(0)
		b.WriteString(v.Text())
		b.WriteByte(0)
	}
	return b.String()
}

func (d *decoder) incrActive() bool { return d.incr.state != nil && len(d.incr.state.Tables) > 0 }

// incrSignalRow handles a row inserted into the signal table.
func (d *decoder) incrSignalRow(vals []event.Value) {
	if len(vals) < 3 {
		d.src.log.Warn("signal table row has fewer than 3 columns (id, type, data); ignored")
		return
	}
	r := signalRow{id: vals[0].Text(), typ: vals[1].Text()}
	if vals[2].Kind != event.KindNull {
		r.data = vals[2].Text()
	}
	if c := d.incr.chunk; c != nil {
		switch r.id {
		case c.id + "-open":
			c.open = true
			return
		case c.id + "-close":
			d.incr.closing = c.open
			return
		}
	}
	if r.typ == "snapshot-window-open" || r.typ == "snapshot-window-close" {
		return // an old chunk's, or another connector's
	}
	d.incr.staged = append(d.incr.staged, r)
}

// incrSeen drops from the open chunk the rows a streamed change touches.
func (d *decoder) incrSeen(t *tableState, before, after []event.Value) {
	c := d.incr.chunk
	if c == nil || !c.open || t.ref != c.table || len(t.sch.KeyIdx) == 0 {
		return
	}
	for _, img := range [][]event.Value{before, after} {
		if img != nil && len(img) == len(t.sch.Columns) {
			delete(c.rows, keyString(t.sch, img))
		}
	}
}

// commitSignals applies the signals of the transaction just committed.
func (d *decoder) commitSignals() {
	for _, r := range d.incr.staged {
		d.applySignal(r)
	}
	d.incr.staged = d.incr.staged[:0]
}

func (d *decoder) applySignal(r signalRow) {
	log := d.src.log.With("signal_id", r.id, "signal_type", r.typ)
	switch r.typ {
	case "execute-snapshot", "stop-snapshot":
	case "log":
		log.Info("signal", "data", r.data)
		return
	default:
		log.Warn("signal type not supported; ignored (supported: execute-snapshot, stop-snapshot, log)")
		return
	}
	var data signalData
	if r.data != "" {
		if err := json.Unmarshal([]byte(r.data), &data); err != nil {
			log.Warn("signal data is not JSON; ignored", "err", err)
			return
		}
	}
	if data.Type != "" && !strings.EqualFold(data.Type, "incremental") {
		log.Warn("only incremental snapshots are supported; signal ignored", "type", data.Type)
		return
	}
	tables := d.matchTables(data.DataCollections)
	if r.typ == "stop-snapshot" {
		all := len(data.DataCollections) == 0
		if d.incr.state != nil {
			d.incr.state.Tables = slices.DeleteFunc(d.incr.state.Tables, func(t *incrTable) bool { return all || slices.Contains(tables, t.Table) })
		}
		if c := d.incr.chunk; c != nil && (all || slices.Contains(tables, c.table.String())) {
			d.incr.chunk, d.incr.closing = nil, false
		}
		log.Info("incremental snapshot stopped", "tables", tables)
		return
	}
	if len(tables) == 0 {
		log.Warn("execute-snapshot names no captured table; ignored", "data-collections", data.DataCollections)
		return
	}
	filters := map[string]string{}
	for _, c := range data.AdditionalConditions {
		ts := d.matchTables([]string{c.DataCollection})
		if len(ts) == 0 {
			log.Warn("additional-conditions names no captured table; signal ignored", "data-collection", c.DataCollection)
			return
		}
		for _, t := range ts {
			filters[t] = c.Filter
		}
	}
	if d.incr.state == nil {
		d.incr.state = &incrState{}
	}
	var added []string
	for _, t := range tables {
		if d.incr.state.add(t, filters[t]) {
			added = append(added, t)
		}
	}
	log.Info("incremental snapshot requested", "tables", added)
	d.incr.kick = true
}

// matchTables resolves data-collections (names, or regular expressions
// over whole names) against the captured tables.
func (d *decoder) matchTables(patterns []string) []string {
	var names []string
	for ref := range d.captured {
		if ref != d.incr.signal {
			names = append(names, ref.String())
		}
	}
	slices.Sort(names)
	var out []string
	for _, p := range patterns {
		p = strings.ReplaceAll(p, "`", "")
		if slices.Contains(names, p) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			continue
		}
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			d.src.log.Warn("data collection is neither a captured table nor a regular expression", "data-collection", p, "err", err)
			continue
		}
		for _, n := range names {
			if re.MatchString(n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// incrReset goes back to the progress of the last emitted checkpoint.
func (d *decoder) incrReset() {
	d.incr.state = d.incr.atEmit.clone()
	d.incr.chunk, d.incr.staged, d.incr.closing = nil, nil, false
	d.incr.kick = d.incrActive()
}

// closeWindow emits the chunk's remaining rows after the high watermark's
// transaction (d.next is its commit), with the advanced progress.
func (d *decoder) closeWindow(ctx context.Context) error {
	c := d.incr.chunk
	d.incr.chunk, d.incr.closing = nil, false
	if err := d.flush(ctx); err != nil {
		return err
	}
	if !d.incrActive() || d.incr.state.Tables[0].Table != c.table.String() || d.incr.state.Tables[0].Filter != c.filter {
		d.incr.kick = d.incrActive()
		return nil
	}
	now := time.Now().UnixMilli()
	bl := &event.Binlog{File: d.emitted.File, Pos: d.emitted.Pos}
	evs := make([]event.Event, 0, len(c.rows))
	for _, k := range c.order {
		if vals, ok := c.rows[k]; ok {
			evs = append(evs, event.Event{Op: event.OpRead, Schema: c.t.sch, After: vals, TsMs: now,
				Source: event.Source{TsUs: event.UsFromMs(now), Snapshot: event.SnapshotIncremental, Binlog: bl}})
		}
	}
	cur := d.incr.state.Tables[0]
	if c.full {
		cur.LastKey = c.lastKey
	} else {
		d.incr.state.Tables = d.incr.state.Tables[1:]
		d.src.log.Info("incremental snapshot of a table done", "table", c.table.String())
	}
	next := d.emitted
	next.Incr = d.incr.state.clone()
	bs := d.src.cfg.BatchSize
	for len(evs) > bs {
		if err := d.out.Emit(ctx, evs[:bs:bs], nil); err != nil {
			return err
		}
		evs = evs[bs:]
	}
	if err := d.out.Emit(ctx, evs, next.marshal()); err != nil {
		return err
	}
	d.emitted, d.next = next, next
	d.incr.atEmit = next.Incr.clone()
	d.lastEmit = time.Now()
	d.incr.kick = d.incrActive()
	return nil
}

// startChunk reads the next chunk of the first queued table between its
// watermarks. A table that cannot be read is logged and dropped.
func (d *decoder) startChunk(ctx context.Context) error {
	d.incr.kick = false
	for d.incrActive() && d.incr.chunk == nil {
		cur := d.incr.state.Tables[0]
		c, err := d.readChunk(ctx, cur)
		var skip *skipTable
		if errors.As(err, &skip) {
			d.src.log.Error("incremental snapshot of a table abandoned", "table", cur.Table, "reason", skip.reason)
			d.incr.state.Tables = d.incr.state.Tables[1:]
			continue
		}
		if err != nil {
			return err
		}
		d.incr.chunk = c
	}
	return nil
}

type skipTable struct{ reason string }

func (e *skipTable) Error() string { return e.reason }

func (d *decoder) readChunk(ctx context.Context, cur *incrTable) (*incrChunk, error) {
	db, name, _ := strings.Cut(cur.Table, ".")
	ref := tableRef{db, name}
	t := d.captured[ref]
	if t == nil {
		return nil, &skipTable{"the table is not captured"}
	}
	if len(t.sch.KeyIdx) == 0 {
		return nil, &skipTable{"the table has no primary key (incremental snapshots read by key)"}
	}
	if d.incr.signal == (tableRef{}) {
		return nil, &skipTable{"incremental snapshots of a mysql source need signal_data_collection (its watermarks are rows of the signal table)"}
	}
	if d.incr.conn == nil {
		conn, err := d.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
		}
		d.incr.conn = conn
	}
	conn := d.incr.conn
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	c := &incrChunk{id: hex.EncodeToString(idb[:]), table: ref, filter: cur.Filter, t: t, rows: map[string][]event.Value{}}
	cols := make([]string, len(t.sch.Columns))
	for i, col := range t.sch.Columns {
		cols[i] = quoteIdent(col.Name)
		if t.types[i].kind == vFloat32 {
			cols[i] = "CAST(" + cols[i] + " AS DOUBLE)" // as the snapshot reads it
		}
	}
	keyCols := make([]string, len(t.sch.KeyIdx))
	for i, k := range t.sch.KeyIdx {
		keyCols[i] = quoteIdent(t.sch.Columns[k].Name)
	}
	keyList := strings.Join(keyCols, ", ")
	var conds []string
	if cur.LastKey != nil {
		if len(cur.LastKey) != len(keyCols) {
			return nil, &skipTable{fmt.Sprintf("the checkpoint's key has %d columns, the primary key %d", len(cur.LastKey), len(keyCols))}
		}
		lits := make([]string, len(cur.LastKey))
		for i, v := range cur.LastKey {
			lits[i] = t.types[t.sch.KeyIdx[i]].keyLiteral(v)
		}
		conds = append(conds, "("+keyList+") > ("+strings.Join(lits, ", ")+")")
	}
	if cur.Filter != "" {
		conds = append(conds, "("+cur.Filter+")")
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + ref.quoted()
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	n := d.src.cfg.SnapshotChunkRows
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", keyList, n)

	mark := func(kind string) error {
		data, _ := json.Marshal(map[string]string{kind + "WindowTimestamp": time.Now().UTC().Format(time.RFC3339Nano)})
		_, err := conn.ExecContext(ctx, "INSERT INTO "+d.incr.signal.quoted()+" VALUES (?, ?, ?)",
			c.id+"-"+kind, "snapshot-window-"+kind, string(data))
		if err != nil {
			return fmt.Errorf("incremental snapshot of %s: %s watermark: %w", cur.Table, kind, err)
		}
		return nil
	}
	if err := mark("open"); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		var me *gomysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1054 || me.Number == 1064 || me.Number == 1146 || me.Number == 1292) {
			return nil, &skipTable{fmt.Sprintf("the server rejected the chunk query (is the filter %q valid SQL?): %s", cur.Filter, me.Message)}
		}
		return nil, fmt.Errorf("incremental snapshot of %s: read chunk: %w", cur.Table, err)
	}
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
		}
		vals := make([]event.Value, len(raw))
		for i, b := range raw {
			v, err := t.types[i].fromText(b)
			if err != nil {
				rows.Close()
				col := &t.sch.Columns[i]
				return nil, component.Permanent(fmt.Errorf("incremental snapshot of %s: column %s (%s): %w", cur.Table, col.Name, col.TypeName, err))
			}
			vals[i] = v
		}
		k := keyString(t.sch, vals)
		c.rows[k] = vals
		c.order = append(c.order, k)
		c.lastKey = make([]string, len(t.sch.KeyIdx))
		for i, ki := range t.sch.KeyIdx {
			c.lastKey[i] = string(raw[ki])
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s: read chunk: %w", cur.Table, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s: read chunk: %w", cur.Table, err)
	}
	c.full = len(c.order) >= n
	if h := d.src.chunkReadHook; h != nil {
		h(cur.Table, c.lastKey)
	}
	if err := mark("close"); err != nil {
		return nil, err
	}
	return c, nil
}

var _ component.Snapshotter = (*Source)(nil)

// RequestSnapshot implements component.Snapshotter: it inserts a Debezium
// execute-snapshot (or stop-snapshot) row into the signal table, which the
// running source reads from the binlog.
func (s *Source) RequestSnapshot(ctx context.Context, req component.SnapshotRequest) error {
	if s.cfg.SignalDataCollection == "" {
		return fmt.Errorf("mysql source %q: incremental snapshots need signal_data_collection (a Debezium signal table: the requests and the watermarks are its rows)", s.env.Name)
	}
	data := signalData{DataCollections: req.Tables, Type: "incremental"}
	if data.DataCollections == nil {
		data.DataCollections = []string{}
	}
	typ := "execute-snapshot"
	if req.Stop {
		typ = "stop-snapshot"
	} else if len(req.Tables) == 0 {
		return errors.New("name at least one table to snapshot")
	}
	for _, c := range req.Conditions {
		if !slices.Contains(req.Tables, c.Table) {
			return fmt.Errorf("condition for table %s, which is not among the tables to snapshot %v", c.Table, req.Tables)
		}
		data.AdditionalConditions = append(data.AdditionalConditions, struct {
			DataCollection string `json:"data-collection"`
			Filter         string `json:"filter"`
		}{c.Table, c.Filter})
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	connector, err := gomysql.NewConnector(s.dc)
	if err != nil {
		return component.Permanent(errors.New("dsn is not a valid MySQL data source name"))
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	sdb, stbl, _ := strings.Cut(s.cfg.SignalDataCollection, ".")
	if _, err := db.ExecContext(ctx, "INSERT INTO "+(tableRef{sdb, stbl}).quoted()+" VALUES (?, ?, ?)", "sluice-"+hex.EncodeToString(idb[:]), typ, string(b)); err != nil {
		return fmt.Errorf("mysql source %q: signal: %w", s.env.Name, err)
	}
	return nil
}

// queueAdded records the captured tables in the stream checkpoint cp and
// queues an incremental snapshot of those a streaming checkpoint did not
// capture: added to tables after the first snapshot, they would otherwise
// get no existing rows. It needs the signal table (the watermarks are its
// rows).
func (s *Source) queueAdded(cp *checkpoint, refs []tableRef) {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	slices.Sort(names)
	prev := cp.Captured
	cp.Captured = names
	if prev == nil || s.cfg.Snapshot != SnapshotInitial {
		return
	}
	var added []string
	for _, n := range names {
		if !slices.Contains(prev, n) {
			added = append(added, n)
		}
	}
	if len(added) == 0 {
		return
	}
	if s.signal == nil {
		s.log.Warn("tables added after the first snapshot get no existing rows: reading them by an incremental snapshot needs signal_data_collection", "tables", added)
		return
	}
	if cp.Incr == nil {
		cp.Incr = &incrState{}
	}
	for _, n := range added {
		cp.Incr.add(n, "")
	}
	s.log.Info("tables added after the first snapshot: reading their rows by an incremental snapshot", "tables", added)
}
