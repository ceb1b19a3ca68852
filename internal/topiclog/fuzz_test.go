package topiclog

import (
	"errors"
	"os"
	"testing"
)

// FuzzSegment opens a topic whose segment file holds arbitrary bytes, as
// its active segment and as a sealed one, and reads it: it never panics,
// allocates no more than the input holds (frame.Reader), and either opens
// with records in sequence or fails with a *DamagedError.
func FuzzSegment(f *testing.F) {
	// Seeds: a valid segment of a few records, and cuts and flips of it.
	dir := f.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	tp, err := l.CreateTopic("t", smallTopic(DefaultSegmentBytes))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := tp.Append(recs(0, 5, 10)); err != nil {
		f.Fatal(err)
	}
	l.Close()
	valid, err := os.ReadFile(segmentPath(topicDir(dir, "t"), 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, false)
	f.Add(valid[:len(valid)-3], false)
	f.Add(valid, true)
	flipped := append([]byte(nil), valid...)
	flipped[len(segmentMagic)+2] ^= 0xff
	f.Add(flipped, false)
	f.Add([]byte(segmentMagic), false)
	f.Add([]byte{}, true)

	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		dir := t.TempDir()
		td := topicDir(dir, "t")
		if err := os.MkdirAll(td, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(segmentPath(td, 0), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if sealed {
			// A later segment, starting where the fuzzed one's whole
			// records end, makes the fuzzed one sealed.
			s := newSegment(td, 0)
			fh, err := os.Open(segmentPath(td, 0))
			if err != nil {
				t.Fatal(err)
			}
			_, err = scan(fh, s)
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(segmentPath(td, s.next), []byte(segmentMagic), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		tp, err := l.Topic("t")
		var d *DamagedError
		if err != nil {
			if !errors.As(err, &d) {
				t.Fatalf("open: not a DamagedError: %v", err)
			}
			return
		}
		got, err := readAllErr(tp, 0)
		if err != nil && !errors.As(err, &d) {
			var oor *OutOfRangeError
			if !errors.As(err, &oor) {
				t.Fatalf("read: %v", err)
			}
		}
		for i, r := range got {
			if r.Offset != int64(i) {
				t.Fatalf("record %d has offset %d", i, r.Offset)
			}
		}
	})
}

// FuzzPayload decodes arbitrary record payloads: never a panic, and a
// payload that decodes encodes to the same bytes.
func FuzzPayload(f *testing.F) {
	for i := range 8 {
		r := rec(i, 3)
		p, _ := appendRecord(nil, nil, &r, 0, 0)
		f.Add(p[recordFormat.HeadSize():])
	}
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		var r Record
		if err := decodePayload(p, &r); err != nil {
			return
		}
		b, _ := appendRecord(nil, nil, &r, 0, 0)
		if got := b[recordFormat.HeadSize():]; string(got) != string(p) {
			// Uvarints have one canonical form when written; a decoded
			// non-canonical one is the only way to differ.
			var again Record
			if err := decodePayload(got, &again); err != nil || !equalRecord(r, again) {
				t.Fatalf("%x decodes to %s which encodes to %x", p, show(r), got)
			}
		}
	})
}
