package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/state"
	"github.com/sluice-dev/sluice/store"
)

// runOnce runs `sluice run --log-format json pipeline` to its end (at most
// a minute) and returns its exit code, its stderr and the err of its
// "pipeline failed" record ("" when there is none).
func runOnce(t *testing.T, pipeline string, args ...string) (code int, stderr string, failure string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"run", "--log-format", "json"}, args...), pipeline)...)
	var buf bytes.Buffer
	cmd.Stderr = &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sluice did not exit within a minute: %v\n%s", err, buf.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var rec struct{ Msg, Err string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "pipeline failed" {
			failure = rec.Err
		}
	}
	return cmd.ProcessState.ExitCode(), buf.String(), failure
}

// TestDamagedStore damages the store of a finished run in the ways a disk
// or a copy does and runs the pipeline again: sluice must stop with exit 1
// and an error that names the store, what is wrong and how to recover —
// never a Go panic (exit 2 with a stack trace), never a silent fresh start
// (the generator would write its rows again from id 1).
func TestDamagedStore(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 50, 0))
	if code, stderr, _ := runOnce(t, p); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	storeDir := filepath.Join(dir, "state", store.StoreDirName)
	pristine := t.TempDir()
	copyDir(t, storeDir, pristine)
	out := filepath.Join(dir, "out.jsonl")
	lines, _ := os.ReadFile(out)
	advice := ". " + state.Advice(storeDir, "rm -r "+storeDir) +
		"; operator state (SQL tables, aggregates, join windows) starts empty and is rebuilt from what the sources read again"

	removeAll := func(glob string) {
		m, _ := filepath.Glob(filepath.Join(storeDir, glob))
		if len(m) == 0 {
			t.Errorf("no %s in the store", glob)
		}
		for _, f := range m {
			os.Remove(f)
		}
	}
	cases := []struct {
		name   string
		damage func()
		detail string
	}{
		{"MANIFEST removed", func() { removeAll("MANIFEST-*") }, "open: pebble: could not open manifest file"},
		{"store emptied", func() {
			entries, _ := os.ReadDir(storeDir)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(storeDir, e.Name()))
			}
		}, "open: its MANIFEST is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(storeDir)
			copyDir(t, pristine, storeDir)
			tc.damage()
			code, stderr, failure := runOnce(t, p)
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("a Go panic:\n%s", stderr)
			}
			want := "store: " + storeDir + " is damaged (" + tc.detail
			if code != 1 || !strings.HasPrefix(failure, want) || !strings.HasSuffix(failure, ")"+advice) {
				t.Fatalf("exit %d, error:\n%s\nwant exit 1, error:\n%s\nstderr:\n%s", code, failure, want, stderr)
			}
			if now, _ := os.ReadFile(out); !bytes.Equal(now, lines) {
				t.Fatalf("the run wrote to the sink: %d bytes before, %d after", len(lines), len(now))
			}
		})
	}

	// A damaged state file of an older sluice, read once to import its
	// checkpoints, is an error naming that file.
	t.Run("old state.db damaged", func(t *testing.T) {
		os.RemoveAll(storeDir)
		old := filepath.Join(dir, "state", state.FileName)
		st, err := state.Open(filepath.Join(dir, "state"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetCheckpoint("gen", []byte(`{"n":50}`)); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if err := os.WriteFile(old, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		code, stderr, failure := runOnce(t, p)
		want := "state file " + old + " is damaged: the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated. " + state.Advice(old, "rm "+old)
		if code != 1 || !strings.HasSuffix(failure, want) {
			t.Fatalf("exit %d, error:\n%s\nwant exit 1, error ending:\n%s\nstderr:\n%s", code, failure, want, stderr)
		}
		os.Remove(old)
	})

	// The recovery the message gives works: without the store, the
	// pipeline starts over.
	if err := os.RemoveAll(storeDir); err != nil {
		t.Fatal(err)
	}
	if code, stderr, _ := runOnce(t, p); code != 0 {
		t.Fatalf("run after rm: exit %d\n%s", code, stderr)
	}
	if got := ids(t, out); len(got) != 100 || got[50] != 1 {
		t.Fatalf("after rm the generator should start over: %d lines", len(got))
	}
}

// copyDir copies the regular files of src into dst (created if needed).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
