package topiclog

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// bases returns the base offsets of the topic's segment files.
func bases(t *testing.T, tp *Topic) []int64 {
	t.Helper()
	var out []int64
	for _, p := range segments(t, tp) {
		b, ok := parseBase(filepath.Base(p))
		if !ok {
			t.Fatalf("segment file %s", p)
		}
		out = append(out, b)
	}
	return out
}

// checkOffsets fails unless got are the test's records from..to-1 (by
// offset and key; their timestamps were set by the test).
func checkOffsets(t *testing.T, got []Record, from, to int64) {
	t.Helper()
	if len(got) != int(to-from) {
		t.Fatalf("%d records, want %d..%d", len(got), from, to-1)
	}
	for i, g := range got {
		w := rec(int(from)+i, 0)
		if g.Offset != from+int64(i) || string(g.Key) != string(w.Key) {
			t.Fatalf("record %d: offset %d key %q, want %d %q", i, g.Offset, g.Key, from+int64(i), w.Key)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Retention by age deletes whole segments whose newest record is older
// than Retention — the active one too, sealed first — and a reader behind
// the new start gets an OutOfRangeError naming it.
func TestRetentionByAge(t *testing.T) {
	clk := &clock{now: time.UnixMilli(1_000_000)}
	l := openLog(t, t.TempDir(), Options{Now: clk.Now})
	cfg := TopicConfig{Retention: time.Hour, SegmentBytes: 1024}
	tp := create(t, l, "t", cfg)
	// Records 0..9 at t0 in segments of 3 records (~300 bytes each).
	old := recs(0, 10, 200)
	for i := range old {
		old[i].Timestamp = clk.now.UnixMilli()
	}
	appendT(t, tp, old)
	// Four records fill a segment.
	if got := bases(t, tp); !equalInts(got, []int64{0, 4, 8}) {
		t.Fatalf("segments %v", got)
	}
	// 30 minutes later, records 10..12: nothing is old enough.
	clk.now = clk.now.Add(30 * time.Minute)
	young := recs(10, 3, 200)
	for i := range young {
		young[i].Timestamp = clk.now.UnixMilli()
	}
	appendT(t, tp, young)
	if got := bases(t, tp); !equalInts(got, []int64{0, 4, 8, 12}) {
		t.Fatalf("segments after 30 minutes %v", got)
	}
	// One hour and a millisecond after t0: the segments of 0..7 go; the
	// one holding 8..11 has records 10 and 11 (young) and stays.
	clk.now = time.UnixMilli(1_000_000).Add(time.Hour + time.Millisecond)
	if err := tp.Retain(); err != nil {
		t.Fatal(err)
	}
	if got := bases(t, tp); !equalInts(got, []int64{8, 12}) {
		t.Fatalf("segments after an hour %v", got)
	}
	if start, end, _ := tp.Offsets(); start != 8 || end != 13 {
		t.Fatalf("offsets %d..%d, want 8..13", start, end)
	}
	_, err := readAllErr(tp, 2)
	var oor *OutOfRangeError
	if !errors.As(err, &oor) || err.Error() != "topic log: offset 2 of topic t is no longer in the log: retention deleted the records before offset 8" {
		t.Fatalf("read at 2: %v", err)
	}
	checkOffsets(t, readAll(t, tp, 8), 8, 13)
	// Everything old: the active segment is sealed and deleted too, an
	// empty one takes its place at the end offset, and appends go on.
	clk.now = clk.now.Add(2 * time.Hour)
	if err := tp.Retain(); err != nil {
		t.Fatal(err)
	}
	if got := bases(t, tp); !equalInts(got, []int64{13}) {
		t.Fatalf("segments after everything expired %v", got)
	}
	if start, end, _ := tp.Offsets(); start != 13 || end != 13 {
		t.Fatalf("offsets %d..%d, want 13..13", start, end)
	}
	fresh := recs(13, 1, 200)
	fresh[0].Timestamp = 0 // the time of the append
	if first := appendT(t, tp, fresh); first != 13 {
		t.Fatalf("first offset %d", first)
	}
	// And it all holds after a restart.
	l = reopen(t, l, Options{Now: clk.Now})
	tp, err = l.Topic("t")
	if err != nil {
		t.Fatal(err)
	}
	checkOffsets(t, readAll(t, tp, 13), 13, 14)
	if start, _, _ := tp.Offsets(); start != 13 {
		t.Fatalf("start after a restart %d", start)
	}
}

// Retention by size keeps the newest segments that hold RetentionBytes,
// deleting the oldest at each append; the active segment is never deleted
// for size.
func TestRetentionBySize(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	cfg := TopicConfig{RetentionBytes: 2048, SegmentBytes: 1024}
	tp := create(t, l, "t", cfg)
	for i := range 40 {
		appendT(t, tp, recs(i, 1, 200))
		var total int64
		segs := segments(t, tp)
		for _, p := range segs {
			total += fileSize(t, p)
		}
		// Without its oldest segment the topic would hold less than the cap.
		if len(segs) > 1 && total-fileSize(t, segs[0]) >= cfg.RetentionBytes {
			t.Fatalf("after record %d: %d bytes in %d segments, the oldest could go", i, total, len(segs))
		}
	}
	start, end, _ := tp.Offsets()
	// Segments of 4 records (1020 bytes with the magic line): the cap
	// keeps the two newest whole ones and the active one.
	if end != 40 || start != 28 {
		t.Fatalf("offsets %d..%d", start, end)
	}
	checkRecords(t, readAll(t, tp, start), int(start), int(40-start), 200)
	// A topic of one segment larger than the cap keeps it.
	tp2 := create(t, l, "big", TopicConfig{RetentionBytes: 1, SegmentBytes: MaxSegmentBytes})
	appendT(t, tp2, recs(0, 5, 200))
	if s, _, _ := tp2.Offsets(); s != 0 {
		t.Fatalf("the active segment was deleted: start %d", s)
	}
}

// Retention runs on its own every RetentionCheck, with no append, and by
// the settings stored with the topic.
func TestRetentionLoop(t *testing.T) {
	clk := &clock{now: time.UnixMilli(1_000_000)}
	dir := t.TempDir()
	l := openLog(t, dir, Options{Now: clk.Now})
	tp := create(t, l, "t", TopicConfig{Retention: time.Minute, SegmentBytes: 1024})
	r := recs(0, 10, 200)
	for i := range r {
		r[i].Timestamp = clk.now.UnixMilli()
	}
	appendT(t, tp, r)
	l.Close()
	// A new process, with a fast retention check, and time moved on.
	clk.now = clk.now.Add(2 * time.Minute) // set before the new log reads it
	l = openLog(t, dir, Options{Now: clk.Now, RetentionCheck: 10 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for {
		tp, err := l.Topic("t")
		if err != nil {
			t.Fatal(err)
		}
		if s, e, _ := tp.Offsets(); s == 10 && e == 10 {
			break
		}
		if time.Now().After(deadline) {
			s, e, _ := tp.Offsets()
			t.Fatalf("retention did not run: offsets %d..%d", s, e)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}
