package s3

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// appendFrame1 appends a record in spool format 1, as sluice before spool
// format 2 wrote it.
func appendFrame1(dst []byte, flags byte, p pos, t int64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(frameHead1-8+len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint64(dst, p.hi)
	dst = binary.LittleEndian.AppendUint64(dst, p.lo)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+8:], castagnoli))
	return dst
}

// spoolEnv is the environment newTestSink gives its sinks.
var spoolEnv = component.Env{Name: "lake"}

// newSpoolSink is newTestSink with room for 10 records per object, so that
// the tests' events stay in one open spool file.
func newSpoolSink(t *testing.T, dir string, store *memStore) *Sink {
	t.Helper()
	cfg := rowConfig()
	cfg.FlushSize = 10
	return newTestSink(t, cfg, dir, store)
}

// reopen is New on dir as a restart after a crash does it; it returns the
// error instead of failing.
func reopen(dir string) (*Sink, error) {
	cfg := rowConfig()
	cfg.FlushSize = 10
	env := spoolEnv
	env.StateDir = dir
	return New(cfg, env)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// spoolOfThree spools changes 1, 2 and 3, each in a Write of its own (so
// each is acknowledged), and crashes. It returns the spool file and where
// each record ends.
func spoolOfThree(t *testing.T, dir string) (string, []int64) {
	t.Helper()
	s := newSpoolSink(t, dir, newMemStore())
	path := spoolName(s.spool, 1, false)
	var ends []int64
	for i := 1; i <= 3; i++ {
		write(t, s, changes(i, i))
		ends = append(ends, fileSize(t, path))
	}
	crash(s)
	return path, ends
}

// TestSpoolDamageBeforeTail: a damaged record with acknowledged records
// after it stops the sink with an error naming the file, the damage and the
// ways out, and the file is left as it is. (Before, the file was cut at the
// damaged record, silently: records 2 and 3, both acknowledged, were lost.)
func TestSpoolDamageBeforeTail(t *testing.T) {
	dir := t.TempDir()
	path, ends := spoolOfThree(t, dir)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[ends[0]+40] ^= 0x01 // in record 2's payload
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := reopen(dir)
	if err == nil {
		size := fileSize(t, path)
		s.Close(context.Background())
		t.Fatalf("New succeeded on a spool file whose record 2 of 3 is damaged; the file is now %d bytes of %d", size, len(b))
	}
	want := fmt.Sprintf("s3 sink: spool file %[1]s is damaged: record 2 (bytes %[2]d..%[3]d) fails its checksum. "+
		"It holds events that were acknowledged to the source and are not in S3 yet, so sluice stops rather than lose them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped; "+
		"or keep its 1 whole records and give up the rest: truncate -s %[2]d %[1]s "+
		"(the events of stream pg.public.users after position 0000000000001000-0000000000000ff8 that it held are lost); "+
		"or remove it: rm %[1]s (all its events are lost: stream pg.public.users from position 0000000000001000-0000000000000ff8 on). "+
		"Positions are written as in object names. "+
		"To get lost events into S3 again, snapshot the source again: with sluice stopped, remove state.db from the state directory "+
		"(every source of the pipeline then starts over, and S3 receives every row again).", path, ends[0], ends[1])
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if !component.IsPermanent(err) {
		t.Error("the error is not permanent: the engine would retry what only the user can fix")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Errorf("the damaged file was changed: %d bytes, was %d", len(got), len(b))
	}
}

// TestSpoolAnyChangedByteIsAnError changes each byte of a spool file in
// turn: every change is reported, none is taken for a torn write, and the
// file is never cut. (New's handling of the error is
// TestSpoolDamageBeforeTail's.)
func TestSpoolAnyChangedByteIsAnError(t *testing.T) {
	path, _ := spoolOfThree(t, t.TempDir())
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(orig)
			b[i] ^= x
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			sp, err := openSpool(path, time.Now())
			if sp != nil {
				sp.close()
			}
			var d *spoolDamagedError
			if !errors.As(err, &d) || !component.IsPermanent(err) {
				t.Fatalf("byte %d xor %#x: err %v, want a permanent damaged-spool error", i, x, err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
				t.Fatalf("byte %d xor %#x: the file was changed", i, x)
			}
		}
	}
}

// TestSpoolCrashMidAppend kills the sink at every byte of an append: after
// change 1 is acknowledged (fsynced), a Write of changes 2..4 reaches the
// file up to some byte and the process dies before the fsync returns. The
// restart keeps every whole record, cuts the torn one silently, and after
// the engine's replay the bucket holds each change exactly once. The cut at
// the end of a record is the crash just after an fsync: the replay of the
// acknowledged records is skipped.
func TestSpoolCrashMidAppend(t *testing.T) {
	// Where each record ends: the records of one Write are the bytes of
	// Writes of one record each.
	ref := t.TempDir()
	s := newSpoolSink(t, ref, newMemStore())
	path := spoolName(s.spool, 1, false)
	var ends []int64
	for i := 1; i <= 4; i++ {
		write(t, s, changes(i, i))
		ends = append(ends, fileSize(t, path))
	}
	crash(s)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every byte of the first torn record's head and a little more, then
	// every 7th byte, and each record's end and the bytes around it.
	var cuts []int64
	for cut := ends[0]; cut <= ends[3]; cut++ {
		if cut < ends[0]+frameHead+4 || (cut-ends[0])%7 == 0 || slices.ContainsFunc(ends, func(e int64) bool { return cut >= e-1 && cut <= e+1 }) {
			cuts = append(cuts, cut)
		}
	}
	for _, cut := range cuts {
		dir := t.TempDir()
		store := newMemStore()
		s := newSpoolSink(t, dir, store)
		write(t, s, changes(1, 1))
		write(t, s, changes(2, 4))
		crash(s)
		if b, _ := os.ReadFile(path); !bytes.Equal(b, full) {
			t.Fatal("a Write of three records wrote other bytes than three Writes of one")
		}
		if err := os.Truncate(spoolName(s.spool, 1, false), cut); err != nil {
			t.Fatal(err)
		}
		s, err := reopen(dir)
		if err != nil {
			t.Fatalf("cut at byte %d: %v", cut, err)
		}
		s.store = store
		whole := 0
		for _, e := range ends {
			if e <= cut {
				whole++
			}
		}
		if len(s.open) != 1 {
			t.Fatalf("cut at byte %d: %d open spools, want 1", cut, len(s.open))
		}
		for _, sp := range s.open {
			if sp.count != whole {
				t.Fatalf("cut at byte %d: %d records kept, want the %d whole ones", cut, sp.count, whole)
			}
			if got := fileSize(t, sp.path); got != ends[whole-1] {
				t.Fatalf("cut at byte %d: the file is %d bytes, want %d (the end of record %d)", cut, got, ends[whole-1], whole)
			}
		}
		// The engine replays from its checkpoint, at most the first
		// unacknowledged event.
		write(t, s, changes(2, 5))
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkObjects(t, store, map[string]string{key(1, 5): rows(1, 5)})
	}
}

// TestSealedSpoolCutShort: a sealed spool file was fsynced whole before
// its rename, so one that ends inside a record was cut short after: an
// error, not a torn write.
func TestSealedSpoolCutShort(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	store.fail = errors.New("unreachable")
	s := newTestSink(t, rowConfig(), dir, store) // flush_size 3
	write(t, s, changes(1, 3))
	crash(s)
	path := spoolName(s.spool, 1, true)
	size := fileSize(t, path)
	if err := os.Truncate(path, size-3); err != nil {
		t.Fatal(err)
	}
	env := spoolEnv
	env.StateDir = dir
	_, err := New(rowConfig(), env)
	var d *spoolDamagedError
	if !errors.As(err, &d) {
		t.Fatalf("err %v, want a damaged-spool error", err)
	}
	if want := fmt.Sprintf("it ends inside record 3 (bytes %d..%d): a sealed spool file is complete, so it was cut short", d.at, size-3); d.detail != want {
		t.Errorf("detail %q\nwant %q", d.detail, want)
	}
	if d.records != 2 || d.last != (pos{hi: 0x2000, lo: 0x1ff8}) {
		t.Errorf("%d whole records up to %s, want 2 up to change 2", d.records, d.last)
	}
}

// TestSpoolDamagedAfterLoad: a sealed spool damaged while the sink runs is
// found when its object is built, and not uploaded.
func TestSpoolDamagedAfterLoad(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	store.fail = errors.New("unreachable")
	s := newTestSink(t, rowConfig(), dir, store)
	write(t, s, changes(1, 3))
	settle(s) // the upload failed; the next Write uploads first
	path := spoolName(s.spool, 1, true)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	err = s.Write(context.Background(), changes(4, 4))
	var d *spoolDamagedError
	if !errors.As(err, &d) || !component.IsPermanent(err) {
		t.Fatalf("err %v, want a permanent damaged-spool error", err)
	}
	if want := fmt.Sprintf("record 3 (bytes %d..%d) fails its checksum", d.at, len(b)); d.detail != want {
		t.Errorf("detail %q\nwant %q", d.detail, want)
	}
	if keys := store.keys(); len(keys) != 0 {
		t.Errorf("uploaded %v", keys)
	}
	crash(s)
}

// v1Records returns where each record of a format-1 spool file starts, and
// its end.
func v1Records(b []byte) []int64 {
	var offs []int64
	for off := int64(0); off+frameHead1 <= int64(len(b)); {
		offs = append(offs, off)
		off += 8 + int64(binary.LittleEndian.Uint32(b[off:]))
	}
	return append(offs, int64(len(b)))
}

// spoolV1 is testdata/spool-v1.open, an open spool file written by sluice
// before spool format 2 (its commit de82695): the header, snapshot rows 1
// and 2, then changes 1 and 2 of users, each Write acknowledged.
func spoolV1(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/spool-v1.open")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSpoolFormat1: a spool file of an earlier version is read, sealed as
// it is (records are appended in format 2 only) and uploaded; the replay
// of its events is skipped.
func TestSpoolFormat1(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	s := newSpoolSink(t, dir, store)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spoolName(s.spool, 1, false), spoolV1(t), 0o644); err != nil {
		t.Fatal(err)
	}
	s = newSpoolSink(t, dir, store)
	if len(s.sealed) != 1 || s.sealed[0].format != 1 || s.sealed[0].count != 4 {
		t.Fatalf("loaded %d sealed spools, want the format-1 file, sealed, with its 4 records", len(s.sealed))
	}
	write(t, s, changes(1, 4)) // the replay
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := "{\"id\":1,\"name\":\"user 1\",\"__op\":\"r\",\"__lsn\":1280}\n{\"id\":2,\"name\":\"user 2\",\"__op\":\"r\",\"__lsn\":1280}\n"
	checkObjects(t, store, map[string]string{
		"cdc/pg.public.users/dt=2024-01-01/hour=10/pg.public.users+s000000000001+0000000000002000-0000000000001ff8.jsonl": snap + rows(1, 2),
		key(3, 4): rows(3, 4),
	})
}

// TestSpoolFormat1Damage: damage in a format-1 file is found too, and its
// torn tail is still cut.
func TestSpoolFormat1Damage(t *testing.T) {
	orig := spoolV1(t)
	rec := v1Records(orig) // header, snapshot rows 1 and 2, changes 1 and 2, end
	for _, tc := range []struct {
		name    string
		change  func(b []byte) []byte
		want    string // the damage; "" for none
		records int    // whole records kept or before the damage
	}{
		{"torn", func(b []byte) []byte { return b[:len(b)-5] }, "", 3},
		{"torn head", func(b []byte) []byte { return b[:rec[4]+10] }, "", 3},
		{"payload", func(b []byte) []byte { b[rec[2]+40] ^= 1; return b },
			fmt.Sprintf("record 2 (bytes %d..%d) fails its checksum", rec[2], rec[3]), 1},
		{"length past the end", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[rec[2]:], 1<<20); return b },
			fmt.Sprintf("record 2 (at byte %d) declares %d bytes, past the end of the file, yet a whole record starts at byte %d: its length is damaged", rec[2], 1<<20-25, rec[3]), 1},
		{"impossible length", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[rec[2]:], 3); return b },
			fmt.Sprintf("record 2 (at byte %d) declares an impossible length, 3", rec[2]), 1},
		{"header", func(b []byte) []byte { b[50] ^= 1; return b },
			fmt.Sprintf("the header record (bytes 0..%d) fails its checksum", rec[1]), 0},
		{"not a spool file", func(b []byte) []byte { b[9] = 1; return b },
			"it starts neither with the magic line of a spool file nor with a header record of format 1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := spoolName(t.TempDir(), 1, false)
			b := tc.change(bytes.Clone(orig))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			sp, err := openSpool(path, time.Now())
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer sp.close()
				if sp.count != tc.records || sp.format != 1 || fileSize(t, path) != rec[tc.records+1] {
					t.Fatalf("%d records in format %d, %d bytes; want %d records in format 1, %d bytes", sp.count, sp.format, fileSize(t, path), tc.records, rec[tc.records+1])
				}
				return
			}
			var d *spoolDamagedError
			if !errors.As(err, &d) {
				t.Fatalf("err %v, want a damaged-spool error", err)
			}
			if d.detail != tc.want || d.records != tc.records {
				t.Errorf("damage %q after %d records\nwant   %q after %d", d.detail, d.records, tc.want, tc.records)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// TestSpoolDamagedHeader: when the header is unreadable, the message says
// that the stream is unknown and offers no truncation.
func TestSpoolDamagedHeader(t *testing.T) {
	dir := t.TempDir()
	path, _ := spoolOfThree(t, dir)
	b, _ := os.ReadFile(path)
	b[len(spoolMagic)+frameHead+3] ^= 1 // in the header's JSON
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := reopen(dir)
	want := fmt.Sprintf("s3 sink: spool file %[1]s is damaged: the header record (bytes 15..%[2]d) fails its checksum. "+
		"It holds events that were acknowledged to the source and are not in S3 yet, so sluice stops rather than lose them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped; "+
		"or remove it: rm %[1]s (all its events are lost; the header that names their stream is unreadable). "+
		"Positions are written as in object names. "+
		"To get lost events into S3 again, snapshot the source again: with sluice stopped, remove state.db from the state directory "+
		"(every source of the pipeline then starts over, and S3 receives every row again).", path, headerEnd(t, b))
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

// headerEnd is where a format-2 file's header record ends.
func headerEnd(t *testing.T, b []byte) int {
	t.Helper()
	return len(spoolMagic) + frameHead + int(binary.LittleEndian.Uint32(b[len(spoolMagic):]))
}

// TestSealedSpoolEmpty: a sealed spool file always holds its header and a
// record; an empty one was emptied, and is not removed as a file that
// never reached the disk.
func TestSealedSpoolEmpty(t *testing.T) {
	for _, size := range []int64{0, int64(len(spoolMagic))} {
		path := spoolName(t.TempDir(), 1, true)
		if err := os.WriteFile(path, []byte(spoolMagic)[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := openSpool(path, time.Now())
		var d *spoolDamagedError
		if !errors.As(err, &d) {
			t.Fatalf("%d bytes: err %v, want a damaged-spool error", size, err)
		}
		if want := fmt.Sprintf("it ends before the header record (at byte %d): a sealed spool file is complete, so it was cut short", size); d.detail != want {
			t.Errorf("detail %q\nwant %q", d.detail, want)
		}
	}
}
