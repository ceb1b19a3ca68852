package mongodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestPlanAndReadChunks plans a shared export of two collections on
// FerretDB and reads every chunk: the bounds are exactly the export's _id
// ranges (every partition_size-th _id), each chunk reads exactly the
// documents of its range, every document is read by exactly one chunk,
// rows are snapshot rows without checkpoints, and without streams the
// plan's checkpoint ends the source (phase done).
func TestPlanAndReadChunks(t *testing.T) {
	f := newFerret(t)
	const n = 2500
	f.insert(t, "big", seqDocs(n)...)
	f.insert(t, "mix", bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "_id", Value: "a"}}, bson.D{{Key: "_id", Value: int32(2)}})
	cfg := f.config("big", "mix", "empty")
	cfg.Export.PartitionSize = 1000
	s := newSource(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	plan, err := s.PlanChunks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Exporter != nil {
		t.Errorf("plan has an exporter; MongoDB shares no snapshot")
	}
	if got := string(plan.Checkpoint); got != `{"v":1,"phase":"done"}` {
		t.Errorf("plan checkpoint %s; want phase done (nothing streamed)", got)
	}
	id := func(i int) string { return fmt.Sprintf(`{"$oid":"%s"}`, oid(i).Hex()) }
	db := f.db
	want := []string{
		fmt.Sprintf(`000000 {"collection":"%s.big","hi":%s}`, db, id(1000)),
		fmt.Sprintf(`000001 {"collection":"%s.big","lo":%s,"hi":%s}`, db, id(1000), id(2000)),
		fmt.Sprintf(`000002 {"collection":"%s.big","lo":%s}`, db, id(2000)),
		fmt.Sprintf(`000003 {"collection":"%s.mix","mixed":true}`, db),
		fmt.Sprintf(`000004 {"collection":"%s.empty"}`, db),
	}
	var got []string
	for _, c := range plan.Chunks {
		got = append(got, c.Name+" "+string(c.Spec))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each chunk read by a fresh instance, as another node would.
	seen := map[string]int{}
	wantRange := [][2]int{{0, 1000}, {1000, 2000}, {2000, n}}
	for i, c := range plan.Chunks {
		out := sourcetest.NewEmitter()
		if err := newSource(t, cfg).ReadChunk(ctx, c.Spec, out); err != nil {
			t.Fatalf("chunk %s: %v", c.Name, err)
		}
		evs := out.Events()
		var ids []string
		for j := range evs {
			e := &evs[j]
			if e.Op != event.OpRead || e.Source.Snapshot != event.SnapshotTrue {
				t.Fatalf("chunk %s event %d: op %c snapshot %q", c.Name, j, e.Op, e.Source.Snapshot)
			}
			ids = append(ids, e.After[0].Text())
			seen[e.Schema.Table+" "+e.After[0].Text()]++
		}
		if cp := out.Checkpoint(); cp != nil {
			t.Errorf("chunk %s emitted checkpoint %s; want none", c.Name, cp)
		}
		var wantIDs []string
		switch {
		case i < 3:
			for k := wantRange[i][0]; k < wantRange[i][1]; k++ {
				wantIDs = append(wantIDs, oid(k).Hex())
			}
		case i == 3:
			wantIDs = []string{"1", "2", "a"}
		}
		if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
			t.Errorf("chunk %s read %d documents %.200v; want %d %.200v", c.Name, len(ids), ids, len(wantIDs), wantIDs)
		}
	}
	for k, v := range seen {
		if v != 1 {
			t.Errorf("%s read %d times", k, v)
		}
	}
	if len(seen) != n+3 {
		t.Errorf("%d documents read; want %d", len(seen), n+3)
	}
}

// TestPlanChunksStreamsNeedChangeStreams: a streamed collection on a server
// without change streams (FerretDB) fails the plan with the single node's
// error, before anything is planned.
func TestPlanChunksStreamsNeedChangeStreams(t *testing.T) {
	f := newFerret(t)
	cfg := f.config("big")
	cfg.Collections[0].Stream = true
	_, err := newSource(t, cfg).PlanChunks(context.Background())
	if !errors.Is(err, ErrNoChangeStreams) {
		t.Fatalf("PlanChunks: %v; want ErrNoChangeStreams", err)
	}
}
