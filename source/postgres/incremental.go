package postgres

// Incremental snapshots: tables re-read while the stream runs, without
// locks, by the DBLog watermark algorithm that Debezium's incremental
// snapshots use.
//
// For each chunk the decoder's goroutine, between two transactions, on a
// connection of its own:
//
//  1. writes a low watermark: pg_logical_emit_message(false,
//     'sluice_watermark', '<id>-open'), a non-transactional message that
//     the stream delivers at its WAL position, after every transaction
//     committed before it;
//  2. selects the chunk: SELECT cols FROM t WHERE (key) > (last key) AND
//     (filter) ORDER BY key LIMIT snapshot_chunk_rows, kept in memory;
//  3. writes a high watermark ('<id>-close').
//
// Then it goes on decoding. Between the two watermarks in the stream
// (the window), every change to a row of the chunk's table removes that
// row's key from the chunk: the select may have seen the row before or
// after the change, and the change itself carries the newer state. At the
// high watermark the rows left are emitted as reads (op r, source.snapshot
// "incremental"), after every transaction committed before it and before
// any committed after it: a row not changed in the window is the row's
// state at that point of the stream, so no sink ever has a snapshot row
// overwrite a newer streamed change (the order is the stream's). For an
// externally versioned index the rows carry the low watermark's LSN as
// their event.Version when that is safe (versionedWait), else 1.
//
// Progress — the queue of tables with their filters and the key of the
// last emitted chunk's last row — is part of the stream checkpoint. It
// changes only at a commit (signals found in a transaction apply at its
// commit) or right after a chunk's rows were emitted, so a checkpoint
// describes exactly what was emitted. A crash resumes the table after the
// last emitted chunk; a chunk in flight (its rows not emitted) is read
// again with new watermarks, whose ids differ from the old ones, so the old
// watermarks replayed from the slot are ignored.
//
// Triggers: a Debezium signal table (signal_data_collection; an insert of
// execute-snapshot or stop-snapshot, read from the stream, as Debezium's
// "source" channel), sluice's own 'sluice_signal' logical message (the
// REST API and `sluice snapshot` write it through Source.Signal), and a
// table added to tables after the first snapshot, found at start.
//
// Watermarks and signals are logical decoding messages, which pgoutput
// sends from PostgreSQL 14 on; older servers refuse incremental snapshots
// with an error in the log. Debezium writes its watermarks as rows of the
// signal table; sluice needs no table for them and leaves no rows behind.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/source/internal/incrsnap"
)

// Prefixes of the logical decoding messages of incremental snapshots.
const (
	watermarkPrefix = "sluice_watermark"
	signalPrefix    = "sluice_signal"
)

// Signal is one Debezium signal: the type and the JSON data of a signal
// table row (id, type, data).
type Signal struct {
	// Slot names the source a 'sluice_signal' message is for: every
	// source decoding the database sees the message.
	Slot string          `json:"slot,omitempty"`
	ID   string          `json:"id,omitempty"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// incrRun is the decoder's incremental snapshot state that is not part of
// the checkpoint. Owned by the decoding goroutine.
type incrRun struct {
	// signal is the signal table (schema.table), "" when none.
	signal string
	conn   *pgx.Conn
	// staged holds the signals of the transaction being decoded, applied
	// at its commit.
	staged []Signal
	// atEmit is the progress in the newest checkpoint handed to Emit; a
	// reconnect goes back to it.
	atEmit *incrsnap.State
	chunk  *incrChunk
	// kick asks for a chunk to be started between transactions.
	kick bool
}

// incrChunk is a chunk between its watermarks.
type incrChunk struct {
	id     string
	table  string
	filter string
	rs     *relState
	open   bool // the low watermark was seen
	// lwLSN is the low watermark's LSN, the version of the chunk's rows
	// when versioned is set (see versionedWait).
	lwLSN     uint64
	versioned bool
	// rows by key (keyString), and the keys in key order.
	rows    map[string][]event.Value
	order   []string
	lastKey []string
	// full: the select returned snapshot_chunk_rows rows, so more may follow.
	full bool
}

// incrActive reports whether an incremental snapshot has tables to read.
func (d *streamDecoder) incrActive() bool { return d.cp.Incr.Active() }

// incrSeen drops from the open chunk the rows a streamed change touches.
func (d *streamDecoder) incrSeen(rs *relState, before, after []event.Value) {
	c := d.incr.chunk
	if c == nil || !c.open || rs.name != c.table || len(rs.sch.KeyIdx) == 0 {
		return
	}
	for _, img := range [][]event.Value{before, after} {
		if img != nil && len(img) == len(rs.sch.Columns) {
			delete(c.rows, incrsnap.KeyString(rs.sch, img))
		}
	}
}

// incrTruncated drops the open chunk's rows when its table is truncated.
func (d *streamDecoder) incrTruncated(rs *relState) {
	if c := d.incr.chunk; c != nil && c.open && rs.name == c.table {
		clear(c.rows)
	}
}

// stageSignal records a signal table row for the transaction's commit.
func (d *streamDecoder) stageSignal(rs *relState, vals []event.Value) {
	if len(vals) < 3 {
		d.src.log.Warn("signal table row has fewer than 3 columns (id, type, data); ignored", "table", rs.name)
		return
	}
	sig := Signal{ID: vals[0].Text(), Type: vals[1].Text()}
	if vals[2].Kind != event.KindNull {
		sig.Data = json.RawMessage(vals[2].Text())
	}
	d.incr.staged = append(d.incr.staged, sig)
}

// commitSignals applies the signals of the transaction just committed.
func (d *streamDecoder) commitSignals() {
	for _, sig := range d.incr.staged {
		d.applySignal(sig)
	}
	d.incr.staged = d.incr.staged[:0]
}

// applySignal acts on one signal (incrsnap.Read says which are ignored).
func (d *streamDecoder) applySignal(sig Signal) {
	log := d.src.log.With("signal_id", sig.ID, "signal_type", sig.Type)
	a, ok := incrsnap.Read(log, sig.Type, sig.Data, func(p []string) ([]string, error) {
		return incrsnap.Match(d.src.log, d.cp.Captured, p, unquoteName)
	})
	if !ok {
		return
	}
	if a.Stop {
		d.stopSnapshot(a.Tables, a.All)
		log.Info("incremental snapshot stopped", "tables", a.Tables)
		return
	}
	if d.si.version < 140000 {
		log.Error("incremental snapshots need PostgreSQL 14 or later (pgoutput messages carry the watermarks); signal ignored")
		return
	}
	if d.cp.Incr == nil {
		d.cp.Incr = &incrsnap.State{}
	}
	var added []string
	for _, t := range a.Tables {
		if d.cp.Incr.Add(t, a.Filters[t]) {
			added = append(added, t)
		}
	}
	log.Info("incremental snapshot requested", "tables", added)
	d.incr.kick = true
}

// unquoteName turns "public"."t" into public.t.
func unquoteName(s string) string {
	if !strings.Contains(s, `"`) {
		return s
	}
	return strings.ReplaceAll(s, `"`, "")
}

func (d *streamDecoder) stopSnapshot(tables []string, all bool) {
	if d.cp.Incr == nil {
		return
	}
	d.cp.Incr.Remove(tables, all)
	if c := d.incr.chunk; c != nil && (all || slices.Contains(tables, c.table)) {
		d.incr.chunk = nil // its watermarks, when they come, are ignored
	}
	if len(d.cp.Incr.Tables) == 0 {
		d.cp.Incr = nil
	}
}

// incrReset forgets what a broken session decoded since the last emitted
// checkpoint: the progress goes back to it, and the chunk in flight is
// read again with new watermarks.
func (d *streamDecoder) incrReset() {
	d.cp.Incr = d.incr.atEmit.Clone()
	d.incr.chunk = nil
	d.incr.staged = nil
	d.incr.kick = d.incrActive()
}

// watermark handles a watermark message at lsn.
func (d *streamDecoder) watermark(ctx context.Context, lsn uint64, text string) error {
	c := d.incr.chunk
	if c == nil {
		return nil
	}
	switch text {
	case c.id + "-open":
		c.open, c.lwLSN = true, lsn
	case c.id + "-close":
		if !c.open {
			return component.Permanent(fmt.Errorf("incremental snapshot of %s: high watermark %s before its low watermark", c.table, c.id))
		}
		return d.closeWindow(ctx, lsn)
	}
	return nil
}

// closeWindow emits the chunk's remaining rows at the high watermark (lsn)
// and advances the progress with the last batch's checkpoint.
func (d *streamDecoder) closeWindow(ctx context.Context, lsn uint64) error {
	c := d.incr.chunk
	if !d.incrActive() || d.cp.Incr.Tables[0].Table != c.table || d.cp.Incr.Tables[0].Filter != c.filter {
		// Signals changed the queue under the chunk (stop-snapshot
		// discards the chunk of a table it stops; this is a guard).
		d.incr.chunk = nil
		d.incr.kick = d.incrActive()
		return nil
	}
	// Every transaction committed before the watermark goes first.
	if err := d.flush(ctx, true); err != nil {
		return err
	}
	now := time.Now()
	src := event.Source{TsUs: now.UnixMicro(), Snapshot: event.SnapshotIncremental, LSN: lsn, HasLSN: true,
		LastCommitLSN: d.lastCommit}
	if c.versioned {
		src.CommitLSN = c.lwLSN // event.Version: see versionedWait
	}
	evs := make([]event.Event, 0, len(c.rows))
	for _, k := range c.order {
		if vals, ok := d.incr.chunk.rows[k]; ok {
			evs = append(evs, event.Event{Op: event.OpRead, Schema: c.rs.sch, After: vals, Source: src, TsMs: now.UnixMilli()})
		}
	}
	cur := d.cp.Incr.Tables[0]
	if c.full {
		cur.LastKey = c.lastKey
	} else {
		d.cp.Incr.Tables = d.cp.Incr.Tables[1:]
		d.src.log.Info("incremental snapshot of a table done", "table", c.table)
		if len(d.cp.Incr.Tables) == 0 {
			d.cp.Incr = nil
		}
	}
	if lsn > d.emitted {
		d.cp.LSN = pglogrepl.LSN(lsn).String()
	}
	cp := d.cp.marshal()
	for len(evs) > d.src.cfg.BatchSize {
		if err := d.out.Emit(ctx, evs[:d.src.cfg.BatchSize:d.src.cfg.BatchSize], nil); err != nil {
			return err
		}
		evs = evs[d.src.cfg.BatchSize:]
	}
	if err := d.emit(ctx, evs, cp, false, -1); err != nil {
		return err
	}
	d.emitted = max(d.emitted, lsn)
	d.incr.atEmit = d.cp.Incr.Clone()
	d.incr.chunk = nil
	d.incr.kick = d.incrActive()
	return nil
}

// startChunk writes the low watermark, reads the next chunk of the first
// queued table and writes the high watermark. A table that cannot be read
// (gone, no key, a filter the server rejects) is logged and dropped from
// the queue; a lost connection is returned.
func (d *streamDecoder) startChunk(ctx context.Context) error {
	d.incr.kick = false
	for d.incrActive() && d.incr.chunk == nil {
		cur := d.cp.Incr.Tables[0]
		c, err := d.readChunk(ctx, cur)
		var skip *incrsnap.SkipTable
		if errors.As(err, &skip) {
			d.src.log.Error("incremental snapshot of a table abandoned", "table", cur.Table, "reason", skip.Reason)
			d.cp.Incr.Tables = d.cp.Incr.Tables[1:]
			if len(d.cp.Incr.Tables) == 0 {
				d.cp.Incr = nil
			}
			continue
		}
		if err != nil {
			return err
		}
		d.incr.chunk = c
	}
	return nil
}

func (d *streamDecoder) readChunk(ctx context.Context, cur *incrsnap.Table) (*incrChunk, error) {
	rs := d.known[cur.Table]
	if rs == nil {
		return nil, &incrsnap.SkipTable{Reason: "the table is not captured"}
	}
	if len(rs.sch.KeyIdx) == 0 {
		return nil, &incrsnap.SkipTable{Reason: "the table has no primary key (incremental snapshots read by key)"}
	}
	if d.si.version < 140000 {
		return nil, &incrsnap.SkipTable{Reason: "incremental snapshots need PostgreSQL 14 or later"}
	}
	if d.incr.conn == nil || d.incr.conn.IsClosed() {
		conn, err := d.src.connect(ctx)
		if err != nil {
			return nil, err
		}
		d.incr.conn = conn
	}
	conn := d.incr.conn.PgConn()
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	c := &incrChunk{id: hex.EncodeToString(idb[:]), table: cur.Table, filter: cur.Filter, rs: rs, rows: map[string][]event.Value{}}

	keyCols := make([]string, len(rs.sch.KeyIdx))
	for i, k := range rs.sch.KeyIdx {
		keyCols[i] = pgx.Identifier{rs.sch.Columns[k].Name}.Sanitize()
	}
	cols := make([]string, len(rs.sch.Columns))
	for i, col := range rs.sch.Columns {
		cols[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	keyList := strings.Join(keyCols, ", ")
	var conds []string
	if cur.LastKey != nil {
		if len(cur.LastKey) != len(keyCols) {
			return nil, &incrsnap.SkipTable{Reason: fmt.Sprintf("the checkpoint's key has %d columns, the primary key %d", len(cur.LastKey), len(keyCols))}
		}
		lits := make([]string, len(cur.LastKey))
		for i, v := range cur.LastKey {
			lits[i] = quoteLiteral(v)
		}
		conds = append(conds, "("+keyList+") > ("+strings.Join(lits, ", ")+")")
		if len(keyCols) == 1 {
			conds[0] = keyList + " > " + lits[0]
		}
	}
	if cur.Filter != "" {
		conds = append(conds, "("+cur.Filter+")")
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	schema, table, _ := strings.Cut(cur.Table, ".")
	n := d.src.cfg.SnapshotChunkRows
	sql := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT %d", strings.Join(cols, ", "),
		pgx.Identifier{schema, table}.Sanitize(), where, keyList, n)

	mark := func(kind string) error {
		_, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(false, '"+watermarkPrefix+"', '"+c.id+"-"+kind+"')").ReadAll()
		if err != nil {
			return fmt.Errorf("incremental snapshot of %s: %s watermark: %w", cur.Table, kind, err)
		}
		return nil
	}
	if err := mark("open"); err != nil {
		return nil, err
	}
	// One REPEATABLE READ transaction: its id is assigned after its
	// snapshot (taken by its first statement), which the chunk is read at
	// (see versionedWait).
	res, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_current_xact_id()::text; "+sql+"; COMMIT").ReadAll()
	if err != nil {
		if conn.TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "ROLLBACK").ReadAll()
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "42") || strings.HasPrefix(pgErr.Code, "22")) {
			return nil, &incrsnap.SkipTable{Reason: fmt.Sprintf("the server rejected the chunk query (is the filter %q valid SQL?): %v", cur.Filter, pgErr.Message)}
		}
		return nil, fmt.Errorf("incremental snapshot of %s: read chunk: %w", cur.Table, err)
	}
	if len(res) != 4 || len(res[1].Rows) != 1 {
		return nil, fmt.Errorf("incremental snapshot of %s: read chunk: %d results, want 4", cur.Table, len(res))
	}
	xid := string(res[1].Rows[0][0])
	res = res[2:3]
	for _, row := range res[0].Rows {
		if len(row) != len(rs.types) {
			return nil, &incrsnap.SkipTable{Reason: "the table's columns changed while it was read"}
		}
		vals := make([]event.Value, len(row))
		for i, f := range row {
			if f == nil {
				continue
			}
			v, err := decodeText(rs.types[i], string(f))
			if err != nil {
				col := &rs.sch.Columns[i]
				return nil, component.Permanent(fmt.Errorf("incremental snapshot of %s: column %s (%s): %w", cur.Table, col.Name, col.TypeName, err))
			}
			vals[i] = v
		}
		k := incrsnap.KeyString(rs.sch, vals)
		c.rows[k] = vals
		c.order = append(c.order, k)
	}
	if rows := res[0].Rows; len(rows) > 0 {
		last := rows[len(rows)-1]
		c.lastKey = make([]string, len(rs.sch.KeyIdx))
		for i, k := range rs.sch.KeyIdx {
			c.lastKey[i] = string(last[k])
		}
	}
	c.full = len(res[0].Rows) >= n
	if h := d.src.chunkReadHook; h != nil {
		h(cur.Table, c.lastKey)
	}
	if c.versioned, err = versionedWait(ctx, conn, xid); err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
	}
	d.src.log.Debug("incremental snapshot chunk read", "table", cur.Table, "rows", len(c.order), "xid", xid, "versioned", c.versioned)
	if err := mark("close"); err != nil {
		return nil, err
	}
	return c, nil
}

// versionWait bounds how long a chunk waits for the transactions in
// progress at its select before its high watermark (versionedWait).
const versionWait = 250 * time.Millisecond

// versionedWait waits, up to versionWait, until every transaction of the
// database in progress at the chunk's snapshot has ended, and reports
// whether they all did. xid is the id of the chunk's own transaction,
// assigned after its snapshot was taken: once no transaction of the
// database older than xid runs (pg_locks: each holds the lock on its own
// id; prepared transactions too), every one that was running at the
// snapshot has ended. (The snapshot's own list does not do: a transaction
// whose id is at or above the snapshot's xmax is running but not listed.
// Other databases' transactions cannot change the table.)
//
// Then the chunk's rows may carry the low watermark's LSN as their
// version (event.Version): every change a row reflects was committed
// before the low watermark, so its WAL record lies before it; every
// change emitted after the row commits after the high watermark, so its
// transaction was not running at the snapshot — it wrote the row after
// the snapshot, after the low watermark. A transaction running at the
// snapshot may have written a row of the chunk before the low watermark
// and commit after the high one: while one runs, the chunk's rows keep
// version 1 (never replacing a document an externally versioned index
// has).
func versionedWait(ctx context.Context, conn *pgconn.PgConn, xid string) (bool, error) {
	x, err := strconv.ParseUint(xid, 10, 64)
	if err != nil {
		return false, fmt.Errorf("transaction id %q: %w", xid, err)
	}
	// age() compares 32-bit ids across wraparound.
	older := "age(%s) > age('" + strconv.FormatUint(x&0xffffffff, 10) + "'::xid)"
	q := `SELECT NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
		AND a.datname = current_database() AND ` + fmt.Sprintf(older, "l.transactionid") + `)
		AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.database = current_database() AND ` + fmt.Sprintf(older, "p.transaction") + `)`
	deadline := time.Now().Add(versionWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		res, err := conn.Exec(ctx, q).ReadAll()
		if err != nil {
			return false, fmt.Errorf("transactions in progress: %w", err)
		}
		if len(res) == 1 && len(res[0].Rows) == 1 && string(res[0].Rows[0][0]) == "t" {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// signalMessage handles a 'sluice_signal' message (Source.Signal): applied
// at once, with a checkpoint at its position so that it is not lost.
func (d *streamDecoder) signalMessage(ctx context.Context, lsn uint64, text string) error {
	var sig Signal
	if err := json.Unmarshal([]byte(text), &sig); err != nil {
		d.src.log.Warn("sluice_signal message is not JSON; ignored", "err", err)
		return nil
	}
	if sig.Slot != d.src.slot {
		return nil // for another source
	}
	d.applySignal(sig)
	if lsn > d.pending {
		d.pending = lsn
	}
	return d.flush(ctx, true)
}

// Signal asks the running source for an incremental snapshot (type
// execute-snapshot) or to stop one (stop-snapshot), with data as in a
// Debezium signal table row. It writes a logical decoding message that the
// stream delivers, so it acts in stream order and survives a restart once
// checkpointed; the source must be streaming from PostgreSQL 14 or later.
func (s *Source) Signal(ctx context.Context, sig Signal) error {
	if sig.Type != "execute-snapshot" && sig.Type != "stop-snapshot" {
		return fmt.Errorf("signal type %q is not supported: use execute-snapshot or stop-snapshot", sig.Type)
	}
	if len(sig.Data) > 0 {
		var data incrsnap.Data
		if err := json.Unmarshal(sig.Data, &data); err != nil {
			return fmt.Errorf("signal data is not a Debezium signal's JSON: %w", err)
		}
	}
	sig.Slot = s.slot
	b, err := json.Marshal(sig)
	if err != nil {
		return err
	}
	cfg, err := s.connConfig()
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres source %q: signal: connect: %w", s.env.Name, err)
	}
	defer conn.Close(context.Background())
	si, err := querySeverInfo(ctx, conn)
	if err != nil {
		return fmt.Errorf("postgres source %q: signal: %w", s.env.Name, err)
	}
	if si.version < 140000 {
		// pgoutput sends messages from 14 on: the request would never
		// reach the source.
		return fmt.Errorf("postgres source %q: incremental snapshots need PostgreSQL 14 or later (the server is %d)", s.env.Name, si.version)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(false, '"+signalPrefix+"', $1::text)", string(b)); err != nil {
		return fmt.Errorf("postgres source %q: signal: %w", s.env.Name, err)
	}
	return nil
}

var _ component.Snapshotter = (*Source)(nil)

// RequestSnapshot implements component.Snapshotter with Signal.
func (s *Source) RequestSnapshot(ctx context.Context, req component.SnapshotRequest) error {
	sig, err := signalFor(req)
	if err != nil {
		return err
	}
	return s.Signal(ctx, sig)
}

// signalFor turns a request into Debezium's execute-snapshot or
// stop-snapshot signal.
func signalFor(req component.SnapshotRequest) (Signal, error) {
	typ, data, err := incrsnap.Encode(req)
	return Signal{Type: typ, Data: data}, err
}

// addedTables queues an incremental snapshot of the tables captured now
// that a streaming checkpoint did not capture: added to tables after the
// first snapshot, they would otherwise get no existing rows.
func addedTables(cp *checkpoint, captured []string) []string {
	if cp == nil || cp.Phase != phaseStream || cp.Captured == nil {
		return nil
	}
	var added []string
	for _, t := range captured {
		if !slices.Contains(cp.Captured, t) {
			added = append(added, t)
		}
	}
	return added
}
