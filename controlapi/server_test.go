package controlapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// TestNoRoute: what the API has no route for is answered in Connect's
// error shape: 404, and 405 with Allow for a known path with another
// method.
func TestNoRoute(t *testing.T) {
	sup := supervisor.New(supervisor.Options{Registry: registry.Default()})
	h := New(Options{Supervisor: sup}).Handler()
	for _, tc := range []struct{ method, path, want, allow string }{
		{"GET", "/pipelines/a/b/c", `{"error_code":404,"message":"HTTP 404 Not Found"}`, ""},
		{"DELETE", "/pipelines/a/pause", `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`, "PUT"},
		{"GET", "/pipelines/a/status", `{"error_code":404,"message":"Pipeline a not found"}`, ""},
		{"GET", "/pipelines", `[]`, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		b, _ := io.ReadAll(rec.Body)
		if strings.TrimSpace(string(b)) != tc.want || rec.Header().Get("Allow") != tc.allow || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q %q %s", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Allow"), b)
		}
	}
}

// TestTargets: pause, stop and resume of a file's pipeline store its
// target before answering; a connector's pipeline is refused; a damaged
// target file is an error naming it.
func TestTargets(t *testing.T) {
	dir := t.TempDir()
	reg := registry.Default()
	g, err := config.Load("p.yaml", []byte("name: p\nstate_dir: "+filepath.Join(dir, "state")+"\nsources:\n  gen: {type: generator, tables: [product], rate: 10}\nsinks:\n  out: {type: stdout, inputs: [gen], format: row}\n"), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{Registry: reg})
	t.Cleanup(func() { sup.Shutdown(context.Background()) })
	if err := sup.Add(g); err != nil {
		t.Fatal(err)
	}
	h := New(Options{Supervisor: sup, Origin: func(p string) (Origin, bool) {
		return Origin{Kind: KindFile, File: "p.yaml", Dir: dir}, p == "p"
	}}).Handler()
	do := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	for _, tc := range []struct {
		method, path string
		target       supervisor.State
	}{
		{"PUT", "/pipelines/p/pause", supervisor.Paused},
		{"PUT", "/pipelines/p/stop", supervisor.Stopped},
		{"PUT", "/pipelines/p/resume", supervisor.Running},
		{"POST", "/pipelines/p/restart", supervisor.Running},
	} {
		if code, b := do(tc.method, tc.path); code != 202 {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, code, b)
		}
		if got, err := LoadTarget(dir); err != nil || got != tc.target {
			t.Fatalf("after %s: target %s %v, want %s", tc.path, got, err, tc.target)
		}
	}
	if code, b := do("PUT", "/pipelines/other/pause"); code != 404 || b != `{"error_code":404,"message":"Pipeline other not found"}` {
		t.Errorf("unknown pipeline: %d %s", code, b)
	}
	if err := os.WriteFile(filepath.Join(dir, "target.json"), []byte(`{"target":"GONE"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTarget(dir); err == nil || err.Error() != filepath.Join(dir, "target.json")+" is damaged (hint: remove it; the pipeline then starts RUNNING)" {
		t.Errorf("damaged: %v", err)
	}
	if got, err := LoadTarget(t.TempDir()); err != nil || got != supervisor.Running {
		t.Errorf("none stored: %s %v", got, err)
	}
}

// TestStatusSlots: the status carries the slots the Slots hook reports,
// and none when it reports none.
func TestStatusSlots(t *testing.T) {
	dir := t.TempDir()
	reg := registry.Default()
	g, err := config.Load("p.yaml", []byte("name: p\nstate_dir: "+filepath.Join(dir, "state")+"\nsources:\n  gen: {type: generator, tables: [product], rate: 10}\nsinks:\n  out: {type: stdout, inputs: [gen], format: row}\n"), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{Registry: reg})
	t.Cleanup(func() { sup.Shutdown(context.Background()) })
	if err := sup.AddState(g, supervisor.Paused); err != nil {
		t.Fatal(err)
	}
	retained := int64(4096)
	slots := []component.Slot{{Source: "pg", Name: "sluice_p_pg", Active: true, WALStatus: "reserved", RetainedWALBytes: &retained,
		Warning: "retained WAL is past warn_retained_wal (1 KiB)", MeasuredAt: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}}
	h := New(Options{Supervisor: sup, Slots: func(p string) []component.Slot {
		if p == "p" {
			return slots
		}
		return nil
	}}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/pipelines/p/status", nil))
	var got map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := `[{"source":"pg","slot":"sluice_p_pg","active":true,"wal_status":"reserved","retained_wal_bytes":4096,"warning":"retained WAL is past warn_retained_wal (1 KiB)","measured_at":"2026-12-06T12:00:00Z"}]`
	if string(got["slots"]) != want {
		t.Fatalf("slots %s\nwant  %s", got["slots"], want)
	}
	slots = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/pipelines/p/status", nil))
	if strings.Contains(rec.Body.String(), "slots") {
		t.Fatalf("no slots: %s", rec.Body)
	}
}
