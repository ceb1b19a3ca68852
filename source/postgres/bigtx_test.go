package postgres

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestHugeTransactionBoundedMemory streams one transaction of 1,000,000 rows
// (100,000 in -short or -race runs) through an emitter that holds at most 4
// batches, like the engine's in-flight window. The source must push the
// rows before the transaction's end with no checkpoint, never exceed
// batch_size per batch, and keep the heap far below the transaction's size.
func TestHugeTransactionBoundedMemory(t *testing.T) {
	rows := 1_000_000
	if testing.Short() || raceEnabled {
		rows = 100_000
	}
	te := newTestEnv(t)
	te.exec(`CREATE TABLE huge (id int PRIMARY KEY, pad text)`)
	cfg := te.config("public.huge")
	cfg.BatchSize = 1024
	out := sourcetest.NewEmitter()
	out.CountOnly()
	const window = 4
	out.SetWindow(window)
	maxBatch, midTx, withCP := 0, 0, 0
	out.OnEmit(func(_ int, evs []event.Event, cp []byte) error {
		maxBatch = max(maxBatch, len(evs))
		if cp == nil {
			midTx++
		} else {
			withCP++
		}
		return nil
	})
	te.start(cfg, nil, out)
	out.WaitCheckpoint(t)

	// The engine's role: acknowledge held batches as the sinks would.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out.Acknowledge(ctx)

	var peak atomic.Uint64
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	go func() {
		var ms runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	start := time.Now()
	te.exec(`INSERT INTO huge SELECT g, 'padding-padding-padding-padding' FROM generate_series(1, $1) g`, rows)
	out.WaitFor(t, "the whole transaction", 120*time.Second, func([]event.Event) bool { return out.Count() >= rows })
	took := time.Since(start)
	if n := out.Count(); n != rows {
		t.Fatalf("streamed %d rows, want %d", n, rows)
	}
	if maxBatch > cfg.BatchSize {
		t.Errorf("a batch had %d events, batch_size is %d", maxBatch, cfg.BatchSize)
	}
	if midTx < rows/cfg.BatchSize-1 {
		t.Errorf("only %d batches without checkpoint: the transaction was buffered", midTx)
	}
	if out.MaxHeld() > window*cfg.BatchSize {
		t.Errorf("emitter held %d events at once", out.MaxHeld())
	}
	grow := int64(peak.Load()) - int64(base)
	// Buffering the transaction would take well over 150 bytes per row.
	if limit := int64(64 << 20); grow > limit {
		t.Errorf("heap grew by %d MB while streaming", grow>>20)
	}
	t.Logf("%d rows in %s (%.0f rows/s incl. insert), heap growth %d MB, max batch %d", rows, took.Round(time.Millisecond),
		float64(rows)/took.Seconds(), grow>>20, maxBatch)
}
