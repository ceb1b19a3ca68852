package sourcetest

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// Run runs the conformance suite against the source that h adapts. The
// back-pressure subtest runs first and alone (it measures the heap, so the
// calling test must not be parallel); the others then run in parallel,
// each in a database of its own.
func Run(t *testing.T, h Harness) {
	if h.Setup == nil || h.Checkpoint == nil {
		t.Fatal("sourcetest: the Harness needs Setup and Checkpoint")
	}
	if len(h.Types) == 0 {
		t.Fatal("sourcetest: the Harness needs a type matrix (Types)")
	}
	s := &suite{h: &h}
	t.Run("backpressure", s.backPressure)
	t.Run("snapshot_then_stream", parallel(s.snapshotThenStream))
	t.Run("crash", func(t *testing.T) {
		t.Parallel()
		t.Run("mid_snapshot", parallel(s.crashMidSnapshot))
		t.Run("mid_stream", parallel(s.crashMidStream))
		t.Run("mid_transaction", parallel(s.crashMidTransaction))
	})
	t.Run("reconnect", parallel(s.reconnect))
	t.Run("start_outage", parallel(s.startOutage))
	t.Run("types", parallel(s.types))
}

func parallel(f func(*testing.T)) func(*testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		f(t)
	}
}

type suite struct{ h *Harness }

func (s *suite) checker(t *testing.T, what string) *checker {
	return &checker{t: t, h: s.h, what: what}
}

// apply commits cs to the database and records it in the model.
func apply(t *testing.T, tg Target, m *model, table string, cs []Change) {
	t.Helper()
	if len(cs) == 0 {
		return
	}
	tg.Apply(t, table, cs)
	m.apply(t, cs)
}

// caughtUp waits until the events of earlier runs (prior) and of r show
// every row of the model in its newest state. When they do not in time, it
// reports what is missing or wrong before failing.
func (s *suite) caughtUp(t *testing.T, r *running, m *model, prior []event.Event) {
	t.Helper()
	tr := newTracker(s.checker(t, r.name), m)
	tr.feedAll(prior)
	what := fmt.Sprintf("every row in its newest state (%d rows, %d changes)", len(m.hist), len(m.changes))
	r.waitForOr(t, what, func() bool {
		tr.poll(r.rec)
		return tr.caughtUp()
	}, func() {
		s.checker(t, r.name+", not caught up").verify(slices.Concat(prior, r.rec.events(0)), m, true)
	})
}

// checkRun checks what one run emitted batch by batch: batch sizes, one
// schema for the table, the schema's identity, and checkpoints that can be
// read and never go back (the first not before the one Run started from).
func (s *suite) checkRun(t *testing.T, r *running) {
	t.Helper()
	c := s.checker(t, r.name)
	var prev []int64
	if r.from != nil {
		mk, err := s.h.Checkpoint(r.from)
		if err != nil {
			c.errorf("the checkpoint Run started from cannot be read: %v", err)
		}
		prev = mk
	}
	var sch *event.Schema
	shapes := map[string]*event.Schema{} // Caps.Shapes: each shape's schema
	top := 0                             // the highest schema Version so far
	for i, b := range r.rec.batches() {
		if len(b.Events) > r.p.BatchSize {
			c.errorf("batch %d has %d events; the batch size is %d", i, len(b.Events), r.p.BatchSize)
		}
		for _, e := range b.Events {
			switch {
			case e.Schema == nil:
			case sch == nil:
				sch = e.Schema
				s.checkSchema(c, sch, r.p)
				shapes[shapeOf(sch)], top = sch, sch.Version
			case e.Schema == sch:
			case s.h.Caps.Shapes:
				sch = e.Schema
				k := shapeOf(sch)
				switch prev, ok := shapes[k]; {
				case ok && prev != sch:
					c.errorf("batch %d: documents of one shape carry different schemas (versions %d and %d); a shape keeps its schema", i, prev.Version, sch.Version)
				case !ok && sch.Version <= top:
					c.errorf("batch %d: a new shape comes with schema version %d, not above the run's highest, %d", i, sch.Version, top)
				case !ok:
					s.checkSchema(c, sch, r.p)
				}
				shapes[k], top = sch, max(top, sch.Version)
			default:
				c.errorf("batch %d: the table's events carry different schemas (versions %d and %d) although it did not change; a schema is shared until the table changes", i, sch.Version, e.Schema.Version)
				sch = e.Schema
			}
		}
		if b.Checkpoint == nil {
			continue
		}
		mk, err := s.h.Checkpoint(b.Checkpoint)
		if err != nil {
			c.errorf("batch %d: checkpoint %s cannot be read: %v", i, b.Checkpoint, err)
			continue
		}
		if prev != nil && slices.Compare(mk, prev) < 0 {
			c.errorf("batch %d: checkpoint %s goes back (position %v before %v)", i, b.Checkpoint, mk, prev)
		}
		prev = mk
	}
}

// shapeOf renders a schema's columns: names, types and type names.
func shapeOf(sch *event.Schema) string {
	var b strings.Builder
	for _, col := range sch.Columns {
		fmt.Fprintf(&b, "%q %s %q,", col.Name, col.Type, col.TypeName)
	}
	return b.String()
}

// key is the name of the tables' key column.
func (h *Harness) key() string {
	if h.Key != "" {
		return h.Key
	}
	return "id"
}

func (s *suite) checkSchema(c *checker, sch *event.Schema, p Params) {
	if sch.Source != p.Name || !strings.HasPrefix(sch.Stream, p.Name+".") || !strings.HasSuffix(sch.Stream, "."+p.Table) ||
		sch.Table != p.Table || sch.Connector == "" || sch.Version < 1 {
		c.errorf("schema identity: stream %q source %q connector %q table %q version %d; want stream %s.<namespace>.%s, source %s, a connector, table %s, version 1 or more",
			sch.Stream, sch.Source, sch.Connector, sch.Table, sch.Version, p.Name, p.Table, p.Name, p.Table)
	}
	if s.h.Row == nil || s.h.Key != "" {
		key := s.h.key()
		id := sch.ColumnIndex(key)
		switch {
		case id < 0:
			c.errorf("schema has no column %s", key)
		case !slices.Equal(sch.KeyIdx, []int{id}) || !sch.Columns[id].Key || sch.Columns[id].Optional:
			c.errorf("schema key: KeyIdx %v, column %s Key %v Optional %v; want the column %s alone, marked Key and not Optional (a primary key is NOT NULL)",
				sch.KeyIdx, key, sch.Columns[id].Key, sch.Columns[id].Optional, key)
		}
	}
}

// durable is what a crashed run left durable: the committed checkpoint
// (the one it started from when it committed nothing) and the events it
// covers. It logs how many emitted events were not covered: the
// uncommitted suffix that the next run must deliver again.
func durable(t *testing.T, r *running) ([]byte, []event.Event) {
	t.Helper()
	cp, evs := r.rec.committed()
	if cp == nil {
		cp = r.from
	}
	t.Logf("%s crashed after emitting %d events in %d batches: %d committed, %d uncommitted", r.name, r.rec.count(), len(r.rec.batches()), len(evs), r.rec.count()-len(evs))
	return cp, evs
}

// snapshotThenStream: existing rows are read (as a consistent snapshot when
// the source has one) while changes are committed, then changes of many
// shapes arrive in order, exactly once.
func (s *suite) snapshotThenStream(t *testing.T) {
	caps := s.h.Caps
	tg := s.h.Setup(t)
	const table = "ss"
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 20))
	apply(t, tg, m, table, m.inserts(21, 30))
	m.start()
	rec := newRecorder(0)
	rec.setHold(caps.Stream)
	r := start(t, "run", tg, Params{Table: table, BatchSize: 5, ChunkRows: 8}, nil, rec)
	if caps.Stream {
		r.waitFor(t, "the source's first Emit", func() bool { return rec.waiting() > 0 })
		// Committed while the source is reading (and holding its first
		// batch), to rows it has not read yet (the last of 30 in chunks of
		// 8): after a snapshot's position, so a snapshot source must read
		// them in their earlier state and deliver these as changes.
		during := m.newRows(1)
		if caps.Updates {
			during = append(during, Change{Op: event.OpUpdate, ID: 29, V: m.value(29)}, Change{Op: event.OpUpdate, ID: 1, V: m.value(1)})
		}
		if caps.Deletes {
			during = append(during, Change{Op: event.OpDelete, ID: 30})
		}
		apply(t, tg, m, table, during)
		rec.setHold(false)
		for _, tx := range patterns(m, caps) {
			apply(t, tg, m, table, tx)
		}
		rng := rand.New(rand.NewPCG(5, 1))
		for range 15 {
			apply(t, tg, m, table, m.randomTx(rng, caps, 4, 1, 45))
		}
	}
	s.caughtUp(t, r, m, nil)
	r.stop(t)
	s.checker(t, "snapshot then stream").verify(rec.events(0), m, false)
	s.checkRun(t, r)
}

// patterns are transactions of the shapes that break naive sources: a row
// changed twice in one transaction, deleted and inserted again, inserted
// and deleted, many rows at once. Only the changes caps allow.
func patterns(m *model, caps Caps) [][]Change {
	var txs [][]Change
	v := m.value
	txs = append(txs, m.newRows(3))
	if caps.Updates {
		txs = append(txs, []Change{{event.OpUpdate, 3, v(3)}, {event.OpUpdate, 3, v(3)}})
		txs = append(txs, append([]Change{{event.OpUpdate, 4, v(4)}, {event.OpUpdate, 5, v(5)}}, append(m.newRows(1), Change{event.OpUpdate, 6, v(6)})...))
	}
	if caps.Deletes {
		txs = append(txs, []Change{{event.OpDelete, 7, ""}, {event.OpCreate, 7, v(7)}})
		id := m.newID(0)
		txs = append(txs, []Change{{event.OpCreate, id, v(id)}, {event.OpDelete, id, ""}})
		txs = append(txs, []Change{{event.OpDelete, 8, ""}})
	}
	if caps.Updates && caps.Deletes {
		txs = append(txs, []Change{{event.OpUpdate, 9, v(9)}, {event.OpDelete, 9, ""}})
	}
	return txs
}

// crashMidSnapshot crashes the source while it reads the existing rows,
// changes rows, and restarts it from the committed checkpoint.
func (s *suite) crashMidSnapshot(t *testing.T) {
	caps := s.h.Caps
	tg := s.h.Setup(t)
	const table = "cs"
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 60))
	m.start()
	p := Params{Table: table, BatchSize: 4, ChunkRows: 10}

	rec1 := newRecorder(1)
	rec1.crash = func(accepted int, b Batch) bool { return accepted+len(b.Events) > 25 }
	r1 := start(t, "run 1", tg, p, nil, rec1)
	r1.waitCrash(t)
	cp, d1 := durable(t, r1)
	all1 := rec1.events(0)
	if n := len(all1); n == 0 || n >= 60 {
		t.Fatalf("run 1 emitted %d events before the crash; the crash must hit the reading of the 60 existing rows", n)
	}
	if caps.Stream {
		// Rows already read and rows not read yet change before the restart.
		var tx []Change
		for _, id := range []int64{1, 2, 50, 51} {
			if caps.Updates {
				tx = append(tx, Change{Op: event.OpUpdate, ID: id, V: m.value(id)})
			}
		}
		if caps.Deletes {
			tx = append(tx, Change{Op: event.OpDelete, ID: 3}, Change{Op: event.OpDelete, ID: 55})
		}
		tx = append(tx, m.newRows(2)...)
		apply(t, tg, m, table, tx)
	}

	rec2 := newRecorder(0)
	r2 := start(t, "run 2", tg, p, cp, rec2)
	if caps.Stream {
		rng := rand.New(rand.NewPCG(7, 3))
		for range 5 {
			apply(t, tg, m, table, m.randomTx(rng, caps, 3, 1, 70))
		}
	}
	s.caughtUp(t, r2, m, d1)
	r2.stop(t)
	e2 := rec2.events(0)
	relaxed := caps.Snapshot
	s.checker(t, "run 1's committed events, then run 2's").verify(slices.Concat(d1, e2), m, relaxed)
	s.checker(t, "everything run 1 emitted, then run 2, as a sink that skips replays holds it").verify(s.checker(t, "").sinkView(slices.Concat(all1, e2)), m, relaxed)
	s.checkRun(t, r1)
	s.checkRun(t, r2)
}

// crashMidStream crashes the source twice while it streams transactions
// and restarts it from the committed checkpoint each time.
func (s *suite) crashMidStream(t *testing.T) {
	caps := s.h.Caps
	if !caps.Stream {
		t.Skip("the source is export only (Caps.Stream is false): there is no stream to crash in")
	}
	tg := s.h.Setup(t)
	const table = "cm"
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 10))
	m.start()
	p := Params{Table: table, BatchSize: 3, ChunkRows: 4}
	rng := rand.New(rand.NewPCG(11, 13))
	tx := func() []Change { return m.randomTx(rng, caps, 4, 1, 30) }

	var prior, all []event.Event
	var cp []byte
	var runs []*running
	for i := 1; i <= 3; i++ {
		var marker atomic.Pointer[string]
		rec := newRecorder(1)
		if i == 3 {
			rec = newRecorder(0)
		} else {
			rec.crash = func(_ int, b Batch) bool {
				mk := marker.Load()
				if mk == nil {
					return false
				}
				for _, e := range b.Events {
					if slices.ContainsFunc(e.After, func(v event.Value) bool { return v.Kind == event.KindString && v.Str == *mk }) {
						return true
					}
				}
				return false
			}
		}
		r := start(t, fmt.Sprintf("run %d", i), tg, p, cp, rec)
		runs = append(runs, r)
		s.caughtUp(t, r, m, prior)
		// Two settled rounds, so the crash lands after a committed stream
		// checkpoint (the recorder acknowledges one batch late).
		for range 2 {
			apply(t, tg, m, table, tx())
			apply(t, tg, m, table, tx())
			s.caughtUp(t, r, m, prior)
		}
		if i == 3 {
			break
		}
		// The crash comes with a new row that nothing changes later, so a
		// source that coalesces states sees it too.
		id := m.newID(int64(1000 * i))
		mk := m.value(id)
		marker.Store(&mk)
		apply(t, tg, m, table, append(tx(), Change{Op: event.OpCreate, ID: id, V: mk}))
		apply(t, tg, m, table, tx())
		apply(t, tg, m, table, tx())
		r.waitCrash(t)
		var d []event.Event
		cp, d = durable(t, r)
		prior = append(prior, d...)
		all = append(all, rec.events(0)...)
		apply(t, tg, m, table, tx()) // while the source is down
	}
	last := runs[2]
	last.stop(t)
	e3 := last.rec.events(0)
	s.checker(t, "the committed events of runs 1 and 2, then run 3's").verify(slices.Concat(prior, e3), m, false)
	s.checker(t, "everything runs 1 to 3 emitted, as a sink that skips replays holds it").verify(s.checker(t, "").sinkView(slices.Concat(all, e3)), m, false)
	for _, r := range runs {
		s.checkRun(t, r)
	}
}

// crashMidTransaction crashes the source inside a transaction larger than
// several batches, and restarts it from the committed checkpoint.
func (s *suite) crashMidTransaction(t *testing.T) {
	caps := s.h.Caps
	if !caps.Stream {
		t.Skip("the source is export only (Caps.Stream is false): there are no transactions to crash in")
	}
	tg := s.h.Setup(t)
	const table = "ct"
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 10))
	m.start()
	p := Params{Table: table, BatchSize: 4, ChunkRows: 8}
	const first, last = 1001, 1200
	const n = last - first + 1
	isFill := func(e event.Event) bool {
		return slices.ContainsFunc(e.After, func(v event.Value) bool { return v.Kind == event.KindString && strings.HasPrefix(v.Str, "f") })
	}
	rec1 := newRecorder(0)
	fillBatches := 0
	rec1.crash = func(_ int, b Batch) bool { // called under the recorder's lock
		if slices.ContainsFunc(b.Events, isFill) {
			fillBatches++
		}
		return fillBatches == 3
	}
	r1 := start(t, "run 1", tg, p, nil, rec1)
	s.caughtUp(t, r1, m, nil)
	apply(t, tg, m, table, m.newRows(2))
	s.caughtUp(t, r1, m, nil)
	tg.Fill(t, table, first, last, 10)
	m.fill(t, first, last, 10)
	r1.waitCrash(t)
	cp, d1 := durable(t, r1)
	all1 := rec1.events(0)
	if got := len(slices.DeleteFunc(slices.Clone(all1), func(e event.Event) bool { return !isFill(e) })); got == 0 || got >= n {
		t.Fatalf("run 1 emitted %d of the transaction's %d rows; the crash must hit its middle", got, n)
	}
	after := m.newRows(2)
	if caps.Updates {
		after = append(after, Change{Op: event.OpUpdate, ID: first, V: m.value(first)}, Change{Op: event.OpUpdate, ID: last, V: m.value(last)})
	}
	apply(t, tg, m, table, after)

	rec2 := newRecorder(0)
	r2 := start(t, "run 2", tg, p, cp, rec2)
	s.caughtUp(t, r2, m, d1)
	r2.stop(t)
	e2 := rec2.events(0)
	s.checker(t, "run 1's committed events, then run 2's").verify(slices.Concat(d1, e2), m, false)
	s.checker(t, "everything run 1 emitted, then run 2, as a sink that skips replays holds it").verify(s.checker(t, "").sinkView(slices.Concat(all1, e2)), m, false)
	s.checkRun(t, r1)
	s.checkRun(t, r2)
}

// reconnect cuts the source's connections mid-stream while changes keep
// coming, then restores them: the engine treats any error from Run as fatal
// to the pipeline, so the source must reconnect by itself, log the loss at
// WARN or above (each attempt), and deliver every change in order.
//
// Then it cuts them again while the source holds events it emitted that no
// sink has acknowledged (the recorder acknowledges nothing meanwhile): 30
// transactions of one batch each and part of a large one, read in one go
// from what piled up while Emit was held. Across a reconnect nothing
// emitted may be emitted again (the committed checkpoint is far behind;
// the source must resume after what it emitted), except the transaction
// cut in the middle, which may come again from its first row.
func (s *suite) reconnect(t *testing.T) {
	caps := s.h.Caps
	if !caps.Stream {
		t.Skip("the source is export only (Caps.Stream is false): there is no stream to reconnect")
	}
	tg := s.h.Setup(t)
	const table = "rc"
	p := Params{Table: table, BatchSize: 5, ChunkRows: 4}
	var cut Cutter
	if addr := tg.Addr(); addr != "" {
		px := svctest.NewProxy(t, addr)
		cut, p.Via = px, px.Addr()
	} else if c, ok := tg.(Cutter); ok {
		cut = c
	} else {
		t.Skip("the source uses no network connection (Target.Addr is empty) and the Target is no Cutter: there is nothing to cut")
	}
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 10))
	m.start()
	rec := newRecorder(0)
	r := start(t, "run", tg, p, nil, rec)
	rng := rand.New(rand.NewPCG(17, 19))
	tx := func() []Change { return m.randomTx(rng, caps, 3, 1, 30) }
	s.caughtUp(t, r, m, nil)
	apply(t, tg, m, table, tx())
	s.caughtUp(t, r, m, nil) // streaming

	mark := r.logs.len()
	cut.Cut()
	r.waitFor(t, "a WARN log of the lost connection", func() bool { return r.logs.since(mark, slog.LevelWarn) >= 1 })
	for range 4 {
		apply(t, tg, m, table, tx()) // the changes keep coming
	}
	r.waitFor(t, "a second WARN log: a reconnect attempt while the connection is cut", func() bool { return r.logs.since(mark, slog.LevelWarn) >= 2 })
	if ok, err := r.returned(); ok {
		t.Fatalf("Run returned %v after the connection was cut; the engine stops the pipeline on any error from Run, so the source must reconnect", err)
	}
	cut.Restore()
	for range 3 {
		apply(t, tg, m, table, tx())
	}
	s.caughtUp(t, r, m, nil)

	// The second cut, with emitted events no sink has acknowledged.
	rec.setAckHold(true)
	rec.setHold(true)
	for range 30 {
		apply(t, tg, m, table, m.newRows(p.BatchSize))
	}
	const fillRows, pad = 4096, 2000 // 8 MiB: more than the sockets between server and source hold
	first := m.newID(0)
	last := first + fillRows - 1
	tg.Fill(t, table, first, last, pad)
	m.fill(t, first, last, pad)
	isFill := func(e event.Event) bool {
		return slices.ContainsFunc(e.After, func(v event.Value) bool { return v.Kind == event.KindString && strings.HasPrefix(v.Str, "f") })
	}
	rec.setHoldAfter(func(b Batch) bool { return slices.ContainsFunc(b.Events, isFill) })
	rec.setHold(false)
	r.waitFor(t, "the source to emit rows of the large transaction and wait in Emit", func() bool { return rec.heldAfterBatch() && rec.waiting() > 0 })
	mark = r.logs.len()
	cut.Cut()
	rec.setHold(false)
	r.waitFor(t, "a WARN log of the lost connection", func() bool { return r.logs.since(mark, slog.LevelWarn) >= 1 })
	cut.Restore()
	apply(t, tg, m, table, tx())
	s.caughtUp(t, r, m, nil)
	rec.setAckHold(false)
	r.stop(t)
	evs, again := s.checker(t, "").dropRepeatedPrefix(rec.events(0), first, last)
	if again > 0 {
		t.Logf("the transaction cut in the middle came again from its first row: %d of its rows were emitted twice", again)
	}
	s.checker(t, "across the cuts").verify(evs, m, false)
	s.checkRun(t, r)
}

// backPressure holds the source's Emit (the engine's in-flight window is
// full) while far more data than a few batches is pending, first in the
// snapshot, then in one large transaction: the source's heap must not grow
// by more than a few batches, and nothing may be lost once Emit returns.
// Last, a Run blocked in Emit must return when its context is cancelled.
func (s *suite) backPressure(t *testing.T) {
	caps := s.h.Caps
	tg := s.h.Setup(t)
	const table = "bp"
	tg.CreateTable(t, table)
	m := newModel()
	const rows, pad = 12288, 2000 // 24 MiB of values
	tg.Fill(t, table, 1, rows, pad)
	m.fill(t, 1, rows, pad)
	m.start()
	p := Params{Table: table, BatchSize: 64, ChunkRows: 256}
	bound := uint64(8<<20) + 16*uint64(p.BatchSize)*(pad+256)

	rec := newRecorder(0)
	rec.setHold(true)
	base := liveHeap()
	r := start(t, "run", tg, p, nil, rec)
	r.waitFor(t, "the source's first Emit", func() bool { return rec.waiting() > 0 })
	checkHeap(t, r, base, bound, fmt.Sprintf("%d MiB of existing rows unread", rows*pad>>20))
	rec.setHold(false)
	s.caughtUp(t, r, m, nil)
	if caps.Stream {
		rec.setHold(true)
		base = liveHeap()
		tg.Fill(t, table, rows+1, 2*rows, pad)
		m.fill(t, rows+1, 2*rows, pad)
		r.waitFor(t, "the source's Emit of the large transaction", func() bool { return rec.waiting() > 0 })
		checkHeap(t, r, base, bound, fmt.Sprintf("a committed transaction of %d MiB pending", rows*pad>>20))
		rec.setHold(false)
		s.caughtUp(t, r, m, nil)
	}
	s.checker(t, "after back-pressure").verify(rec.events(0), m, false)
	s.checkRun(t, r)
	if caps.Stream {
		// Cancelled while blocked in Emit, Run must return: stop checks.
		rec.setHold(true)
		tg.Apply(t, table, m.newRows(3))
		r.waitFor(t, "the source's Emit of the last transaction", func() bool { return rec.waiting() > 0 })
	}
	r.stop(t)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// checkHeap waits, while the source is blocked in Emit, until its heap has
// stopped growing (three readings 100 ms apart within 512 KiB of each
// other) or has passed bound, and fails the test when it grew past bound
// since base.
func checkHeap(t *testing.T, r *running, base, bound uint64, pending string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var prev uint64
	stable := 0
	for {
		time.Sleep(100 * time.Millisecond) // the interval between readings
		cur := liveHeap()
		grown := cur - min(base, cur)
		if grown > bound {
			t.Errorf("with %s and its Emit blocked, the source's heap grew by %.1f MiB, more than %.1f MiB (a few batches of %d events): it reads ahead without bound",
				pending, mib(grown), mib(bound), r.p.BatchSize)
			return
		}
		if cur >= prev-min(prev, 512<<10) && cur <= prev+512<<10 {
			stable++
		} else {
			stable = 0
		}
		prev = cur
		if stable >= 3 {
			t.Logf("%s: with %s, the heap grew by %.1f MiB while Emit was blocked (bound %.1f MiB)", r.name, pending, mib(grown), mib(bound))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heap did not settle within 20s while Emit was blocked (now %.1f MiB above the start)", mib(grown))
		}
		if r.rec.waiting() == 0 {
			t.Fatalf("the source's Emit returned while the recorder held it")
		}
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
