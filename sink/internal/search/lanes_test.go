package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// newLanes is newTest with lanes engaged for any Write of at least one
// operation per lane.
func newLanes(t *testing.T, c Client, lanes int, mut func(*Config)) *Sink {
	t.Helper()
	cfg := Defaults()
	cfg.Hosts = []string{"http://x:9200"}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, c, Options{Product: "test", RetryBase: time.Millisecond, ItemAttempts: 3, Lanes: lanes, LaneBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reorderingCluster is a fake cluster that applies concurrent bulk
// requests in the worst order: it holds the first `hold` requests until
// all of them are in flight, then applies them last-arrived first. Each
// document's source is whatever was applied last (no versions checked:
// the order of requests alone decides). Requests after those are applied
// as they come.
type reorderingCluster struct {
	fakeClient
	hold    int
	arrived int
	all     chan struct{}   // closed when hold requests are in flight
	turn    []chan struct{} // turn[i] is closed when request i was applied
	docs    map[string]string
}

func newReordering(hold int) *reorderingCluster {
	c := &reorderingCluster{hold: hold, all: make(chan struct{}), docs: map[string]string{}}
	for range hold {
		c.turn = append(c.turn, make(chan struct{}))
	}
	return c
}

func (c *reorderingCluster) Bulk(ctx context.Context, body []byte, fp string) (Response, error) {
	c.mu.Lock()
	n := c.arrived
	c.arrived++
	c.bodies = append(c.bodies, string(body))
	if c.arrived == c.hold {
		close(c.all)
	}
	c.mu.Unlock()
	if n < c.hold {
		select {
		case <-c.all:
		case <-time.After(5 * time.Second):
			return Response{}, fmt.Errorf("only %d of %d bulk requests were ever in flight at once", c.arrived, c.hold)
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
		if n+1 < c.hold {
			<-c.turn[n+1] // the later arrival goes first
		}
		defer close(c.turn[n])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		act := lines[i]
		id := act[strings.Index(act, `"_id":"`)+7:]
		id = id[:strings.IndexByte(id, '"')]
		if strings.HasPrefix(act, `{"delete"`) {
			delete(c.docs, id)
			continue
		}
		i++
		c.docs[id] = lines[i]
	}
	return Response{Status: 200, Body: []byte(`{"errors":false}`)}, nil
}

// TestLanesKeepPerDocumentOrder: with four requests in flight at once,
// applied by the cluster in reverse order, every document ends as its
// last event in the Write left it (the later change wins, a delete after
// an insert deletes), with and without external versions: all operations
// of one document travel in one lane, in event order.
func TestLanesKeepPerDocumentOrder(t *testing.T) {
	for _, vt := range []string{VersionExternal, VersionNone} {
		t.Run(vt, func(t *testing.T) {
			const lanes, docs = 4, 64
			c := newReordering(lanes)
			s := newLanes(t, c, lanes, func(cfg *Config) { cfg.DocumentVersionType = vt })
			var evs []event.Event
			lsn := uint64(100)
			for round := range 3 {
				for id := range docs {
					lsn++
					evs = append(evs, ev(event.OpUpdate, lsn, nil, r(int64(id), fmt.Sprintf("v%d", round), event.Null)))
				}
			}
			for id := 0; id < docs; id += 8 {
				lsn++
				evs = append(evs, ev(event.OpDelete, lsn, r(int64(id), "", event.Null), nil))
			}
			if err := s.Write(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			if len(c.bodies) != lanes {
				t.Fatalf("%d bulk requests, want one per lane (%d)", len(c.bodies), lanes)
			}
			want := map[string]string{}
			for id := range docs {
				if id%8 != 0 {
					want[fmt.Sprint(id)] = fmt.Sprintf(`{"id":%d,"name":"v2","price":1.50,"big":null}`, id)
				}
			}
			if len(c.docs) != len(want) {
				t.Errorf("%d documents, want %d", len(c.docs), len(want))
			}
			for id, doc := range want {
				if c.docs[id] != doc {
					t.Errorf("document %s is %s, want %s", id, c.docs[id], doc)
				}
			}
		})
	}
}

// TestLanesPartitionByDocument: each document's operations are in one
// request, in event order, and the requests together carry every
// operation exactly once (the bodies' lines are the single-request body's
// lines, regrouped).
func TestLanesPartitionByDocument(t *testing.T) {
	var evs []event.Event
	for i := range 200 {
		id := int64(i % 50)
		if i%7 == 3 {
			evs = append(evs, ev(event.OpDelete, uint64(100+i), r(id, "", event.Null), nil))
		} else {
			evs = append(evs, ev(event.OpUpdate, uint64(100+i), nil, r(id, fmt.Sprint("n", i), event.Null)))
		}
	}
	// A key change: the new document is indexed, the old one deleted.
	evs = append(evs, ev(event.OpUpdate, 400, r(1, "", event.Null), r(77, "moved", event.Null)))
	// A merge of unchanged TOAST columns (encoded after the other items,
	// at the end of its lane's buffer) followed by later operations on
	// the same document: the body is gathered in event order.
	evs = append(evs,
		ev(event.OpUpdate, 500, nil, r(4, "big", event.String("stored"))),
		ev(event.OpUpdate, 501, nil, r(4, "merged", event.Unchanged)),
		ev(event.OpDelete, 502, r(4, "", event.Null), nil),
		ev(event.OpUpdate, 503, nil, r(4, "last", event.String("new"))))
	one := &fakeClient{}
	if err := newTest(t, one, nil).Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	many := &fakeClient{}
	if err := newLanes(t, many, 3, nil).Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(one.bodies[0], `{"id":4,"name":"merged","price":1.50,"big":"stored"}`) {
		t.Fatalf("no merged document in %s", one.bodies[0])
	}
	if len(one.bodies) != 1 || len(many.bodies) != 3 {
		t.Fatalf("%d and %d requests, want 1 and 3", len(one.bodies), len(many.bodies))
	}
	// ops groups a body's operations (action line + document line) by
	// document id, in order.
	ops := func(body string) map[string][]string {
		m := map[string][]string{}
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			op := lines[i]
			id := op[strings.Index(op, `"_id":"`)+7:]
			id = id[:strings.IndexByte(id, '"')]
			if !strings.HasPrefix(op, `{"delete"`) {
				i++
				op += "\n" + lines[i]
			}
			m[id] = append(m[id], op)
		}
		return m
	}
	want := ops(one.bodies[0])
	got := map[string][]string{}
	for _, b := range many.bodies {
		for id, o := range ops(b) {
			if _, dup := got[id]; dup {
				t.Errorf("document %s is in two requests", id)
			}
			got[id] = o
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d documents, want %d", len(got), len(want))
	}
	for id, w := range want {
		if strings.Join(got[id], "\n") != strings.Join(w, "\n") {
			t.Errorf("document %s:\n got %q\nwant %q", id, got[id], w)
		}
	}
}

// failingLane fails (no response) the request that carries document
// "7"; the other requests stay in flight until the Write gives up on
// them.
type failingLane struct {
	fakeClient
	started chan struct{}
	once    sync.Once
}

func (c *failingLane) Bulk(ctx context.Context, body []byte, fp string) (Response, error) {
	c.mu.Lock()
	c.bodies = append(c.bodies, string(body))
	c.mu.Unlock()
	if bytes.Contains(body, []byte(`"_id":"7"`)) {
		<-c.started // fail only once another lane is in flight
		return Response{}, errors.New("connection reset by peer")
	}
	c.once.Do(func() { close(c.started) })
	<-ctx.Done()
	return Response{}, ctx.Err()
}

// TestLaneFailureFailsTheWrite: when one lane's request fails, the Write
// returns that error (a plain one, retried by the engine, not the
// cancellation of the other lanes) and so the batch is not acknowledged;
// the other lanes' requests are abandoned.
func TestLaneFailureFailsTheWrite(t *testing.T) {
	c := &failingLane{started: make(chan struct{})}
	s := newLanes(t, c, 4, nil)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, ev(event.OpRead, 0, nil, r(int64(i), "a", event.Null)))
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), evs) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write did not return after a lane failed")
	}
	if err == nil || err.Error() != "test: bulk request: connection reset by peer" || component.IsPermanent(err) {
		t.Fatalf("got %v, want the failed lane's plain error", err)
	}
	var rec component.RecordErrors
	if errors.As(err, &rec) {
		t.Fatalf("got record errors %v", err)
	}
	if len(c.bodies) < 2 {
		t.Fatalf("%d requests; want the lanes in flight together", len(c.bodies))
	}
	// A later Write, with the cluster back, writes everything.
	fc := &fakeClient{}
	s.client = fc
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(fc.bodies, ""), `{"index"`); n != 40 {
		t.Errorf("%d operations written after the failure, want 40", n)
	}
}

// TestLanesRecordErrorsAndPushBack: rejected items in any lane come back
// as record errors in event order, and items pushed back in one lane are
// sent again in that lane only.
func TestLanesRecordErrorsAndPushBack(t *testing.T) {
	c := &scriptedLanes{tries: map[string]int{}}
	s := newLanes(t, c, 4, nil)
	var evs []event.Event
	for i := range 40 {
		evs = append(evs, ev(event.OpRead, 0, nil, r(int64(i), "a", event.Null)))
	}
	err := s.Write(context.Background(), evs)
	var rec component.RecordErrors
	if !errors.As(err, &rec) || len(rec) != 2 || rec[0].Index != 5 || rec[1].Index != 30 {
		t.Fatalf("got %v, want record errors for events 5 and 30", err)
	}
	if c.tries["9"] != 2 || c.tries["10"] != 1 {
		t.Errorf("document 9 sent %d times (pushed back once), document 10 %d times", c.tries["9"], c.tries["10"])
	}
}

// scriptedLanes rejects documents 5 and 30 for good and pushes document 9
// back once.
type scriptedLanes struct {
	fakeClient
	tries map[string]int
}

func (c *scriptedLanes) Bulk(_ context.Context, body []byte, _ string) (Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var items []string
	errs := false
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		i := strings.Index(line, `"_id":"`)
		if i < 0 || !strings.HasPrefix(line, `{"index"`) {
			continue
		}
		id := line[i+7:]
		id = id[:strings.IndexByte(id, '"')]
		c.tries[id]++
		switch {
		case id == "5" || id == "30":
			errs = true
			items = append(items, `{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}`)
		case id == "9" && c.tries[id] == 1:
			errs = true
			items = append(items, `{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}`)
		default:
			items = append(items, `{"index":{"status":201}}`)
		}
	}
	return Response{Status: 200, Body: fmt.Appendf(nil, `{"errors":%v,"items":[%s]}`, errs, strings.Join(items, ","))}, nil
}
