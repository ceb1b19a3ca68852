package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "sluice")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writePipeline(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func genPipeline(dir string, count, rate int) string {
	return fmt.Sprintf(`state_dir: %s/state
sources:
  gen:
    type: generator
    tables: [product]
    rate: %d
    count: %d
    seed: 7
sinks:
  out:
    type: file
    inputs: [gen]
    path: %s/out.jsonl
    format: row
engine:
  max_inflight: 4
`, dir, rate, count, dir)
}

// lines returns the ids in the output file, in order.
func ids(t *testing.T, path string) []int {
	t.Helper()
	return readIDs(t, path, false)
}

// stoppedIDs is ids for a file whose writer stopped cleanly: a trailing
// partial line is then an error, not a write in progress.
func stoppedIDs(t *testing.T, path string) []int {
	t.Helper()
	return readIDs(t, path, true)
}

// readIDs reads the id of every complete line. A line without its newline
// is a write in progress, or one torn by SIGKILL that the file sink cuts
// when it reopens the file; it is skipped unless strict.
func readIDs(t *testing.T, path string, strict bool) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := bytes.Split(b, []byte("\n"))
	if tail := lines[len(lines)-1]; len(tail) > 0 && strict {
		t.Fatalf("%s ends in a partial line %q after a clean stop", path, tail)
	}
	var out []int
	for _, line := range lines[:len(lines)-1] {
		var row struct{ ID int }
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		out = append(out, row.ID)
	}
	return out
}

func waitLines(t *testing.T, path string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d lines in %s (have %d)", n, path, bytes.Count(b, []byte("\n")))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 10, 0))
	out, err := exec.Command(bin, "validate", p).CombinedOutput()
	if err != nil || string(out) != p+": ok (1 sources, 1 sinks)\n" {
		t.Fatalf("validate good: %v %q", err, out)
	}
	bad := writePipeline(t, dir, "sources:\n  gen: {type: generator, rat: 1}\nsinks:\n  o: {type: stdout, inputs: [gne]}\n")
	cmd := exec.Command(bin, "validate", bad)
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("exit code %d", cmd.ProcessState.ExitCode())
	}
	want := bad + ":2: sources.gen.rat: unknown key"
	if !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "did you mean rate?") || !strings.Contains(string(out), `:4: sinks.o.inputs: input "gne" matches no source`) {
		t.Fatalf("validate bad: %q", out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, err := exec.Command(bin, "--help").Output()
	if err != nil || !strings.Contains(string(out), "sluice run [flags] PIPELINE.yaml") || !strings.Contains(string(out), "generator") {
		t.Fatalf("help: %v %q", err, out)
	}
	out, err = exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "sluice ") {
		t.Fatalf("version: %v %q", err, out)
	}
	cmd := exec.Command(bin, "frobnicate")
	cmd.Run()
	if cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("unknown command exit %d", cmd.ProcessState.ExitCode())
	}
	// help TYPE prints the type's keys from the generated reference.
	out, err = exec.Command(bin, "help", "postgres").Output()
	wantStart := "source postgres — PostgreSQL change data capture: consistent snapshot, then logical replication (pgoutput)\n\nKeys:\n  dsn (string, required, secret)\n"
	if err != nil || !strings.HasPrefix(string(out), wantStart) || !strings.Contains(string(out), "\nsink postgres — ") {
		t.Fatalf("help postgres: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "help", "sink", "postgres").Output()
	if err != nil || !strings.HasPrefix(string(out), "sink postgres — ") {
		t.Fatalf("help sink postgres: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "help", "postgress")
	msg, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.HasPrefix(string(msg), `sluice: no component type "postgress" (types: `) {
		t.Fatalf("help of an unknown type: exit %d\n%s", cmd.ProcessState.ExitCode(), msg)
	}
}

// TestSigtermDrainsAndResumes stops a run with SIGTERM and restarts it: the
// output continues exactly, with no gap and no duplicate. The first run's
// generator has no end, so the SIGTERM certainly comes mid-stream however
// late the test sends it; the second run produces 2,800 more rows.
func TestSigtermDrainsAndResumes(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 0, 2000))
	out := filepath.Join(dir, "out.jsonl")
	cmd, stderr := runSluice(t, dir, p)
	waitLines(t, out, 200, 30*time.Second)
	stop(t, cmd, stderr)
	first := len(ids(t, out))
	total := first + 2800
	writePipeline(t, dir, genPipeline(dir, total, 2000))
	cmd, stderr = runSluice(t, dir, p)
	waitLines(t, out, total, 60*time.Second)
	stop(t, cmd, stderr)
	got := stoppedIDs(t, out)
	if len(got) != total {
		t.Fatalf("%d lines after resume, want exactly %d (%d before the stop; graceful stop must not duplicate)", len(got), total, first)
	}
	for i, id := range got {
		if id != i+1 {
			t.Fatalf("line %d has id %d", i, id)
		}
	}
}

// checkEveryID fails the test unless got, the ids read back in order,
// holds every id from 1 to total and, whenever the sequence goes back, goes
// back to a point already written (a replay), never skipping ahead. name is
// what an id is called, unit what each id stands for.
func checkEveryID(t *testing.T, got []int, total int, name, unit string) {
	t.Helper()
	seen := make([]bool, total+1)
	next := 1
	for i, id := range got {
		if id > next {
			t.Fatalf("line %d: %s %d skips ahead of %d: a %s was lost", i, name, id, next, unit)
		}
		seen[id] = true
		next = id + 1
	}
	for id := 1; id <= total; id++ {
		if !seen[id] {
			t.Fatalf("%s %d missing", name, id)
		}
	}
}

// TestSigkillLosesNothing kills the process at random moments; after the
// last restart every generated row is in the file, in order, duplicates
// only as re-deliveries of a suffix (the unacknowledged window).
func TestSigkillLosesNothing(t *testing.T) {
	dir := t.TempDir()
	const total = 20000
	p := writePipeline(t, dir, genPipeline(dir, total, 20000))
	out := filepath.Join(dir, "out.jsonl")
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for kills < 8 {
		cmd := exec.Command(bin, "run", p)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond) // a random moment, not synchronisation
		cmd.Process.Kill()
		cmd.Wait()
		kills++
		if g := ids(t, out); len(g) > 0 && g[len(g)-1] == total {
			break
		}
	}
	stopWhen(t, startSluice(t, dir, p), dir, 60*time.Second, fmt.Sprintf("the final run to reach id %d", total), func() bool {
		g := ids(t, out)
		return len(g) > 0 && g[len(g)-1] == total
	})
	got := stoppedIDs(t, out)
	checkEveryID(t, got, total, "id", "change")
	t.Logf("%d kills, %d lines for %d rows (%d re-delivered)", kills, len(got), total, len(got)-total)
}
