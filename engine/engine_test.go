package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

type memStore struct {
	mu  sync.Mutex
	cps map[string][]byte
	log []string
}

func (m *memStore) Checkpoint(s string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cps[s], nil
}

func (m *memStore) SetCheckpoint(s string, cp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cps == nil {
		m.cps = map[string][]byte{}
	}
	m.cps[s] = cp
	m.log = append(m.log, s+"="+string(cp))
	return nil
}

// countSource emits n batches of one event each, checkpoint = batch number.
type countSource struct {
	schema    *event.Schema
	n         int
	committed chan string
	started   []byte
	ran       bool
}

func (c *countSource) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	c.started, c.ran = cp, true
	for i := 1; i <= c.n; i++ {
		ev := []event.Event{{Op: event.OpCreate, Schema: c.schema, After: []event.Value{event.Int(int64(i))}}}
		if err := out.Emit(ctx, ev, []byte(strconv.Itoa(i))); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

func (c *countSource) Committed(_ context.Context, cp []byte) error {
	select {
	case c.committed <- string(cp):
	default:
	}
	return nil
}
func (c *countSource) Close() error { return nil }

type memSink struct {
	mu      sync.Mutex
	got     []int64
	fail    int   // fail this many writes with a transient error first
	perm    error // fail every write with this
	writes  int
	gate    chan struct{} // if set, each Write waits for a token
	entered chan struct{} // if set, signalled when a Write starts
}

func (m *memSink) Write(ctx context.Context, evs []event.Event) error {
	if m.entered != nil {
		select {
		case m.entered <- struct{}{}:
		default:
		}
	}
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.perm != nil {
		return component.Permanent(m.perm)
	}
	if m.fail > 0 {
		m.fail--
		return errors.New("transient")
	}
	for _, e := range evs {
		m.got = append(m.got, e.After[0].AsInt())
	}
	return nil
}
func (m *memSink) Close(context.Context) error { return nil }

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

func schema(stream string) *event.Schema {
	return &event.Schema{Stream: stream, Columns: []event.Column{{Name: "id", Type: event.TypeInt64}}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFanOutAndCheckpoint(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 100, committed: make(chan string, 1000)}
	s1, s2 := &memSink{fail: 2}, &memSink{}
	other := &memSink{}
	st := &memStore{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks: []SinkNode{
			{Name: "s1", Sink: s1, Inputs: []string{"a"}},
			{Name: "s2", Sink: s2, Inputs: []string{"a.public.*"}},
			{Name: "other", Sink: other, Inputs: []string{"b"}},
		},
		Store:   st,
		Options: Options{MaxInflight: 4, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, p) }()
	waitFor(t, "checkpoint 100", func() bool { cp, _ := st.Checkpoint("a"); return string(cp) == "100" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*memSink{"s1": s1, "s2": s2} {
		if len(s.got) != 100 {
			t.Fatalf("%s got %d events", name, len(s.got))
		}
		for i, v := range s.got {
			if v != int64(i+1) {
				t.Fatalf("%s: event %d is %d: order broken", name, i, v)
			}
		}
	}
	if other.writes != 0 {
		t.Fatalf("sink with unmatched inputs got %d writes", other.writes)
	}
	// Checkpoints persisted are increasing.
	prev := 0
	for _, l := range st.log {
		n, _ := strconv.Atoi(l[2:])
		if n <= prev {
			t.Fatalf("checkpoint log not increasing: %v", st.log)
		}
		prev = n
	}
}

func TestCheckpointWaitsForSlowestSink(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 10, committed: make(chan string, 100)}
	fast := &memSink{}
	slow := &memSink{gate: make(chan struct{})}
	st := &memStore{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "fast", Sink: fast, Inputs: []string{"*"}}, {Name: "slow", Sink: slow, Inputs: []string{"*"}}},
		Store:   st,
		Options: Options{MaxInflight: 3},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, p) }()
	// Back-pressure: with the slow sink blocked, the fast sink sees at most
	// MaxInflight batches and nothing is checkpointed.
	waitFor(t, "fast sink to receive the window", func() bool { return fast.count() == 3 })
	if cp, _ := st.Checkpoint("a"); cp != nil {
		t.Fatalf("checkpoint %q persisted before the slow sink wrote anything", cp)
	}
	slow.gate <- struct{}{} // one write (may hold several coalesced batches)
	waitFor(t, "a checkpoint", func() bool { cp, _ := st.Checkpoint("a"); return cp != nil })
	cp, _ := st.Checkpoint("a")
	n, _ := strconv.Atoi(string(cp))
	if n < 1 || n > slow.count() {
		t.Fatalf("checkpoint %d with slow sink at %d", n, slow.count())
	}
	close(slow.gate)
	waitFor(t, "checkpoint 10", func() bool { cp, _ := st.Checkpoint("a"); return string(cp) == "10" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPermanentSinkErrorStopsWithCheckpointIntact(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 5, committed: make(chan string, 100)}
	bad := &memSink{perm: fmt.Errorf("mapping conflict on id")}
	st := &memStore{cps: map[string][]byte{"a": []byte("0")}}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "bad", Sink: bad, Inputs: []string{"a"}}},
		Store:   st,
	}
	err := Run(context.Background(), p)
	if err == nil || err.Error() != "sink bad: mapping conflict on id" {
		t.Fatalf("err = %v", err)
	}
	if cp, _ := st.Checkpoint("a"); string(cp) != "0" {
		t.Fatalf("checkpoint moved to %q", cp)
	}
	if string(src.started) != "0" {
		t.Fatalf("source started from %q, want the stored checkpoint", src.started)
	}
}

func TestMatchInput(t *testing.T) {
	cases := []struct {
		p, src, stream string
		want           bool
	}{
		{"shop", "shop", "shop.public.product", true},
		{"shop.public.product", "shop", "shop.public.product", true},
		{"shop.public.*", "shop", "shop.public.product", true},
		{"shop.other.*", "shop", "shop.public.product", false},
		{"sh*", "shop", "shop.public.product", true},
		{"*", "shop", "shop.public.product", true},
		{"shopx", "shop", "shop.public.product", false},
	}
	for _, c := range cases {
		if got := MatchInput(c.p, c.src, c.stream); got != c.want {
			t.Errorf("MatchInput(%q, %q, %q) = %v", c.p, c.src, c.stream, got)
		}
	}
}

func TestDrainDeadline(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 3, committed: make(chan string, 10)}
	stuck := &memSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)} // never opens
	st := &memStore{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "stuck", Sink: stuck, Inputs: []string{"a"}}},
		Store:   st,
		Options: Options{DrainTimeout: 50 * time.Millisecond},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, p) }()
	<-stuck.entered // a batch is in flight
	cancel()
	err := <-done
	want := "drain did not finish within 50ms; the checkpoint stays at the last durable position"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v", err)
	}
	if cp, _ := st.Checkpoint("a"); cp != nil {
		t.Fatalf("checkpoint %q persisted though nothing was written", cp)
	}
}

type brokenStore struct{ memStore }

func (b *brokenStore) Checkpoint(string) ([]byte, error) {
	return nil, errors.New("state: read checkpoint of a: disk I/O error")
}

type closeCounter struct {
	memSink
	closed int
}

func (c *closeCounter) Close(context.Context) error { c.closed++; return nil }

func TestStoreFailureAtStartClosesEverything(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 1}
	sink := &closeCounter{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}}},
		Store:   &brokenStore{},
	}
	err := Run(context.Background(), p)
	if err == nil || err.Error() != "state: read checkpoint of a: disk I/O error" {
		t.Fatalf("err = %v", err)
	}
	if sink.closed != 1 || src.ran {
		t.Fatalf("sink closed %d times; source ran: %v", sink.closed, src.ran)
	}
}

// Abort stops a run at once, without draining: a sink Write in flight is
// cancelled (it never completes), nothing more is checkpointed, and Run
// returns the error, well within the drain timeout.
func TestAbortCancelsInFlightWrites(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 3, committed: make(chan string, 10)}
	stuck := &memSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)} // never opens
	st := &memStore{}
	r := New(&Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "stuck", Sink: stuck, Inputs: []string{"a"}}},
		Store:   st,
		Options: Options{DrainTimeout: time.Hour},
	})
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	<-stuck.entered // a batch is in flight
	lost := errors.New("lease lost")
	r.Abort(lost)
	select {
	case err := <-done:
		if !errors.Is(err, lost) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Abort")
	}
	if cp, _ := st.Checkpoint("a"); cp != nil {
		t.Fatalf("checkpoint %q persisted though nothing was written", cp)
	}
	if stuck.count() != 0 {
		t.Fatalf("%d events written after Abort", stuck.count())
	}
}
