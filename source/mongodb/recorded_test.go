package mongodb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// recorded is a server whose change streams replay recorded change events
// (MongoDB's documented format, canonical Extended JSON under
// testdata/changestream). The Run loop reads them through the same
// changeStream interface as the driver's stream.
type recorded struct {
	start  bson.Raw   // the token a stream opened "now" starts at
	events []bson.Raw // the changes after start, in order
	lost   error      // watch's error for a token it does not know (history lost)
	docs   map[string]bson.Raw
	failAt int // the first stream fails once before returning events[failAt] (0: never)
	failed bool

	mu      sync.Mutex
	watches []string      // what watch was asked, for the golden output
	drained chan struct{} // closed once a stream has returned every event
	once    sync.Once
}

func newRecorded(t *testing.T, files ...string) *recorded {
	t.Helper()
	r := &recorded{start: tokenDoc("8265000000000000012B0229296E04"), drained: make(chan struct{}), docs: map[string]bson.Raw{}}
	for _, f := range files {
		r.events = append(r.events, loadEvents(t, f)...)
	}
	return r
}

// tokenDoc builds a resume token document {_data: data}.
func tokenDoc(data string) bson.Raw {
	b, err := bson.Marshal(bson.D{{Key: "_data", Value: data}})
	if err != nil {
		panic(err)
	}
	return b
}

// loadEvents reads a JSON array of change events in canonical Extended
// JSON.
func loadEvents(t testing.TB, name string) []bson.Raw {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "changestream", name))
	if err != nil {
		t.Fatal(err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]bson.Raw, len(items))
	for i, it := range items {
		if err := bson.UnmarshalExtJSON(it, true, &out[i]); err != nil {
			t.Fatalf("%s: event %d: %v", name, i, err)
		}
	}
	return out
}

// loadServerError reads a recorded server error reply as the driver
// reports it.
func loadServerError(t testing.TB, name string) error {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "changestream", name))
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Code     int32    `bson:"code"`
		CodeName string   `bson:"codeName"`
		ErrMsg   string   `bson:"errmsg"`
		Labels   []string `bson:"errorLabels"`
	}
	if err := bson.UnmarshalExtJSON(b, true, &reply); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return mongo.CommandError{Code: reply.Code, Name: reply.CodeName, Message: reply.ErrMsg, Labels: reply.Labels}
}

func (r *recorded) probeStreams(context.Context) error { return nil }

func (r *recorded) collections(context.Context, string) ([]string, error) { return nil, nil }

func (r *recorded) lookup(_ context.Context, _, _ string, idType byte, idVal []byte) (bson.Raw, error) {
	return r.docs[fmt.Sprintf("%d:%x", idType, idVal)], nil
}

func (r *recorded) watch(_ context.Context, w *watchSpec, resumeAfter bson.Raw) (changeStream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desc := "watch " + w.scope() + " from now"
	if resumeAfter != nil {
		desc = "watch " + w.scope() + " after " + tokenText(resumeAfter)
	}
	r.watches = append(r.watches, desc)
	next := 0
	if resumeAfter != nil && !bytes.Equal(resumeAfter, r.start) {
		next = -1
		for i, ev := range r.events {
			if bytes.Equal(ev.Lookup("_id").Document(), resumeAfter) {
				next = i + 1
			}
		}
		if next < 0 {
			if r.lost != nil {
				return nil, r.lost
			}
			return nil, errors.New("recorded: unknown resume token")
		}
	}
	return &recordedStream{r: r, next: next, tok: r.start}, nil
}

// recordedStream delivers the recorded events as one server batch.
type recordedStream struct {
	r    *recorded
	next int
	cur  bson.Raw
	tok  bson.Raw
	err  error
}

func (s *recordedStream) TryNext(ctx context.Context) bool {
	s.r.mu.Lock()
	fail := s.r.failAt > 0 && s.next == s.r.failAt && !s.r.failed
	if fail {
		s.r.failed = true
	}
	s.r.mu.Unlock()
	if fail {
		// What the driver reports when its own resume attempt fails too.
		s.err = errors.New("connection(127.0.0.1:27017[-7]) incomplete read of message header: connection reset by peer")
		return false
	}
	if s.next < len(s.r.events) {
		s.cur = s.r.events[s.next]
		s.tok = s.cur.Lookup("_id").Document()
		s.next++
		return true
	}
	s.r.once.Do(func() { close(s.r.drained) })
	// An idle server waits maxAwaitTime before an empty answer.
	select {
	case <-ctx.Done():
		s.err = ctx.Err()
	case <-time.After(20 * time.Millisecond):
	}
	return false
}

func (s *recordedStream) Current() bson.Raw           { return s.cur }
func (s *recordedStream) ResumeToken() bson.Raw       { return s.tok }
func (s *recordedStream) Buffered() int               { return len(s.r.events) - s.next }
func (s *recordedStream) Err() error                  { return s.err }
func (s *recordedStream) Close(context.Context) error { return nil }
