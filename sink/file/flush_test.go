package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// Flush runs on another goroutine while WriteBuffered writes and rotates
// (the engine's use): every line ends in the files, in order, and the race
// detector sees the file handed over only under fileMu.
func TestFlushWhileWritingAndRotating(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cfg := rowConfig(path)
	cfg.RotateBytes = 600 // a rotation every few writes
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				flushed <- nil
				return
			default:
			}
			if err := s.Flush(ctx); err != nil {
				flushed <- fmt.Errorf("flush %d: %w", n, err)
				return
			}
			n++
		}
	}()
	const writes, per = 200, 3
	for w := range writes {
		evs := make([]event.Event, per)
		for i := range evs {
			evs[i] = ev(event.OpCreate, int64(w*per+i), "x")
		}
		if err := s.WriteBuffered(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Rotated files sort by name in rotation order (time, then sequence,
	// both increasing within a second here); the active file is last.
	names, _ := filepath.Glob(filepath.Join(dir, "out-*.jsonl"))
	if len(names) < 10 {
		t.Fatalf("%d rotated files, want at least 10", len(names))
	}
	sort.Slice(names, func(i, j int) bool { return seqOf(names[i]) < seqOf(names[j]) })
	names = append(names, path)
	var lines []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if len(lines) != writes*per {
		t.Fatalf("%d lines, want %d", len(lines), writes*per)
	}
	for i, l := range lines {
		if want := fmt.Sprintf(`{"id":%d,"name":"x"}`, i); l != want {
			t.Fatalf("line %d is %s, want %s", i, l, want)
		}
	}
}

func seqOf(name string) int {
	base := strings.TrimSuffix(filepath.Base(name), ".jsonl")
	var n int
	fmt.Sscanf(base[strings.LastIndexByte(base, '-')+1:], "%d", &n)
	return n
}

// After a failed fsync (Flush), the next write reopens the file, cutting a
// partial last line, before it writes again.
func TestWriteAfterFailedFlushReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := bufferedLine(t, rowConfig(path))
	ctx := context.Background()
	// What a failed fsync leaves: the flag, and (here) a partial line that
	// a crash of the write could have left.
	s.failed.Store(true)
	if _, err := s.f.WriteString(`{"id":2,"na`); err != nil {
		t.Fatal(err)
	}
	old := s.f
	if err := s.Write(ctx, []event.Event{ev(event.OpCreate, 1, "a"), ev(event.OpCreate, 2, "b")}); err != nil {
		t.Fatal(err)
	}
	if s.f == old {
		t.Fatal("the file was not reopened after the failed fsync")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"id":1,"name":"a"}` + "\n" + `{"id":1,"name":"a"}` + "\n" + `{"id":2,"name":"b"}` + "\n"
	if string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// TestWriteBufferedBesideFlush: the next batch is encoded and written while
// a Flush's fsync holds fileMu, as the engine runs them; a WriteBuffered
// that waited for the fsync would make the two take turns.
func TestWriteBufferedBesideFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := bufferedLine(t, rowConfig(path))
	ctx := context.Background()
	s.fileMu.Lock() // what a Flush holds across its fsync
	done := make(chan error, 1)
	go func() { done <- s.WriteBuffered(ctx, []event.Event{ev(event.OpCreate, 2, "b")}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteBuffered waited for the fsync in flight")
	}
	s.fileMu.Unlock()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := `{"id":1,"name":"a"}` + "\n" + `{"id":2,"name":"b"}` + "\n"; string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// TestNoRotationAfterFailedFlush: a Flush that failed while a write was
// under way (after its check of the flag) stops a rotation that write is
// due for: a second fsync would return nil without making the lines
// durable. The engine's Write of the same lines then reopens the file and
// writes them again, and the rotation follows.
func TestNoRotationAfterFailedFlush(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cfg := rowConfig(path)
	cfg.RotateBytes = 10
	s := bufferedLine(t, cfg)
	ctx := context.Background()
	s.failed.Store(true) // the Flush of line 1 failed
	err := s.rotate()
	if want := "file sink: an fsync of " + path + " failed; not rotating it before its lines are written again"; err == nil || err.Error() != want {
		t.Fatalf("rotate: got %v, want %q", err, want)
	}
	if rotated, _ := filepath.Glob(filepath.Join(dir, "out-*.jsonl")); len(rotated) != 0 {
		t.Fatalf("rotated %v after the failed fsync", rotated)
	}
	if err := s.Write(ctx, []event.Event{ev(event.OpCreate, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The reopened file (line 1 as first written, over the limit) is
	// rotated before the rewrite, and the rewrite's file after it.
	rotated, _ := filepath.Glob(filepath.Join(dir, "out-*.jsonl"))
	sort.Slice(rotated, func(i, j int) bool { return seqOf(rotated[i]) < seqOf(rotated[j]) })
	var got []string
	for _, p := range rotated {
		b, _ := os.ReadFile(p)
		got = append(got, string(b))
	}
	line := `{"id":1,"name":"a"}` + "\n"
	if want := []string{line, line}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rotated files hold %q, want %q", got, want)
	}
}

// bufferedLine opens a sink with cfg and writes line 1 with WriteBuffered
// (not yet fsynced).
func bufferedLine(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBuffered(context.Background(), []event.Event{ev(event.OpCreate, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	return s
}
