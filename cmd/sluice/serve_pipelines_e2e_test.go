package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pipeStatus is an element of GET /pipelines.
type pipeStatus struct {
	Name, Kind, File, Connector, State, Error string
	Restarts                                  int
}

func (r *serveRun) pipelines(t *testing.T) map[string]pipeStatus {
	t.Helper()
	var list []pipeStatus
	if err := json.Unmarshal(r.expect(t, "GET", "/pipelines", "", 200), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]pipeStatus{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

func (r *serveRun) waitPipeline(t *testing.T, name, state string) pipeStatus {
	t.Helper()
	var st pipeStatus
	waitFor(t, 60*time.Second, "pipeline "+name+" "+state, r.dir, func() bool {
		code, b := r.call(t, "GET", "/pipelines/"+name+"/status", "")
		st = pipeStatus{}
		return code == 200 && json.Unmarshal(b, &st) == nil && st.State == state
	})
	return st
}

// killServe SIGKILLs a server and reaps it.
func (r *serveRun) killServe() { kill(r.cmd) }

// TestServePipelineFiles: `sluice serve DIR` runs the directory's pipeline
// files beside the stored connectors; GET /pipelines lists both kinds; the
// pipelines API pauses, stops, resumes and restarts a file's pipeline,
// whose target state survives kill -9; a connector's pipeline is driven
// through /connectors only (409); a connector cannot take a file
// pipeline's name (409), and a file cannot take a stored connector's (exit
// 2 at start, naming both).
func TestServePipelineFiles(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	pipes := filepath.Join(dir, "pipes")
	filesDir := filepath.Join(dir, "files")
	for _, d := range []string{pipes, filesDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	genFile := filepath.Join(pipes, "gen.yaml")
	out := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(genFile, []byte(fmt.Sprintf(`name: gen
sources:
  gen: {type: generator, tables: [product], rate: 20, seed: 7}
sinks:
  out: {type: file, inputs: [gen], path: %s, format: row}
`, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filesDir, "in.txt"), []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--state-dir", state, "--files", filesDir, pipes}
	s := startServe(t, dir, nil, args...)
	s.waitPipeline(t, "gen", "RUNNING")
	s.expect(t, "PUT", "/connectors/fs/config", `{"connector.class":"FileStreamSource","file":"in.txt","topic":"lines"}`, 201)
	s.waitRunning(t, "fs")

	got := s.pipelines(t)
	want := map[string]pipeStatus{
		"gen": {Name: "gen", Kind: "file", File: genFile, State: "RUNNING"},
		"fs":  {Name: "fs", Kind: "connector", Connector: "fs", State: "RUNNING"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GET /pipelines: %v\nwant %v", got, want)
	}
	info := s.expect(t, "GET", "/pipelines/gen", "", 200)
	var gi struct {
		Sources, Processors, Sinks []struct {
			Name, Type string
			Inputs     []string
		}
	}
	if err := json.Unmarshal(info, &gi); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gi) != "{[{gen generator []}] [] [{out file [gen]}]}" {
		t.Fatalf("GET /pipelines/gen: %s", info)
	}
	waitFor(t, 30*time.Second, "rows in "+out, dir, func() bool { return fileSize(out) > 0 })

	// Errors, in Connect's shape.
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/pipelines/nope/status", "", 404, `{"error_code":404,"message":"Pipeline nope not found"}`},
		{"PUT", "/pipelines/nope/pause", "", 404, `{"error_code":404,"message":"Pipeline nope not found"}`},
		{"PUT", "/pipelines/fs/pause", "", 409, `{"error_code":409,"message":"Pipeline fs cannot be changed here (hint: it is connector fs's pipeline: PUT /connectors/fs/pause)"}`},
		{"POST", "/pipelines/fs/restart", "", 409, `{"error_code":409,"message":"Pipeline fs cannot be changed here (hint: it is connector fs's pipeline: POST /connectors/fs/restart)"}`},
		{"PUT", "/connectors/gen/config", `{"connector.class":"FileStreamSource","file":"in.txt","topic":"x"}`, 409,
			`{"error_code":409,"message":"Connector gen cannot be created: the pipeline gen, loaded from a file, runs on this server (hint: choose another connector name)"}`},
	} {
		b := s.expect(t, tc.method, tc.path, tc.body, tc.code)
		if strings.TrimSpace(string(b)) != tc.want {
			t.Errorf("%s %s: %s\nwant %s", tc.method, tc.path, b, tc.want)
		}
	}
	s.expect(t, "GET", "/connectors/gen", "", 404) // the refused PUT stored nothing

	// Paused, then killed: it comes back paused.
	s.expect(t, "PUT", "/pipelines/gen/pause", "", 202)
	s.waitPipeline(t, "gen", "PAUSED")
	s.killServe()
	s = startServe(t, dir, nil, args...)
	s.waitRunning(t, "fs")
	s.waitPipeline(t, "gen", "PAUSED")
	// Stopped, then killed: it comes back stopped.
	s.expect(t, "PUT", "/pipelines/gen/stop", "", 202)
	s.waitPipeline(t, "gen", "STOPPED")
	s.killServe()
	s = startServe(t, dir, nil, args...)
	s.waitPipeline(t, "gen", "STOPPED")
	// Resumed: it runs from its checkpoint and writes more.
	before := fileSize(out)
	s.expect(t, "PUT", "/pipelines/gen/resume", "", 202)
	s.waitPipeline(t, "gen", "RUNNING")
	waitFor(t, 30*time.Second, "more rows in "+out, dir, func() bool { return fileSize(out) > before })
	s.expect(t, "POST", "/pipelines/gen/restart", "", 202)
	waitFor(t, 60*time.Second, "gen restarted", dir, func() bool {
		st := s.pipelines(t)["gen"]
		return st.State == "RUNNING" && st.Restarts == 1
	})
	s.killServe()
	s = startServe(t, dir, nil, args...)
	s.waitPipeline(t, "gen", "RUNNING")
	s.stop(t)

	// A file naming its pipeline after a stored connector is refused at start.
	clash := filepath.Join(dir, "fs.yaml")
	if err := os.WriteFile(clash, []byte("name: fs\nsources:\n  gen: {type: generator, tables: [product]}\nsinks:\n  out: {type: stdout, inputs: [gen]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--http", "127.0.0.1:0", "--state-dir", state, clash)
	b, err := cmd.CombinedOutput()
	wantErr := "sluice: " + clash + ": its pipeline fs has the name of connector fs stored in " + state + " (hint: set another name: in the file, or DELETE /connectors/fs)\n"
	if exitCode(err) != exitUsage || string(b) != wantErr {
		t.Fatalf("clash: %v\n%s\nwant:\n%s", err, b, wantErr)
	}
}
