package mongodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

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

// streamsOver is a server whose change streams are recorded and whose
// collections are the real server's.
type streamsOver struct {
	server
	rec *recorded
}

func (s streamsOver) probeStreams(ctx context.Context) error { return s.rec.probeStreams(ctx) }
func (s streamsOver) watch(ctx context.Context, w *watchSpec, after bson.Raw) (changeStream, error) {
	return s.rec.watch(ctx, w, after)
}

// TestPlanChunksStreamFromToken: with a streamed collection the plan takes
// the change stream's start point before it plans (one watch "from now"),
// its checkpoint is phase stream at that token, and a run from that
// checkpoint exports nothing and streams after the token.
func TestPlanChunksStreamFromToken(t *testing.T) {
	f := newFerret(t)
	f.insert(t, "big", seqDocs(10)...)
	cfg := f.config("big")
	cfg.Collections[0].Stream = true
	cfg.Export.PartitionSize = 4
	rec := newRecorded(t)
	s := newSource(t, cfg)
	s.ownServer = func(srv server) server { return streamsOver{srv, rec} }
	plan, err := s.PlanChunks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.watches, "\n"), "watch collection "+f.db+".big from now"; got != want {
		t.Errorf("watches:\n%s\nwant:\n%s", got, want)
	}
	if got, want := string(plan.Checkpoint), `{"v":1,"phase":"stream","token":{"_data":"8265000000000000012B0229296E04"}}`; got != want {
		t.Errorf("plan checkpoint %s; want %s", got, want)
	}
	if len(plan.Chunks) != 3 {
		t.Errorf("%d chunks; want 3 (10 documents by 4)", len(plan.Chunks))
	}
	// The leader's run once every chunk is done.
	rec.watches = nil
	run := newSource(t, cfg)
	run.dial = func(context.Context) (server, *mongo.Client, error) { return rec, nil, nil }
	out := sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.Run(ctx, plan.Checkpoint, out) }()
	select {
	case <-rec.drained:
	case err := <-done:
		t.Fatalf("Run returned %v before streaming", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stream")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.watches, "\n"), "watch collection "+f.db+".big after 8265000000000000012B0229296E04"; got != want {
		t.Errorf("watches:\n%s\nwant:\n%s", got, want)
	}
	if n := len(out.Events()); n != 0 {
		t.Errorf("the run emitted %d events; want none (nothing recorded, nothing exported)", n)
	}
}
