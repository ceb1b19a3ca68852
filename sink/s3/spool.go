package s3

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// A spool file holds the records of one object that is not uploaded yet:
// a header record, then one record per event, each framed as
//
//	len u32 | crc32c u32 | flags u8 | hi u64 | lo u64 | time i64 | payload
//
// (little endian; len counts flags..payload, the CRC covers them; time is
// the event time in ms, for event-time rotation after a restart). A crash
// can leave a torn last record; opening the file cuts it. Files are named
// <n>.open while records are added and renamed to <n>.sealed when the
// object is complete; n grows, so sealed objects upload in order.

const (
	recHeader byte = 1 << iota // the file's header (JSON)
	recSnap                    // position is a snapshot ordinal (lo)
)

const frameHead = 4 + 4 + 1 + 8 + 8 + 8

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
}

func spoolName(dir string, n int, sealed bool) string {
	ext := ".open"
	if sealed {
		ext = ".sealed"
	}
	return filepath.Join(dir, fmt.Sprintf("%010d%s", n, ext))
}

func appendFrame(dst []byte, flags byte, p pos, t int64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(frameHead-8+len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint64(dst, p.hi)
	dst = binary.LittleEndian.AppendUint64(dst, p.lo)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+8:], castagnoli))
	return dst
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
	s := &spool{n: n, path: path, f: f, hdr: hdr, opened: now}
	s.buf = appendFrame(s.buf, recHeader, pos{}, 0, h)
	return s, nil
}

// add appends a record (in memory until sync).
func (s *spool) add(p pos, t int64, payload []byte) {
	flags := byte(0)
	if p.snap {
		flags = recSnap
	}
	s.buf = appendFrame(s.buf, flags, p, t, payload)
	if s.count == 0 {
		s.first, s.t0 = p, t
	}
	s.note(p)
	s.count++
	s.bytes += int64(len(payload))
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
		if _, err := s.f.Write(s.buf); err != nil {
			return fmt.Errorf("s3 sink: write spool %s: %w", s.path, err)
		}
		s.buf = s.buf[:0]
		if cap(s.buf) > 4<<20 {
			s.buf = nil
		}
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("s3 sink: fsync spool %s: %w", s.path, err)
	}
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

// close releases the file of an open spool without sealing it.
func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// readSpool reads a spool file's records, calling fn for each. payload is a
// fresh slice when fresh is set, else a buffer reused for the next record.
// It returns the offset after the last whole record; a torn or corrupt tail
// is not an error (a crash mid-write leaves one). Memory is bounded by the
// input: a corrupt length does not allocate what is not there.
func readSpool(r io.Reader, fresh bool, fn func(flags byte, p pos, t int64, payload []byte) error) (int64, error) {
	var off int64
	var buf []byte
	head := make([]byte, frameHead)
	for {
		if _, err := io.ReadFull(r, head); err != nil {
			return off, nil // EOF or a torn frame head
		}
		n := binary.LittleEndian.Uint32(head)
		if n < frameHead-8 || n > 1<<30 {
			return off, nil
		}
		size := int(n - (frameHead - 8))
		var body []byte
		if size > 1<<20 {
			// Large: grow with what is actually there.
			b, err := io.ReadAll(io.LimitReader(r, int64(size)))
			if err != nil || len(b) != size {
				return off, nil
			}
			body = b
		} else {
			if fresh || cap(buf) < size {
				buf = make([]byte, size)
			}
			body = buf[:size]
			if _, err := io.ReadFull(r, body); err != nil {
				return off, nil
			}
		}
		crc := crc32.Update(crc32.Checksum(head[8:], castagnoli), castagnoli, body)
		if crc != binary.LittleEndian.Uint32(head[4:]) {
			return off, nil
		}
		p := pos{hi: binary.LittleEndian.Uint64(head[9:]), lo: binary.LittleEndian.Uint64(head[17:]), snap: head[8]&recSnap != 0}
		if err := fn(head[8], p, int64(binary.LittleEndian.Uint64(head[25:])), body); err != nil {
			return off, err
		}
		off += int64(frameHead) + int64(len(body))
	}
}

// openSpool loads a spool file left by an earlier run: it cuts a torn tail
// and reopens an .open file for appending.
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
	end, err := readSpool(bufio.NewReaderSize(f, 1<<20), false, func(flags byte, p pos, t int64, payload []byte) error {
		if flags&recHeader != 0 {
			sawHeader = true
			return json.Unmarshal(payload, &s.hdr)
		}
		if !sawHeader {
			return errors.New("record before the header")
		}
		if s.count == 0 {
			s.first, s.t0 = p, t
		}
		s.note(p)
		s.count++
		s.bytes += int64(len(payload))
		return nil
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("s3 sink: spool %s: %w", path, err)
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
	if ext == "sealed" {
		f.Close()
		s.f = nil
	}
	return s, nil
}
