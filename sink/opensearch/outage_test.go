package opensearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// outageDuration is $SLUICE_OUTAGE, or 5m in CI and 15s otherwise.
func outageDuration(t *testing.T) time.Duration {
	if s := os.Getenv("SLUICE_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SLUICE_OUTAGE: %v", err)
		}
		return d
	}
	if os.Getenv("CI") != "" {
		return 5 * time.Minute
	}
	return 15 * time.Second
}

var schema = &event.Schema{
	Stream: "pg.public.product", Source: "pg", Connector: "postgresql", Namespace: "public", Table: "product",
	Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "n", Type: event.TypeInt64}},
	KeyIdx:  []int{0},
}

const (
	batches   = 400
	perBatch  = 10
	keySpace  = 300
	markerKey = 100000 // batch b also creates document markerKey+b
)

// genSource emits batches of changes over a small key space (creates,
// updates, deletes) with growing LSNs; checkpoint = batch number. It keeps
// emitting while the sink is cut off (Emit blocks at the in-flight cap).
type genSource struct {
	emitted  chan int
	onCommit func(b int)
}

func batch(b int) []event.Event {
	rng := rand.New(rand.NewPCG(uint64(b), 7))
	evs := make([]event.Event, 0, perBatch+1)
	for j := range perBatch {
		lsn := uint64(1000 + b*100 + j)
		k := int64(rng.IntN(keySpace))
		e := event.Event{Schema: schema, Source: event.Source{LSN: lsn, HasLSN: true}}
		img := []event.Value{event.Int(k), event.Int(int64(lsn))}
		if rng.IntN(5) == 0 {
			e.Op, e.Before = event.OpDelete, img
		} else {
			e.Op, e.After = event.OpUpdate, img
		}
		evs = append(evs, e)
	}
	lsn := uint64(1000 + b*100 + 99)
	evs = append(evs, event.Event{Op: event.OpCreate, Schema: schema, Source: event.Source{LSN: lsn, HasLSN: true},
		After: []event.Value{event.Int(markerKey + int64(b)), event.Int(int64(lsn))}})
	return evs
}

func (g *genSource) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	for b := 1; b <= batches; b++ {
		if err := out.Emit(ctx, batch(b), []byte(strconv.Itoa(b))); err != nil {
			return nil
		}
		select {
		case g.emitted <- b:
		default:
		}
		time.Sleep(10 * time.Millisecond) // the source's pace, not synchronisation
	}
	<-ctx.Done()
	return nil
}

func (g *genSource) Committed(_ context.Context, cp []byte) error {
	b, _ := strconv.Atoi(string(cp))
	g.onCommit(b)
	return nil
}

func (g *genSource) Close() error { return nil }

type memStore struct {
	mu sync.Mutex
	cp []byte
}

func (m *memStore) Checkpoint(string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cp, nil
}

func (m *memStore) SetCheckpoint(_ string, cp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cp = cp
	return nil
}

func (m *memStore) get() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := strconv.Atoi(string(m.cp))
	return b
}

func get(t *testing.T, u string) (int, []byte) {
	resp, err := http.Get(u)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestOutageLosesNothing runs an OpenSearch sink in the engine behind a
// proxy, cuts the proxy for SLUICE_OUTAGE while the source keeps emitting,
// restores it, and checks that every document arrives exactly and that no
// checkpoint was committed before its events were in the index.
func TestOutageLosesNothing(t *testing.T) {
	base := svctest.Need(t, svctest.OpenSearch)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, u.Host)
	index := fmt.Sprintf("sluice-test-outage-%d", rand.Uint32())
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", base+"/"+index, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})

	cfg := search.Defaults()
	cfg.Hosts = []string{"http://" + proxy.Addr()}
	cfg.Index = index
	cfg.RequestTimeout = 10 * time.Second
	sink, err := opensearch.New(opensearch.Config{Config: cfg}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}

	// Every commit is checked against the index directly (not through the
	// proxy): the batch's marker document must be there.
	var mu sync.Mutex
	committed := 0
	src := &genSource{emitted: make(chan int, 1), onCommit: func(b int) {
		for m := committed + 1; m <= b; m++ {
			st, body := get(t, fmt.Sprintf("%s/%s/_doc/%d", base, index, markerKey+m))
			if st != 200 {
				t.Errorf("checkpoint %d committed but the marker of batch %d is not in the index: %d %s", b, m, st, body)
			}
		}
		mu.Lock()
		committed = b
		mu.Unlock()
	}}
	store := &memStore{}
	p := &engine.Pipeline{
		Sources: []engine.SourceNode{{Name: "pg", Source: src}},
		Sinks:   []engine.SinkNode{{Name: "search", Sink: sink, Inputs: []string{"pg"}}},
		Store:   store,
		Options: engine.Options{MaxInflight: 8, RetryMin: 50 * time.Millisecond, RetryMax: time.Second, Logger: slog.New(slog.DiscardHandler)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, p) }()
	defer func() {
		cancel()
		<-done
	}()

	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("first checkpoints", 30*time.Second, func() bool { return store.get() >= 20 })
	outage := outageDuration(t)
	proxy.Cut()
	cutAt := store.get()
	t.Logf("proxy cut at checkpoint %d for %s", cutAt, outage)
	time.Sleep(outage) // the outage itself
	during := store.get()
	if during > cutAt+8 { // at most what was in flight when the cut landed
		t.Errorf("checkpoint moved from %d to %d while the cluster was unreachable", cutAt, during)
	}
	proxy.Restore()
	t.Logf("restored at checkpoint %d", during)
	waitFor("the last checkpoint", 2*time.Minute, func() bool { return store.get() == batches })

	// The index equals the replayed events.
	want := map[int64]int64{}
	for b := 1; b <= batches; b++ {
		for _, e := range batch(b) {
			if e.Op == event.OpDelete {
				delete(want, e.Before[0].AsInt())
			} else {
				want[e.After[0].AsInt()] = e.After[1].AsInt()
			}
		}
	}
	get(t, base+"/"+index+"/_refresh")
	st, body := get(t, base+"/"+index+"/_search?size=10000&version=true")
	if st != 200 {
		t.Fatalf("search: %d %s", st, body)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID      string `json:"_id"`
				Version int64  `json:"_version"`
				Source  struct {
					ID int64 `json:"id"`
					N  int64 `json:"n"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	got := map[int64]int64{}
	for _, h := range r.Hits.Hits {
		got[h.Source.ID] = h.Source.N
		if h.Version != h.Source.N {
			t.Errorf("document %s: version %d, want its LSN %d", h.ID, h.Version, h.Source.N)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d documents, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("document %d: n=%d, want %d", k, got[k], n)
		}
	}
	// The engine tells the source after persisting the checkpoint, and
	// onCommit checks every marker on the way: wait for it to get there.
	waitFor("the source to see the last commit", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return committed == batches
	})
}
