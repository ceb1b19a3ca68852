package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// connSink is a memSink whose server answers only once up is closed;
// until then Connect fails with err.
type connSink struct {
	memSink
	up    chan struct{}
	err   error
	mu    sync.Mutex
	tries int
}

func (c *connSink) Connect(ctx context.Context) error {
	c.mu.Lock()
	c.tries++
	c.mu.Unlock()
	select {
	case <-c.up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	default:
		return c.err
	}
}

func (c *connSink) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

func connPipeline(src component.Source, sink component.Sink, r component.StartRetry) *Pipeline {
	return &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}}},
		Store:   &memStore{},
		Options: Options{StartRetry: r, DrainTimeout: time.Minute},
	}
}

// TestSinkConnectRetriedUntilUp: a sink whose server is down at start is
// connected with retries before its first write; the source's batches
// wait, and everything is written once it is up.
func TestSinkConnectRetriedUntilUp(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 20, committed: make(chan string, 100)}
	sink := &connSink{up: make(chan struct{}), err: errors.New("connection refused")}
	p := connPipeline(src, sink, component.StartRetry{Initial: time.Millisecond, Max: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, p) }()
	waitFor(t, "three connect attempts", func() bool { return sink.attempts() >= 3 })
	if sink.count() != 0 {
		t.Fatalf("wrote before connecting")
	}
	close(sink.up)
	waitFor(t, "every event", func() bool { return sink.count() == 20 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSinkConnectPermanentStops: a permanent connect error (bad password)
// stops the pipeline at once, with nothing written or checkpointed.
func TestSinkConnectPermanentStops(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 5}
	sink := &connSink{up: make(chan struct{}), err: component.Permanent(errors.New("password authentication failed"))}
	p := connPipeline(src, sink, component.StartRetry{Initial: time.Millisecond})
	err := Run(context.Background(), p)
	if err == nil || err.Error() != "sink s: password authentication failed" || sink.attempts() != 1 {
		t.Fatalf("err %v after %d attempts", err, sink.attempts())
	}
	if cp, _ := p.Store.Checkpoint("a"); cp != nil {
		t.Fatalf("checkpoint %q", cp)
	}
}

// TestSinkConnectFailFast: with start_retry.fail_fast a sink whose server
// is down stops the pipeline at the first failure.
func TestSinkConnectFailFast(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 5}
	sink := &connSink{up: make(chan struct{}), err: errors.New("connection refused")}
	p := connPipeline(src, sink, component.StartRetry{FailFast: true})
	err := Run(context.Background(), p)
	want := "sink s: connection refused (engine.start_retry.fail_fast is set, so sluice does not wait for the server)"
	if err == nil || err.Error() != want || sink.attempts() != 1 {
		t.Fatalf("err %v after %d attempts", err, sink.attempts())
	}
}

// TestStopWhileSinkConnects: a stop while a sink waits for its server ends
// the run at once and cleanly (the batches waiting for it are not written
// and not checkpointed), not after the drain timeout with an error.
func TestStopWhileSinkConnects(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 5, committed: make(chan string, 10)}
	sink := &connSink{up: make(chan struct{}), err: errors.New("connection refused")}
	p := connPipeline(src, sink, component.StartRetry{Initial: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, p) }()
	waitFor(t, "a connect attempt", func() bool { return sink.attempts() >= 1 })
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop while connecting: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stop took %s (drain timeout 1m)", took)
	}
	if cp, _ := p.Store.Checkpoint("a"); cp != nil {
		t.Fatalf("checkpoint %q though nothing was written", cp)
	}
}
