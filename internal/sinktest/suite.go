package sinktest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// Bounds. A Write of the suite's few events against a healthy destination
// takes milliseconds; the generous bounds only keep a shared machine from
// failing the suite, and every wait ends as soon as its condition holds.
const (
	writeTimeout = time.Minute     // a Write against a healthy destination
	closeCtx     = 3 * time.Second // the context deadline the suite gives Close (and a cut-off Write)
	grace        = 5 * time.Second // how long past its context's deadline a Close or Write may take
)

// Run runs the conformance suite against the sink that h adapts. The
// cases run in parallel, each with a destination of its own.
func Run(t *testing.T, h Harness) {
	if h.Setup == nil {
		t.Fatal("sinktest: the Harness needs Setup")
	}
	if h.Caps.RecordErrors && h.Poison == nil {
		t.Fatal("sinktest: Caps.RecordErrors needs Harness.Poison")
	}
	if h.Caps.Duplicates && !h.Caps.History {
		t.Fatal("sinktest: Caps.Duplicates needs Caps.History")
	}
	s := &suite{h: &h}
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"order", s.order},
		{"replay", s.replay},
		{"replay_older", s.replayOlder},
		{"record_errors", s.recordErrors},
		{"outage", s.outage},
		{"close", s.close},
		{"secrets", s.secrets},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.f(t)
		})
	}
}

type suite struct{ h *Harness }

// dest is one case's destination and the sink open on it (at most one).
type dest struct {
	s    *suite
	t    *testing.T
	tg   Target
	w    *writes
	logs *logtest.Recorder
	p    Params
	cur  component.Sink
	n    int // sinks built
}

func (s *suite) setup(t *testing.T) *dest {
	t.Helper()
	logs := logtest.New()
	d := &dest{s: s, t: t, tg: s.h.Setup(t), w: &writes{}, logs: logs, p: Params{Name: "sink1", Logger: logs.Logger()}}
	t.Cleanup(func() {
		if d.cur != nil {
			ctx, cancel := context.WithTimeout(context.Background(), closeCtx)
			defer cancel()
			_ = d.cur.Close(ctx)
		}
	})
	return d
}

// build builds a checked sink with p; a failure is returned.
func (d *dest) build(p Params) (component.Sink, error) {
	d.n++
	s, err := d.tg.Sink(d.t, p)
	if err != nil {
		if p.Secret != "" && strings.Contains(err.Error(), p.Secret) {
			d.t.Errorf("building the sink failed with an error that holds the secret: %s", strings.ReplaceAll(err.Error(), p.Secret, "<secret>"))
		}
		return nil, err
	}
	return (&checked{t: d.t, name: fmt.Sprintf("sink %d", d.n), s: s, w: d.w, secrets: []string{p.Secret}}).wrap(), nil
}

// sink returns the open sink, building one with d.p when none is, and
// running its connect step as the engine does before the first Write.
func (d *dest) sink() component.Sink {
	d.t.Helper()
	if d.cur == nil {
		s, err := d.build(d.p)
		if err != nil {
			d.t.Fatalf("building the sink: %v", err)
		}
		if c, ok := s.(component.Connector); ok {
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := c.Connect(ctx)
			cancel()
			if err != nil {
				d.t.Fatalf("Connect: %v", err)
			}
		}
		d.cur = s
	}
	return d.cur
}

// write writes each batch with its own Write, which must succeed.
func (d *dest) write(what string, batches ...[]event.Event) {
	d.t.Helper()
	for i, b := range batches {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := d.sink().Write(ctx, b)
		cancel()
		if err != nil {
			d.t.Fatalf("%s: Write %d of %d (%d events: %s): %v", what, i+1, len(batches), len(b), describe(b), err)
		}
	}
}

// restart closes the open sink, as a stopping pipeline does; the next
// write builds a new one on the same destination.
func (d *dest) restart() {
	d.t.Helper()
	if d.cur == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeCtx)
	defer cancel()
	err := d.cur.Close(ctx)
	d.cur = nil
	if err != nil {
		d.t.Fatalf("Close: %v", err)
	}
}

// check reads the destination and compares it with the model. A spooling
// sink is closed first (its objects are complete only then).
func (d *dest) check(what string, m *model) {
	d.t.Helper()
	if d.s.h.Caps.Spool {
		d.restart()
	}
	d.s.verify(d.t, what, m, d.tg.Read(d.t), d.w.events())
	if d.t.Failed() {
		d.t.FailNow()
	}
}

// snapshot returns snapshot rows (op r) of the missing rows ids.
func snapshot(m *model, ids ...int64) []event.Event {
	var evs []event.Event
	for _, id := range ids {
		evs = append(evs, m.tx(change{op: event.OpRead, id: id})...)
	}
	return evs
}

// txs returns one transaction per change.
func txs(m *model, cs ...change) []event.Event {
	var evs []event.Event
	for _, c := range cs {
		evs = append(evs, m.tx(c)...)
	}
	return evs
}

func c(id int64) change        { return change{op: event.OpCreate, id: id} }
func u(id int64) change        { return change{op: event.OpUpdate, id: id} }
func del(id int64) change      { return change{op: event.OpDelete, id: id} }
func move(id, to int64) change { return change{op: event.OpUpdate, id: id, to: to} }

// order: many changes to few keys across several Writes arrive in order:
// snapshot rows, a row updated many times in one Write and in one
// transaction, deleted and inserted again, inserted and deleted, a key
// change (and the old key used again), then random transactions.
func (s *suite) order(t *testing.T) {
	d := s.setup(t)
	m := newModel()
	d.write("snapshot", snapshot(m, 1, 2, 3, 4))
	d.check("after the snapshot rows", m)
	d.write("updates",
		slices.Concat(txs(m, u(1), u(1), c(5), u(1)), m.tx(u(2), u(3), u(4)), txs(m, u(2))))
	d.check("after updates of few keys", m)
	d.write("delete and insert again",
		slices.Concat(txs(m, del(3), c(3), u(3), c(6), del(6)), m.tx(u(4), del(4)), m.tx(c(4))))
	d.check("after rows deleted and inserted again, and inserted and deleted", m)
	d.write("key change", slices.Concat(txs(m, move(2, 7), u(7), c(2), u(7)), m.tx(move(5, 8), c(5))))
	d.check("after key changes", m)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 4 {
		d.write("random", m.random(rng, 8, 8))
		d.check(fmt.Sprintf("after random Write %d", i+1), m)
	}
}

// replay: a batch written again (a Write the engine retries) and a batch
// that straddles what is written (a replay from a checkpoint) leave each
// change once in the destination (or, for a sink that writes replays
// again, each change in order after the replay).
func (s *suite) replay(t *testing.T) {
	d := s.setup(t)
	m := newModel()
	a := txs(m, c(1), c(2), c(3), c(4), u(1), u(2))
	b := slices.Concat(txs(m, u(1), del(2), c(5), u(3)), m.tx(del(4), c(4)), txs(m, u(1), move(3, 6)))
	d.write("A and B", a, b)
	d.check("after A and B", m)
	d.write("B again, twice", b, b)
	d.check("after B was written again, twice", m)
	cc := txs(m, u(1), c(2), u(6), del(5))
	d.write("the end of B with C", slices.Concat(b[len(b)-2:], cc))
	d.check("after a Write of the end of B and the new C", m)
	d.restart()
	d.write("after a restart: B and C again", slices.Concat(b, cc), txs(m, u(2), u(4)))
	d.check("after a restart and a replay of B and C", m)
}

// replayOlder: an older batch written after newer ones (a replay from an
// older checkpoint) never takes a key back to an older state: not an
// update, not a deleted row, not the old key of a key change.
func (s *suite) replayOlder(t *testing.T) {
	d := s.setup(t)
	m := newModel()
	a := txs(m, c(1), c(2), c(3), c(4), c(5))
	b := txs(m, u(1), u(2), del(3), move(4, 6), u(1))
	cc := txs(m, u(2), c(3), u(6))
	d.write("A, B and C", a, b, cc)
	d.check("after A, B and C", m)
	d.write("A again", a)
	d.check("after A was written again after C", m)
	d.write("B again", b)
	d.check("after B was written again after C", m)
	d.restart()
	d.write("after a restart: A again", a)
	d.check("after a restart and A again", m)
	d.write("D", txs(m, u(1), del(6)))
	d.check("after D", m)
}

// recordErrors: a Write with events the destination rejects reports
// exactly them in component.RecordErrors, by ascending index, and writes
// every other event. A sink that cannot reject single events must write a
// batch without reporting any.
func (s *suite) recordErrors(t *testing.T) {
	d := s.setup(t)
	m := newModel()
	d.write("rows", txs(m, c(1), c(2), c(3), c(4), c(5), c(6)))
	if !s.h.Caps.RecordErrors {
		d.write("changes", m.random(rand.New(rand.NewPCG(3, 4)), 10, 8))
		d.check("after a Write (the sink never rejects single events)", m)
		return
	}
	bad := func(ch change) []event.Event {
		evs := m.rejectedTx(ch)
		s.h.Poison(&evs[0])
		return evs
	}
	batch := slices.Concat(
		m.tx(u(1)), m.tx(c(7)),
		bad(u(2)), // rejected: row 2 keeps its value
		m.tx(u(3)), m.tx(c(8)),
		bad(c(9)), // rejected: row 9 never exists
		m.tx(del(4)), m.tx(u(5)), m.tx(u(5)),
		bad(u(6)), // rejected, the last event: an index off by one is out of range
	)
	want := []int{2, 5, 9}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err := d.sink().Write(ctx, batch)
	cancel()
	var re component.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write of %d events, %v of them rejected by the destination: %v; want component.RecordErrors for events %v", len(batch), want, err, want)
	}
	var got []int
	for _, r := range re {
		got = append(got, r.Index)
		t.Logf("event %d rejected: %v", r.Index, r.Err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("RecordErrors for events %v; want exactly the rejected events %v: %v", got, want, err)
	}
	d.check("after a Write with rejected events: every other event is written", m)
	d.write("changes after the rejected events", m.random(rand.New(rand.NewPCG(5, 6)), 6, 9))
	d.check("after the next Write", m)
}

// close: Close returns within its context's deadline (and a little) even
// when the destination went away with events to flush; so does a Write.
func (s *suite) close(t *testing.T) {
	d := s.setup(t)
	m := newModel()
	var proxy *svctest.Proxy
	if addr := d.tg.Addr(); addr != "" {
		proxy = svctest.NewProxy(t, addr)
		d.p.Via = proxy.Addr()
	}
	d.write("rows", txs(m, c(1), c(2), c(3), c(4)))
	if proxy == nil {
		sink := d.sink()
		d.cur = nil
		bounded(t, "Close", func(ctx context.Context) error { return sink.Close(ctx) })
		return
	}
	proxy.Cut()
	sink := d.sink()
	d.cur = nil
	err := bounded(t, "Write while the destination is cut off", func(ctx context.Context) error {
		return sink.Write(ctx, txs(m, u(1), u(2), c(5), c(6), c(7)))
	})
	t.Logf("Write while cut off: %v", err)
	err = bounded(t, "Close while the destination is cut off", func(ctx context.Context) error { return sink.Close(ctx) })
	t.Logf("Close while cut off: %v", err)
}

// bounded calls f with a context that ends after closeCtx and fails the
// test if f has not returned grace after that.
func bounded(t *testing.T, what string, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeCtx)
	defer cancel()
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		t.Logf("%s returned after %v", what, time.Since(began).Round(time.Millisecond))
		return err
	case <-time.After(closeCtx + grace):
		t.Errorf("%s did not return within %v of its context's deadline (%v)", what, grace, closeCtx)
		return nil
	}
}

// secrets: with a wrong password (Params.Secret) the sink fails to
// authenticate where the server checks it, and with the destination cut
// off it fails to connect; neither error, nor any log record, holds the
// password.
func (s *suite) secrets(t *testing.T) {
	if !s.h.Caps.Secret {
		t.Skip("the sink has no password to leak (Caps.Secret is false)")
	}
	d := s.setup(t)
	m := newModel()
	canary := canary()
	attempt := func(what string, p Params) {
		t.Helper()
		p.Name, p.Secret, p.Logger = "sink1", canary, d.logs.Logger()
		sink, err := d.build(p)
		if err != nil {
			t.Logf("%s: building the sink: %s", what, redact(err, canary))
			return
		}
		if cn, ok := sink.(component.Connector); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = cn.Connect(ctx)
			cancel()
			t.Logf("%s: Connect: %s", what, redact(err, canary))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = sink.Write(ctx, txs(m, c(m.lsnKey())))
		cancel()
		t.Logf("%s: Write: %s", what, redact(err, canary))
		err = bounded(t, what+": Close", func(ctx context.Context) error { return sink.Close(ctx) })
		t.Logf("%s: Close: %s", what, redact(err, canary))
	}
	attempt("wrong password", Params{})
	if addr := d.tg.Addr(); addr != "" {
		proxy := svctest.NewProxy(t, addr)
		proxy.Cut()
		attempt("wrong password, destination cut off", Params{Via: proxy.Addr()})
	}
	for _, ln := range d.logs.Holding(canary) {
		t.Errorf("a log record holds the secret (the configured password): %s", ln)
	}
}

// lsnKey is a fresh key for a throwaway row.
func (m *model) lsnKey() int64 { return int64(1000 + m.n) }

func canary() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return "sinktest-canary-" + hex.EncodeToString(b[:])
}

func redact(err error, secret string) string {
	if err == nil {
		return "ok"
	}
	return strings.ReplaceAll(err.Error(), secret, "<secret>")
}

// waitTimeout is how long to wait for a condition: a minute, or
// $SINKTEST_WAIT (a Go duration), which the suite's self-test shortens.
func waitTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SINKTEST_WAIT")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}
