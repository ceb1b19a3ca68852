package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// readChunk reads one chunk and returns its rows as "table row" lines,
// checking that it emitted no checkpoint and only snapshot reads at the
// plan's position.
func readChunk(t *testing.T, src *Source, c component.Chunk, file string, pos uint64) []string {
	t.Helper()
	em := sourcetest.NewEmitter()
	if err := src.ReadChunk(context.Background(), c.Spec, em); err != nil {
		t.Fatalf("ReadChunk %s: %v", c.Spec, err)
	}
	for _, b := range em.Batches() {
		if b.Checkpoint != nil {
			t.Fatalf("chunk %s emitted a checkpoint %s", c.Name, b.Checkpoint)
		}
	}
	var out []string
	for _, e := range em.Events() {
		if e.Source.Snapshot != event.SnapshotTrue || e.Op != event.OpRead || e.Source.Binlog == nil || e.Source.Binlog.File != file || e.Source.Binlog.Pos != pos {
			t.Fatalf("chunk %s: op %v snapshot %v binlog %+v; want reads at %s:%d", c.Name, e.Op, e.Source.Snapshot, e.Source.Binlog, file, pos)
		}
		out = append(out, e.Schema.Table+" "+rowText(e.Schema, e.After))
	}
	return out
}

// PlanChunks records the binlog position first, splits keyed tables into
// primary-key ranges of snapshot_chunk_rows rows (a composite key by
// whole-key ranges) and a keyless table into one chunk. Each chunk is read
// at a snapshot of its own: while the table changes between the chunks'
// reads, every row is read by exactly one chunk, in its state at that
// chunk's read; and the stream from the plan's checkpoint replays every
// change made after the plan.
func TestPlanAndReadChunks(t *testing.T) {
	te := newTestEnv(t)
	seq := func(n int) string {
		return fmt.Sprintf("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) ", n)
	}
	te.exec(`CREATE TABLE a (id int PRIMARY KEY, v varchar(20))`)
	te.exec(`INSERT INTO a ` + seq(1000) + `SELECT g, CONCAT('v', g) FROM s`)
	te.exec(`CREATE TABLE c (k1 varchar(10), k2 int, v int, PRIMARY KEY (k1, k2))`)
	te.exec(`INSERT INTO c ` + seq(300) + `SELECT CONCAT('k', g % 7), g, g FROM s`)
	te.exec(`CREATE TABLE nokey (x int)`)
	te.exec(`INSERT INTO nokey ` + seq(10) + `SELECT g FROM s`)
	cfg := te.config("*")
	cfg.SnapshotChunkRows = 100
	src, err := New(cfg, component.Env{Name: "my", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := src.PlanChunks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Exporter != nil {
		t.Fatal("an exporter: MySQL cannot share a snapshot")
	}
	var specs []chunkSpec
	for i, c := range plan.Chunks {
		if want := fmt.Sprintf("%06d", i); c.Name != want {
			t.Fatalf("chunk %d named %s", i, c.Name)
		}
		var s chunkSpec
		if err := json.Unmarshal(c.Spec, &s); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	if len(specs) != 14 {
		t.Fatalf("%d chunks: %s", len(specs), plan.Chunks)
	}
	cp, err := parseCheckpoint(plan.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Phase != phaseStream || cp.File == "" || cp.Pos == 0 || cp.GTID == "" || cp.Tables != nil {
		t.Fatalf("checkpoint %s", plan.Checkpoint)
	}
	var bounds []string
	for _, s := range specs {
		if s.File != cp.File || s.Pos != cp.Pos || s.GTID != cp.GTID {
			t.Fatalf("chunk %+v: another position than the checkpoint's %s", s, plan.Checkpoint)
		}
		bounds = append(bounds, fmt.Sprintf("%s %v %v", strings.TrimPrefix(s.Table, te.name+"."), s.Lo, s.Hi))
	}
	want := []string{"a [] [101]", "a [101] [201]", "a [201] [301]", "a [301] [401]", "a [401] [501]",
		"a [501] [601]", "a [601] [701]", "a [701] [801]", "a [801] [901]", "a [901] []",
		// c in key order: k0 (42 rows), k1 (43), then k2 = 2, 9, 16, ...:
		// the 101st is (k2, 107); k3 has 43, so the 201st is (k4, 207).
		"c [] [k2 107]", "c [k2 107] [k4 207]", "c [k4 207] []", "nokey [] []"}
	if strings.Join(bounds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s\nwant:\n%s", strings.Join(bounds, "\n"), strings.Join(want, "\n"))
	}

	// The table changes after the plan and between the chunks' reads: each
	// chunk sees the changes made before it is read, and no row is read
	// twice or missed. Changes before the first read:
	te.exec(`UPDATE a SET v = 'new' WHERE id = 5`)
	te.exec(`DELETE FROM a WHERE id = 7`)
	te.exec(`INSERT INTO a VALUES (2000, 'late')`)
	te.exec(`INSERT INTO c VALUES ('k0', 1000, 0)`)
	seen := map[string]string{}
	var got []string
	for i, c := range plan.Chunks {
		for _, line := range readChunk(t, src, c, cp.File, cp.Pos) {
			if prev, ok := seen[line]; ok {
				t.Fatalf("row %q read by chunks %s and %s", line, prev, c.Name)
			}
			seen[line] = c.Name
			got = append(got, line)
		}
		if i == 0 {
			// After the first chunk: a row of a chunk read already and one
			// of a chunk not read yet change.
			te.exec(`UPDATE a SET v = 'after0' WHERE id IN (50, 550)`)
			te.exec(`INSERT INTO nokey VALUES (11)`)
		}
	}
	slices.Sort(got)
	if len(got) != 1000+301+11 {
		t.Fatalf("%d rows, want %d", len(got), 1000+301+11)
	}
	for _, line := range []string{"a id=5 v=new", "a id=2000 v=late", "c k1=k0 k2=1000 v=0", "a id=50 v=v50", "a id=550 v=after0", "nokey x=11"} {
		if _, ok := slices.BinarySearch(got, line); !ok {
			t.Errorf("row %q not read", line)
		}
	}
	for _, line := range []string{"a id=7 v=v7", "a id=5 v=v5", "a id=50 v=after0", "a id=550 v=v550"} {
		if _, ok := slices.BinarySearch(got, line); ok {
			t.Errorf("row %q read", line)
		}
	}

	// The stream from the plan's checkpoint replays every change made
	// after the plan, so the last image per key is the table's.
	out := sourcetest.NewEmitter()
	te.start(cfg, plan.Checkpoint, out)
	var changes []string
	out.WaitFor(t, "the changes after the plan", 30*time.Second, func(evs []event.Event) bool {
		changes = changes[:0]
		for _, e := range evs {
			if e.Op != event.OpRead && e.Schema != nil {
				changes = append(changes, describe([]event.Event{e})...)
			}
		}
		return len(changes) >= 7
	})
	wantChanges := []string{"u a id=5 v=new", "d a id=7 v=v7", "c a id=2000 v=late", "c c k1=k0 k2=1000 v=0", "u a id=50 v=after0", "u a id=550 v=after0", "c nokey x=11"}
	if strings.Join(changes, "\n") != strings.Join(wantChanges, "\n") {
		t.Fatalf("stream from the plan's position:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(wantChanges, "\n"))
	}
}
