package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/registry"
)

// pickySink rejects every event whose id is even, as a search engine rejects
// documents that do not fit its mapping, and keeps the others.
type pickySink struct{ kept *[]int64 }

func (p pickySink) Write(_ context.Context, evs []event.Event) error {
	var rejected component.RecordErrors
	for i, e := range evs {
		id := e.Key()[0].AsInt()
		if id%2 == 0 {
			rejected = append(rejected, component.RecordError{Index: i, Err: fmt.Errorf("id %d: even ids are not welcome", id)})
			continue
		}
		*p.kept = append(*p.kept, id)
	}
	if rejected != nil {
		return rejected
	}
	return nil
}
func (pickySink) Close(context.Context) error { return nil }

// A sink's dead_letter is any sink type, built from the registry and wired
// by Run: the rejected events land in it as dead-letter records and the
// pipeline goes on.
func TestDeadLetterIntoFileSink(t *testing.T) {
	dir := t.TempDir()
	var kept []int64
	reg := registry.Default()
	reg.Sinks["picky"] = component.SinkFactory{
		Config: func() any { return &struct{}{} },
		New:    func(any, component.Env) (component.Sink, error) { return pickySink{&kept}, nil },
	}
	src := fmt.Sprintf(`state_dir: %s
sources:
  gen:
    type: generator
    tables: [product]
    count: 10
    seed: 7
    operations: {insert: 1, update: 0, delete: 0}
sinks:
  picky:
    type: picky
    inputs: [gen]
    dead_letter:
      type: file
      path: %s
      format: row
`, filepath.Join(dir, "state"), filepath.Join(dir, "dlq.jsonl"))
	p, err := config.Load("p.yaml", []byte(src), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- Run(ctx, p, reg, log, nil) }()
	deadline := time.Now().Add(20 * time.Second)
	var recs []map[string]any
	for len(recs) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d dead-letter records", len(recs))
		}
		recs = readJSONLines(t, filepath.Join(dir, "dlq.jsonl"))
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if fmt.Sprint(kept) != "[1 3 5 7 9]" {
		t.Fatalf("sink kept %v", kept)
	}
	if len(recs) != 5 {
		t.Fatalf("%d dead-letter records, want 5", len(recs))
	}
	for i, r := range recs {
		id := 2 * (i + 1)
		want := map[string]any{
			"sink": "picky", "error": fmt.Sprintf("id %d: even ids are not welcome", id),
			"stream": "gen.public.product", "op": "c", "key": fmt.Sprintf(`{"id":%d}`, id),
		}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, r[k], v)
			}
		}
		var ev struct {
			After struct{ ID int64 } `json:"after"`
			Op    string
		}
		if err := json.Unmarshal([]byte(r["event"].(string)), &ev); err != nil || ev.After.ID != int64(id) || ev.Op != "c" {
			t.Errorf("record %d: event %v (%v)", i, r["event"], err)
		}
		if r["position"] == "" {
			t.Errorf("record %d has no position", i)
		}
	}
}

func readJSONLines(t *testing.T, path string) []map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// TestWrongSQLSinkPasswordNamesTheKey is issue 9's case end to end: a
// mysql sink with a wrong password stops the pipeline with the user, the
// server and the key of the pipeline file to fix, and never the password.
func TestWrongSQLSinkPasswordNamesTheKey(t *testing.T) {
	base := svctest.Need(t, svctest.MariaDB)
	mc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	mc.User, mc.Passwd = "sluice_nobody", "canary-Pw-7731"
	dir := t.TempDir()
	src := fmt.Sprintf(`state_dir: %s
sources:
  gen:
    type: generator
    tables: [product]
    count: 3
sinks:
  db:
    type: mysql
    inputs: [gen]
    dsn: ${DB_DSN}
`, filepath.Join(dir, "state"))
	reg := registry.Default()
	p, err := config.Load("p.yaml", []byte(src), reg, func(k string) (string, bool) { return mc.FormatDSN(), k == "DB_DSN" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = Run(ctx, p, reg, slog.New(slog.DiscardHandler), nil)
	host, _, _ := net.SplitHostPort(mc.Addr)
	want := `sink db: mysql sink: ` + mc.Addr + ` refused user "sluice_nobody": error 1045: Access denied for user 'sluice_nobody'@'` + host +
		`' (using password: YES); check the user and password in sinks.db.dsn (a ${VAR} there is read from the environment), ` +
		`and that the server has this user for this client's host (CREATE USER 'user'@'host')`
	if err == nil || err.Error() != want || strings.Contains(err.Error(), "canary") {
		t.Fatalf("Run = %v\nwant %s", err, want)
	}
}

// TestEnvPath: components learn where the pipeline file configures them
// (Env.Path), so that their messages name the keys to fix.
func TestEnvPath(t *testing.T) {
	reg := registry.Default()
	keys := map[string]string{}
	gen := reg.Sources["generator"]
	reg.Sources["probe"] = component.SourceFactory{
		Config: gen.Config,
		New: func(cfg any, env component.Env) (component.Source, error) {
			keys[env.Name] = env.Key("dsn")
			return gen.New(cfg, env)
		},
	}
	reg.Sinks["probe"] = component.SinkFactory{
		Config: func() any { return &struct{}{} },
		New: func(_ any, env component.Env) (component.Sink, error) {
			keys[env.Name] = env.Key("password")
			return pickySink{new([]int64)}, nil
		},
	}
	src := fmt.Sprintf(`state_dir: %s
sources:
  src:
    type: probe
    tables: [product]
sinks:
  out:
    type: probe
    inputs: [src]
    dead_letter:
      type: probe
`, filepath.Join(t.TempDir(), "state"))
	p, err := config.Load("p.yaml", []byte(src), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // build the components, run nothing
	_ = Run(ctx, p, reg, slog.New(slog.DiscardHandler), nil)
	want := map[string]string{"src": "sources.src.dsn", "out": "sinks.out.password", "out-dead-letter": "sinks.out.dead_letter.password"}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

// A coordinated pipeline with a stateful processor is refused before the
// node connects to the lease table or plans a shared snapshot: the chunk
// runs could not keep the processor's state either, so the node would
// otherwise wait for chunks that never finish.
func TestCoordinatedStatefulRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	src := fmt.Sprintf(`state_dir: %s/state
coordination:
  type: postgres
  dsn: postgres://sluice@127.0.0.1:1/none
sources:
  gen:
    type: generator
    tables: [product]
    count: 10
processors:
  count: {type: counter, inputs: [gen]}
sinks:
  out: {type: file, inputs: [count], path: %s/out.jsonl, format: row}
`, dir, dir)
	reg := counterRegistry()
	p, err := config.Load("p.yaml", []byte(src), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = RunCoordinated(ctx, p, reg, slog.New(slog.DiscardHandler), Hooks{})
	const want = "processor count: keeps operator state, which is not shared between nodes yet: remove coordination: or run the pipeline on one node"
	if err == nil || err.Error() != want {
		t.Fatalf("RunCoordinated: %v; want %s", err, want)
	}
	if ctx.Err() != nil {
		t.Fatal("refused only after waiting for the store")
	}
}
