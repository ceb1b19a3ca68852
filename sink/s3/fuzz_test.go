package s3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/event"
)

// FuzzReadSpool: a spool file of any content (a torn or damaged tail, a
// foreign file) is read without panicking, and never loses a whole record
// silently. The rule: readSpool either reports damage, or what it yields is
// a prefix of whole, checksummed records and what it leaves after them is
// a torn tail — fewer bytes than a record's head, or a record cut short by
// the end of the file (its head checked, in format 2; no whole record
// after it, in format 1, which has no head checksum). A crash mid-append
// leaves exactly that; any other tail would hold a record that was
// acknowledged.
func FuzzReadSpool(f *testing.F) {
	var good []byte
	good = appendFrame1(good, recHeader, pos{}, 0, []byte(`{"stream":"s"}`))
	good = appendFrame1(good, 0, pos{hi: 1, lo: 2}, 3, []byte("line\n"))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	good = append([]byte(spoolMagic), appendFrame(nil, recHeader, pos{}, 0, []byte(`{"stream":"s"}`))...)
	good = appendFrame(good, 0, pos{hi: 1, lo: 2}, 3, []byte("line\n"))
	good = appendFrame(good, recSnap, pos{snap: true, lo: 1}, 3, []byte("snap\n"))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:len(good)-8])
	f.Add(good[:len(spoolMagic)-2])
	if b, err := os.ReadFile("testdata/spool-v1.open"); err == nil {
		f.Add(b)
		f.Add(b[:len(b)-5])
	}
	f.Fuzz(checkReadSpool)
}

func checkReadSpool(t *testing.T, b []byte) {
	var n, total int64
	end, format, err := readSpool(bytes.NewReader(b), false, func(_ byte, _ pos, _ int64, payload []byte) error {
		n++
		total += int64(len(payload))
		return nil
	})
	var d *damage
	if err != nil && !errors.As(err, &d) {
		t.Fatalf("error %v, want nil or damage", err)
	}
	if d != nil {
		end = d.off
	}
	if end > int64(len(b)) {
		t.Fatalf("end %d past the input's %d bytes", end, len(b))
	}
	if err != nil {
		return
	}
	// The records tile the file up to end.
	var want int64
	switch format {
	case 1:
		want = n*frameHead1 + total
	case 2:
		if len(b) >= len(spoolMagic) {
			want = int64(len(spoolMagic)) + n*frameHead + total
		}
	}
	if end != want {
		t.Fatalf("format %d: end %d, but %d records of %d payload bytes end at %d", format, end, n, total, want)
	}
	if tail := b[end:]; !isTornTail(format, tail) {
		t.Fatalf("format %d: %d bytes cut after %d that are not a torn record: %x", format, len(tail), end, tail[:min(len(tail), 64)])
	}
}

// isTornTail reports whether tail is what a crash mid-append leaves after
// the last whole record: fewer bytes than a head, or a record whose payload
// the end of the file cuts short (format 2: with a head that checks;
// format 1: with no whole record in the bytes after its start).
func isTornTail(format int, tail []byte) bool {
	le := binary.LittleEndian
	switch format {
	case 2:
		if len(tail) < frameHead {
			return true
		}
		if crc32.Checksum(tail[:frameHead-4], castagnoli) != le.Uint32(tail[frameHead-4:]) {
			return false
		}
		return frameHead+int64(le.Uint32(tail)) > int64(len(tail))
	case 1:
		if len(tail) < frameHead1 {
			return true
		}
		n := int64(le.Uint32(tail))
		if n < frameHead1-8 || 8+n <= int64(len(tail)) {
			return false
		}
		for i := 1; i+frameHead1 <= len(tail); i++ {
			n := int64(le.Uint32(tail[i:]))
			if n >= frameHead1-8 && 8+n <= int64(len(tail)-i) && tail[i+8]&^recSnap == 0 &&
				crc32.Checksum(tail[i+8:i+8+int(n)], castagnoli) == le.Uint32(tail[i+4:]) {
				return false
			}
		}
		return true
	}
	return len(tail) < len(spoolMagic) // too short for any record
}

// FuzzSpoolDamage: in a spool file of any records, every change of one
// byte is reported as damage, and every cut (a crash mid-append) is read
// without an error, keeping exactly the records that are whole.
func FuzzSpoolDamage(f *testing.F) {
	f.Add([]byte("line 1\nline 2\n"), uint16(40), byte(1), uint16(70))
	f.Add([]byte("a\n\nb"), uint16(3), byte(0x80), uint16(17))
	f.Add([]byte(""), uint16(0), byte(0xff), uint16(0))
	f.Fuzz(checkSpoolDamage)
}

func checkSpoolDamage(t *testing.T, data []byte, at uint16, x byte, cut uint16) {

	b := append([]byte(spoolMagic), appendFrame(nil, recHeader, pos{}, 0, []byte(`{"stream":"s"}`))...)
	ends := []int{len(b)}
	for i, p := range bytes.Split(data, []byte("\n")) {
		b = appendFrame(b, byte(i%2)*recSnap, pos{snap: i%2 == 1, hi: uint64(i), lo: uint64(i)}, int64(i), p)
		ends = append(ends, len(b))
	}
	// A cut: the records whole before it are kept.
	c := int(cut) % (len(b) + 1)
	n := 0
	end, _, err := readSpool(bytes.NewReader(b[:c]), false, func(byte, pos, int64, []byte) error { n++; return nil })
	whole := 0
	for _, e := range ends {
		if e <= c {
			whole++
		}
	}
	wantEnd := 0
	if c >= len(spoolMagic) {
		wantEnd = len(spoolMagic)
	}
	if whole > 0 {
		wantEnd = ends[whole-1]
	}
	if err != nil || n != whole || end != int64(wantEnd) {
		t.Fatalf("cut at %d of %d: %d records to %d, err %v; want %d records to %d", c, len(b), n, end, err, whole, wantEnd)
	}
	// A changed byte: damage.
	if x == 0 {
		return
	}
	i := int(at) % len(b)
	b[i] ^= x
	_, _, err = readSpool(bytes.NewReader(b), false, func(byte, pos, int64, []byte) error { return nil })
	var d *damage
	if !errors.As(err, &d) {
		t.Fatalf("byte %d of %d changed (xor %#x): err %v, want damage", i, len(b), x, err)
	}
}

// FuzzDecodeRow: spooled Parquet rows of any content decode or fail
// cleanly, in the columnar decoder the sink uses (and in the reference row
// decoder).
func FuzzDecodeRow(f *testing.F) {
	seed, _, _ := appendEventRow(nil, specsFor(typesSchema), &event.Event{Schema: typesSchema, Op: event.OpCreate, After: typesRow(1)})
	f.Add(seed)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	cols := make([][]parquet.Value, 64)
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeRow(nil, b)
		for i := range cols {
			cols[i] = cols[i][:0]
		}
		decodeColumns(cols, nil, b)
	})
}

// FuzzPartition: any template parses or is rejected, and renders without
// panicking.
func FuzzPartition(f *testing.F) {
	f.Add(DefaultPartition)
	f.Add("$${x}/${table}$")
	f.Add("${")
	e := change(1, event.OpCreate)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePartition(s)
		if err == nil {
			p.render(nil, &e)
		}
	})
}
