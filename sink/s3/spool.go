package s3

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// A spool file holds the records of one object that is not uploaded yet:
// a header record, then one record per event. Files are named <n>.open
// while records are added and renamed to <n>.sealed when the object is
// complete; n grows, so sealed objects upload in order.
//
// # Format 2 (this version)
//
// The file starts with the magic line "sluice spool 2\n", then the
// records, each framed as
//
//	len u32 | flags u8 | hi u64 | lo u64 | time i64 | crc u32 | hcrc u32 | payload
//
// (little endian; len is the payload's length, crc the CRC-32C of the
// payload, hcrc the CRC-32C of the 33 head bytes before it; time is the
// event time in ms, for event-time rotation after a restart). The head has
// a checksum of its own so that a length can be trusted before the payload
// it announces is read: a record cut short by the end of the file is then
// told apart from a damaged length.
//
// # Torn tails and damage
//
// Write appends records in writes of up to spoolWriteBytes, in order, and
// fsyncs once before it returns, so a crash (a killed process, or a power
// loss on a file system that makes a file's size durable only with the
// data it covers: ext4 in its default data=ordered mode, XFS, btrfs) leaves
// a prefix of the unfinished batch, as one large write would:
// whole records, then at most one record cut short. That last record was
// never acknowledged, and opening the file cuts it (the records before it
// are kept: they are the beginning of the unacknowledged batch, in order,
// and the engine's replay skips them). Anything else — a record whose
// checksum fails, a head whose length or flags cannot be, a first record
// that is not the header, a sealed file (fsynced whole before its rename)
// that ends inside a record — is damage to records that were acknowledged
// to the source and are not in S3 yet: opening the file fails with a
// *spoolDamagedError naming the file, what is wrong and the ways to
// recover, and the file is left as it is. An open file cut short inside
// acknowledged records, which only a truncated copy makes, cannot be told
// from a torn write.
//
// # Format 1 (earlier versions)
//
// No magic line, and records framed as
//
//	len u32 | crc u32 | flags u8 | hi u64 | lo u64 | time i64 | payload
//
// with len counting flags..payload and crc covering them. A file is taken
// for format 1 when its bytes 8..14 are those of a format-1 header record
// (the header flag, then zeros), which the magic line, even with a damaged
// byte, never has. Such files are still read; an open one is sealed as it
// is when the sink loads it, so records are only ever appended in format 2.
// Without a head checksum, a record whose length runs past the end of the
// file is taken for a torn write only when no whole record can be found in
// the bytes after it; a damaged length in the very last record is not
// detected. Earlier versions of sluice cannot read format 2: they take a
// format-2 file for one whose header never reached the disk and remove it,
// so a spool must be empty (the sink closed cleanly) before going back to
// one.

const (
	recHeader byte = 1 << iota // the file's header (JSON)
	recSnap                    // position is a snapshot ordinal (lo)
)

const (
	spoolMagic = "sluice spool 2\n"
	frameHead  = 4 + 1 + 8 + 8 + 8 + 4 + 4 // format 2
	frameHead1 = 4 + 4 + 1 + 8 + 8 + 8     // format 1
	maxRecord  = 1 << 30                   // payload bytes a record may declare
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spoolHeader describes the object a spool file builds.
type spoolHeader struct {
	Stream  string    `json:"stream"`
	Dir     string    `json:"dir"`               // rendered partition
	Format  string    `json:"format"`            // parquet or a JSON-lines format
	Options string    `json:"options,omitempty"` // the JSON-lines format's options
	Version int       `json:"version,omitempty"`
	Cols    []colSpec `json:"cols,omitempty"` // parquet only
	// Opened is the wall-clock time the object was opened (Unix ms), so
	// that rotate_schedule_interval counts from it after a restart too.
	// Spools of older versions have none: their age counts from the
	// restart.
	Opened int64 `json:"opened,omitempty"`
}

// spool is one open or sealed spool file.
type spool struct {
	n       int
	path    string
	f       *os.File // nil once sealed
	hdr     spoolHeader
	key     string // open-spool map key
	count   int    // records
	bytes   int64  // payload bytes of records
	first   pos
	last    pos
	t0      int64     // event time of the first record (ms)
	maxSeq  event.Seq // highest Seq of a record
	maxSnap int64     // highest snapshot ordinal of a record
	opened  time.Time // wall clock, for rotate_schedule_interval
	buf     []byte    // framed records not yet written
	format  int       // the file's format: 2, or 1 for a file of an earlier version

	// synced is the file's length at its last successful fsync (what a
	// power failure leaves at least, where reload cuts it); written its
	// length as written.
	synced, written int64
}

// unsynced reports whether records were added since the last fsync.
func (s *spool) unsynced() bool { return len(s.buf) > 0 || s.written > s.synced }

// fsyncHook, when set (tests only), is called with a spool file's path
// before each fsync of it; an error fails the fsync.
var fsyncHook func(path string) error

func spoolName(dir string, n int, sealed bool) string {
	ext := ".open"
	if sealed {
		ext = ".sealed"
	}
	return filepath.Join(dir, fmt.Sprintf("%010d%s", n, ext))
}

// appendFrame appends a format-2 record.
func appendFrame(dst []byte, flags byte, p pos, t int64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint64(dst, p.hi)
	dst = binary.LittleEndian.AppendUint64(dst, p.lo)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return append(dst, payload...)
}

// createSpool starts a spool file; nothing is on disk until sync.
func createSpool(dir string, n int, hdr spoolHeader, now time.Time) (*spool, error) {
	path := spoolName(dir, n, false)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("s3 sink: create spool file: %w", err)
	}
	hdr.Opened = now.UnixMilli()
	h, err := json.Marshal(hdr)
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &spool{n: n, path: path, f: f, hdr: hdr, opened: now, format: 2}
	s.buf = append(s.buf, spoolMagic...)
	s.buf = appendFrame(s.buf, recHeader, pos{}, 0, h)
	return s, nil
}

// add appends a record (in memory until sync).
// spoolWriteBytes is how many framed bytes a spool buffers before it
// writes them to its file (without an fsync: sync makes them durable).
// Writing as the buffer fills keeps its memory flat and spares growing it,
// whatever the size of a Write's batch; a crash still leaves a prefix of
// the unfinished batch, as one large write would.
const spoolWriteBytes = 1 << 20

func (s *spool) add(p pos, t int64, payload []byte) error {
	flags := byte(0)
	if p.snap {
		flags = recSnap
	}
	need := frameHead + len(payload)
	if len(s.buf) > 0 && len(s.buf)+need > spoolWriteBytes {
		if err := s.write(); err != nil {
			return err
		}
	}
	if len(s.buf)+need > cap(s.buf) && len(s.buf) >= 64<<10 && len(s.buf)+need <= spoolWriteBytes {
		// A large batch: grow to the full size at once, where append's
		// steps would allocate several times that on the way. (Small
		// batches keep small buffers: there is one per open object.)
		s.buf = append(make([]byte, 0, spoolWriteBytes), s.buf...)
	}
	s.buf = appendFrame(s.buf, flags, p, t, payload)
	if s.count == 0 {
		s.first, s.t0 = p, t
	}
	s.note(p)
	s.count++
	s.bytes += int64(len(payload))
	return nil
}

// write writes the buffered records to the file.
func (s *spool) write() error {
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("s3 sink: write spool %s: %w", s.path, err)
	}
	s.written += int64(len(s.buf))
	s.buf = s.buf[:0]
	if cap(s.buf) > 4<<20 {
		s.buf = nil // a large record grew it
	}
	return nil
}

func (s *spool) note(p pos) {
	s.last = p
	if p.snap {
		s.maxSnap = max(s.maxSnap, int64(p.lo))
	} else if q := (event.Seq{Hi: p.hi, Lo: p.lo}); q.Compare(s.maxSeq) > 0 {
		s.maxSeq = q
	}
}

// sync writes the pending records and fsyncs the file.
func (s *spool) sync() error {
	if len(s.buf) > 0 {
		if err := s.write(); err != nil {
			return err
		}
	}
	var err error
	if fsyncHook != nil {
		err = fsyncHook(s.path)
	}
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("s3 sink: fsync spool %s: %w", s.path, err)
	}
	s.synced = s.written
	return nil
}

// seal syncs, closes and renames the file to its sealed name. The caller
// fsyncs the directory. fault is the sink's test hook, called between the
// fsync and the rename.
func (s *spool) seal(fault func(step string) error) error {
	if err := s.sync(); err != nil {
		return err
	}
	if err := fault(stepSynced); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("s3 sink: close spool %s: %w", s.path, err)
	}
	s.f = nil
	sealed := spoolName(filepath.Dir(s.path), s.n, true)
	if err := os.Rename(s.path, sealed); err != nil {
		return fmt.Errorf("s3 sink: seal spool %s: %w", s.path, err)
	}
	s.path = sealed
	return nil
}

// cut truncates an open spool file to what its last successful fsync
// covered (Sink.reload), and says whether it removed anything.
func (s *spool) cut() (bool, error) {
	if s.f == nil || !s.unsynced() {
		return false, nil
	}
	// Records still in the buffer are dropped too (load closes the file),
	// and bytes a failed write left past written are cut with the rest.
	s.buf = s.buf[:0]
	if err := s.f.Truncate(s.synced); err != nil {
		return false, fmt.Errorf("s3 sink: cut spool %s back to its last fsync: %w", s.path, err)
	}
	s.written = s.synced
	return true, nil
}

// close releases the file of an open spool without sealing it.
func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// recordFn receives a spool record: its flags, position, event time and
// payload.
type recordFn func(flags byte, p pos, t int64, payload []byte) error

// damage is what readSpool found wrong in a spool file.
type damage struct {
	off    int64 // where the damaged record starts: the file is whole before it
	detail string
}

func (d *damage) Error() string { return d.detail }

// recordName names the n-th record of a spool file in messages.
func recordName(n int) string {
	if n == 0 {
		return "the header record"
	}
	return "record " + strconv.Itoa(n)
}

// readSpool reads a spool file's records in order, calling fn for each, and
// returns the offset after the last whole record and the file's format (1
// or 2; 0 for an empty file). A torn tail (see "Torn tails and damage"
// above) ends the records without an error; damage is a *damage; an error
// of r or fn is returned as it is. payload is a fresh slice when fresh is
// set, else a buffer reused for the next record. Memory is bounded by the
// input: a length that is not there is not allocated.
func readSpool(r io.Reader, fresh bool, fn recordFn) (int64, int, error) {
	magic := make([]byte, len(spoolMagic))
	n, err := io.ReadFull(r, magic)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, nil
	}
	switch {
	case string(magic[:n]) == spoolMagic[:n]:
		if n < len(magic) {
			return 0, 2, nil // cut inside the magic line: nothing was acknowledged
		}
		rd := &recordReader{r: r, fresh: fresh, off: int64(n)}
		if br, ok := r.(*bufio.Reader); ok && !fresh {
			rd.br = br
		}
		end, err := rd.read2(fn)
		return end, 2, err
	case n < len(magic):
		// Too short to hold a whole record of either format: a crash in
		// the first write, nothing was acknowledged.
		return 0, 0, nil
	case bytes.Equal(magic[8:], v1Header):
		rd := &recordReader{r: io.MultiReader(bytes.NewReader(magic), r), fresh: fresh}
		end, err := rd.read1(fn)
		return end, 1, err
	}
	// A damaged magic line is told from a format-1 file by the bytes after
	// the first record's length and checksum, where format 1 has the header
	// flag and a zero position.
	return 0, 0, &damage{0, "it starts neither with the magic line of a spool file nor with a header record of format 1"}
}

// v1Header is what a format-1 file holds at bytes 8..14: its header
// record's flags and the first bytes of its zero position.
var v1Header = []byte{recHeader, 0, 0, 0, 0, 0, 0}

type recordReader struct {
	r io.Reader
	// br is r when it is a bufio.Reader and payloads need not be fresh:
	// a payload that fits its buffer is then handed to fn in place, not
	// copied.
	br    *bufio.Reader
	fresh bool
	buf   []byte
	off   int64 // where the next record starts
}

// head reads a record's head; short is set when the file ends inside it,
// eof when it ends before it.
func (rd *recordReader) head(head []byte) (eof, short bool, err error) {
	switch _, err := io.ReadFull(rd.r, head); err {
	case nil:
		return false, false, nil
	case io.EOF:
		return true, false, nil
	case io.ErrUnexpectedEOF:
		return false, true, nil
	default:
		return false, false, err
	}
}

// body reads size payload bytes; short is set when the file ends first,
// and the bytes that are there are returned.
func (rd *recordReader) body(size int) (b []byte, short bool, err error) {
	if size > 1<<20 {
		// Large: grow with what is actually there.
		b, err := io.ReadAll(io.LimitReader(rd.r, int64(size)))
		if err != nil {
			return nil, false, err
		}
		return b, len(b) < size, nil
	}
	if rd.br != nil && size <= rd.br.Size() {
		b, err := rd.br.Peek(size)
		switch {
		case err == nil:
			rd.br.Discard(size)
			return b, false, nil
		case err == io.EOF:
			return b, true, nil
		default:
			return nil, false, err
		}
	}
	if rd.fresh || cap(rd.buf) < size {
		rd.buf = make([]byte, size)
	}
	b = rd.buf[:size]
	n, err := io.ReadFull(rd.r, b)
	switch err {
	case nil:
		return b, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return b[:n], true, nil
	default:
		return nil, false, err
	}
}

// flagsDamage checks a record's flags: the header first, and only there.
func flagsDamage(rec int, flags byte) string {
	switch {
	case rec == 0 && flags != recHeader:
		return "its first record is not a header record"
	case rec > 0 && flags&^recSnap != 0:
		return fmt.Sprintf("%s has flags %#x, which no record has", recordName(rec), flags)
	}
	return ""
}

func (rd *recordReader) read2(fn recordFn) (int64, error) {
	le := binary.LittleEndian
	head := make([]byte, frameHead)
	for rec := 0; ; rec++ {
		eof, short, err := rd.head(head)
		if err != nil {
			return rd.off, err
		}
		if eof || short {
			return rd.off, nil // the end, or a torn head
		}
		if crc32.Checksum(head[:frameHead-4], castagnoli) != le.Uint32(head[frameHead-4:]) {
			return rd.off, &damage{rd.off, fmt.Sprintf("the head of %s (bytes %d..%d) fails its checksum", recordName(rec), rd.off, rd.off+frameHead)}
		}
		size, flags := le.Uint32(head), head[4]
		if size > maxRecord {
			return rd.off, &damage{rd.off, fmt.Sprintf("%s (at byte %d) declares %d bytes, more than a record holds", recordName(rec), rd.off, size)}
		}
		if msg := flagsDamage(rec, flags); msg != "" {
			return rd.off, &damage{rd.off, msg}
		}
		body, short, err := rd.body(int(size))
		if err != nil {
			return rd.off, err
		}
		if short {
			// The head is whole and checked, so the length is the one
			// written: the file ends inside the payload, as a crash
			// mid-append leaves it.
			return rd.off, nil
		}
		end := rd.off + frameHead + int64(size)
		if crc32.Checksum(body, castagnoli) != le.Uint32(head[frameHead-8:]) {
			return rd.off, &damage{rd.off, fmt.Sprintf("%s (bytes %d..%d) fails its checksum", recordName(rec), rd.off, end)}
		}
		p := pos{hi: le.Uint64(head[5:]), lo: le.Uint64(head[13:]), snap: flags&recSnap != 0}
		if err := fn(flags, p, int64(le.Uint64(head[21:])), body); err != nil {
			return rd.off, err
		}
		rd.off = end
	}
}

func (rd *recordReader) read1(fn recordFn) (int64, error) {
	le := binary.LittleEndian
	head := make([]byte, frameHead1)
	for rec := 0; ; rec++ {
		eof, short, err := rd.head(head)
		if err != nil {
			return rd.off, err
		}
		if eof || short {
			return rd.off, nil
		}
		n := le.Uint32(head)
		if n < frameHead1-8 || n > maxRecord+frameHead1-8 {
			return rd.off, &damage{rd.off, fmt.Sprintf("%s (at byte %d) declares an impossible length, %d", recordName(rec), rd.off, n)}
		}
		size, flags := int(n-(frameHead1-8)), head[8]
		body, short, err := rd.body(size)
		if err != nil {
			return rd.off, err
		}
		if short {
			// Format 1 has no head checksum: the length may be damaged
			// and hide the records after it. It is a torn write only if
			// none follows.
			tail := slices.Concat(head, body)
			switch at := findFrame1(tail[1:]); {
			case at >= 0:
				return rd.off, &damage{rd.off, fmt.Sprintf("%s (at byte %d) declares %d bytes, past the end of the file, yet a whole record starts at byte %d: its length is damaged",
					recordName(rec), rd.off, n-(frameHead1-8), rd.off+1+int64(at))}
			case at == -2:
				return rd.off, &damage{rd.off, fmt.Sprintf("%s (at byte %d) declares %d bytes, past the end of the file, and the %d bytes after it are too many to check for whole records",
					recordName(rec), rd.off, n-(frameHead1-8), len(tail)-1)}
			}
			return rd.off, nil
		}
		end := rd.off + frameHead1 + int64(size)
		if crc32.Update(crc32.Checksum(head[8:], castagnoli), castagnoli, body) != le.Uint32(head[4:]) {
			return rd.off, &damage{rd.off, fmt.Sprintf("%s (bytes %d..%d) fails its checksum", recordName(rec), rd.off, end)}
		}
		if msg := flagsDamage(rec, flags); msg != "" {
			return rd.off, &damage{rd.off, msg}
		}
		p := pos{hi: le.Uint64(head[9:]), lo: le.Uint64(head[17:]), snap: flags&recSnap != 0}
		if err := fn(flags, p, int64(le.Uint64(head[25:])), body); err != nil {
			return rd.off, err
		}
		rd.off = end
	}
}

// findFrame1 returns the offset of the first whole, checksummed format-1
// record (other than a header) in b, -1 when there is none, or -2 when b
// is too large to search (the checksums to compute are bounded by a
// multiple of len(b), so that garbage costs no more than reading it a few
// times).
func findFrame1(b []byte) int {
	le := binary.LittleEndian
	budget := 16*int64(len(b)) + 64<<20
	for i := 0; i+frameHead1 <= len(b); i++ {
		n := int64(le.Uint32(b[i:]))
		if n < frameHead1-8 || n+8 > int64(len(b)-i) || b[i+8]&^recSnap != 0 {
			continue
		}
		if budget -= n; budget < 0 {
			return -2
		}
		if crc32.Checksum(b[i+8:i+8+int(n)], castagnoli) == le.Uint32(b[i+4:]) {
			return i
		}
	}
	return -1
}

// openSpool loads a spool file left by an earlier run: it cuts a torn tail
// and reopens an .open file for appending. It returns nil for a file
// whose header never reached the disk, and a permanent *spoolDamagedError
// for a damaged one, which it leaves as it is.
func openSpool(path string, now time.Time) (*spool, error) {
	base := filepath.Base(path)
	num, ext, _ := strings.Cut(base, ".")
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, fmt.Errorf("s3 sink: unexpected file %s in the spool directory", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("s3 sink: open spool %s: %w", path, err)
	}
	s := &spool{n: n, path: path, f: f, opened: now}
	var sawHeader bool
	end, format, err := readSpool(bufio.NewReaderSize(f, 1<<20), false, func(flags byte, p pos, t int64, payload []byte) error {
		if flags&recHeader != 0 {
			sawHeader = true
			if err := json.Unmarshal(payload, &s.hdr); err != nil {
				s.hdr = spoolHeader{}
				return &damage{0, fmt.Sprintf("its header record is not the JSON sluice writes: %v", err)}
			}
			return nil
		}
		if s.count == 0 {
			s.first, s.t0 = p, t
		}
		s.note(p)
		s.count++
		s.bytes += int64(len(payload))
		return nil
	})
	s.format = format
	if err == nil && ext == "sealed" {
		// A spool file is fsynced, with its header and at least one
		// record, before it is renamed .sealed: it cannot have a torn
		// tail.
		next := s.count + 1
		if !sawHeader {
			next = 0
		}
		if st, serr := f.Stat(); serr != nil {
			err = serr
		} else if st.Size() != end {
			err = &damage{end, fmt.Sprintf("it ends inside %s (bytes %d..%d): a sealed spool file is complete, so it was cut short",
				recordName(next), end, st.Size())}
		} else if s.count == 0 {
			err = &damage{end, fmt.Sprintf("it ends before %s (at byte %d): a sealed spool file is complete, so it was cut short",
				recordName(next), end)}
		}
	}
	if err != nil {
		f.Close()
		var d *damage
		if errors.As(err, &d) {
			if !sawHeader {
				s.hdr = spoolHeader{}
			}
			return nil, component.Permanent(s.damaged(d))
		}
		return nil, fmt.Errorf("s3 sink: read spool %s: %w", path, err)
	}
	if !sawHeader {
		// Created but its header never reached the disk: nothing was
		// acknowledged from it.
		f.Close()
		return nil, nil
	}
	if s.hdr.Opened != 0 {
		s.opened = time.UnixMilli(s.hdr.Opened)
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("s3 sink: repair spool %s: %w", path, err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s.written, s.synced = end, end
	if ext == "sealed" {
		f.Close()
		s.f = nil
	}
	return s, nil
}

// replay reads the records of a sealed spool, to build its object. The file
// must hold exactly the records the sink counted when it spooled or loaded
// them; anything else is damage done since.
func (s *spool) replay(fn recordFn) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("s3 sink: open spool: %w", err)
	}
	defer f.Close()
	return s.replayFile(f, true, fn)
}

// replayFile is replay on the open spool file f, read from its start;
// with fresh false, the payload passed to fn is valid only until fn
// returns.
func (s *spool) replayFile(f *os.File, fresh bool, fn recordFn) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("s3 sink: open spool: %w", err)
	}
	read := &spool{path: s.path, hdr: s.hdr}
	var ferr error
	end, _, err := readSpool(bufio.NewReaderSize(f, 1<<20), fresh, func(flags byte, p pos, t int64, payload []byte) error {
		if flags&recHeader != 0 {
			return fn(flags, p, t, payload)
		}
		if read.count == 0 {
			read.first = p
		}
		read.note(p)
		read.count++
		ferr = fn(flags, p, t, payload)
		return ferr
	})
	if ferr != nil {
		return ferr
	}
	if err == nil && (end != st.Size() || read.count != s.count) {
		err = &damage{end, fmt.Sprintf("it holds %d whole records in %d bytes, where %d records were written to it", read.count, end, s.count)}
	}
	var d *damage
	if errors.As(err, &d) {
		return component.Permanent(read.damaged(d))
	}
	if err != nil {
		return fmt.Errorf("s3 sink: read spool %s: %w", s.path, err)
	}
	return nil
}

// spoolDamagedError reports a spool file that cannot be read whole. Its
// message says what is lost by each way out.
type spoolDamagedError struct {
	path        string
	detail      string
	stream      string // "" when the header is unreadable
	records     int    // whole records before the damage
	first, last pos    // of those records
	at          int64  // the file is whole up to here
}

func (s *spool) damaged(d *damage) *spoolDamagedError {
	return &spoolDamagedError{path: s.path, detail: d.detail, stream: s.hdr.Stream, records: s.count, first: s.first, last: s.last, at: d.off}
}

func (e *spoolDamagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 sink: spool file %s is damaged: %s. "+
		"It holds events that were acknowledged to the source and are not in S3 yet, so sluice stops rather than lose them. "+
		"To recover, stop sluice, then restore the file from a backup taken while sluice was stopped", e.path, e.detail)
	if e.records > 0 {
		fmt.Fprintf(&b, "; or keep its %d whole records and give up the rest: truncate -s %d %s (the events of stream %s after position %s that it held are lost)",
			e.records, e.at, e.path, e.stream, e.last)
	}
	fmt.Fprintf(&b, "; or remove it: rm %s ", e.path)
	switch {
	case e.stream == "":
		b.WriteString("(all its events are lost; the header that names their stream is unreadable)")
	case e.records == 0:
		fmt.Fprintf(&b, "(all its events of stream %s are lost)", e.stream)
	default:
		fmt.Fprintf(&b, "(all its events are lost: stream %s from position %s on)", e.stream, e.first)
	}
	b.WriteString(". Positions are written as in object names. " +
		"To get lost events into S3 again, snapshot the source again: with sluice stopped, remove state.db from the state directory " +
		"(every source of the pipeline then starts over, and S3 receives every row again).")
	return b.String()
}
