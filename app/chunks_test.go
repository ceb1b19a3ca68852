package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/store/pgleases"
)

// flakySource is a component.Chunker whose plan has two chunks: "000000"
// reads nothing, "000001" fails (not permanently) while broken is set. Its
// stream (Run) reports its start and waits for the stop.
type flakySource struct {
	broken    *atomic.Bool
	reads     *atomic.Int64 // ReadChunk calls of chunk 000001
	streaming chan<- struct{}
}

func (f flakySource) PlanChunks(context.Context) (*component.ChunkPlan, error) {
	return &component.ChunkPlan{Chunks: []component.Chunk{{Name: "000000", Spec: []byte(`"ok"`)}, {Name: "000001", Spec: []byte(`"flaky"`)}},
		Checkpoint: []byte(`"stream"`)}, nil
}

func (f flakySource) ReadChunk(_ context.Context, spec []byte, _ component.Emitter) error {
	if string(spec) == `"flaky"` {
		f.reads.Add(1)
		if f.broken.Load() {
			return errors.New("connection reset by peer")
		}
	}
	return nil
}

func (f flakySource) Run(ctx context.Context, cp []byte, _ component.Emitter) error {
	if string(cp) != `"stream"` {
		return component.Permanent(fmt.Errorf("stream started at %q, not the plan's checkpoint", cp))
	}
	f.streaming <- struct{}{}
	<-ctx.Done()
	return nil
}
func (flakySource) Committed(context.Context, []byte) error { return nil }
func (flakySource) Close() error                            { return nil }

// A chunk whose runs fail (not permanently) is read again, by any node,
// until maxChunkFailures runs in a row have failed (counted in its
// progress): then it is failed and the node stops with the error naming
// the chunk, the count and the last cause. A node started again reopens it
// (its count reset); the chunk is read, and the stream starts at the plan's
// checkpoint.
func TestChunkFailsAfterRepeatedFailures(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := t.TempDir()
	var broken atomic.Bool
	var reads atomic.Int64
	streaming := make(chan struct{}, 1)
	broken.Store(true)
	reg := registry.Default()
	reg.Sources["flaky"] = component.SourceFactory{Doc: "test", Config: func() any { return &struct{}{} },
		New: func(any, component.Env) (component.Source, error) {
			return flakySource{broken: &broken, reads: &reads, streaming: streaming}, nil
		}}
	p, err := config.Load("p.yaml", []byte(fmt.Sprintf(`name: p
node_id: n1
state_dir: %s/state
coordination:
  type: postgres
  dsn: ${COORD_DSN}
  lease: 2s
  renew: 200ms
sources:
  src: {type: flaky}
sinks:
  out: {type: file, inputs: [src], path: %s/out.jsonl, format: row}
`, dir, dir)), reg, func(k string) (string, bool) { return dsn, k == "COORD_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = RunCoordinated(ctx, p, reg, slog.New(slog.DiscardHandler), Hooks{})
	const want = "coordination: snapshot chunk chunk/p/src/000001 failed on node n1 (3 failed runs in a row): source src: connection reset by peer; fix the cause and start the nodes again (a starting node reopens the failed chunks)"
	if err == nil || err.Error() != want {
		t.Fatalf("RunCoordinated: %v; want %s", err, want)
	}
	if n := reads.Load(); n != maxChunkFailures {
		t.Fatalf("chunk read %d times; want %d", n, maxChunkFailures)
	}
	st, err := pgleases.Open(ctx, dsn, pgleases.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ls, err := st.Leases("p").List(ctx, "chunk/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		var pr chunkProgress
		if err := json.Unmarshal(l.Progress, &pr); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s failures=%d error=%q", l.Key, l.Status, pr.Node, pr.Failures, pr.Err))
	}
	wantRows := fmt.Sprint([]string{`chunk/p/src/000000 done n1 failures=0 error=""`,
		`chunk/p/src/000001 failed n1 failures=3 error="source src: connection reset by peer"`})
	if fmt.Sprint(got) != wantRows {
		t.Fatalf("chunks:\n%v\nwant\n%v", got, wantRows)
	}

	// Fixed: a node started again reopens and reads it, then streams. The
	// hooks see the chunk run, whose source reports its progress, then
	// the stream's run.
	broken.Store(false)
	done := make(chan error, 1)
	var mu sync.Mutex // the chunk's run and the stream's run hook from two goroutines
	var hooked []string
	hook := func(what string) func(*Pipeline) {
		return func(pl *Pipeline) {
			line := what
			for _, r := range pl.Progress {
				line += fmt.Sprintf(" %s:%+v", r.Name, r.Progress())
			}
			mu.Lock()
			hooked = append(hooked, line)
			mu.Unlock()
		}
	}
	h := Hooks{Started: hook("started"), Ended: hook("ended")}
	go func() { done <- RunCoordinated(ctx, p, reg, slog.New(slog.DiscardHandler), h) }()
	select {
	case <-streaming:
	case err := <-done:
		t.Fatalf("RunCoordinated after the fix: %v", err)
	case <-ctx.Done():
		t.Fatal("no stream after the fix")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCoordinated after the fix: %v", err)
	}
	if n := reads.Load(); n != maxChunkFailures+1 {
		t.Fatalf("chunk read %d times; want %d", n, maxChunkFailures+1)
	}
	mu.Lock()
	defer mu.Unlock()
	wantHooked := fmt.Sprint([]string{"started src:{Phase:snapshot Done:0 Total:0}", "ended src:{Phase:snapshot Done:0 Total:0}", "started", "ended"})
	if fmt.Sprint(hooked) != wantHooked {
		t.Fatalf("hooks: %v; want %v", hooked, wantHooked)
	}
}
