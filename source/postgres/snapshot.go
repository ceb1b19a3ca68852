package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// snapBatch is a batch of snapshot rows. Batches never span chunks; the last
// batch of a chunk carries the chunk's last key.
type snapBatch struct {
	events   []event.Event
	chunkEnd bool
	lastKey  []string
	// size is event.Size summed over events, as the decoder took it
	// (component.SizedEmitter); 0 when unknown, and then the engine
	// takes it.
	size int64
	// release gives the batch's memory back to the snapshot's batchPool
	// (component.ReleasingEmitter); nil when it is not recycled.
	release func()
}

// snapshotter reads the captured tables on snapshot_workers connections.
//
// Emission: every Emit happens under emitMu, and the checkpoint attached to
// a batch is built there from the progress of batches already emitted, so
// it covers exactly what was emitted (a keyed table's progress is the key
// of its last emitted row; a table without a key holds every checkpoint
// back until it is done). Each worker holds back
// the newest batch of its table until the next one exists (so it knows the
// table's final batch), and the final batch of the most recently finished
// table is held globally until another table finishes or the snapshot ends:
// that is how the very last row gets source.snapshot = "last".
//
// source.snapshot follows Debezium 2.x: "first" on the first row emitted,
// "last" on the last, "first_in_data_collection" and
// "last_in_data_collection" on the first and last row of every other table
// (where one row is both, the stronger mark wins in Debezium's order: last,
// first, last_in_data_collection, first_in_data_collection), "true" on the
// rest. A resumed snapshot marks the first row it reads of a table.
type snapshotter struct {
	s       *Source
	si      serverInfo
	out     component.Emitter
	lsn     uint64
	lsnText string
	// txID is source.txId of every row: a transaction id assigned as the
	// snapshot began, as Debezium writes it (see snapshotTxID); hasTxID is
	// false on a standby, which assigns none.
	txID    int64
	hasTxID bool

	emitMu sync.Mutex
	cp     *checkpoint // guarded by emitMu
	held   *heldBatch  // guarded by emitMu
	failed error       // guarded by emitMu: the first failed Emit
	// emitted is set once a row was emitted (guarded by emitMu): the
	// first gets source.snapshot "first".
	emitted bool
	// partial holds the tables without a key that have rows emitted and
	// are not done (guarded by emitMu). A checkpoint emitted then would
	// not cover those rows — a restart reads such a table from its start —
	// so batches carry none until those tables are done: the engine takes
	// a batch's checkpoint as covering everything the source emitted
	// before it, and a stateful processor (a SQL COUNT) would count rows
	// read again twice.
	partial map[string]bool
	// pool recycles the memory of the batches the engine releases
	// (copybatch.go).
	pool *batchPool
}

type heldBatch struct {
	table string
	b     *snapBatch
}

// snapshot reads every table not yet done in cp and emits a final batch
// whose checkpoint switches to the stream phase at the consistent point.
// snapName is the exported snapshot, or "" when resuming.
func (s *Source) snapshot(ctx context.Context, si serverInfo, tables []*capturedTable, cp *checkpoint,
	lsn uint64, snapName string, out component.Emitter) error {
	sn := &snapshotter{s: s, si: si, out: out, lsn: lsn, lsnText: "lsn " + pglogrepl.LSN(lsn).String(), cp: cp, partial: map[string]bool{}, pool: newBatchPool()}
	if cp.Tables == nil {
		cp.Tables = map[string]*tableProgress{}
	}
	var todo []*capturedTable
	for _, t := range tables {
		p := cp.Tables[t.info.ref.String()]
		if p == nil {
			// A table added to the configuration after the snapshot
			// started is read too.
			p = &tableProgress{}
			cp.Tables[t.info.ref.String()] = p
		}
		if !p.Done {
			todo = append(todo, t)
		}
	}
	start := time.Now()
	s.prog.Enter(&progress.Snapshot, s.estimateRows(ctx, todo))
	s.log.Info("snapshot started", "tables", len(todo), "workers", min(s.cfg.SnapshotWorkers, len(todo)))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *capturedTable, len(todo))
	for _, t := range todo {
		queue <- t
	}
	close(queue)
	workers := min(s.cfg.SnapshotWorkers, len(todo))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		// Open (and import the snapshot on) every connection before any
		// reading, so the exporting connection may be released after.
		conn, err := s.connect(ctx)
		if err == nil && w == 0 {
			sn.txID, sn.hasTxID, err = snapshotTxID(ctx, conn)
		}
		if err == nil {
			err = beginSnapshot(ctx, conn, snapName)
		}
		if err != nil {
			cancel()
			wg.Wait()
			// A worker's failure is the cause; this error may only be
			// its consequence (a cancelled connect).
			return errors.Join(errors.Join(errs...), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close(context.Background())
			for t := range queue {
				if err := sn.readTable(ctx, conn, t); err != nil {
					errs[w] = err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Switch to streaming: the last batch carries snapshot "last" and a
	// stream-phase checkpoint at the consistent point.
	sn.emitMu.Lock()
	defer sn.emitMu.Unlock()
	last := &snapBatch{} // an empty batch when nothing is held
	if sn.held != nil {
		last = sn.held.b
		last.events[len(last.events)-1].Source.Snapshot = event.SnapshotLast
	}
	final := sn.cp.clone()
	final.Phase = phaseStream
	final.Tables = nil
	final.LSN = pglogrepl.LSN(lsn).String()
	if err := sn.emitLocked(ctx, last, final.marshal()); err != nil {
		return err
	}
	*cp = *final
	sn.held = nil
	s.log.Info("snapshot done", "tables", len(todo), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// beginSnapshot starts the worker's REPEATABLE READ transaction, importing
// the exported snapshot when there is one.
func beginSnapshot(ctx context.Context, conn *pgx.Conn, snapName string) error {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return fmt.Errorf("snapshot: begin: %w", err)
	}
	if snapName != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snapName)); err != nil {
			return fmt.Errorf("snapshot: import exported snapshot: %w", err)
		}
	}
	return nil
}

// snapshotTxID returns the transaction id that Debezium writes as the
// txId of snapshot rows: txid_current(), which assigns one, as Debezium's
// does in its snapshot transaction. It runs on conn before the snapshot
// transaction begins, so that the id is that of a transaction of its own,
// committed at once: a snapshot transaction holding a transaction id would
// hold up, for as long as the snapshot lasts (hours for a large table), the
// creation of every logical replication slot on the server (the server
// waits for the transactions with an id running when it starts one). A
// standby assigns none: ok is false, and txId is null as in Debezium.
func snapshotTxID(ctx context.Context, conn *pgx.Conn) (id int64, ok bool, err error) {
	if conn.PgConn().TxStatus() != 'I' {
		return 0, false, errors.New("snapshot: transaction id: asked inside a transaction (it would hold the id until the transaction ends)")
	}
	var v *int64
	if err := conn.QueryRow(ctx, `SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE txid_current() END`).Scan(&v); err != nil {
		return 0, false, fmt.Errorf("snapshot: transaction id: %w", err)
	}
	if v == nil {
		return 0, false, nil
	}
	return *v, true, nil
}

// quoteLiteral quotes s as a SQL string literal (standard_conforming_strings
// is on for every connection).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// emit emits one batch of table under emitMu; a keyed table's batches
// advance the table's progress and carry a checkpoint.
func (sn *snapshotter) emit(ctx context.Context, table string, b *snapBatch) error {
	sn.emitMu.Lock()
	defer sn.emitMu.Unlock()
	if b.lastKey == nil {
		// A table without a key is read by block ranges: its rows are
		// covered by a checkpoint only once it is done.
		if len(b.events) > 0 {
			sn.partial[table] = true
		}
		return sn.emitLocked(ctx, b, nil)
	}
	// A keyed table's progress is the key of the last row emitted: a
	// restart reads after it, so the checkpoint covers exactly what was
	// emitted, chunk end or not.
	p := sn.cp.Tables[table]
	prev := p.LastKey
	p.LastKey = b.lastKey
	if err := sn.emitLocked(ctx, b, sn.checkpoint()); err != nil {
		p.LastKey = prev
		return err
	}
	return nil
}

// checkpoint is the checkpoint for the batch being emitted: the progress
// so far, or nil while a chunk is partly emitted (see partial).
func (sn *snapshotter) checkpoint() []byte {
	if len(sn.partial) > 0 {
		return nil
	}
	return sn.cp.marshal()
}

// emitLocked emits b under emitMu, with its size and release when it has
// them. After one failed Emit nothing more is emitted: a later checkpoint
// could otherwise claim the rejected rows. Nothing reads b's events after
// it is emitted: the engine may release them at once.
func (sn *snapshotter) emitLocked(ctx context.Context, b *snapBatch, cp []byte) error {
	evs, size := b.events, b.size
	if sn.failed != nil {
		return sn.failed
	}
	if len(evs) > 0 && !sn.emitted {
		if evs[0].Source.Snapshot != event.SnapshotLast {
			evs[0].Source.Snapshot = event.SnapshotFirst
		}
		sn.emitted = true
	}
	var err error
	switch {
	case b.release != nil:
		err = component.EmitReleasing(ctx, sn.out, evs, cp, size, b.release)
	case size > 0:
		err = component.EmitSized(ctx, sn.out, evs, cp, size)
	default:
		err = sn.out.Emit(ctx, evs, cp)
	}
	if err != nil {
		sn.failed = err
		return err
	}
	return nil
}

// finishTable hands the table's final batch (nil when the table was empty)
// to the global hold, emitting the previously held one.
func (sn *snapshotter) finishTable(ctx context.Context, table string, final *snapBatch) error {
	sn.emitMu.Lock()
	defer sn.emitMu.Unlock()
	if sn.failed != nil {
		return sn.failed
	}
	if final == nil {
		// An empty table, or one whose rows were all emitted by a
		// previous run: nothing more to emit for it.
		sn.cp.Tables[table].Done = true
		sn.cp.Tables[table].LastKey = nil
		return nil
	}
	final.events[len(final.events)-1].Source.Snapshot = event.SnapshotLastInTable
	prev := sn.held
	sn.held = &heldBatch{table: table, b: final}
	if prev == nil {
		return nil
	}
	p := sn.cp.Tables[prev.table]
	p.Done = true
	delete(sn.partial, prev.table)
	if err := sn.emitLocked(ctx, prev.b, sn.checkpoint()); err != nil {
		p.Done = false
		return err
	}
	p.LastKey = nil
	return nil
}

// readTable reads one table in chunks.
func (sn *snapshotter) readTable(ctx context.Context, conn *pgx.Conn, t *capturedTable) error {
	name := t.info.ref.String()
	sn.emitMu.Lock()
	lastKey := sn.cp.Tables[name].LastKey
	sn.emitMu.Unlock()

	r := &tableReader{sn: sn, t: t, name: name, conn: conn}
	var err error
	if len(t.sch.KeyIdx) > 0 {
		err = r.readByKey(ctx, lastKey)
	} else {
		err = r.readByCtid(ctx)
	}
	if err != nil {
		return err
	}
	return sn.finishTable(ctx, name, r.pending)
}

// tableReader reads one table, holding back its newest batch.
type tableReader struct {
	sn      *snapshotter
	t       *capturedTable
	name    string
	conn    *pgx.Conn
	pending *snapBatch
	started bool // a row of the table was pushed
	textLen int  // the largest batch of COPY text so far (copyText.maxLen)
}

// push emits the held-back batch and holds b.
func (r *tableReader) push(ctx context.Context, b *snapBatch) error {
	if !r.started && len(b.events) > 0 {
		b.events[0].Source.Snapshot = event.SnapshotFirstInTable
		r.started = true
	}
	if r.pending != nil {
		if err := r.sn.emit(ctx, r.name, r.pending); err != nil {
			return err
		}
	}
	r.pending = b
	return nil
}

func (r *tableReader) columnList() string {
	cols := make([]string, len(r.t.sch.Columns))
	for i, c := range r.t.sch.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	return strings.Join(cols, ", ")
}

// readByKey reads primary-key ordered chunks after lastKey.
func (r *tableReader) readByKey(ctx context.Context, lastKey []string) error {
	keyCols := make([]string, len(r.t.sch.KeyIdx))
	for i, k := range r.t.sch.KeyIdx {
		keyCols[i] = pgx.Identifier{r.t.sch.Columns[k].Name}.Sanitize()
	}
	keyList := strings.Join(keyCols, ", ")
	cols := r.columnList()
	n := r.sn.s.cfg.SnapshotChunkRows
	for {
		where := ""
		if lastKey != nil {
			if len(lastKey) != len(keyCols) {
				return fmt.Errorf("snapshot of %s: checkpoint key has %d columns, the primary key %d", r.name, len(lastKey), len(keyCols))
			}
			lits := make([]string, len(lastKey))
			for i, v := range lastKey {
				lits[i] = quoteLiteral(v) // untyped: takes the key column's type
			}
			where = "WHERE (" + keyList + ") > (" + strings.Join(lits, ", ") + ")"
			if len(keyCols) == 1 {
				where = "WHERE " + keyList + " > " + lits[0]
			}
		}
		sql := fmt.Sprintf("COPY (SELECT %s FROM %s %s ORDER BY %s LIMIT %d) TO STDOUT", cols, r.t.info.ref.quoted(), where, keyList, n)
		rows, key, err := r.copyChunk(ctx, sql)
		if err != nil {
			return err
		}
		if rows == 0 {
			return nil
		}
		lastKey = key
		if rows < n {
			return nil
		}
	}
}

// readByCtid reads a table without a key by ranges of heap blocks. On
// PostgreSQL 12 and 13 (no TID range scans) the table is read in one query.
func (r *tableReader) readByCtid(ctx context.Context) error {
	cols := r.columnList()
	table := r.t.info.ref.quoted()
	if r.sn.si.version < 140000 {
		_, _, err := r.copyChunk(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", cols, table))
		return err
	}
	var blocks, relpages int64
	var reltuples float64
	err := r.conn.QueryRow(ctx, `SELECT pg_relation_size(c.oid) / current_setting('block_size')::int, c.relpages::int8, c.reltuples::float8
		FROM pg_class c WHERE c.oid = $1`, r.t.info.ref.oid).Scan(&blocks, &relpages, &reltuples)
	if err != nil {
		return fmt.Errorf("snapshot of %s: table size: %w", r.name, err)
	}
	perBlock := 50.0
	if relpages > 0 && reltuples > 0 {
		perBlock = reltuples / float64(relpages)
	}
	step := max(int64(float64(r.sn.s.cfg.SnapshotChunkRows)/perBlock), 1)
	for b := int64(0); ; b += step {
		where := fmt.Sprintf("WHERE ctid >= '(%d,0)'::tid", b)
		last := b+step >= blocks
		if !last {
			where += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", b+step)
		}
		if _, _, err := r.copyChunk(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s %s) TO STDOUT", cols, table, where)); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// copyChunk runs one COPY and pushes its rows in batches; it returns the
// number of rows and the key of the last row. The chunk's last batch is
// the held-back one when it returns: it is marked as the chunk's end.
func (r *tableReader) copyChunk(ctx context.Context, sql string) (int, []string, error) {
	w := newCopyBatcher(ctx, r)
	_, copyErr := r.conn.PgConn().CopyTo(ctx, w, sql)
	if copyErr != nil {
		copyErr = fmt.Errorf("snapshot of %s: %w", r.name, copyErr)
	}
	if err := w.finish(copyErr); err != nil {
		return 0, nil, err
	}
	if w.rows > 0 {
		r.pending.chunkEnd = true
		r.pending.lastKey = w.lastKey
	}
	return w.rows, w.lastKey, nil
}
