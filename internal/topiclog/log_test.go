package topiclog

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/frame"
)

// Records come back as appended — null keys and values, header values,
// timestamps — from any offset, across segments, after a restart too.
func TestAppendRead(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "shop.public.items", smallTopic(4096))
	for i := 0; i < 300; i += 30 {
		if first := appendT(t, tp, recs(i, 30, 100)); first != int64(i) {
			t.Fatalf("first offset %d, want %d", first, i)
		}
	}
	if n := len(segments(t, tp)); n < 10 {
		t.Fatalf("%d segments, want many", n)
	}
	check := func(tp *Topic) {
		t.Helper()
		for _, from := range []int{0, 1, 29, 30, 150, 299, 300} {
			checkRecords(t, readAll(t, tp, int64(from)), from, 300-from, 100)
		}
		if start, end, err := tp.Offsets(); start != 0 || end != 300 || err != nil {
			t.Fatalf("offsets %d..%d (%v), want 0..300", start, end, err)
		}
	}
	check(tp)
	l = reopen(t, l, Options{})
	tp, err := l.Topic("shop.public.items")
	if err != nil {
		t.Fatal(err)
	}
	check(tp)
	if got := tp.Config(); got != smallTopic(4096) {
		t.Fatalf("config after a restart: %+v", got)
	}
	// Appends go on after the restart.
	if first := appendT(t, tp, recs(300, 5, 100)); first != 300 {
		t.Fatalf("first offset after the restart %d, want 300", first)
	}
	checkRecords(t, readAll(t, tp, 290), 290, 15, 100)
}

// An empty value and an empty key are not null.
func TestEmptyIsNotNull(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	appendT(t, tp, []Record{{Key: []byte{}, Value: []byte{}, Headers: []Header{{Key: "", Value: []byte{}}}}, {}})
	got := readAll(t, tp, 0)
	if got[0].Key == nil || got[0].Value == nil || got[0].Headers[0].Value == nil || got[1].Key != nil || got[1].Value != nil || got[1].Headers != nil {
		t.Fatalf("got %+v", got)
	}
}

// A reader starting far into a large segment reads from an index entry,
// not from the start: it gets there without reading the records before.
func TestIndexSeeks(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	appendT(t, tp, recs(0, 5000, 200))
	tp.mu.Lock()
	s := tp.mu.segs[0]
	entries := len(s.index)
	tp.mu.Unlock()
	if want := int(fileSize(t, s.path) / indexInterval); entries < want-1 || entries > want {
		t.Fatalf("%d index entries for %d bytes", entries, fileSize(t, s.path))
	}
	r := tp.NewReader(4990)
	got, err := r.Read(nil, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, 4990, 10, 200)
	// It started at most indexInterval bytes of records before.
	tp.mu.Lock()
	pos, at := s.lookup(4990)
	tp.mu.Unlock()
	if at > 4990 || (4990-at)*100 > indexInterval {
		t.Fatalf("the index gives offset %d at byte %d for offset 4990", at, pos)
	}
	f, err := os.Open(s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr := frame.Reader{F: recordFormat, R: io.NewSectionReader(f, pos, 1<<20), Off: pos}
	head, _, err := fr.NextHead()
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := headMeta(head); off != at {
		t.Fatalf("the record at byte %d has offset %d, the index says %d", pos, off, at)
	}
	r.Close()
	// The same from a sealed segment's index file, after a restart.
	appendT(t, tp, recs(5000, 1, 200))
	tp.SetConfig(smallTopic(MinSegmentBytes))
	appendT(t, tp, recs(5001, 10, 200)) // seals the big segment
	l = reopen(t, l, Options{})
	tp, _ = l.Topic("t")
	checkRecords(t, readAll(t, tp, 4990), 4990, 21, 200)
}

// Topic names are Kafka's.
func TestTopicNames(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	for name, want := range map[string]string{
		"":                       "topic log: topic name is empty",
		"..":                     `topic log: topic name ".." is not allowed`,
		"a/b":                    `topic log: topic name "a/b" has '/' at byte 1; a topic name is made of a-z, A-Z, 0-9, '.', '_' and '-'`,
		strings.Repeat("x", 250): `topic log: topic name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… is 250 characters long; the most is 249`,
	} {
		if _, err := l.CreateTopic(name, DefaultTopicConfig()); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", name, err, want)
		}
	}
	for _, name := range []string{"a", "pg.public.items", "A-b_c.9", strings.Repeat("x", 249), ".lock"} {
		create(t, l, name, DefaultTopicConfig())
	}
	names, err := l.Topics()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".lock", "A-b_c.9", "a", "pg.public.items", strings.Repeat("x", 249)}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("topics %v, want %v", names, want)
	}
	if _, err := l.Topic("missing"); !errors.Is(err, ErrUnknownTopic) || err.Error() != "topic log: topic missing: unknown topic" {
		t.Fatalf("unknown topic: %v", err)
	}
}

// One process owns a log directory: another open (here: of the lock
// file, as another process would) is refused with the owner's pid; in
// this process, opens share one Log.
func TestOneOwner(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	l2 := openLog(t, dir+"/.", Options{})
	if l2 != l {
		t.Fatal("a second Open in the process is another Log")
	}
	abs, _ := filepath.Abs(dir)
	_, err := lockDir(abs)
	want := "topic log: " + abs + " is in use by process " + strconv.Itoa(os.Getpid()) +
		": one process owns a topic log directory at a time (run the pipelines that share it in one sluice process, or give each its own dir)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	// The log stays open until its last Close.
	l2.Close()
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	appendT(t, tp, recs(0, 1, 0))
	l.Close()
	if _, err := tp.Append(recs(1, 1, 0)); err != ErrClosed {
		t.Fatalf("append after the last Close: %v", err)
	}
	f, err := lockDir(abs)
	if err != nil {
		t.Fatalf("the lock is still held after the last Close: %v", err)
	}
	f.Close()
}

// Wait returns when records arrive, and when its context ends.
func TestWait(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	r := tp.NewReader(0)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait on an empty topic: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Wait(context.Background()) }()
	appendT(t, tp, recs(0, 1, 0))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after an append")
	}
	got, err := r.Read(nil, 10, 1<<20)
	if err != nil || len(got) != 1 {
		t.Fatalf("read %d records (%v)", len(got), err)
	}
	go func() { done <- r.Wait(context.Background()) }()
	l.Close()
	if err := <-done; err != ErrClosed {
		t.Fatalf("Wait when the log closes: %v", err)
	}
}

// Read stops at maxRecords, and at maxBytes after one record at least.
func TestReadLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	appendT(t, tp, recs(0, 20, 1000))
	r := tp.NewReader(0)
	defer r.Close()
	for _, c := range []struct{ max, bytes, want int }{{3, 1 << 20, 3}, {100, 2500, 3}, {100, 1, 1}, {100, 1 << 20, 13}} {
		from := r.Offset()
		got, err := r.Read(nil, c.max, c.bytes)
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, got, int(from), c.want, 1000)
	}
}
