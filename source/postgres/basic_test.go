package postgres

import (
	"slices"
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
