package sqlpoll

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// Pipelined paging (emit, settle): a page's Emit runs while the next page
// is read. These tests pin that the next query is issued while the Emit
// is pending, that batches and checkpoints are exactly the serial ones,
// and what an error on either side leaves behind.

// pipelineRows creates users with ids 1..n.
func pipelineRows(t *testing.T, d *testDB, n int) {
	t.Helper()
	d.usersTable(t)
	var vals []string
	for id := 1; id <= n; id++ {
		vals = append(vals, fmt.Sprintf("(%d, 'u%d', '2024-01-01 10:00:%02d')", id, id, id))
	}
	d.exec(t, "INSERT INTO users (id, name, updated_at) VALUES "+strings.Join(vals, ", "))
}

// batchLines renders batches as "ids checkpoint" lines.
func batchLines(bs []sourcetest.Emitted) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%v %s", ids(b.Events), b.Checkpoint))
	}
	return out
}

func incCP(id int) string {
	return fmt.Sprintf(`{"v":1,"mode":"incrementing","tables":{"users":{"id":{"int":"%d"}}}}`, id)
}

// waitFor waits until ch is closed, for at most a while; false if it was
// not.
func waitFor(ctx context.Context, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-time.After(20 * time.Second):
		return false
	}
}

// TestNextPageReadWhileEmitPending: the first page's Emit does not return
// until the source has issued the second page's query; the batches and
// checkpoints are those of pages read one after the other.
func TestNextPageReadWhileEmitPending(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			pipelineRows(t, d, 6)
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			s := started(t, cfg, nil)
			var mu sync.Mutex
			queries := 0
			page2 := make(chan struct{})
			s.onQuery = func(q string, fn func(r row) error) func(r row) error {
				mu.Lock()
				defer mu.Unlock()
				if queries++; queries == 2 {
					close(page2)
				}
				return fn
			}
			c := sourcetest.NewEmitter()
			overlapped := false
			c.Pace(func(ctx context.Context, evs []event.Event) {
				if evs[0].After[0].AsInt() == 1 {
					overlapped = waitFor(ctx, page2)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.poll(ctx, c); err != nil {
				t.Fatal(err)
			}
			if !overlapped {
				t.Error("the second page's query was not issued while the first page's Emit was pending")
			}
			want := []string{"[1 2] " + incCP(2), "[3 4] " + incCP(4), "[5 6] " + incCP(6)}
			if got := batchLines(c.Batches()); !slices.Equal(got, want) {
				t.Fatalf("batches\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// Four queries: three full pages and the empty one after them.
			if queries != 4 {
				t.Fatalf("%d queries, want 4", queries)
			}
			if got := s.Progress().Done; got != 6 {
				t.Fatalf("progress %d rows, want 6", got)
			}
		})
	}
}

// TestPrefetchedPageError: the read of the second page fails in its
// middle while the first page's Emit is pending. The first page is still
// handed over with its checkpoint, the poll returns the read's error, the
// watermark stays at the first page's end, and the next poll reads every
// other row once.
func TestPrefetchedPageError(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			pipelineRows(t, d, 9)
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			cfg.BatchMaxRows = 3
			s := started(t, cfg, nil)
			failed := make(chan struct{})
			queries := 0
			s.onQuery = func(q string, fn func(r row) error) func(r row) error {
				queries++
				if queries != 2 {
					return fn
				}
				read := 0
				return func(r row) error {
					if read++; read == 2 {
						close(failed)
						return errors.New("connection lost")
					}
					return fn(r)
				}
			}
			c := sourcetest.NewEmitter()
			var whilePending bool
			c.Pace(func(ctx context.Context, evs []event.Event) {
				if evs[0].After[0].AsInt() == 1 {
					whilePending = waitFor(ctx, failed)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.poll(ctx, c); err == nil || err.Error() != "connection lost" {
				t.Fatalf("poll: %v, want connection lost", err)
			}
			if !whilePending {
				t.Error("the second page was not read while the first page's Emit was pending")
			}
			if got, want := batchLines(c.Batches()), []string{"[1 2 3] " + incCP(3)}; !slices.Equal(got, want) {
				t.Fatalf("batches before the error %q, want %q", got, want)
			}
			if got := s.tables[0].position(); got != "id 3" {
				t.Fatalf("watermark after the error %q, want id 3", got)
			}
			s.onQuery = nil
			again := sourcetest.NewEmitter()
			if err := s.poll(ctx, again); err != nil {
				t.Fatal(err)
			}
			want := []string{"[4 5 6] " + incCP(6), "[7 8 9] " + incCP(9)}
			if got := batchLines(again.Batches()); !slices.Equal(got, want) {
				t.Fatalf("batches after the error\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestCrashWhilePageRead: the pipeline stops (Emit fails) at the second
// page while the third is being read. The poll returns the Emit's error,
// not the cancelled read's; the watermark and the last accepted checkpoint
// are the first page's end, and a source started from that checkpoint
// reads every row after it once.
func TestCrashWhilePageRead(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			pipelineRows(t, d, 9)
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			cfg.BatchMaxRows = 3
			s := started(t, cfg, nil)
			stopped := make(chan struct{})
			page3 := make(chan struct{})
			queries := 0
			s.onQuery = func(q string, fn func(r row) error) func(r row) error {
				queries++
				if queries != 3 {
					return fn
				}
				read := 0
				return func(r row) error {
					if read++; read == 1 {
						close(page3)
						// The rest of the page is read after the Emit failed.
						if !waitFor(context.Background(), stopped) {
							return errors.New("the second page's Emit did not fail")
						}
					}
					return fn(r)
				}
			}
			f := &failingEmitter{failAt: 2, err: component.ErrStopped}
			c := sourcetest.NewEmitter()
			c.OnEmit(func(_ int, evs []event.Event, cp []byte) error {
				err := f.Emit(context.Background(), evs, cp)
				if err != nil {
					close(stopped)
				}
				return err
			})
			c.Pace(func(ctx context.Context, evs []event.Event) {
				if evs[0].After[0].AsInt() == 4 {
					waitFor(ctx, page3)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.poll(ctx, c); !errors.Is(err, component.ErrStopped) {
				t.Fatalf("poll: %v, want %v", err, component.ErrStopped)
			}
			if got, want := batchLines(c.Batches()), []string{"[1 2 3] " + incCP(3)}; !slices.Equal(got, want) {
				t.Fatalf("batches before the crash %q, want %q", got, want)
			}
			if got := s.tables[0].position(); got != "id 3" {
				t.Fatalf("watermark after the crash %q, want id 3", got)
			}
			if string(f.cp) != incCP(3) {
				t.Fatalf("last accepted checkpoint %s, want %s", f.cp, incCP(3))
			}
			rest := sourcetest.NewEmitter()
			if err := started(t, cfg, f.cp).poll(ctx, rest); err != nil {
				t.Fatal(err)
			}
			want := []string{"[4 5 6] " + incCP(6), "[7 8 9] " + incCP(9)}
			if got := batchLines(rest.Batches()); !slices.Equal(got, want) {
				t.Fatalf("batches after the restart\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestEmitChunks: a page larger than emitChunk goes out in batches of
// emitChunk events, in order, and only the last carries the checkpoint; an
// error on one batch stops the rest.
func TestEmitChunks(t *testing.T) {
	numbered := func(n int) [][]event.Event {
		bs := newBatches(nil, n)
		for i := range n {
			bs[i/emitChunk][i%emitChunk].After = []event.Value{event.Int(int64(i))}
		}
		return bs
	}
	bs := numbered(2*emitChunk + 904)
	c := sourcetest.NewEmitter()
	if err := emitBatches(context.Background(), c, bs, []byte("cp"), nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	next := int64(0)
	for _, b := range c.Batches() {
		got = append(got, fmt.Sprintf("%d %q", b.N, b.Checkpoint))
		for _, e := range b.Events {
			if id := e.After[0].AsInt(); id != next {
				t.Fatalf("event %d where %d was next", id, next)
			}
			next++
		}
	}
	want := []string{`2048 ""`, `2048 ""`, `904 "cp"`}
	if !slices.Equal(got, want) {
		t.Fatalf("batches %q, want %q", got, want)
	}
	if next != 2*emitChunk+904 {
		t.Fatalf("%d events emitted, want %d", next, 2*emitChunk+904)
	}

	// A page of at most emitChunk events is one Emit, as before; a page of
	// whole chunks ends with a full one; an empty page is one empty batch
	// carrying the checkpoint.
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{emitChunk, []string{`2048 "cp"`}},
		{2 * emitChunk, []string{`2048 ""`, `2048 "cp"`}},
		{1, []string{`1 "cp"`}},
		{0, []string{`0 "cp"`}},
	} {
		c = sourcetest.NewEmitter()
		if err := emitBatches(context.Background(), c, numbered(tc.n), []byte("cp"), nil); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range c.Batches() {
			got = append(got, fmt.Sprintf("%d %q", b.N, b.Checkpoint))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("a page of %d events: batches %q, want %q", tc.n, got, tc.want)
		}
	}

	c = sourcetest.NewEmitter()
	boom := errors.New("stopping")
	c.OnEmit(func(count int, _ []event.Event, _ []byte) error {
		if count == emitChunk {
			return boom
		}
		return nil
	})
	if err := emitBatches(context.Background(), c, bs, []byte("cp"), nil); !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if n := c.Count(); n != emitChunk {
		t.Fatalf("%d events taken after the failed batch, want %d", n, emitChunk)
	}
}

// TestBatchesReleasedOneByOne: a page's batch the engine has dropped is
// garbage while a later batch of the same page is still in flight (each
// batch is an allocation of its own), so the rows of a page go as the
// sinks write them, not all with the page's last batch.
func TestBatchesReleasedOneByOne(t *testing.T) {
	bs := newBatches(nil, 3*emitChunk)
	first := weak.Make(&bs[0][0])
	last := bs[len(bs)-1]
	bs = nil
	runtime.GC()
	if first.Value() != nil {
		t.Fatal("the page's first batch is still reachable through its last one")
	}
	runtime.KeepAlive(last)
	runtime.KeepAlive(bs)
}

// dropEmitter hands every batch to fn and keeps nothing of it, as an
// engine whose sinks have written the batch.
type dropEmitter struct{ fn func(evs []event.Event) }

func (d dropEmitter) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	d.fn(evs)
	return nil
}

// TestEmittedPageNotRetained: once a page's batches are emitted and the
// engine has dropped them, nothing of the source keeps the page's row
// images alive while it reads the next page (the page buffer is cleared,
// not only overwritten row by row as the next page comes in).
func TestEmittedPageNotRetained(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			pipelineRows(t, d, 6)
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			s := started(t, cfg, nil)
			var page2 weak.Pointer[event.Value]
			out := dropEmitter{fn: func(evs []event.Event) {
				if evs[0].After[0].AsInt() == 3 {
					page2 = weak.Make(&evs[0].After[0])
				}
			}}
			queries, checked, retained := 0, false, false
			s.onQuery = func(q string, fn func(r row) error) func(r row) error {
				if queries++; queries == 3 {
					// The second page's Emit has returned: the engine took
					// (and here dropped) its batch.
					if err := s.settle(); err != nil {
						t.Error(err)
					}
					runtime.GC()
					checked, retained = true, page2.Value() != nil
				}
				return fn
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.poll(ctx, out); err != nil {
				t.Fatal(err)
			}
			if !checked {
				t.Fatalf("%d queries, want a third page", queries)
			}
			if retained {
				t.Error("the second page's rows are still reachable while the third page is read")
			}
		})
	}
}
