package sqlpoll

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/releasetest"
)

// poisonPage fills a released page's memory with garbage, as the next
// pages' writes would: every byte of its chunks, every value of its slabs
// and every event of its batches.
func poisonPage(m *pageMem) {
	for _, c := range m.chunks {
		c = c[:cap(c)]
		for i := range c {
			c[i] = 0xFF
		}
	}
	junk := []event.Value{event.String("junk"), event.Int(-7)}
	for _, s := range m.slabs {
		for i := range s {
			s[i] = event.String("junk")
		}
	}
	for _, b := range m.batches {
		b = b[:cap(b)]
		for i := range b {
			b[i] = event.Event{Op: 'x', Before: junk, After: junk, Position: "junk", TsMs: -1,
				Source: event.Source{TsUs: -1, Snapshot: event.SnapshotTrue, HasLSN: true, LSN: 99, CommitLSN: 98, TxID: 97}}
		}
	}
}

// TestPageMemRelease: a page's memory goes back to the free list with the
// release of its last batch, not before; what is taken from the free list
// is zeroed (slabs and events: NULLs and fresh events); batches too small
// to be worth keeping are neither taken nor given back; the free lists are
// bounded; drain empties them.
func TestPageMemRelease(t *testing.T) {
	p := newMemPool()
	m := &pageMem{pool: p}
	c := m.chunk()
	c = append(c, "text"...)
	s := m.slab()
	s[0] = event.String("x")
	b1, b2 := m.batch(emitChunk), m.batch(emitChunk/2)
	b1[0].Position, b2[0].Position = "a", "b"
	small := m.batch(3)
	if len(m.batches) != 2 || cap(small) != 3 {
		t.Fatalf("a 3-event batch was recorded (%d batches) or over-allocated (cap %d)", len(m.batches), cap(small))
	}
	m.pending.Store(3)
	m.release()
	m.release()
	if len(p.chunks)+len(p.slabs)+len(p.batches) != 0 {
		t.Fatal("a page's memory was given back before its last batch was released")
	}
	m.release()
	if len(p.chunks) != 1 || len(p.slabs) != 1 || len(p.batches) != 2 {
		t.Fatalf("free lists hold %d chunks, %d slabs, %d batches; want 1, 1, 2", len(p.chunks), len(p.slabs), len(p.batches))
	}

	m2 := &pageMem{pool: p}
	c2, s2, b3 := m2.chunk(), m2.slab(), m2.batch(10*emitChunk/16)
	if len(c2) != 0 || unsafe.SliceData(c2) != unsafe.SliceData(c) {
		t.Error("the released chunk was not reused, empty")
	}
	if unsafe.SliceData(s2) != unsafe.SliceData(s) || len(s2) != slabValues || !s2[0].IsNull() {
		t.Error("the released slab was not reused, all NULL")
	}
	if u := unsafe.SliceData(b3); u != unsafe.SliceData(b1) && u != unsafe.SliceData(b2) {
		t.Error("a released batch was not reused")
	}
	if len(b3) != 10*emitChunk/16 || b3[0].Position != "" {
		t.Errorf("a reused batch has %d events, the first at %q; want %d fresh ones", len(b3), b3[0].Position, 10*emitChunk/16)
	}
	if n := p.reused.Load(); n != 3 {
		t.Errorf("%d items reused, want 3", n)
	}

	big := &pageMem{pool: p}
	for range freeChunks + 5 {
		big.chunk()
	}
	big.pending.Store(1)
	big.release()
	if len(p.chunks) != freeChunks {
		t.Errorf("the chunk free list holds %d, want its bound %d", len(p.chunks), freeChunks)
	}
	p.drain()
	if len(p.chunks)+len(p.slabs)+len(p.batches) != 0 {
		t.Error("drain left items on the free lists")
	}
}

// copySink keeps a rendering of every event it is handed (copies: it
// declares component.KeepsNoEvents), and signals once it holds want.
type copySink struct {
	mu    sync.Mutex
	lines []string
	want  int
	done  chan struct{}
}

func render(e event.Event) string {
	var b strings.Builder
	src := e.Source
	src.TsUs = 0 // the clock's, as TsMs
	fmt.Fprintf(&b, "%c @%s seq %v source %+v before %v:", e.Op, e.Position, e.Seq(), src, e.Before)
	for _, v := range e.After {
		fmt.Fprintf(&b, " %d/%d/%q", v.Kind, v.Num, v.Str)
	}
	return b.String()
}

func (c *copySink) Write(_ context.Context, evs []event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range evs {
		c.lines = append(c.lines, render(e))
	}
	if len(c.lines) >= c.want && c.done != nil {
		close(c.done)
		c.done = nil
	}
	return nil
}

func (*copySink) Close(context.Context) error { return nil }
func (*copySink) KeepsNoEvents() bool         { return true }

// TestRecycledPages: through the engine, with a sink that keeps no events
// and every released page poisoned before it is reused, the sink receives
// exactly the rows a poll into plain memory gives: no page's rows sit in
// memory another page gave back, reused slabs and batches are cleared
// (the table has NULLs, empty text and text of every length up to past a
// chunk's largest value), and what the source keeps (positions, the
// watermark) is its own. Pages of 2,200 rows go out as a full batch and a
// part one. With one batch in flight (MaxInflight 1) the reuse is certain,
// not a matter of timing: the engine releases a batch before it frees its
// slot, so page k+1 is read only once page k-2 was released (the emit of
// page k waited for page k-1's batches to enter the window), and pages 4
// to 6 are cut from the memory of pages 1 to 3. The test fails unless
// items were reused.
func TestRecycledPages(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			const rows = 6 * 2200
			d.exec(t, "CREATE TABLE users (id "+d.idType+" PRIMARY KEY, name TEXT, n "+d.idType+", note TEXT)")
			for from := 1; from <= rows; from += 550 {
				var vals []string
				for id := from; id < from+550; id++ {
					name, n := "'"+strings.Repeat("é"+strconv.Itoa(id), id%40)+"'", strconv.Itoa(id*7)
					switch id % 11 {
					case 0:
						name = "NULL"
					case 5:
						n = "NULL"
					}
					note := "NULL"
					if id%97 == 0 {
						note = "'" + strings.Repeat("x", arenaMax+id%3) + "'"
					} else if id%3 == 0 {
						note = "''"
					}
					vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s)", id, name, n, note))
				}
				d.exec(t, "INSERT INTO users (id, name, n, note) VALUES "+strings.Join(vals, ", "))
			}
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			cfg.BatchMaxRows = 2200

			ref := started(t, cfg, nil)
			evs, _ := pollOnce(t, ref)
			want := make([]string, len(evs))
			for i, e := range evs {
				want[i] = render(e)
			}
			if len(want) != rows {
				t.Fatalf("the reference poll read %d rows, want %d", len(want), rows)
			}

			s := newSource(cfg, component.Env{Name: "src"})
			t.Cleanup(func() { s.Close() })
			var pages atomic.Int64
			s.pool.poison = func(m *pageMem) {
				poisonPage(m)
				pages.Add(1)
			}
			sink := &copySink{want: rows, done: make(chan struct{})}
			done := sink.done
			p := &engine.Pipeline{
				Sources: []engine.SourceNode{{Name: "src", Source: s}},
				Sinks:   []engine.SinkNode{{Name: "out", Sink: sink, Inputs: []string{"src"}}},
				Store:   releasetest.Store{},
				Options: engine.Options{MaxInflight: 1},
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- engine.Run(ctx, p) }()
			select {
			case <-done:
			case err := <-errc:
				t.Fatalf("the pipeline ended before the sink had every row: %v", err)
			case <-ctx.Done():
				t.Fatal("the sink did not receive every row within a minute")
			}
			cancel()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			got := slices.Clone(sink.lines)
			sink.mu.Unlock()
			if len(got) != rows {
				t.Fatalf("the sink has %d rows, want %d", len(got), rows)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d:\n got %.300s\nwant %.300s", i, got[i], want[i])
				}
			}
			if s.pool.reused.Load() == 0 || pages.Load() == 0 {
				t.Fatalf("%d pages released, %d items reused: nothing was recycled", pages.Load(), s.pool.reused.Load())
			}
		})
	}
}
