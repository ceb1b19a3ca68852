package supervisor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/internal/pgtest"
)

// A coordinated pipeline runs under the supervisor like any other once its
// node holds the stream partition: observers and Started/Ended see each
// run, Pause holds its sources, and Stop drains and releases the
// partition.
func TestCoordinatedPipeline(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	f := newFixture()
	src := fmt.Sprintf(`name: coord
state_dir: %s
node_id: node-1
coordination: {type: postgres, dsn: "%s", lease: 2s, renew: 500ms}
sources:
  gen: {type: generator, tables: [product], count: 100000, rate: 200, seed: 1, batch_size: 10}
sinks:
  out: {type: count, inputs: [gen], key: c}
`, filepath.Join(t.TempDir(), "coord"), dsn)
	g, err := config.Load("coord.yaml", []byte(src), f.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var observed, started, ended atomic.Int32
	s := New(Options{Registry: f.reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observe: func(*app.Pipeline) any { observed.Add(1); return nil },
		Started: func(*app.Pipeline) { started.Add(1) },
		Ended:   func(*app.Pipeline) { ended.Add(1) }})
	if err := s.Add(g); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "events in the sink", func() bool { c := f.sink("c"); return c != nil && c.count() > 0 })
	if observed.Load() != 1 || started.Load() != 1 {
		t.Fatalf("observed %d, started %d", observed.Load(), started.Load())
	}
	if err := s.Pause("coord"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "coord", Paused)
	s.mu.Lock()
	paused := s.pipes["coord"].built.Runner.Paused()
	s.mu.Unlock()
	if !paused {
		t.Fatal("the run is not paused")
	}
	if err := s.Resume("coord"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Stop(ctx, "coord"); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "coord", Stopped)
	if ended.Load() != 1 {
		t.Fatalf("ended %d", ended.Load())
	}
	conn := pgtest.Connect(t, dsn)
	var owner, status string
	var epoch int64
	if err := conn.QueryRow(ctx, `SELECT owner, status, epoch FROM sluice_leases WHERE namespace = 'coord' AND key = 'stream/coord'`).Scan(&owner, &status, &epoch); err != nil {
		t.Fatal(err)
	}
	if owner != "" || status != "open" || epoch != 1 {
		t.Fatalf("after Stop: owner %q, status %s, epoch %d; want the partition released", owner, status, epoch)
	}
}
