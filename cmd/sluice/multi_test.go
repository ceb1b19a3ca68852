package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Several pipelines run in one process; one that fails is reported and the
// others finish; the exit code says a pipeline failed.
func TestRunSeveralPipelines(t *testing.T) {
	dir := t.TempDir()
	okDir, badDir := filepath.Join(dir, "ok"), filepath.Join(dir, "bad")
	for _, d := range []string{okDir, badDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pipes, "a.yaml"), []byte(genPipeline(okDir, 300, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The sink's directory is a file: it fails at once.
	if err := os.WriteFile(filepath.Join(badDir, "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(genPipeline(badDir, 300, 0), badDir+"/out.jsonl", badDir+"/blocker/out.jsonl", 1)
	if err := os.WriteFile(filepath.Join(pipes, "b.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--progress", "never", pipes)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d (%v), want 1; output:\n%s", code, err, out)
	}
	if !strings.Contains(string(out), `level=ERROR msg="pipeline failed" pipeline=b`) {
		t.Fatalf("no failure reported for pipeline b:\n%s", out)
	}
	got := stoppedIDs(t, filepath.Join(okDir, "out.jsonl"))
	if len(got) != 300 {
		t.Fatalf("pipeline a wrote %d rows, want 300", len(got))
	}
}

// Pipelines that would share a state directory are refused before anything runs.
func TestRunRefusesSharedStateDir(t *testing.T) {
	dir := t.TempDir()
	body := genPipeline(dir, 10, 0)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "run", "--progress", "never", a, b)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
	}
	want := "sluice: pipelines a and b use the same state_dir " + dir + "/state (hint: set state_dir: in each pipeline file, e.g. .sluice/b)\n"
	if !strings.HasSuffix(string(out), want) {
		t.Fatalf("output:\n%s\nwant it to end with:\n%s", out, want)
	}
}
