package ksqldb

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/registry"
	sinktl "github.com/sluice-dev/sluice/sink/topiclog"
	"github.com/sluice-dev/sluice/supervisor"
)

// testServer is `sluice serve`'s API in process, topics in the topic log.
type testServer struct {
	url   string
	state string
	sup   *supervisor.Supervisor
	logs  *lockedWriter
	close func()
}

type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(t testing.TB, state string) *testServer {
	t.Helper()
	logs := &lockedWriter{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := registry.Default()
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log})
	topics := connect.LogTopics{Dir: filepath.Join(state, "topics")}
	cs, err := connect.Open(connect.Options{StateDir: state, Registry: reg, Supervisor: sup, Topics: topics, Logger: log, Version: "test", WorkerID: "127.0.0.1:8083"})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := Open(Options{StateDir: state, Registry: reg, Supervisor: sup, Topics: topics, LogDir: topics.Dir, Connect: cs.Handler(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(Mount(cs.Handler(), ks.Handler()))
	ts := &testServer{url: hs.URL, state: state, sup: sup, logs: logs}
	closed := false
	ts.close = func() {
		if closed {
			return
		}
		closed = true
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
	}
	t.Cleanup(ts.close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

// post sends body to path and returns the status and the body.
func (ts *testServer) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(ts.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ksql runs statements through POST /ksql.
func (ts *testServer) ksql(t *testing.T, stmts string, props map[string]string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"ksql": stmts, "streamsProperties": props})
	return ts.post(t, "/ksql", string(b))
}

// mustKsql runs statements and fails the test unless they succeed.
func (ts *testServer) mustKsql(t *testing.T, stmts string, props map[string]string) string {
	t.Helper()
	code, body := ts.ksql(t, stmts, props)
	if code != 200 {
		t.Fatalf("%s: %d %s", stmts, code, body)
	}
	return body
}

// customersSchema is what the Debezium PostgreSQL connector's records of
// seed 004's customers table decode to.
var customersSchema = &event.Schema{
	Stream: "customers.public.customers", Source: "customers", Connector: "postgresql", Database: "customers", Namespace: "public", Table: "customers", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeString, TypeName: "text", Key: true},
		{Name: "name", Type: event.TypeString, TypeName: "text", Optional: true},
		{Name: "age", Type: event.TypeInt32, TypeName: "int4", Optional: true},
	},
	KeyIdx: []int{0},
}

func customer(id, name string, age int64) event.Event {
	return event.Event{Schema: customersSchema, Op: event.OpCreate, After: []event.Value{event.String(id), event.String(name), event.Int(age)},
		Source: event.Source{TsUs: 1_700_000_000_000_000}, TsMs: 1_700_000_000_000}
}

// feed appends events to the topic log as a Debezium source connector
// does (the topiclog sink, Debezium's envelope with its schema).
func feed(t *testing.T, state string, events ...event.Event) {
	t.Helper()
	cfg := sinktl.DefaultConfig()
	cfg.Dir = filepath.Join(state, "topics")
	cfg.Format = "debezium+schema"
	s, err := sinktl.New(*cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// compact is want as the server writes it: compact JSON and a newline.
func compact(t *testing.T, want string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(want)); err != nil {
		t.Fatalf("bad want: %v: %s", err, want)
	}
	return b.String() + "\n"
}
