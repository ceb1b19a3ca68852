package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// Complete transactions are emitted once the stream has been quiet for
// linger.Quiet after the newest commit, and at the latest linger.Max after
// the first of them was complete. A busy stream so shares one batch (one
// sink write, one fsync, one checkpoint) among the transactions of up to
// linger.Max, while a lone transaction goes out after linger.Quiet instead of
// waiting linger.Max for company that does not come: a fixed 5 ms wait was
// most of the commit → sink latency at 1,000 commits/s. The engine's sink
// runners then coalesce the batches that arrive while a write is in flight
// (group commit), so the fsync rate follows the load either way.

// relState is the current schema of one relation id in the stream.
type relState struct {
	name  string // schema.table
	sch   *event.Schema
	types []*colType
}

// streamDecoder turns pgoutput messages into batches. It is owned by the
// goroutine that reads the replication connection.
type streamDecoder struct {
	src *Source
	out component.Emitter
	si  serverInfo
	// cat looks up catalog details for Relation messages; nil in fuzz
	// tests, where schemas come from the Relation message alone.
	cat *catalog
	// known holds the newest schema per table name, so versions continue
	// from the snapshot's and survive reconnects.
	known map[string]*relState
	rels  map[uint32]*relState

	inTx       bool
	xid        uint32
	commitUs   int64 // commit time, µs since the Unix epoch
	commitLSN  uint64
	lastCommit uint64 // end LSN of the previous transaction's commit (0: none seen)
	start      uint64 // where streaming started
	// startCommit is lastCommit before the first commit: start when
	// resuming from a streaming checkpoint, 0 after a fresh start.
	startCommit uint64
	emitted     uint64 // LSN of the last checkpoint handed to Emit
	pending     uint64 // LSN of complete, not yet emitted transactions (0: none)
	pendingXid  uint32 // the newest of those transactions' xid and commit time,
	pendingUs   int64  // for the checkpoint (Kafka Connect's offsets show them)
	batch       []event.Event
	lastEmit    time.Time
	cp          checkpoint
	scratch     []tupleCol
	scratch2    []tupleCol
	// slab is what is left of the values the next row images are cut
	// from (values): one allocation per streamSlab values instead of one
	// per image.
	slab []event.Value
	// nowMs is the envelope's ts_ms, the connector's processing time: the
	// clock read after the network read that brought the message (see
	// receive), not once per change; 0: read the clock per change.
	nowMs int64
	// clockReads is the socket's count of network reads when the clock
	// was read; clock, when set (tests), replaces time.Now.
	clockReads uint64
	clock      func() time.Time
	// net is the socket while receive runs (nil in tests and when it is
	// not a readConn); txRows counts the current transaction's rows, to
	// tell when its reads may coalesce (netread.go).
	net        *readConn
	txRows     int
	coalescing bool

	// activity is the unix-nano time of the last emitted commit (read by
	// the side loop, for heartbeats).
	activity atomic.Int64

	// After a reconnect the server re-sends from the last checkpoint (or
	// from confirmed_flush_lsn, whichever is later), so transactions that
	// were emitted but not checkpointed come again; these fields filter
	// them on the client (see begin and replayed).
	//
	// done is the end LSN of the last transaction whose every event was
	// handed to Emit: a transaction whose commit lies before it is skipped
	// whole.
	done uint64
	// txStart is the index in batch of the current transaction's first
	// event (valid while inTx).
	txStart int
	// tx is the progress of the transaction being decoded; part is that of
	// the newest transaction with events handed to Emit, kept until it is
	// done: re-sent after a reconnect, its emitted prefix is skipped.
	tx, part txProgress
	// skipTx: the current transaction was emitted whole before a
	// reconnect; its changes are ignored.
	skipTx bool
	// batchBytes is the size of the row messages added to batch since the
	// last flush: a batch is cut at batchBytes as well as at batch_size
	// rows, so that wide rows do not make batches of tens of MB.
	batchBytes int
	// lastBatch is the length of the batch at the last flush: the next
	// batch's capacity.
	lastBatch int
	// batchSize is the event.Size sum of batch, txStartSize that of its
	// events before txStart.
	batchSize, txStartSize int64

	// incr is the incremental snapshot's state besides the checkpoint's
	// (incremental.go).
	incr incrRun
}

func newStreamDecoder(s *Source, out component.Emitter, si serverInfo, cat *catalog, tables []*capturedTable, cp *checkpoint, start uint64) *streamDecoder {
	d := &streamDecoder{src: s, out: out, si: si, cat: cat, known: map[string]*relState{}, rels: map[uint32]*relState{},
		lastCommit: start, emitted: start, start: start, startCommit: start, cp: *cp}
	if cp.fresh {
		d.lastCommit, d.startCommit = 0, 0
	}
	d.cp.Tables = nil
	d.cp.Phase = phaseStream
	d.cp.Incr = cp.Incr.Clone()
	d.incr.signal = s.signal
	d.incr.atEmit = cp.Incr.Clone()
	d.incr.kick = d.incrActive()
	for _, t := range tables {
		d.known[t.info.ref.String()] = &relState{name: t.info.ref.String(), sch: t.sch, types: t.types}
	}
	return d
}

// txProgress locates change events inside one transaction. pgoutput sends
// a transaction's changes in LSN order, and a WAL record holding several
// changes (a multi-insert, a TRUNCATE of several tables) in a fixed order,
// so (lsn, ordinal among the events at that lsn) names an event the same
// way each time the transaction is decoded.
type txProgress struct {
	commit uint64 // the transaction's final (commit record) LSN, from Begin; 0: none
	lsn    uint64 // LSN of the newest event
	n      int    // events at lsn so far
	// sentLSN and sentN locate the last event handed to Emit (sentN 0:
	// none).
	sentLSN uint64
	sentN   int
	// replay: the transaction is being re-sent after a reconnect; events
	// up to (sentLSN, sentN) were emitted already.
	replay bool
}

// reset forgets the partial state of a broken session: the server re-sends
// everything after the last emitted checkpoint.
func (d *streamDecoder) reset() {
	d.inTx = false
	d.pending = 0
	d.batch, d.batchSize, d.txStartSize = nil, 0, 0
	d.incrReset()
	d.lastCommit = d.emitted
	if d.emitted == d.start {
		d.lastCommit = d.startCommit
	}
}

// begin starts a transaction whose commit record is at final: one emitted
// whole before a reconnect is skipped; the one emitted in part is re-sent
// from its start and its emitted prefix skipped.
func (d *streamDecoder) begin(final uint64) {
	d.skipTx = final < d.done
	switch {
	case d.skipTx:
		d.src.replaySkips.tx.Add(1)
	case final == d.part.commit && d.part.sentN > 0:
		d.tx = d.part
		d.tx.replay, d.tx.lsn, d.tx.n = true, 0, 0 // re-sent after a reconnect
	default:
		d.tx = txProgress{commit: final}
	}
	d.txStart, d.txStartSize = len(d.batch), d.batchSize
}

// replayed advances the transaction's position by one event at lsn and
// reports whether that event was emitted before a reconnect (or belongs to
// a transaction emitted whole), so it must not be emitted again.
func (d *streamDecoder) replayed(lsn uint64) bool {
	if d.skipTx {
		return true
	}
	t := &d.tx
	if lsn != t.lsn {
		t.lsn, t.n = lsn, 0
	}
	t.n++
	if !t.replay {
		return false
	}
	if t.lsn < t.sentLSN || t.lsn == t.sentLSN && t.n <= t.sentN {
		d.src.replaySkips.events.Add(1)
		return true
	}
	t.replay = false
	return false
}

// emit hands evs to the engine and records what is emitted since: every
// transaction committed so far, and the current one's events up to the
// newest (when evs holds some of them). size is the events' event.Size
// sum, or -1 when unknown.
func (d *streamDecoder) emit(ctx context.Context, evs []event.Event, cp []byte, partial bool, size int64) error {
	var err error
	if size < 0 {
		err = d.out.Emit(ctx, evs, cp)
	} else {
		err = component.EmitSized(ctx, d.out, evs, cp, size)
	}
	if err != nil {
		return err
	}
	d.lastEmit = time.Now()
	d.done = max(d.done, d.lastCommit)
	if partial {
		d.tx.sentLSN, d.tx.sentN = d.tx.lsn, d.tx.n
		d.part = d.tx
	}
	return nil
}

// flush emits the complete transactions the batch holds, with the
// checkpoint of the newest commit (or heartbeat) when it is new. Inside a
// transaction, the transaction's own events stay in the batch, unless all is
// set (the batch is full): they then follow in a second Emit, without a
// checkpoint. A checkpoint so never waits for a pause in a busy stream, and
// always describes exactly what was emitted up to it.
func (d *streamDecoder) flush(ctx context.Context, all bool) error {
	n, size := len(d.batch), d.batchSize
	d.lastBatch = n
	if d.inTx {
		n, size = d.txStart, d.txStartSize
	}
	var cp []byte
	if d.pending > d.emitted {
		d.cp.LSN = pglogrepl.LSN(d.pending).String()
		if d.pendingXid != 0 {
			d.cp.TxID, d.cp.TsUs = d.pendingXid, d.pendingUs
		}
		cp = d.cp.marshal()
	}
	if n > 0 || cp != nil {
		if err := d.emit(ctx, d.batch[:n:n], cp, false, size); err != nil {
			return err
		}
		if cp != nil {
			d.emitted = d.pending
			d.incr.atEmit = d.cp.Incr.Clone()
		}
	}
	d.pending = 0
	rest, restSize := d.batch[n:], d.batchSize-size
	d.batch, d.txStart, d.batchBytes, d.batchSize, d.txStartSize = nil, 0, 0, 0, 0
	switch {
	case len(rest) == 0:
		return nil
	case !all:
		d.batch, d.batchSize = rest, restSize // the array's head is the engine's now; rest never grows into it
		return nil
	}
	return d.emit(ctx, rest, nil, true, restSize)
}

func (d *streamDecoder) add(ctx context.Context, e event.Event) error {
	if d.batch == nil {
		// As large as the last batch grew (a drain fills batch_size
		// each time: no growing by copying), at least 256 events.
		d.batch = make([]event.Event, 0, min(d.src.cfg.BatchSize, max(256, d.lastBatch)))
	}
	d.batch = append(d.batch, e)
	// Summed while the values are in the cache, for the engine, which
	// would otherwise read every value of the batch again (EmitSized).
	d.batchSize += int64(d.batch[len(d.batch)-1].Size())
	if len(d.batch) < d.src.cfg.BatchSize && d.batchBytes < batchBytes {
		return nil
	}
	return d.flush(ctx, true)
}

// handle processes one pgoutput message that started at WAL position lsn.
func (d *streamDecoder) handle(ctx context.Context, lsn uint64, msg string) error {
	if len(msg) == 0 {
		return component.Permanent(errors.New("empty pgoutput message"))
	}
	w := &wire{s: msg, off: 1}
	if c := msg[0]; c == 'I' || c == 'U' || c == 'D' {
		d.batchBytes += len(msg)
		if d.txRows++; d.txRows == coalesceAfterRows && d.inTx {
			d.coalesceReads(true)
		}
	}
	switch msg[0] {
	case 'B':
		d.commitLSN = w.u64() // final LSN: the commit record's
		ts := int64(w.u64())
		d.xid = w.u32()
		if w.err != nil {
			return component.Permanent(fmt.Errorf("begin message: %w", w.err))
		}
		d.begin(d.commitLSN)
		d.inTx = true
		d.txRows = 0
		if d.commitLSN > lsn && d.commitLSN-lsn >= coalesceAfterWAL {
			// lsn is the transaction's first record: one this long in
			// the WAL is large (or spread over a busy stretch of it).
			d.coalesceReads(true)
		}
		d.commitUs = pgMicrosToUnixUs(ts)
	case 'C':
		w.u8()
		w.u64() // commit LSN
		end := w.u64()
		w.u64()
		if w.err != nil {
			return component.Permanent(fmt.Errorf("commit message: %w", w.err))
		}
		d.inTx = false
		d.coalesceReads(false)
		d.lastCommit = end
		if len(d.incr.staged) > 0 {
			d.commitSignals()
		}
		if end > d.pending {
			d.pending = end
			d.pendingXid, d.pendingUs = d.xid, d.commitUs
		}
		d.skipTx = false
		if len(d.batch) > 0 {
			d.activity.Store(time.Now().UnixNano())
		}
		if len(d.batch) >= d.src.cfg.BatchSize || d.batchBytes >= batchBytes {
			return d.flush(ctx, true)
		}
	case 'R':
		rel, err := parseRelation(w)
		if err != nil {
			return component.Permanent(fmt.Errorf("relation message: %w", err))
		}
		return d.relation(ctx, &rel)
	case 'I':
		if d.replayed(lsn) {
			return nil
		}
		rs, err := d.rel(w.u32(), w)
		if err != nil {
			return err
		}
		if k := w.u8(); k != 'N' && w.err == nil {
			return component.Permanent(fmt.Errorf("insert into %s: unexpected tuple kind %q", rs.name, k))
		}
		d.scratch = w.tuple(d.scratch)
		if w.err != nil {
			return component.Permanent(fmt.Errorf("insert into %s: %w", rs.name, w.err))
		}
		after, err := d.values(rs, d.scratch)
		if err != nil {
			return err
		}
		if rs.name == d.incr.signal {
			d.stageSignal(rs, after)
			return nil
		}
		d.incrSeen(rs, nil, after)
		return d.add(ctx, d.event(event.OpCreate, rs, nil, after, lsn))
	case 'U':
		if d.replayed(lsn) {
			return nil
		}
		rs, err := d.rel(w.u32(), w)
		if err != nil {
			return err
		}
		var before []event.Value
		k := w.u8()
		full := k == 'O'
		if k == 'K' || k == 'O' {
			d.scratch2 = w.tuple(d.scratch2)
			if w.err == nil {
				if before, err = d.values(rs, d.scratch2); err != nil {
					return err
				}
			}
			k = w.u8()
		}
		if k != 'N' && w.err == nil {
			return component.Permanent(fmt.Errorf("update of %s: unexpected tuple kind %q", rs.name, k))
		}
		d.scratch = w.tuple(d.scratch)
		if w.err != nil {
			return component.Permanent(fmt.Errorf("update of %s: %w", rs.name, w.err))
		}
		after, err := d.values(rs, d.scratch)
		if err != nil {
			return err
		}
		if full {
			fillUnchanged(after, before)
		}
		if rs.name == d.incr.signal {
			return nil
		}
		d.incrSeen(rs, before, after)
		return d.add(ctx, d.event(event.OpUpdate, rs, before, after, lsn))
	case 'D':
		if d.replayed(lsn) {
			return nil
		}
		rs, err := d.rel(w.u32(), w)
		if err != nil {
			return err
		}
		if k := w.u8(); k != 'K' && k != 'O' && w.err == nil {
			return component.Permanent(fmt.Errorf("delete from %s: unexpected tuple kind %q", rs.name, k))
		}
		d.scratch = w.tuple(d.scratch)
		if w.err != nil {
			return component.Permanent(fmt.Errorf("delete from %s: %w", rs.name, w.err))
		}
		before, err := d.values(rs, d.scratch)
		if err != nil {
			return err
		}
		if rs.name == d.incr.signal {
			return nil
		}
		d.incrSeen(rs, before, nil)
		return d.add(ctx, d.event(event.OpDelete, rs, before, nil, lsn))
	case 'T':
		n := w.u32()
		w.u8() // options
		if w.err != nil || int(n) > len(msg) {
			return component.Permanent(fmt.Errorf("truncate message: %w", errShort))
		}
		for i := uint32(0); i < n; i++ {
			rs, err := d.rel(w.u32(), w)
			if err != nil {
				return err
			}
			if d.replayed(lsn) || rs.name == d.incr.signal {
				continue
			}
			d.incrTruncated(rs)
			if err := d.add(ctx, d.event(event.OpTruncate, rs, nil, nil, lsn)); err != nil {
				return err
			}
		}
	case 'M':
		flags := w.u8()
		mlsn := w.u64()
		prefix := w.cstr()
		l := w.u32()
		content := w.bytes(int(l & 0x7fffffff))
		if w.err != nil {
			return component.Permanent(fmt.Errorf("logical decoding message: %w", w.err))
		}
		if prefix == heartbeatPrefix && flags&1 == 0 && !d.inTx {
			// A heartbeat: every transaction committed before it was
			// already received, so its LSN is a valid restart point.
			if mlsn > d.pending {
				d.pending = mlsn
			}
			return d.flush(ctx, true)
		}
		if flags&1 == 0 && !d.inTx {
			switch prefix {
			case watermarkPrefix:
				return d.watermark(ctx, mlsn, string(content))
			case signalPrefix:
				return d.signalMessage(ctx, mlsn, string(content))
			}
		}
	case 'Y', 'O':
		// Type and origin messages: types are looked up in the catalog.
	default:
		return component.Permanent(fmt.Errorf("unknown pgoutput message type %q", msg[0]))
	}
	return nil
}

// fillUnchanged replaces the unchanged-TOAST markers of an update's new
// image with the old image's values. Only a whole old tuple ('O', REPLICA
// IDENTITY FULL) holds them: PostgreSQL writes it with TOASTed values
// inline, and Debezium fills the new image from it the same way. A key-only
// old tuple ('K') has nulls for the other columns, which are not values.
func fillUnchanged(after, before []event.Value) {
	if len(before) != len(after) {
		return
	}
	for i := range after {
		if after[i].Kind == event.KindUnchanged && before[i].Kind != event.KindUnchanged {
			after[i] = before[i]
		}
	}
}

// rel returns the state of a relation id (after its Relation message).
func (d *streamDecoder) rel(id uint32, w *wire) (*relState, error) {
	if w.err != nil {
		return nil, component.Permanent(fmt.Errorf("change message: %w", w.err))
	}
	rs := d.rels[id]
	if rs == nil {
		return nil, component.Permanent(fmt.Errorf("change for relation %d before its Relation message", id))
	}
	return rs, nil
}

func (d *streamDecoder) event(op event.Op, rs *relState, before, after []event.Value, lsn uint64) event.Event {
	return event.Event{
		Op:     op,
		Schema: rs.sch,
		Before: before,
		After:  after,
		Source: event.Source{
			TsUs: d.commitUs, TxID: int64(d.xid), HasTxID: true,
			LSN: lsn, LastCommitLSN: d.lastCommit, CommitLSN: d.commitLSN, HasLSN: true,
		},
		TsMs: d.tsMs(),
		// Position stays empty: Event.Where derives it from Source.LSN
		// when needed, so no string is built per change.
	}
}

// coalesceReads lets the socket's reads wait for more data (netread.go)
// inside a large transaction: its commit comes after the rest of its
// rows, so no commit waits longer than coalesceWait for it.
func (d *streamDecoder) coalesceReads(on bool) {
	if d.coalescing != on && d.net != nil {
		d.coalescing = on
		d.net.coalesce.Store(on)
	}
}

// readClock sets the processing time of the changes of the message just
// received: the clock is read once per network read (rc's count moved),
// or per message when the socket is not a readConn.
func (d *streamDecoder) readClock(rc *readConn) {
	if rc != nil {
		r := rc.reads.Load()
		if r == d.clockReads && d.nowMs != 0 {
			return
		}
		d.clockReads = r
	}
	d.nowMs = d.now()
}

// tsMs is the envelope's ts_ms for a change decoded now.
func (d *streamDecoder) tsMs() int64 {
	if d.nowMs != 0 {
		return d.nowMs
	}
	return d.now()
}

func (d *streamDecoder) now() int64 {
	if d.clock != nil {
		return d.clock().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// streamSlab is the size, in values, of the slabs row images are cut
// from: 20 kB, 64 rows of eight columns, within Go's small-object size
// classes (a slab of 1,024 values, a large object, decoded slower in
// BenchmarkStreamDecode). A slab lives as long as any
// event cut from it; the engine drops batches in order, so a slab outlives
// its last batch by at most the batch after it. Nothing of the decoder
// keeps an image (the incremental snapshot's signals and chunk keys are
// copies: stageSignal, incrSeen).
const streamSlab = 512

// values decodes a tuple against the relation's schema.
func (d *streamDecoder) values(rs *relState, cols []tupleCol) ([]event.Value, error) {
	if len(cols) != len(rs.sch.Columns) {
		return nil, component.Permanent(fmt.Errorf("%s: tuple has %d columns, its Relation message %d", rs.name, len(cols), len(rs.sch.Columns)))
	}
	n := len(cols)
	if len(d.slab) < n {
		d.slab = make([]event.Value, max(n, streamSlab))
	}
	vals := d.slab[:n:n] // zeroed: decodeInto writes into NULLs
	d.slab = d.slab[n:]
	for i := range cols {
		switch cols[i].kind {
		case 'n':
		case 'u':
			vals[i] = event.Unchanged
		case 't':
			if err := decodeInto(&vals[i], rs.types[i], cols[i].data); err != nil {
				c := &rs.sch.Columns[i]
				return nil, component.Permanent(fmt.Errorf("%s: column %s (%s): %w", rs.name, c.Name, c.TypeName, err))
			}
		default:
			return nil, component.Permanent(fmt.Errorf("%s: column %s: binary tuple data was not requested", rs.name, rs.sch.Columns[i].Name))
		}
	}
	return vals, nil
}

// relation builds (or reuses) the schema a Relation message describes.
func (d *streamDecoder) relation(ctx context.Context, rel *relationMsg) error {
	name := rel.namespace + "." + rel.name
	prev := d.known[name]
	base := d.src.baseSchema(d.si, tableRef{oid: rel.id, schema: rel.namespace, name: rel.name})
	if prev != nil {
		base.Version = prev.sch.Version
	}
	var sch *event.Schema
	var types []*colType
	var err error
	if d.cat != nil {
		info, lerr := d.cat.loadTable(ctx, tableRef{oid: rel.id, schema: rel.namespace, name: rel.name})
		if lerr != nil {
			// The table may be gone already (dropped after this change);
			// the Relation message alone still describes its rows.
			d.src.log.Warn("catalog lookup for a relation failed; using the Relation message alone", "table", name, "err", lerr)
			info = nil
		}
		sch, types, err = d.cat.buildSchema(ctx, base, info, rel)
	} else {
		sch, types, err = schemaFromRelation(base, rel)
	}
	if err != nil {
		return err
	}
	if prev != nil && sameShape(prev.sch, sch) {
		d.rels[rel.id] = prev
		return nil
	}
	if prev != nil {
		sch.Version = prev.sch.Version + 1
		d.src.log.Info("table schema changed", "table", name, "version", sch.Version)
	}
	rs := &relState{name: name, sch: sch, types: types}
	d.known[name] = rs
	d.rels[rel.id] = rs
	return nil
}

// schemaFromRelation builds a schema from a Relation message and built-in
// type knowledge only (no catalog).
func schemaFromRelation(base event.Schema, rel *relationMsg) (*event.Schema, []*colType, error) {
	sch := base
	types := make([]*colType, len(rel.cols))
	for i, c := range rel.cols {
		col := event.Column{Name: c.name, TypeOID: c.typeOID, Optional: true, Type: event.TypeUnknown}
		ct := &colType{dec: decString}
		if b, ok := builtinTypes[c.typeOID]; ok {
			col.Type, ct = b.t, &colType{dec: b.dec}
		}
		if c.key {
			col.Key = true
			sch.KeyIdx = append(sch.KeyIdx, i)
		}
		sch.Columns = append(sch.Columns, col)
		types[i] = ct
	}
	return &sch, types, nil
}

// pgMicrosToUnixUs converts microseconds since 2000-01-01 to microseconds
// since 1970.
func pgMicrosToUnixUs(us int64) int64 {
	const epochDiffUs = 946_684_800_000_000
	return us + epochDiffUs
}

// stream runs START_REPLICATION and reconnects with backoff after lost
// connections, always restarting after the last emitted checkpoint.
func (s *Source) stream(ctx context.Context, si serverInfo, meta *pgx.Conn, repl *pgconn.PgConn,
	tables []*capturedTable, cp *checkpoint, out component.Emitter) error {
	s.prog.Enter(&progress.Streaming, 0)
	start, _ := cp.streamLSN()
	if start == 0 {
		start, _ = cp.consistentLSN()
	}
	if s.durable.Load() == 0 {
		// The checkpoint handed to Run is durable by definition.
		s.durable.Store(uint64(start))
	}
	heartbeats := s.cfg.HeartbeatInterval > 0
	if heartbeats && si.version < 140000 {
		s.log.Warn("heartbeats need PostgreSQL 14 or later (pgoutput messages); disabled: an idle slot's position only advances with changes to captured tables")
		heartbeats = false
	}
	d := newStreamDecoder(s, out, si, newCatalog(meta), tables, cp, uint64(start))
	w := &pubWatch{src: s, seen: s.pubSeen}
	for _, t := range tables {
		w.refs = append(w.refs, t.info.ref)
	}
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		began := time.Now()
		err := s.streamSession(ctx, repl, d, w, heartbeats)
		if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
			return err
		}
		if !retryable(err) {
			return s.explainStreamError(ctx, meta, err)
		}
		if time.Since(began) > time.Minute {
			backoff, attempt = 500*time.Millisecond, 1
		}
		if s.env.Epoch > 0 && slotActive(err) {
			s.endOldReader(ctx, meta)
		}
		s.log.Warn("replication connection lost; reconnecting", "attempt", attempt, "in", backoff,
			"resume_lsn", pglogrepl.LSN(d.emitted).String(), "err", err)
		_ = repl.Close(context.Background())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
		d.reset()
		if meta.IsClosed() || meta.Ping(ctx) != nil {
			if m, err := s.connect(ctx); err == nil {
				meta = m
				d.cat = newCatalog(meta)
			}
		}
		next, cerr := s.connectRepl(ctx)
		if cerr != nil {
			if !retryable(cerr) {
				return s.explainStreamError(ctx, meta, cerr)
			}
			// repl stays the old, closed connection: the next session
			// fails at once and the loop backs off again.
			s.log.Warn("reconnect failed", "attempt", attempt, "err", cerr)
			continue
		}
		repl = next
	}
}

// slotActive reports the server refusing START_REPLICATION because another
// walsender holds the slot.
func slotActive(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// endOldReader terminates the walsender still holding the slot. Only a
// coordinated run (env.Epoch > 0) does it: it holds the pipeline's stream
// partition, so the holder of that walsender lost the partition and has
// stopped writing (package coordination); the server just has not noticed
// yet that its client is gone (a node cut off, or killed with its TCP
// connection left open), and would keep the slot until
// wal_sender_timeout. Needs the right to signal that backend (the same
// role, pg_signal_backend, or a superuser); without it the source waits
// for the server as before.
func (s *Source) endOldReader(ctx context.Context, meta *pgx.Conn) {
	if meta == nil || meta.IsClosed() {
		return
	}
	var pid int32
	var ended bool
	err := meta.QueryRow(ctx, `SELECT active_pid, pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE slot_name = $1 AND active_pid IS NOT NULL AND active_pid <> pg_backend_pid()`, s.slot).Scan(&pid, &ended)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		s.log.Warn("could not end the previous reader of the slot; waiting for the server to drop it", "slot", s.slot, "err", err)
	default:
		s.log.Warn("ended the previous reader of the slot (a walsender of an earlier coordination epoch)", "slot", s.slot, "pid", pid, "terminated", ended, "epoch", s.env.Epoch)
	}
}

// streamSession runs one replication session until an error or ctx ends.
// Publication checks and heartbeats run beside it (sideLoop); a check that
// fails for good ends the session with its error.
func (s *Source) streamSession(ctx context.Context, repl *pgconn.PgConn, d *streamDecoder, w *pubWatch, heartbeats bool) error {
	if repl == nil || repl.IsClosed() {
		return &net.OpError{Op: "dial", Err: errors.New("no replication connection")}
	}
	args := []string{
		"proto_version '1'",
		"publication_names " + quoteLiteral(pgx.Identifier{s.publication}.Sanitize()),
	}
	if d.si.version >= 140000 {
		// Heartbeats, incremental snapshot watermarks and signals.
		args = append(args, "messages 'true'")
	}
	startLSN := pglogrepl.LSN(d.emitted)
	if err := pglogrepl.StartReplication(ctx, repl, s.slot, startLSN,
		pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args}); err != nil {
		return fmt.Errorf("start replication from slot %q at %s: %w", s.slot, startLSN, err)
	}
	s.log.Info("streaming", "slot", s.slot, "from", startLSN.String())
	if d.incr.kick {
		// An incremental snapshot resumed from the checkpoint, or its
		// chunk lost with the connection: read it (again).
		if err := d.startChunk(ctx); err != nil {
			return err
		}
	}

	sctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel(nil)
		wg.Wait()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.statusLoop(sctx, repl)
	}()
	go func() {
		defer wg.Done()
		s.sideLoop(sctx, d, w, heartbeats, cancel)
	}()
	err := s.receive(sctx, repl, d, startLSN)
	if c := context.Cause(sctx); c != nil && ctx.Err() == nil {
		return c // the side loop's finding
	}
	return err
}

// receive reads the replication stream into the decoder until an error or
// ctx ends.
func (s *Source) receive(ctx context.Context, repl *pgconn.PgConn, d *streamDecoder, from pglogrepl.LSN) error {
	// Reads never take a context (pgx would start a goroutine per call);
	// cancellation and the linger timer work through the read deadline.
	nc := repl.Conn()
	var dlMu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		dlMu.Lock()
		_ = nc.SetReadDeadline(time.Unix(1, 0))
		dlMu.Unlock()
	})
	defer stop()
	lingering := false
	var lingerEnd time.Time // linger.Max after the first complete transaction
	maxWait, quiet := s.lingerSet.Durations()
	rc := readConnOf(nc) // the socket, for the clock (readClock)
	d.net = rc
	defer func() {
		d.nowMs = 0
		d.coalesceReads(false)
		d.net = nil
	}()
	for {
		if d.pending > d.emitted && len(d.batch) == 0 && !d.inTx && time.Since(d.lastEmit) > s.cfg.StatusInterval {
			// Only transactions without captured changes (PostgreSQL
			// before 15 sends them): checkpoint them now and then.
			if err := d.flush(ctx, true); err != nil {
				return err
			}
		}
		if d.pending != 0 && len(d.batch) > 0 && !d.inTx {
			// Between transactions: wait until the stream is quiet, or
			// linger.Max has passed since the batch had a complete one.
			now := time.Now()
			if !lingering {
				lingering, lingerEnd = true, now.Add(maxWait)
			}
			dl := now.Add(quiet)
			if dl.After(lingerEnd) {
				dl = lingerEnd
			}
			dlMu.Lock()
			_ = nc.SetReadDeadline(dl)
			dlMu.Unlock()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg, err := repl.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if lingering && (pgconn.Timeout(err) || isTimeout(err)) {
				lingering = false
				dlMu.Lock()
				_ = nc.SetReadDeadline(time.Time{})
				dlMu.Unlock()
				// The complete transactions waited long enough; a
				// transaction begun meanwhile keeps filling the batch.
				if err := d.flush(ctx, false); err != nil {
					return err
				}
				continue
			}
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return component.Permanent(fmt.Errorf("keepalive: %w", err))
				}
				if ka.ReplyRequested {
					select {
					case s.kick <- struct{}{}:
					default:
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return component.Permanent(fmt.Errorf("XLogData: %w", err))
				}
				d.readClock(rc)
				// One allocation per message: every value is a substring.
				if err := d.handle(ctx, uint64(xld.WALStart), string(xld.WALData)); err != nil {
					return err
				}
				if d.incr.kick && !d.inTx {
					if err := d.startChunk(ctx); err != nil {
						return err
					}
				}
			}
		case *pgproto3.ErrorResponse:
			return s.replicationError(pgconn.ErrorResponseToPgError(m), from)
		case *pgproto3.CopyDone:
			return &net.OpError{Op: "read", Err: errors.New("server ended the replication stream")}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusLoop reports the durable position every status_interval and when
// kicked (Committed, or a keepalive asking for a reply). It is the only
// writer on the replication connection while streaming; it never reports a
// received-but-not-durable position.
func (s *Source) statusLoop(ctx context.Context, conn *pgconn.PgConn) {
	t := time.NewTicker(s.cfg.StatusInterval)
	defer t.Stop()
	var sent uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		lsn := pglogrepl.LSN(s.durable.Load())
		err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("standby status update failed", "err", err)
			}
			return
		}
		if uint64(lsn) != sent {
			sent = uint64(lsn)
			s.log.Debug("confirmed position", "lsn", lsn.String())
		}
	}
}
