package lines

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func lines(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.After[0].Str)
	}
	return out
}

// run runs a source; stop cancels it and returns what Run returned, and
// ended returns it once Run returned by itself.
func run(t *testing.T, cfg Config, cp []byte) (em *sourcetest.Emitter, stop, ended func() error) {
	t.Helper()
	s, err := New(cfg, component.Env{Name: "src"})
	if err != nil {
		t.Fatal(err)
	}
	em = sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, cp, em) }()
	t.Cleanup(cancel)
	return em, func() error { cancel(); return <-done }, func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func testConfig(path string) Config {
	c := *DefaultConfig()
	c.Path, c.PollInterval, c.Stream = path, 5*time.Millisecond, "connect-test"
	return c
}

func TestLinesFollowTheFileAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte("a\r\nb\rc\n\nd"), 0o644); err != nil {
		t.Fatal(err)
	}
	em, stop, _ := run(t, testConfig(path), nil)
	evs, cp := em.WaitEvents(t, 4, 10*time.Second)
	if got := strings.Join(lines(evs), "|"); got != "a|b|c|" {
		t.Fatalf("lines %q", got)
	}
	if string(cp) != `{"position":8}` {
		t.Fatalf("checkpoint %s", cp)
	}
	e := evs[1]
	if e.Schema.Stream != "connect-test" || e.Op != event.OpCreate || e.Position != "byte 3" || e.Schema.Columns[0].Name != "line" {
		t.Fatalf("event %+v schema %+v", e, e.Schema)
	}
	// The partial "d" becomes a line once its newline is written.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("ef\ng\n")
	f.Close()
	evs, cp = em.WaitEvents(t, 6, 10*time.Second)
	if got := strings.Join(lines(evs), "|"); got != "a|b|c||def|g" || string(cp) != `{"position":14}` {
		t.Fatalf("lines %q checkpoint %s", got, cp)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A restart from a checkpoint reads what follows it.
	em, stop, _ = run(t, testConfig(path), []byte(`{"position":8}`))
	evs, _ = em.WaitEvents(t, 2, 10*time.Second)
	if got := strings.Join(lines(evs), "|"); got != "def|g" {
		t.Fatalf("after restart: %q", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestLinesWaitForTheFileAndRefuseATruncatedOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "later.txt")
	rec := logtest.New()
	cfg := testConfig(path)
	s, err := New(cfg, component.Env{Name: "src", Logger: rec.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	em := sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, em) }()
	deadline := time.Now().Add(10 * time.Second)
	for rec.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if l := rec.Lines(); len(l) != 1 || !strings.Contains(l[0].Text, "file does not exist yet; waiting for it") {
		t.Fatalf("log %v", l)
	}
	os.WriteFile(path, []byte("x\n"), 0o644)
	em.WaitEvents(t, 1, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	_, _, ended := run(t, cfg, []byte(`{"position":100}`))
	err = ended()
	want := "lines source: " + path + " has 2 bytes, fewer than the checkpoint's position 100: it was truncated or replaced (hint: reset the checkpoint — the connector's offsets — to read it from the start)"
	if err == nil || err.Error() != want || !component.IsPermanent(err) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestLinesLongLineAndRoot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "long.txt")
	os.WriteFile(path, []byte("ok\n"+strings.Repeat("x", 100)+"\n"), 0o644)
	cfg := testConfig("long.txt")
	cfg.Root, cfg.MaxLineBytes = dir, 10
	em, _, ended := run(t, cfg, nil)
	err := ended()
	if n := em.Count(); n != 1 {
		t.Fatalf("%d events before the long line, want 1", n)
	}
	if err == nil || err.Error() != "lines source: long.txt: the line at byte 3 is longer than max_line_bytes (10)" {
		t.Fatalf("got %v", err)
	}

	os.Symlink("/etc/passwd", filepath.Join(dir, "escape"))
	cfg.Path = "escape"
	_, _, ended = run(t, cfg, nil)
	if err := ended(); err == nil || !strings.Contains(err.Error(), "lines source: open escape:") {
		t.Fatalf("a symlink out of root: %v", err)
	}
	cfg.Path = "/etc/passwd"
	if errs := cfg.Validate(); len(errs) != 1 || errs[0].Error() != "path: /etc/passwd is not inside "+dir+" (hint: name a file inside root)" {
		t.Fatalf("validate: %v", errs)
	}
}
