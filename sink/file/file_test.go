package file

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/durable"
)

var testSchema = &event.Schema{
	Stream: "s.public.t", Source: "s", Connector: "postgresql", Database: "db", Namespace: "public", Table: "t",
	Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "name", Type: event.TypeString, Optional: true}},
	KeyIdx:  []int{0},
}

func ev(op event.Op, id int64, name string) event.Event {
	e := event.Event{Op: op, Schema: testSchema, Source: event.Source{TsUs: 1000}, TsMs: 2}
	img := []event.Value{event.Int(id), event.String(name)}
	if op == event.OpDelete {
		e.Before = img
	} else {
		e.After = img
	}
	return e
}

func rowConfig(path string) Config {
	return Config{Path: path, Fsync: true, Options: format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: "drop"}}}
}

func TestWriteLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	s, err := New(rowConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(context.Background(), []event.Event{ev(event.OpCreate, 1, "a"), ev(event.OpDelete, 1, "a"), ev(event.OpCreate, 2, "b\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"id":1,"name":"a"}` + "\n" + `{"id":2,"name":"b\"\n"}` + "\n"
	if string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestReopenCutsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, []byte("{\"id\":1}\n{\"id\":2,\"na"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(rowConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []event.Event{ev(event.OpCreate, 2, "x")}); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	got, _ := os.ReadFile(path)
	if want := "{\"id\":1}\n{\"id\":2,\"name\":\"x\"}\n"; string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cfg := rowConfig(path)
	cfg.RotateBytes = 30
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return clock }
	for i := int64(1); i <= 4; i++ {
		if err := s.Write(context.Background(), []event.Event{ev(event.OpCreate, i, "abcdef")}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(context.Background())
	entries, _ := os.ReadDir(dir)
	var names []string
	var all strings.Builder
	for _, e := range entries {
		names = append(names, e.Name())
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		all.Write(b)
	}
	want := []string{"out-20260102T030405Z-1.jsonl", "out-20260102T030405Z-2.jsonl", "out.jsonl"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v want %v", names, want)
	}
	for i := 1; i <= 4; i++ {
		if !strings.Contains(all.String(), `{"id":`+string(rune('0'+i))+`,`) {
			t.Fatalf("row %d missing from rotated files", i)
		}
	}
}

func TestRotateByAge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cfg := rowConfig(path)
	cfg.RotateInterval = time.Minute
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return clock }
	s.opened = clock
	s.Write(context.Background(), []event.Event{ev(event.OpCreate, 1, "a")})
	clock = clock.Add(30 * time.Second)
	s.Write(context.Background(), []event.Event{ev(event.OpCreate, 2, "a")})
	clock = clock.Add(31 * time.Second)
	s.Write(context.Background(), []event.Event{ev(event.OpCreate, 3, "a")})
	s.Close(context.Background())
	rot, _ := os.ReadFile(filepath.Join(dir, "out-20260102T030506Z-1.jsonl"))
	act, _ := os.ReadFile(path)
	if string(rot) != "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"a\"}\n" || string(act) != "{\"id\":3,\"name\":\"a\"}\n" {
		t.Fatalf("rotated %q active %q", rot, act)
	}
}

// TestRotateByAgeAcrossRestart: a restarted sink counts the active file's
// age from when the file was created, not from the restart, so restarts (a
// crash loop) cannot keep a file active past rotate_interval.
func TestRotateByAgeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cfg := rowConfig(path)
	cfg.RotateInterval = time.Minute
	start := time.Now() // the file's creation time is the real clock's
	s, err := newSink(cfg, func() time.Time { return start })
	if err != nil {
		t.Fatal(err)
	}
	defer s.f.Close()
	if err := s.Write(context.Background(), []event.Event{ev(event.OpCreate, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	// The process dies without Close; the next one starts two minutes on.
	later := start.Add(2 * time.Minute)
	s2, err := newSink(cfg, func() time.Time { return later })
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Write(context.Background(), []event.Event{ev(event.OpCreate, 2, "a")}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := filepath.Join(dir, "out-"+later.UTC().Format("20060102T150405Z")+"-1.jsonl")
	rot, _ := os.ReadFile(rotated)
	act, _ := os.ReadFile(path)
	if string(rot) != "{\"id\":1,\"name\":\"a\"}\n" || string(act) != "{\"id\":2,\"name\":\"a\"}\n" {
		t.Fatalf("rotated %s: %q; active %q", filepath.Base(rotated), rot, act)
	}
}

func TestValidate(t *testing.T) {
	c := &Config{Options: format.Options{Format: "avro"}, RotateBytes: -1, PageCache: "dontneed"}
	var msgs []string
	for _, e := range c.Validate() {
		msgs = append(msgs, e.Error())
	}
	want := "path: is required (hint: path: out/events.jsonl)|rotate_bytes: must not be negative (hint: 0 disables size rotation)|page_cache: is \"dontneed\"; it must be drop or keep (hint: page_cache: keep leaves the written pages to the kernel)|format: unknown format \"avro\" (use debezium, debezium+schema or row)"
	if strings.Join(msgs, "|") != want {
		t.Fatalf("got %q", strings.Join(msgs, "|"))
	}
}

// TestKeyChangeAndTruncate: the file holds what Debezium writes: a key
// change as the delete of the old key and the create of the new one, and no
// truncate (skipped_operations defaults to t).
func TestKeyChangeAndTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	cfg := rowConfig(path)
	cfg.Unwrap = format.UnwrapOptions{DeleteHandling: "rewrite", AddFields: []string{"op"}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	upd := ev(event.OpUpdate, 2, "a")
	upd.Before = []event.Value{event.Int(1), event.String("a")}
	if err := s.Write(context.Background(), []event.Event{upd, {Op: event.OpTruncate, Schema: testSchema}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"id":1,"name":"a","__deleted":"true","__op":"d"}` + "\n" + `{"id":2,"name":"a","__deleted":"false","__op":"c"}` + "\n"
	if string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// A file in directories the sink creates survives a power loss: every new
// directory, and the new file's name, are fsynced into their parents.
func TestNewDirectoriesAndFileAreSynced(t *testing.T) {
	base := t.TempDir()
	var synced []string
	durable.Synced = func(dir string) { synced = append(synced, dir) }
	defer func() { durable.Synced = nil }()
	path := filepath.Join(base, "a", "b", "out.jsonl")
	s, err := New(Config{Path: path, Options: format.DefaultOptions(), Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	want := []string{base, filepath.Join(base, "a"), filepath.Join(base, "a", "b")}
	if !slices.Equal(synced, want) {
		t.Fatalf("directories fsynced: %q, want %q", synced, want)
	}
	// Opening the existing file again syncs nothing.
	synced = nil
	s2, err := New(Config{Path: path, Options: format.DefaultOptions(), Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close(context.Background())
	if len(synced) != 0 {
		t.Fatalf("reopening fsynced %q", synced)
	}
}
