package sqltest

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// changeSource emits total events in batches of per, paced: inserts of new
// ids, and every fifth event an update of an earlier id. It stops before
// event gate until open is closed.
type changeSource struct {
	schema  *event.Schema
	total   int
	per     int
	gate    int
	open    chan struct{}
	emitted atomic.Int64
}

func (c *changeSource) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	start := 0
	if cp != nil {
		start, _ = strconv.Atoi(string(cp))
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for n := start; n < c.total; n += c.per {
		if n == c.gate {
			select {
			case <-c.open:
			case <-ctx.Done():
				return nil
			}
		}
		evs := make([]event.Event, 0, c.per)
		for i := n; i < n+c.per && i < c.total; i++ {
			evs = append(evs, changeEvent(c.schema, i))
		}
		if err := out.Emit(ctx, evs, []byte(strconv.Itoa(n+len(evs)))); err != nil {
			return nil
		}
		c.emitted.Store(int64(n + len(evs)))
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

// changeEvent is event i: an insert of id i, or (i%5 == 4) an update of
// id i/2 setting v to "u<i>".
func changeEvent(s *event.Schema, i int) event.Event {
	after := Row(I(int64(i)), S("v"+strconv.Itoa(i)))
	op := event.OpCreate
	if i%5 == 4 {
		op = event.OpUpdate
		after = Row(I(int64(i/2)), S("u"+strconv.Itoa(i)))
	}
	e := event.Event{Op: op, Schema: s, After: after}
	e.Source.CommitLSN, e.Source.LSN, e.Source.HasLSN = uint64(1000+i), uint64(1000+i), true
	return e
}

// wantChanges is the table after events 0..total-1.
func wantChanges(total int) map[int64]string {
	m := map[int64]string{}
	for i := 0; i < total; i++ {
		if i%5 == 4 {
			if _, ok := m[int64(i/2)]; ok {
				m[int64(i/2)] = "u" + strconv.Itoa(i)
			}
			continue
		}
		m[int64(i)] = "v" + strconv.Itoa(i)
	}
	return m
}

func (c *changeSource) Committed(context.Context, []byte) error { return nil }
func (c *changeSource) Close() error                            { return nil }

type memStore struct {
	mu  sync.Mutex
	cps map[string][]byte
}

func (m *memStore) Checkpoint(s string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cps[s], nil
}

func (m *memStore) SetCheckpoint(s string, cp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps[s] = cp
	return nil
}

// OutageDuration is $SLUICE_OUTAGE, or 5m in CI ($CI set), 15s otherwise.
func OutageDuration(t *testing.T) time.Duration {
	outage := 15 * time.Second
	if os.Getenv("CI") != "" {
		outage = 5 * time.Minute
	}
	if v := os.Getenv("SLUICE_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SLUICE_OUTAGE: %v", err)
		}
		outage = d
	}
	return outage
}

// OutageSchema is the table the outage scenario writes ("orders").
func OutageSchema() *event.Schema {
	return Schema("orders", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "v", Type: event.TypeString, Optional: true})
}

// Outage runs a pipeline (engine.Run with a paced source of 20,000
// changes) into sink, which reaches its server through proxy; it cuts the
// proxy for OutageDuration while the source keeps emitting, restores it,
// and checks that the table (read by rows, directly) holds every change
// exactly once: sink must be in insert mode, so a change applied twice
// would be a duplicate-key error that stops the pipeline. position reads
// the sink's stored hi.
//
// The source holds its events from the 600th on until everything before
// is durable (position), and the cut lands then: the in-flight window is
// empty, so the source emits a whole window during the outage however
// slowly the sink wrote before it. (Cutting at a moment chosen by a row
// count raced with the sink: when it wrote slower than the source emitted,
// the window was full at the cut and the source could emit nothing.)
func Outage(t *testing.T, sink component.Sink, proxy *svctest.Proxy, rows func() map[int64]string, position func() uint64) {
	outage := OutageDuration(t)
	total := outageTotal
	const gate, per, window = 600, 10, 16
	src := &changeSource{schema: OutageSchema(), total: total, per: per, gate: gate, open: make(chan struct{})}
	p := &engine.Pipeline{
		Sources: []engine.SourceNode{{Name: Source, Source: src}},
		Sinks:   []engine.SinkNode{{Name: "sink1", Sink: sink, Inputs: []string{Source}}},
		Store:   &memStore{cps: map[string][]byte{}},
		Options: engine.Options{MaxInflight: window, RetryMin: 50 * time.Millisecond, RetryMax: time.Second,
			Logger: slog.New(slog.DiscardHandler)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, p) }()
	count := func() int { return len(rows()) }
	waitUntil(t, time.Minute, "the events before the gate to be durable", done, func() bool { return position() == uint64(1000+gate-1) })
	proxy.Cut()
	cutAt := src.emitted.Load()
	close(src.open)
	t.Logf("cut after %d events emitted, %d rows written; outage %v", cutAt, count(), outage)
	select {
	case <-time.After(outage):
	case err := <-done:
		t.Fatalf("pipeline stopped during the outage: %v", err)
	}
	during := src.emitted.Load() - cutAt
	proxy.Restore()
	t.Logf("%d events emitted during the outage (until back-pressure)", during)
	if during < window*per {
		t.Errorf("the source emitted %d events during the outage; want at least a whole in-flight window (%d batches of %d), which was empty at the cut", during, window, per)
	}
	want := wantChanges(total)
	waitUntil(t, 3*time.Minute, "the last position", done, func() bool { return position() == uint64(1000+total-1) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	got := rows()
	bad := 0
	for id, v := range want {
		if got[id] != v {
			if bad++; bad <= 5 {
				t.Errorf("id %d: %q, want %q", id, got[id], v)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
}

// outageTotal is the number of changes Outage's source emits (a test of
// Outage lowers it).
var outageTotal = 20000

// waitUntil polls cond until the deadline, failing early if the pipeline
// stops.
func waitUntil(t *testing.T, d time.Duration, what string, done chan error, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("pipeline stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
