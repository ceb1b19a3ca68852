package topiclog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/sluice-dev/sluice/internal/frame"
)

// Reader reads a topic from an offset on, following it as it grows. A
// Reader is used by one goroutine; any number of readers read a topic
// concurrently with its appends. It holds one segment file open and a
// 64 KiB buffer.
type Reader struct {
	t    *Topic
	next int64 // the offset of the next record to return

	seg *segment // the segment f is, nil when none is open
	f   *os.File
	gr  growReader
	br  *bufio.Reader
	fr  frame.Reader
	at  int64 // the offset of the record at fr.Off
}

// NewReader returns a reader that starts at offset. An offset the topic
// does not hold is reported by Read.
func (t *Topic) NewReader(offset int64) *Reader {
	return &Reader{t: t, next: offset}
}

// Offset returns the offset of the next record Read returns.
func (r *Reader) Offset() int64 { return r.next }

// SetOffset moves the reader to offset.
func (r *Reader) SetOffset(offset int64) {
	r.next = offset
	r.release()
}

// Close releases the reader's file.
func (r *Reader) Close() error {
	r.release()
	return nil
}

func (r *Reader) release() {
	if r.f != nil {
		r.f.Close()
		r.f, r.seg = nil, nil
	}
}

// Read appends to dst the records from the reader's offset on that are
// durable now — up to maxRecords, and no more once their keys, values and
// headers reach maxBytes (one record at least) — without waiting, and
// moves the reader past them. The records' slices are their own. It
// returns an *OutOfRangeError when the offset is before the topic's start
// or after its end (the reader stays where it is: SetOffset), a *DamagedError
// for a record that cannot be read, and ErrClosed once the log is closed.
func (r *Reader) Read(dst []Record, maxRecords, maxBytes int) ([]Record, error) {
	t := r.t
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		r.release()
		return dst, ErrClosed
	}
	segs := t.mu.segs
	start, end := segs[0].base, segs[len(segs)-1].next
	if r.next < start || r.next > end {
		t.mu.Unlock()
		r.release()
		return dst, &OutOfRangeError{Topic: t.name, Offset: r.next, Start: start, End: end}
	}
	if r.next == end {
		t.mu.Unlock()
		return dst, nil
	}
	// The last segment that starts at or before the offset holds it.
	s := segs[sort.Search(len(segs), func(i int) bool { return segs[i].base > r.next })-1]
	// An append rewrites the active segment's struct under t.mu (publish):
	// what is read of it is copied before the lock goes.
	limit, path := s.size, s.path
	var pos, at int64
	open := s != r.seg
	if !open && r.at > r.next {
		open = true // went back (SetOffset does not come here)
	}
	if open {
		pos, at = s.lookup(r.next)
	}
	t.mu.Unlock()
	if open {
		r.release()
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			// Retention deleted it since, or something else did.
			start, end, oerr := t.Offsets()
			switch {
			case oerr != nil:
				return dst, oerr
			case r.next < start:
				return dst, &OutOfRangeError{Topic: t.name, Offset: r.next, Start: start, End: end}
			}
			return dst, fmt.Errorf("topic log: segment file %s of topic %s is gone while the topic holds its offsets: restore it, or restart sluice to check the topic", path, t.name)
		}
		if err != nil {
			return dst, fmt.Errorf("topic log: %w", err)
		}
		r.f, r.seg = f, s
		r.gr = growReader{f: f, pos: pos}
		if r.br == nil {
			r.br = bufio.NewReaderSize(&r.gr, 64<<10)
		} else {
			r.br.Reset(&r.gr)
		}
		r.fr = frame.Reader{F: recordFormat, R: r.br, Off: pos}
		r.at = at
	}
	r.gr.limit = limit
	n, bytes := 0, 0
	for n < maxRecords && (n == 0 || bytes < maxBytes) && r.fr.Off < limit {
		head, _, err := r.fr.NextHead()
		if err != nil {
			return dst, r.damage(err)
		}
		off, ts := headMeta(head)
		if off != r.at {
			return dst, r.damageAt(r.fr.Off, r.at, fmt.Sprintf("the record at byte %d has offset %d where offset %d follows", r.fr.Off, off, r.at))
		}
		keep := off >= r.next
		r.fr.Fresh = keep // the records kept have their own bytes
		body, err := r.fr.Body()
		if err != nil {
			return dst, r.damage(err)
		}
		r.at++
		if !keep {
			continue // before the offset, after the index entry
		}
		rec := Record{Offset: off, Timestamp: ts}
		if err := decodePayload(body, &rec); err != nil {
			return dst, r.damageAt(r.fr.Off-int64(recordFormat.HeadSize()+len(body)), off,
				fmt.Sprintf("the record at offset %d checks but does not parse: %v", off, err))
		}
		dst = append(dst, rec)
		r.next = off + 1
		n++
		bytes += len(body)
	}
	return dst, nil
}

// damage turns a read failure inside the durable part of a segment into a
// *DamagedError: the file changed after the records were written.
func (r *Reader) damage(err error) error {
	var d *frame.Damage
	switch {
	case errors.As(err, &d):
		return r.damageAt(d.Off, r.at, d.Error())
	case err == io.EOF || errors.Is(err, frame.ErrTorn):
		return r.damageAt(r.fr.Off, r.at, fmt.Sprintf("it ends at or inside the record at byte %d, before the %d bytes of records written to it: it was cut short", r.fr.Off, r.gr.limit))
	}
	return fmt.Errorf("topic log: read %s: %w", r.seg.path, err)
}

func (r *Reader) damageAt(at, lost int64, detail string) error {
	s := r.seg
	r.release()
	return r.t.damaged(s, at, lost, detail)
}

// Wait blocks until the topic has records at or after the reader's offset
// that Read has not returned — or the offset is out of the topic's range —
// or ctx ends (it returns ctx.Err()) or the log closes (ErrClosed).
func (r *Reader) Wait(ctx context.Context) error {
	for {
		ch := r.t.log.Changed()
		start, end, err := r.t.Offsets()
		if err != nil {
			return err
		}
		if r.next != end || r.next < start {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// growReader reads a file from pos up to limit, which may grow.
type growReader struct {
	f          *os.File
	pos, limit int64
}

func (g *growReader) Read(p []byte) (int, error) {
	if g.pos >= g.limit {
		return 0, io.EOF
	}
	if rem := g.limit - g.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.f.ReadAt(p, g.pos)
	g.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
