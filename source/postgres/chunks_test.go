package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// readChunks reads every chunk of plan and returns the rows as "table
// row" lines, failing on a row read twice.
func readChunks(t *testing.T, src *Source, chunks []component.Chunk) []string {
	t.Helper()
	var out []string
	seen := map[string]string{}
	for _, c := range chunks {
		em := sourcetest.NewEmitter()
		if err := src.ReadChunk(context.Background(), c.Spec, em); err != nil {
			t.Fatalf("ReadChunk %s: %v", c.Spec, err)
		}
		for _, b := range em.Batches() {
			if b.Checkpoint != nil {
				t.Fatalf("chunk %s emitted a checkpoint %s", c.Name, b.Checkpoint)
			}
		}
		for _, e := range em.Events() {
			if e.Source.Snapshot != event.SnapshotTrue || e.Op != event.OpRead {
				t.Fatalf("chunk %s: op %v snapshot %v", c.Name, e.Op, e.Source.Snapshot)
			}
			line := e.Schema.Table + " " + rowText(e.Schema, e.After)
			if prev, ok := seen[line]; ok {
				t.Fatalf("row %q read by chunks %s and %s", line, prev, c.Name)
			}
			seen[line] = c.Name
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// PlanChunks splits keyed tables into key ranges of snapshot_chunk_rows
// rows (a composite key by whole-key ranges, whose first column repeats)
// and a keyless table into one chunk; every chunk imports the exported
// snapshot, so rows changed after the plan are read as they were, each
// row exactly once. Once the exporter is closed, a chunk is read at a new
// snapshot (the documented fallback).
func TestPlanAndReadChunks(t *testing.T) {
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 1000) g`)
	te.exec(`CREATE TABLE c (k1 text, k2 int, v int, PRIMARY KEY (k1, k2))`)
	te.exec(`INSERT INTO c SELECT 'k' || (g % 7), g, g FROM generate_series(1, 300) g`)
	te.exec(`CREATE TABLE nokey (x int)`)
	te.exec(`INSERT INTO nokey SELECT generate_series(1, 10)`)
	cfg := te.config("public.*")
	cfg.SnapshotChunkRows = 100
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := src.PlanChunks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Exporter == nil {
		t.Fatal("no exporter")
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
	// a: 10 ranges bounded by ids 101, 201, ... 901; c: 3; nokey: 1.
	if len(specs) != 14 {
		t.Fatalf("%d chunks: %s", len(specs), plan.Chunks)
	}
	var cp checkpoint
	if err := json.Unmarshal(plan.Checkpoint, &cp); err != nil {
		t.Fatal(err)
	}
	snap, lsn := specs[0].Snapshot, specs[0].ConsistentPoint
	if snap == "" || cp.Phase != phaseStream || cp.LSN != lsn || cp.ConsistentPoint != lsn || strings.Join(cp.Captured, ",") != "public.a,public.c,public.nokey" {
		t.Fatalf("snapshot %q, checkpoint %s, consistent point %s", snap, plan.Checkpoint, lsn)
	}
	var bounds []string
	for _, s := range specs {
		if s.Snapshot != snap || s.ConsistentPoint != lsn {
			t.Fatalf("chunk %+v: another snapshot than %s at %s", s, snap, lsn)
		}
		bounds = append(bounds, fmt.Sprintf("%s %v %v", s.Table, s.Lo, s.Hi))
	}
	want := []string{"public.a [] [101]", "public.a [101] [201]", "public.a [201] [301]", "public.a [301] [401]", "public.a [401] [501]",
		"public.a [501] [601]", "public.a [601] [701]", "public.a [701] [801]", "public.a [801] [901]", "public.a [901] []",
		// c in key order: k0 (42 rows), k1 (43), then k2 = 2, 9, 16, ...:
		// the 101st is (k2, 107); k3 has 43, so the 201st is (k4, 207).
		"public.c [] [k2 107]", "public.c [k2 107] [k4 207]", "public.c [k4 207] []", "public.nokey [] []"}
	if strings.Join(bounds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s\nwant:\n%s", strings.Join(bounds, "\n"), strings.Join(want, "\n"))
	}

	// Changes after the plan are not read under the exported snapshot.
	te.exec(`UPDATE a SET v = 'new' WHERE id = 5`)
	te.exec(`DELETE FROM a WHERE id = 7`)
	te.exec(`INSERT INTO a VALUES (2000, 'late')`)
	te.exec(`INSERT INTO c VALUES ('k0', 1000, 0)`)
	te.exec(`INSERT INTO nokey VALUES (11)`)
	got := readChunks(t, src, plan.Chunks)
	if len(got) != 1310 {
		t.Fatalf("%d rows, want 1310", len(got))
	}
	for _, line := range []string{"a id=5 v=v5", "a id=7 v=v7", "c k1=k0 k2=7 v=7", "nokey x=10"} {
		if _, ok := slices.BinarySearch(got, line); !ok {
			t.Errorf("row %q not read", line)
		}
	}
	for _, line := range []string{"a id=2000 v=late", "c k1=k0 k2=1000 v=0", "nokey x=11", "a id=5 v=new"} {
		if _, ok := slices.BinarySearch(got, line); ok {
			t.Errorf("row %q, changed after the plan, was read", line)
		}
	}

	// The exporter gone, chunks are read at a new snapshot.
	if err := plan.Exporter.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returns once the client hung up; the server ends the exporting
	// transaction a moment later, and until then a chunk may still import
	// the snapshot (rightly: it still exists). Wait until it cannot.
	deadline := time.Now().Add(30 * time.Second)
	for snapshotImportable(t, te, snap) {
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %s still importable 30 s after the exporter closed", snap)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got = readChunks(t, src, plan.Chunks)
	if len(got) != 1312 {
		t.Fatalf("%d rows at a new snapshot, want 1312", len(got))
	}
	for _, line := range []string{"a id=5 v=new", "a id=2000 v=late", "c k1=k0 k2=1000 v=0", "nokey x=11"} {
		if _, ok := slices.BinarySearch(got, line); !ok {
			t.Errorf("row %q not read at the new snapshot", line)
		}
	}
	if _, ok := slices.BinarySearch(got, "a id=7 v=v7"); ok {
		t.Error("deleted row read at the new snapshot")
	}
}

// snapshotImportable reports whether a transaction can still import the
// exported snapshot snap.
func snapshotImportable(t *testing.T, te *testEnv, snap string) bool {
	t.Helper()
	ctx := context.Background()
	tx, err := te.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snap+"'")
	return err == nil
}
