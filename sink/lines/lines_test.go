package lines_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/lines"
)

// TestConformance runs the sink suite (internal/sinktest) against the lines
// sink: the suite's rows are not one string column, so they are written in
// the configured format (Debezium here), at least once.
func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		Caps: sinktest.Caps{History: true, Duplicates: true},
		Setup: func(t *testing.T) sinktest.Target {
			dir := t.TempDir()
			return target{path: filepath.Join(dir, "events.txt"), state: filepath.Join(dir, "state")}
		},
	})
}

type target struct{ path, state string }

func (target) Addr() string { return "" }

func (f target) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := lines.Factory.Config().(*lines.Config)
	cfg.Path, cfg.Format = f.path, "debezium"
	return lines.Factory.New(cfg, component.Env{Name: p.Name, Logger: p.Logger, StateDir: f.state})
}

func (f target) Read(t *testing.T) []sinktest.Record {
	b, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatalf("read %s: %v", f.path, err)
	}
	var out []sinktest.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs, err := sinktest.DecodeDebezium(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		out = append(out, recs...)
	}
	return out
}

var lineSchema = &event.Schema{Stream: "t", Columns: []event.Column{{Name: "line", Type: event.TypeString}}}

func lineEvents(ls ...string) []event.Event {
	var evs []event.Event
	for _, l := range ls {
		evs = append(evs, event.Event{Schema: lineSchema, Op: event.OpCreate, After: []event.Value{event.String(l)}})
	}
	return evs
}

func newSink(t *testing.T, cfg *lines.Config, state string) component.Sink {
	t.Helper()
	s, err := lines.Factory.New(cfg, component.Env{Name: "out", StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLinesAreWrittenAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	cfg := lines.DefaultConfig()
	cfg.Path = filepath.Join(dir, "out.txt")
	s := newSink(t, cfg, filepath.Join(dir, "state"))
	ctx := context.Background()
	if err := s.Write(ctx, lineEvents("a", "", "c d")); err != nil {
		t.Fatal(err)
	}
	// Rows of other shapes are written in the format (row by default).
	other := &event.Schema{Stream: "s", Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString}}, KeyIdx: []int{0}}
	if err := s.Write(ctx, []event.Event{{Schema: other, Op: event.OpCreate, After: []event.Value{event.Int(1), event.String("x")}}}); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	b, _ := os.ReadFile(cfg.Path)
	if want := "a\n\nc d\n{\"id\":1,\"name\":\"x\"}\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
}

func TestPartialLineIsCutOnlyInItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := lines.DefaultConfig()
	cfg.Path = filepath.Join(dir, "out.txt")
	ctx := context.Background()
	s := newSink(t, cfg, state)
	if err := s.Write(ctx, lineEvents("one")); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	// A crash in the middle of the next write.
	f, _ := os.OpenFile(cfg.Path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("tw")
	f.Close()
	s = newSink(t, cfg, state)
	if err := s.Write(ctx, lineEvents("two")); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	if b, _ := os.ReadFile(cfg.Path); string(b) != "one\ntwo\n" {
		t.Fatalf("file %q", b)
	}

	// Someone else's file without a final newline is left alone.
	theirs := filepath.Join(dir, "theirs.txt")
	os.WriteFile(theirs, []byte("keep me"), 0o644)
	cfg.Path = theirs
	s = newSink(t, cfg, filepath.Join(dir, "state2"))
	err := s.Write(ctx, lineEvents("x"))
	want := "lines sink: " + theirs + " ends without a newline and is not a file this sink wrote; it leaves it as it is (hint: name another file, or end this one with a newline)"
	if err == nil || err.Error() != want || !component.IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(theirs); string(b) != "keep me" {
		t.Fatalf("their file became %q", b)
	}

	// A missing directory fails, as FileStreamSink's task does.
	cfg.Path = filepath.Join(dir, "missing", "out.txt")
	s = newSink(t, cfg, filepath.Join(dir, "state3"))
	if err := s.Write(ctx, lineEvents("x")); err == nil || !strings.Contains(err.Error(), "lines sink: open "+cfg.Path+": ") || !component.IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
}
