package postgres

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func TestSnapshotAndStream(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x')`)
	te.exec(`CREATE TABLE b (k1 text, k2 int, v numeric(10,2), PRIMARY KEY (k1, k2))`)
	te.exec(`INSERT INTO a VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
	te.exec(`INSERT INTO b VALUES ('x', 1, 1.50), ('x', 2, NULL), ('y', 1, -3)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.*")
	cfg.SnapshotChunkRows = 2
	cfg.BatchSize = 2
	te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 6 })
	got := describe(out.Events())
	want := []string{
		"r a id=1 name=one", "r a id=2 name=two", "r a id=3 name=three",
		"r b k1=x k2=1 v=1.50", "r b k1=x k2=2 v=NULL", "r b k1=y k2=1 v=-3.00",
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("snapshot:\n got %q\nwant %q", got, want)
	}
	evs := out.Events()
	last := 0
	for _, e := range evs {
		if e.Source.Snapshot == event.SnapshotLast {
			last++
		}
	}
	if last != 1 || evs[len(evs)-1].Source.Snapshot != event.SnapshotLast {
		t.Fatalf("want exactly the last event marked last, got %d marks", last)
	}
	te.exec(`INSERT INTO a VALUES (4, 'four')`)
	te.exec(`UPDATE a SET name = 'TWO' WHERE id = 2`)
	te.exec(`DELETE FROM b WHERE k1 = 'y'`)
	out.WaitFor(t, "stream", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 9 })
	got = describe(out.Events()[6:])
	want = []string{"c a id=4 name=four", "u a id=2 name=TWO", "d b k1=y k2=1 v=NULL"}
	if !slices.Equal(got, want) {
		t.Fatalf("stream:\n got %q\nwant %q", got, want)
	}
}

// TestSnapshotBatchesBoundedByBytes: rows of 10 kB are cut into batches of
// about 1 MiB of COPY text (batchBytes), not batch_size rows, so that wide
// rows do not multiply the memory the engine's window holds.
func TestSnapshotBatchesBoundedByBytes(t *testing.T) {
	te := newTestEnv(t)
	const rows, pad = 300, 10_000
	te.exec(`CREATE TABLE wide (id int PRIMARY KEY, pad text)`)
	te.exec(`INSERT INTO wide SELECT g, repeat('x', $1) FROM generate_series(1, $2) g`, pad, rows)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.wide")
	te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot", 30*time.Second, func(evs []event.Event) bool { return len(evs) == rows })
	// The cut falls after the row that reaches batchBytes.
	want := wantBatches(rows, batchBytes, func(id int) int { return len(strconv.Itoa(id)) + 1 + pad + 1 })
	got := gotBatches(t, out, func(id int64, e *event.Event) bool {
		return e.After[0].AsInt() == id && len(e.After[1].Str) == pad
	})
	if !slices.Equal(got, want) {
		t.Fatalf("batch sizes %v, want %v (batch_size %d)", got, want, cfg.BatchSize)
	}
}

// TestSnapshotBatchesBoundedByMemory: rows of many columns are cut into
// batches of about batchMemBytes of text and decoded rows (an event and a
// value a column each), not batch_size rows: 1 MiB of a 100-column table's
// text decodes into several MB of values, and the batches alive outside
// the engine's window are counted by no byte cap.
func TestSnapshotBatchesBoundedByMemory(t *testing.T) {
	te := newTestEnv(t)
	const rows, cols = 2000, 100
	var create, fill strings.Builder
	create.WriteString("CREATE TABLE many (id int PRIMARY KEY")
	fill.WriteString("INSERT INTO many SELECT g")
	for i := 1; i <= cols; i++ {
		fmt.Fprintf(&create, ", c%d int", i)
		fill.WriteString(", 7")
	}
	create.WriteString(")")
	fill.WriteString(" FROM generate_series(1, $1) g")
	te.exec(create.String())
	te.exec(fill.String(), rows)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.many")
	te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot", 30*time.Second, func(evs []event.Event) bool { return len(evs) == rows })
	// The cut falls after the row that reaches batchMemBytes: its text and
	// its decoded rows.
	want := wantBatches(rows, batchMemBytes, func(id int) int { return len(strconv.Itoa(id)) + cols*len("\t7") + 1 + rowMem(1+cols) })
	if len(want) < 3 {
		t.Fatalf("the table makes %d batches; the test needs several", len(want))
	}
	got := gotBatches(t, out, func(id int64, e *event.Event) bool {
		return e.After[0].AsInt() == id && len(e.After) == 1+cols && e.After[cols].AsInt() == 7
	})
	if !slices.Equal(got, want) {
		t.Fatalf("batch sizes %v, want %v (batch_size %d)", got, want, cfg.BatchSize)
	}
}

// wantBatches returns the sizes of the batches a snapshot of rows rows (ids
// 1 to rows) makes when a batch is cut after the row that brings the sum
// of rowBytes over the batch to limit.
func wantBatches(rows, limit int, rowBytes func(id int) int) []int {
	var want []int
	n, size := 0, 0
	for id := 1; id <= rows; id++ {
		n++
		if size += rowBytes(id); size >= limit {
			want, n, size = append(want, n), 0, 0
		}
	}
	return append(want, n)
}

// gotBatches returns the sizes of out's batches that hold events, checking
// with ok that the rows come in id order (1, 2, …) as written.
func gotBatches(t *testing.T, out *sourcetest.Emitter, ok func(id int64, e *event.Event) bool) []int {
	t.Helper()
	var got []int
	id := int64(0)
	for _, b := range out.Batches() {
		if len(b.Events) == 0 {
			continue
		}
		got = append(got, len(b.Events))
		for i := range b.Events {
			id++
			if e := &b.Events[i]; !ok(id, e) {
				t.Fatalf("row %d: got id %s and %d values", id, e.After[0].Text(), len(e.After))
			}
		}
	}
	return got
}
