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
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/source/internal/incrsnap"
)

type signalRow struct{ id, typ, data string }

// incrRun is the decoder's incremental snapshot state. Owned by the
// decoding goroutine.
type incrRun struct {
	signal tableRef // the signal table; zero when none
	state  *incrsnap.State
	atEmit *incrsnap.State // the progress in the newest emitted checkpoint
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

func (d *decoder) incrActive() bool { return d.incr.state.Active() }

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
			delete(c.rows, incrsnap.KeyString(t.sch, img))
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
	a, ok := incrsnap.Read(log, r.typ, []byte(r.data), d.matchTables)
	if !ok {
		return
	}
	if a.Stop {
		d.incr.state.Remove(a.Tables, a.All)
		if c := d.incr.chunk; c != nil && (a.All || slices.Contains(a.Tables, c.table.String())) {
			d.incr.chunk, d.incr.closing = nil, false
		}
		log.Info("incremental snapshot stopped", "tables", a.Tables)
		return
	}
	if d.incr.state == nil {
		d.incr.state = &incrsnap.State{}
	}
	var added []string
	for _, t := range a.Tables {
		if d.incr.state.Add(t, a.Filters[t]) {
			added = append(added, t)
		}
	}
	log.Info("incremental snapshot requested", "tables", added)
	d.incr.kick = true
}

// matchTables resolves data-collections against the captured tables
// (incrsnap.Match), the signal table excepted.
func (d *decoder) matchTables(patterns []string) ([]string, error) {
	var names []string
	for ref := range d.captured {
		if ref != d.incr.signal {
			names = append(names, ref.String())
		}
	}
	slices.Sort(names)
	return incrsnap.Match(d.src.log, names, patterns, func(p string) string { return strings.ReplaceAll(p, "`", "") })
}

// incrReset goes back to the progress of the last emitted checkpoint.
func (d *decoder) incrReset() {
	d.incr.state = d.incr.atEmit.Clone()
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
	next.Incr = d.incr.state.Clone()
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
	d.incr.atEmit = next.Incr.Clone()
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
		var skip *incrsnap.SkipTable
		if errors.As(err, &skip) {
			d.src.log.Error("incremental snapshot of a table abandoned", "table", cur.Table, "reason", skip.Reason)
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

func (d *decoder) readChunk(ctx context.Context, cur *incrsnap.Table) (*incrChunk, error) {
	db, name, _ := strings.Cut(cur.Table, ".")
	ref := tableRef{db, name}
	t := d.captured[ref]
	if t == nil {
		return nil, &incrsnap.SkipTable{Reason: "the table is not captured"}
	}
	if len(t.sch.KeyIdx) == 0 {
		return nil, &incrsnap.SkipTable{Reason: "the table has no primary key (incremental snapshots read by key)"}
	}
	if d.incr.signal == (tableRef{}) {
		return nil, &incrsnap.SkipTable{Reason: "incremental snapshots of a mysql source need signal_data_collection (its watermarks are rows of the signal table)"}
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
			return nil, &incrsnap.SkipTable{Reason: fmt.Sprintf("the checkpoint's key has %d columns, the primary key %d", len(cur.LastKey), len(keyCols))}
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
			return nil, &incrsnap.SkipTable{Reason: fmt.Sprintf("the server rejected the chunk query (is the filter %q valid SQL?): %s", cur.Filter, me.Message)}
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
		k := incrsnap.KeyString(t.sch, vals)
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
	typ, b, err := incrsnap.Encode(req)
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
		cp.Incr = &incrsnap.State{}
	}
	for _, n := range added {
		cp.Incr.Add(n, "")
	}
	s.log.Info("tables added after the first snapshot: reading their rows by an incremental snapshot", "tables", added)
}
