package topiclog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// threeRecords writes records 0, 1 and 2 to topic t of a new log, each in
// an append of its own (each acknowledged), closes the log and returns its
// directory, the segment file and where each record ends.
func threeRecords(t *testing.T) (dir, seg string, ends []int64) {
	t.Helper()
	dir = t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := create(t, l, "t", smallTopic(DefaultSegmentBytes))
	seg = segments(t, tp)[0]
	for i := range 3 {
		appendT(t, tp, recs(i, 1, 50))
		ends = append(ends, fileSize(t, seg))
	}
	l.Close()
	return dir, seg, ends
}

// openErr opens topic t of the log in dir and returns the error.
func openErr(t *testing.T, dir string) (*Topic, error) {
	t.Helper()
	l := openLog(t, dir, Options{})
	return l.Topic("t")
}

// A record cut short at the end of the active segment — a crash mid-append,
// never acknowledged — is cut without an error wherever the cut falls, and
// the log goes on from the record before it. So is a segment whose magic
// line a crash cut short.
func TestTornTail(t *testing.T) {
	dir, seg, ends := threeRecords(t)
	whole, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for cut := ends[1] + 1; cut < ends[2]; cut++ {
		if err := os.WriteFile(seg, whole[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		func() {
			tp, err := openErr(t, dir)
			if err != nil {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			checkRecords(t, readAll(t, tp, 0), 0, 2, 50)
			if got := fileSize(t, seg); got != ends[1] {
				t.Fatalf("cut at %d: the file has %d bytes, want %d", cut, got, ends[1])
			}
			if first := appendT(t, tp, recs(2, 1, 50)); first != 2 {
				t.Fatalf("cut at %d: the next append is at offset %d, want 2", cut, first)
			}
			tp.log.Close()
		}()
		if got, _ := os.ReadFile(seg); !bytes.Equal(got, whole) {
			t.Fatalf("cut at %d: the record appended again is not the same bytes", cut)
		}
	}
	for cut := range len(segmentMagic) {
		if err := os.WriteFile(seg, whole[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		tp, err := openErr(t, dir)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if start, end, _ := tp.Offsets(); start != 0 || end != 0 {
			t.Fatalf("cut at %d: offsets %d..%d", cut, start, end)
		}
		tp.log.Close()
		if got, _ := os.ReadFile(seg); string(got) != segmentMagic {
			t.Fatalf("cut at %d: the segment holds %q", cut, got)
		}
	}
}

// damageText is the error for damage in the only segment of topic t.
func damageText(seg, detail string, lost, at int64) string {
	return fmt.Sprintf("topic log: segment file %s of topic t is damaged: %s. "+
		"It holds records that were acknowledged to their writer, so sluice stops rather than skip them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped; "+
		"or give up the records from offset %d on: truncate -s %d %s; or give up the whole topic: rm -r %s. "+
		"Readers whose offset is gone then resume as their start_offset says, with a warning naming the records they lost.",
		seg, detail, lost, at, seg, filepath.Dir(seg))
}

// Damage before the tail — a payload or a head that fails its checksum in
// a whole record — is an error naming the file, what is wrong and the
// ways out; the file is left as it is, and the way out works.
func TestDamageBeforeTail(t *testing.T) {
	dir, seg, ends := threeRecords(t)
	whole, _ := os.ReadFile(seg)
	hs := int64(recordFormat.HeadSize())
	for _, c := range []struct {
		at     int64
		detail string
	}{
		{ends[0] + hs + 3, fmt.Sprintf("the record at bytes %d..%d fails its checksum", ends[0], ends[1])},
		{ends[0] + 2, fmt.Sprintf("the head of the record at bytes %d..%d fails its checksum", ends[0], ends[0]+hs)},
		{ends[2] - 1, fmt.Sprintf("the record at bytes %d..%d fails its checksum", ends[1], ends[2])},
		{3, "it does not start with the magic line of a segment file"},
	} {
		bad := bytes.Clone(whole)
		bad[c.at] ^= 0x20
		if err := os.WriteFile(seg, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := openErr(t, dir)
		lost, at := int64(1), ends[0]
		switch {
		case c.at < ends[0]:
			lost, at = 0, 0
		case c.at >= ends[1]:
			lost, at = 2, ends[1]
		}
		var d *DamagedError
		if want := damageText(seg, c.detail, lost, at); !errors.As(err, &d) || err.Error() != want {
			t.Fatalf("byte %d changed:\n got %v\nwant %s", c.at, err, want)
		}
		if got, _ := os.ReadFile(seg); !bytes.Equal(got, bad) {
			t.Fatalf("byte %d changed: the damaged file was changed", c.at)
		}
		closeDir(t, dir)
	}
	// The first way out: cut it where the damage starts.
	bad := bytes.Clone(whole)
	bad[ends[0]+hs+3] ^= 1
	if err := os.WriteFile(seg, bad[:ends[0]], 0o644); err != nil {
		t.Fatal(err)
	}
	tp, err := openErr(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, tp, 0), 0, 1, 50)
}

// closeDir closes the log this process has open in dir.
func closeDir(t *testing.T, dir string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	registry.Lock()
	l := registry.logs[abs]
	registry.Unlock()
	l.Close()
}

// Every byte of a segment is checked: changing any one is an error, never
// records silently lost or changed.
func TestEveryChangedByteIsAnError(t *testing.T) {
	dir, seg, _ := threeRecords(t)
	whole, _ := os.ReadFile(seg)
	for i := range whole {
		bad := bytes.Clone(whole)
		bad[i] ^= 0x01
		if err := os.WriteFile(seg, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Topic("t")
		l.Close()
		var d *DamagedError
		if !errors.As(err, &d) {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
}

// sealedTopic writes 80 records to topic t with small segments, closes the
// log, and returns its directory and segment files.
func sealedTopic(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := create(t, l, "t", smallTopic(MinSegmentBytes))
	for i := 0; i < 80; i += 4 {
		appendT(t, tp, recs(i, 4, 50))
	}
	segs := segments(t, tp)
	l.Close()
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	return dir, segs
}

// A sealed segment's index is trusted at open; damage inside it is found
// by the reader that reaches it, with the same kind of error, naming the
// newer and older segments among the ways out.
func TestSealedSegmentDamage(t *testing.T) {
	dir, segs := sealedTopic(t)
	b, _ := os.ReadFile(segs[1])
	at := int64(len(segmentMagic)) + int64(recordFormat.HeadSize()) + 2
	b[at] ^= 1
	os.WriteFile(segs[1], b, 0o644)
	tp, err := openErr(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	tp.mu.Lock()
	base, next := tp.mu.segs[1].base, tp.mu.segs[1].next
	end := tp.mu.segs[1].index // none: small segments
	tp.mu.Unlock()
	if len(end) != 0 {
		t.Fatal("unexpected index entries")
	}
	got, err := readAllErr(tp, 0)
	checkRecords(t, got, 0, int(base), 50)
	recEnd, _ := firstRecordEnd(segs[1])
	want := fmt.Sprintf("topic log: segment file %s of topic t is damaged: the record at bytes %d..%d fails its checksum. "+
		"It holds records that were acknowledged to their writer, so sluice stops rather than skip them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped; "+
		"or give up the records from offset %d on: truncate -s %d %s and remove the newer segment files of the topic (%s, with their .index files); "+
		"or give up the records before offset %d: remove this file and the older ones (rm %s %s, with their .index files), as retention would have. "+
		"Readers whose offset is gone then resume as their start_offset says, with a warning naming the records they lost.",
		segs[1], len(segmentMagic), recEnd, base, len(segmentMagic), segs[1], files(segs[2:]), next, segs[0], segs[1])
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func firstRecordEnd(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	m := int64(len(segmentMagic))
	return m + int64(recordFormat.HeadSize()) + int64(b[m]) + int64(b[m+1])<<8, nil
}

// A sealed segment cut short, or one missing between others, is found at
// open: by its size against its index, or by reading it when its index is
// gone.
func TestSealedSegmentCut(t *testing.T) {
	dir, segs := sealedTopic(t)
	size := fileSize(t, segs[1])
	os.Truncate(segs[1], size-3)
	_, err := openErr(t, dir)
	var d *DamagedError
	if !errors.As(err, &d) || d.Detail != fmt.Sprintf("it has %d bytes where %d were written (its index says so): it was changed since", size-3, size) {
		t.Fatalf("cut with its index: %v", err)
	}
}

func TestSealedSegmentCutNoIndex(t *testing.T) {
	dir, segs := sealedTopic(t)
	size := fileSize(t, segs[1])
	os.Truncate(segs[1], size-3)
	os.Remove(indexPath(segs[1]))
	_, err := openErr(t, dir)
	var d *DamagedError
	if !errors.As(err, &d) || !bytes.HasSuffix([]byte(d.Detail), []byte(": a segment is complete before the next one starts, so it was cut short")) {
		t.Fatalf("cut without its index: %v", err)
	}
}

func TestMissingSegment(t *testing.T) {
	dir, segs := sealedTopic(t)
	os.Remove(segs[2])
	_, err := openErr(t, dir)
	var d *DamagedError
	if !errors.As(err, &d) || d.Path != segs[1] || d.Detail != fmt.Sprintf("it ends before offset %d and the next segment file, %s, starts at offset %d: segment files are missing or were changed",
		mustBase(segs[2]), filepath.Base(segs[3]), mustBase(segs[3])) {
		t.Fatalf("a segment missing: %v", err)
	}
}

func mustBase(path string) int64 {
	b, _ := parseBase(filepath.Base(path))
	return b
}

// A missing or damaged index is rebuilt from its segment, the same bytes.
func TestIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	tp := create(t, l, "t", smallTopic(256<<10))
	appendT(t, tp, recs(0, 3000, 200))
	segs := segments(t, tp)
	l.Close()
	want, err := os.ReadFile(indexPath(segs[0]))
	if err != nil || len(want) < len(indexMagic)+3*8 {
		t.Fatalf("index of %d bytes (%v)", len(want), err)
	}
	for _, damage := range []func(){
		func() { os.Remove(indexPath(segs[0])) },
		func() { b := bytes.Clone(want); b[len(indexMagic)+5] ^= 1; os.WriteFile(indexPath(segs[0]), b, 0o644) },
		func() { os.WriteFile(indexPath(segs[0]), want[:len(want)-1], 0o644) },
		func() { os.WriteFile(indexPath(segs[0]), nil, 0o644) },
	} {
		damage()
		l := openLog(t, dir, Options{})
		tp, err := l.Topic("t")
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, readAll(t, tp, 1500), 1500, 1500, 200)
		l.Close()
		if got, _ := os.ReadFile(indexPath(segs[0])); !bytes.Equal(got, want) {
			t.Fatalf("the rebuilt index differs")
		}
	}
}
