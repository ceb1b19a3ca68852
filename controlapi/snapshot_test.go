package controlapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// snapSource is a source that takes incremental snapshot requests.
type snapSource struct {
	name string
	got  *[]string
	mu   *sync.Mutex
	fail error
}

func (s *snapSource) Run(ctx context.Context, _ []byte, _ component.Emitter) error {
	<-ctx.Done()
	return nil
}
func (s *snapSource) Committed(context.Context, []byte) error { return nil }
func (s *snapSource) Close() error                            { return nil }
func (s *snapSource) RequestSnapshot(_ context.Context, req component.SnapshotRequest) error {
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.got = append(*s.got, s.name+" "+strings.Join(req.Tables, ",")+" "+condText(req.Conditions)+map[bool]string{true: " stop"}[req.Stop])
	return nil
}

func condText(cs []component.SnapshotCondition) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Table+":"+c.Filter)
	}
	return "[" + strings.Join(parts, ";") + "]"
}

type snapConfig struct {
	Fail string `yaml:"fail"`
}

// TestSnapshotRoute: POST /pipelines/{name}/snapshot hands the request to
// the pipeline's source that takes incremental snapshots (built from the
// pipeline's graph, not the running instance), and answers 202 with it;
// a bad body, a pipeline without such a source, several of them, and the
// source's failure each get their error.
func TestSnapshotRoute(t *testing.T) {
	var mu sync.Mutex
	var got []string
	reg := registry.Default()
	reg.Sources["snap"] = component.SourceFactory{Doc: "test", Config: func() any { return &snapConfig{} },
		New: func(cfg any, env component.Env) (component.Source, error) {
			s := &snapSource{name: env.Pipeline + "." + env.Name, got: &got, mu: &mu}
			if f := cfg.(*snapConfig).Fail; f != "" {
				s.fail = errors.New(f)
			}
			return s, nil
		}}
	dir := t.TempDir()
	sup := supervisor.New(supervisor.Options{Registry: reg})
	t.Cleanup(func() { sup.Shutdown(context.Background()) })
	for _, p := range []struct{ name, sources string }{
		{"one", "  db: {type: snap}\n  gen: {type: generator, tables: [product], rate: 1}\n"},
		{"two", "  a: {type: snap}\n  b: {type: snap}\n"},
		{"none", "  gen: {type: generator, tables: [product], rate: 1}\n"},
		{"broken", "  db: {type: snap, fail: \"connect: connection refused\"}\n"},
	} {
		g, err := config.Load(p.name+".yaml", []byte("name: "+p.name+"\nstate_dir: "+filepath.Join(dir, p.name)+"\nsources:\n"+p.sources+
			"sinks:\n  out: {type: stdout, inputs: ['*'], format: row}\n"), reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sup.AddState(g, supervisor.Stopped); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Options{Supervisor: sup}).Handler()
	for _, tc := range []struct {
		path, body string
		code       int
		resp       string
	}{
		{"/pipelines/one/snapshot", `{"tables": ["public.t"], "conditions": [{"table": "public.t", "filter": "id IN (1,5,9)"}]}`, 202,
			`{"tables":["public.t"],"conditions":[{"table":"public.t","filter":"id IN (1,5,9)"}]}`},
		{"/pipelines/two/snapshot", `{"source": "b", "tables": ["s.x"], "stop": true}`, 202, `{"source":"b","tables":["s.x"],"stop":true}`},
		{"/pipelines/two/snapshot", `{"tables": ["s.x"]}`, 502,
			`{"error_code":502,"message":"pipeline two has several sources that take incremental snapshots (a, b): name one"}`},
		{"/pipelines/none/snapshot", `{"tables": ["s.x"]}`, 409,
			`{"error_code":409,"message":"pipeline none: no source that takes incremental snapshots (postgres and mysql sources do)"}`},
		{"/pipelines/broken/snapshot", `{"tables": ["s.x"]}`, 502, `{"error_code":502,"message":"connect: connection refused"}`},
		{"/pipelines/one/snapshot", `{"tables": []}`, 400, `{"error_code":400,"message":"Name the tables to snapshot: {\"tables\": [\"schema.table\"]}"}`},
		{"/pipelines/one/snapshot", `{"table": "x"}`, 400,
			`{"error_code":400,"message":"Request body is not {\"tables\": [\"schema.table\", ...], \"conditions\": [{\"table\": ..., \"filter\": ...}], \"source\": ..., \"stop\": false}: json: unknown field \"table\""}`},
		{"/pipelines/nope/snapshot", `{"tables": ["s.x"]}`, 404, `{"error_code":404,"message":"Pipeline nope not found"}`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)))
		if b := strings.TrimSpace(rec.Body.String()); rec.Code != tc.code || b != tc.resp {
			t.Errorf("POST %s %s: %d %s, want %d %s", tc.path, tc.body, rec.Code, b, tc.code, tc.resp)
		}
	}
	want := []string{"one.db public.t [public.t:id IN (1,5,9)]", "two.b s.x [] stop"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}
