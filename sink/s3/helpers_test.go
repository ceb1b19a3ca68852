package s3

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

func TestMain(m *testing.M) {
	sdkAttempts = 1 // outages show at once; the tests retry like the engine
	os.Exit(m.Run())
}

// memStore keeps objects in memory: it tests the spool and rotation logic
// without a server (the S3 client is tested against one in s3_test.go).
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	puts []string // every put, in order
	fail error    // when set, put fails with it
	// beforePut, when set, sees the name of the file the object is read
	// from (the sealed spool, or a built Parquet file) before it is put.
	beforePut func(path string)
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) put(_ context.Context, key string, obj object, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.beforePut != nil {
		m.beforePut(obj.name)
	}
	b, err := io.ReadAll(io.NewSectionReader(obj.r, 0, obj.size))
	if err != nil {
		return err
	}
	m.objs[key] = b
	m.puts = append(m.puts, key)
	return nil
}

func (m *memStore) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.objs))
}

func (m *memStore) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[key]
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestSink builds a sink on store with a state directory dir.
func newTestSink(t *testing.T, cfg Config, dir string, store objectStore) *Sink {
	t.Helper()
	s, err := New(cfg, component.Env{Name: "lake", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.store = store
	// A test that leaves its sink open must not have the sink's background
	// uploads (retries, the rotation ticker) write into dir while the
	// test's cleanup removes it: stop them as a crash would, first (the
	// cleanups run in reverse, dir's TempDir was made before).
	t.Cleanup(func() { crash(s) })
	return s
}

// crash abandons a sink as a killed process would: open files are closed
// (the process is gone) without sealing, uploading or saving anything.
func crash(s *Sink) {
	if s.bgCancel != nil {
		s.bgCancel()
		<-s.bgDone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discardUploads() // an upload in flight may finish: a crash just after it
	for _, sp := range s.open {
		sp.close()
	}
}

// settle waits until every sealed object is uploaded (or an upload failed):
// the upload in flight, then the objects sealed behind it.
func settle(s *Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joinUploads()
	if !s.upFailed {
		// Objects sealed behind the upload that was in flight.
		s.startUploads()
		s.joinUploads()
	}
}

// baseMs is 2024-01-01T10:00:00Z.
var baseMs = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli()

var usersSchema = &event.Schema{
	Stream: "pg.public.users", Source: "pg", Connector: "postgresql", Database: "shop",
	Namespace: "public", Table: "users", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true},
		{Name: "name", Type: event.TypeString, TypeName: "text", Optional: true},
	},
	KeyIdx: []int{0},
}

// change returns the i-th streamed change of users (i from 1): commit LSN
// 0x1000*i, change LSN 0x1000*i-8, committed i seconds after baseMs.
func change(i int, op event.Op) event.Event {
	row := []event.Value{event.Int(int64(i)), event.String(fmt.Sprintf("user %d", i))}
	e := event.Event{
		Schema: usersSchema, Op: op, TsMs: baseMs + int64(i)*1000 + 5,
		Source: event.Source{TsUs: (baseMs + int64(i)*1000) * 1000, LSN: uint64(0x1000*i - 8), CommitLSN: uint64(0x1000 * i), HasLSN: true, TxID: int64(700 + i), HasTxID: true},
	}
	switch op {
	case event.OpDelete:
		e.Before = row
	default:
		e.After = row
	}
	return e
}

func changes(from, to int) []event.Event {
	var evs []event.Event
	for i := from; i <= to; i++ {
		evs = append(evs, change(i, event.OpCreate))
	}
	return evs
}

// snapshotRow is a snapshot read of users row i.
func snapshotRow(i int) event.Event {
	return event.Event{
		Schema: usersSchema, Op: event.OpRead, TsMs: baseMs,
		After:  []event.Value{event.Int(int64(i)), event.String(fmt.Sprintf("user %d", i))},
		Source: event.Source{TsUs: baseMs * 1000, Snapshot: event.SnapshotTrue, LSN: 0x500, HasLSN: true},
	}
}

func rowConfig() Config {
	cfg := *DefaultConfig()
	cfg.Bucket = "lake"
	cfg.Prefix = "cdc"
	cfg.Format = "row"
	cfg.Unwrap.AddFields = []string{"op", "lsn"}
	cfg.FlushSize = 3
	cfg.RotateBytes = 0
	return cfg
}

func write(t *testing.T, s *Sink, evs []event.Event) {
	t.Helper()
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}
