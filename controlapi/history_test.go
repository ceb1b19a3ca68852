package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// TestHistory: GET /pipelines/{name}/history serves the pipeline's
// metrics.History, its errors scrubbed; 404 for a pipeline without
// metrics, or without a History. A pipeline without a state directory
// (sluice run) pauses and resumes without storing a target.
func TestHistory(t *testing.T) {
	dir := t.TempDir()
	reg := registry.Default()
	g, err := config.Load("p.yaml", []byte("name: p\nstate_dir: "+filepath.Join(dir, "state")+"\nsources:\n  gen: {type: generator, tables: [product], rate: 10}\nsinks:\n  out: {type: stdout, inputs: [gen], format: row}\n"), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	sup := supervisor.New(supervisor.Options{Registry: reg, Observe: func(p *app.Pipeline) any { return m.Pipeline(p.Graph.Name) }})
	t.Cleanup(func() { sup.Shutdown(context.Background()) })
	if err := sup.Add(g); err != nil {
		t.Fatal(err)
	}
	m.Pipeline("p").ObserveRetry("out", 2, errors.New("write: password hunter2 refused"))
	hist := m.NewHistory(time.Second, 10)
	hist.Sample(time.Now())
	scrub := func(s string) string { return strings.ReplaceAll(s, "hunter2", "*****") }
	origin := func(p string) (Origin, bool) { return Origin{Kind: KindFile, File: "p.yaml"}, p == "p" }
	h := New(Options{Supervisor: sup, History: hist, Scrub: scrub, Origin: origin}).Handler()
	do := func(h2 interface {
		ServeHTTP(w http.ResponseWriter, r *http.Request)
	}, method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h2.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	code, b := do(h, "GET", "/pipelines/p/history")
	var got metrics.PipelineHistory
	if err := json.Unmarshal([]byte(b), &got); code != 200 || err != nil {
		t.Fatalf("history: %d %s %v", code, b, err)
	}
	if got.Pipeline != "p" || len(got.Samples) != 1 || len(got.Errors) != 1 || got.Errors[0].Message != "write: password ***** refused" || got.Errors[0].Node != "out" || got.Errors[0].Attempt != 2 {
		t.Errorf("history %s", b)
	}
	if code, b := do(h, "GET", "/pipelines/other/history"); code != 404 || b != `{"error_code":404,"message":"Pipeline other not found"}` {
		t.Errorf("unknown pipeline: %d %s", code, b)
	}
	noHist := New(Options{Supervisor: sup, Origin: origin}).Handler()
	if code, b := do(noHist, "GET", "/pipelines/p/history"); code != 404 || b != `{"error_code":404,"message":"Pipeline p has no history yet (hint: it has not started)"}` {
		t.Errorf("without a History: %d %s", code, b)
	}

	for _, tc := range []struct {
		method, path string
		state        supervisor.State
	}{
		{"PUT", "/pipelines/p/pause", supervisor.Paused},
		{"PUT", "/pipelines/p/resume", supervisor.Running},
	} {
		if code, b := do(h, tc.method, tc.path); code != 202 {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, code, b)
		}
		if st, _ := sup.Status("p"); st.State != tc.state {
			t.Errorf("after %s: %s, want %s", tc.path, st.State, tc.state)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*", "target.json")); len(matches) != 0 {
		t.Errorf("targets stored without a Dir: %v", matches)
	}
}
