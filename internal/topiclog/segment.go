package topiclog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/frame"
)

const (
	segmentMagic = "sluice topiclog 1\n"
	indexMagic   = "sluice topiclog index 1\n"
	// indexInterval is how many bytes of records lie between two index
	// entries at most: a reader that starts at an offset scans at most
	// this much before it.
	indexInterval = 32 << 10
	indexFooter   = 8 + 8 + 8 + 4 + 4
)

// segment is one segment file. base and path never change; the other
// fields of the active segment grow with appends, under Topic.mu.
type segment struct {
	base  int64  // offset of its first record (its file name)
	path  string // the .log file
	next  int64  // offset after its last record
	size  int64  // bytes of whole, durable records, with the magic line
	maxTs int64  // newest record timestamp (ms); 0 when it has none
	// index holds an entry every indexInterval bytes of records at most.
	index  []indexEntry
	lastIx int64 // position of the last entry (or of the first record)
	sealed bool  // not the active segment: complete, with an index file
}

type indexEntry struct {
	rel uint32 // offset - base
	pos uint32 // file position of the record
}

func segmentPath(dir string, base int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.log", base))
}

func indexPath(segPath string) string { return strings.TrimSuffix(segPath, ".log") + ".index" }

// parseBase reads a segment file name.
func parseBase(name string) (int64, bool) {
	num, ok := strings.CutSuffix(name, ".log")
	if !ok || len(num) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n >= 0
}

func newSegment(dir string, base int64) *segment {
	return &segment{base: base, path: segmentPath(dir, base), next: base, size: int64(len(segmentMagic)), lastIx: int64(len(segmentMagic))}
}

// note records a record appended or found at pos.
func (s *segment) note(off, ts, pos, end int64) {
	if pos-s.lastIx >= indexInterval {
		s.index = append(s.index, indexEntry{rel: uint32(off - s.base), pos: uint32(pos)})
		s.lastIx = pos
	}
	s.next, s.size = off+1, end
	s.maxTs = max(s.maxTs, ts)
}

// lookup returns the position of the last indexed record at or before
// off, and that record's offset.
func (s *segment) lookup(off int64) (pos, at int64) {
	i := sort.Search(len(s.index), func(i int) bool { return s.base+int64(s.index[i].rel) > off })
	if i == 0 {
		return int64(len(segmentMagic)), s.base
	}
	e := s.index[i-1]
	return int64(e.pos), s.base + int64(e.rel)
}

// fault is damage found in a segment file.
type fault struct {
	off    int64 // where the damaged record starts: the file is whole before it
	detail string
}

// scanResult is what scan found in a segment file.
type scanResult struct {
	end    int64  // after the last whole record
	torn   bool   // the file ends inside a record after end
	damage *fault // what is wrong at end, if anything
	size   int64  // the file's size
}

// scan reads a segment file from its start, noting every whole record in
// s, and stops at its end, at a record cut short (torn) or at damage. A
// file shorter than the magic line that begins it is empty (the crash came
// while the segment was being created).
func scan(f *os.File, s *segment) (scanResult, error) {
	st, err := f.Stat()
	if err != nil {
		return scanResult{}, err
	}
	res := scanResult{size: st.Size()}
	magic := make([]byte, len(segmentMagic))
	n, err := io.ReadFull(f, magic)
	switch {
	case err != nil && err != io.EOF && err != io.ErrUnexpectedEOF:
		return res, err
	case string(magic[:n]) != segmentMagic[:n]:
		res.damage = &fault{detail: "it does not start with the magic line of a segment file"}
		return res, nil
	case n < len(magic):
		res.torn = n > 0
		return res, nil
	}
	res.end = int64(n)
	rd := &frame.Reader{F: recordFormat, R: bufio.NewReaderSize(f, 256<<10), Off: res.end}
	for {
		head, _, err := rd.NextHead()
		if err == nil {
			off, ts := headMeta(head)
			if off != s.next {
				res.damage = &fault{off: rd.Off, detail: fmt.Sprintf("the record at byte %d has offset %d where offset %d follows", rd.Off, off, s.next)}
				return res, nil
			}
			pos := rd.Off
			if _, err = rd.Body(); err == nil {
				s.note(off, ts, pos, rd.Off)
				res.end = rd.Off
				continue
			}
		}
		var d *frame.Damage
		switch {
		case err == io.EOF:
			return res, nil
		case errors.Is(err, frame.ErrTorn):
			res.torn = true
			return res, nil
		case errors.As(err, &d):
			res.damage = &fault{off: d.Off, detail: d.Error()}
			return res, nil
		}
		return res, err
	}
}

// writeIndex writes the index file of a sealed segment: the magic line,
// the entries, then next, size and maxTs (u64 each), the entry count and
// the CRC-32C of everything before it. It is not fsynced: an index that
// does not check is rebuilt from its segment.
func writeIndex(s *segment) error {
	b := make([]byte, 0, len(indexMagic)+8*len(s.index)+indexFooter)
	b = append(b, indexMagic...)
	le := binary.LittleEndian
	for _, e := range s.index {
		b = le.AppendUint32(b, e.rel)
		b = le.AppendUint32(b, e.pos)
	}
	b = le.AppendUint64(b, uint64(s.next))
	b = le.AppendUint64(b, uint64(s.size))
	b = le.AppendUint64(b, uint64(s.maxTs))
	b = le.AppendUint32(b, uint32(len(s.index)))
	b = le.AppendUint32(b, frame.Checksum(b))
	tmp := indexPath(s.path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, indexPath(s.path))
}

// readIndex loads a sealed segment's index file into s; ok is false when
// it is missing or does not check (the caller rebuilds it).
func readIndex(s *segment) (ok bool) {
	b, err := os.ReadFile(indexPath(s.path))
	if err != nil || len(b) < len(indexMagic)+indexFooter || string(b[:len(indexMagic)]) != indexMagic {
		return false
	}
	le := binary.LittleEndian
	body, sum := b[:len(b)-4], le.Uint32(b[len(b)-4:])
	if frame.Checksum(body) != sum {
		return false
	}
	f := body[len(body)-(indexFooter-4):]
	next, size, maxTs, count := int64(le.Uint64(f)), int64(le.Uint64(f[8:])), int64(le.Uint64(f[16:])), le.Uint32(f[24:])
	entries := body[len(indexMagic) : len(body)-(indexFooter-4)]
	if len(entries) != 8*int(count) || next < s.base || size < int64(len(segmentMagic)) || size > 1<<32 {
		return false
	}
	idx := make([]indexEntry, count)
	last := indexEntry{}
	for i := range idx {
		e := indexEntry{rel: le.Uint32(entries[8*i:]), pos: le.Uint32(entries[8*i+4:])}
		if int64(e.rel) >= next-s.base || int64(e.pos) >= size || i > 0 && (e.rel <= last.rel || e.pos <= last.pos) {
			return false
		}
		idx[i], last = e, e
	}
	s.index, s.next, s.size, s.maxTs, s.sealed = idx, next, size, maxTs, true
	return true
}
