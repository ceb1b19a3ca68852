package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/state"
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

// boltRoot returns the offset of the root page of the state file's newest
// valid meta, the page size and the high water mark (bbolt's format: see
// package state).
func boltRoot(t *testing.T, b []byte) (off, pageSize, hwm int) {
	t.Helper()
	ne := binary.NativeEndian
	ps := int(ne.Uint32(b[16+8:]))
	best, bestTx := -1, uint64(0)
	for _, m := range []int{16, ps + 16} {
		if ne.Uint32(b[m:]) == 0xED0CDAED && (best < 0 || ne.Uint64(b[m+48:]) > bestTx) {
			best, bestTx = m, ne.Uint64(b[m+48:])
		}
	}
	return int(ne.Uint64(b[best+16:])) * ps, ps, int(ne.Uint64(b[best+40:]))
}

// TestDamagedStateFile damages the state file of a finished run in the
// ways a disk or a copy does and runs the pipeline again: sluice must stop
// with exit 1 and an error that names the file, what is wrong and how to
// recover — never a Go panic (exit 2 with a stack trace), never a silent
// fresh start (the generator would write its rows again from id 1).
func TestDamagedStateFile(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 50, 0))
	if code, stderr, _ := runOnce(t, p); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	path := filepath.Join(dir, "state", state.FileName)
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(dir, "state"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := st.Checkpoint("gen")
	st.Close()
	if err != nil || len(cp) == 0 {
		t.Fatalf("no checkpoint after the first run: %q %v", cp, err)
	}
	out := filepath.Join(dir, "out.jsonl")
	lines, _ := os.ReadFile(out)
	_, ps, hwm := boltRoot(t, pristine)
	cut := (hwm - 1) * ps

	const recovery = ". sluice will not guess where the sources stopped. To recover, restore {path} from a backup taken while sluice was stopped, " +
		"or remove it to start over (rm {path}; keep the rest of the state directory: it may hold data not yet delivered, such as the s3 sink's spool). " +
		"Starting over, every source begins as on its first run: a postgres source snapshots again and then streams from its replication slot's position, " +
		"which the slot kept (no change is lost; if you give up the pipeline instead, drop the slot, or it holds WAL forever); " +
		"mysql and mongodb sources snapshot again at a new position, so rows deleted meanwhile stay in the sinks; " +
		"a source with snapshot: never starts at the server's current position and misses the changes made since it stopped (postgres excepted); " +
		"sql_poll reads every row again; a kafka source resumes from its consumer group's committed offsets"
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		detail string
	}{
		{"zero length", func(b []byte) []byte { return nil },
			"the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated"},
		{"truncated", func(b []byte) []byte { return b[:cut] },
			fmt.Sprintf("the file is %d bytes but its pages reach byte %d: it was truncated", cut, hwm*ps)},
		{"wrong magic", func(b []byte) []byte {
			copy(b[16:], "\x00\x00\x00\x00")
			copy(b[4096+16:], "\x00\x00\x00\x00")
			return b
		}, "both meta pages are invalid (page 0: bad magic number (not a bbolt file, or overwritten); page 1: none valid at any page size)"},
		{"meta pages", func(b []byte) []byte {
			b[16+40]++
			b[4096+16+40]++
			return b
		}, "both meta pages are invalid (page 0: checksum mismatch; page 1: none valid at any page size)"},
		{"page header", func(b []byte) []byte {
			off, _, _ := boltRoot(t, b)
			b[off+8] = 0x04 // a meta page where a leaf belongs: bbolt panicked on it
			return b
		}, "page 3: unexpected page type (flags 0x4)"},
		{"checkpoint value", func(b []byte) []byte {
			// Every copy of the checkpoint, the live one included.
			for i := 0; ; {
				j := bytes.Index(b[i:], cp)
				if j < 0 {
					break
				}
				b[i+j+len(cp)-2] ^= 0x01
				i += j + len(cp)
			}
			return b
		}, `the checkpoint of source "gen" does not match its checksum`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.damage(bytes.Clone(pristine)), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stderr, failure := runOnce(t, p)
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("a Go panic:\n%s", stderr)
			}
			want := "state file " + path + " is damaged: " + tc.detail + strings.ReplaceAll(recovery, "{path}", path)
			if code != 1 || failure != want {
				t.Fatalf("exit %d, error:\n%s\nwant exit 1, error:\n%s\nstderr:\n%s", code, failure, want, stderr)
			}
			if now, _ := os.ReadFile(out); !bytes.Equal(now, lines) {
				t.Fatalf("the run wrote to the sink: %d bytes before, %d after", len(lines), len(now))
			}
		})
	}

	// The recovery the message gives works: without the file, the
	// pipeline starts over.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if code, stderr, _ := runOnce(t, p); code != 0 {
		t.Fatalf("run after rm: exit %d\n%s", code, stderr)
	}
	if got := ids(t, out); len(got) != 100 || got[50] != 1 {
		t.Fatalf("after rm the generator should start over: %d lines", len(got))
	}
}
