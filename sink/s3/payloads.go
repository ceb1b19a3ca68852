package s3

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// payloads is a JSON-lines object read straight from its sealed spool
// file: the concatenation of the records' payloads, with the record heads
// left out, as an io.ReaderAt. The object is uploaded from it without being
// copied into a file of its own (the SDK's multipart uploader reads each
// part through an io.SectionReader, concurrently, and PutObject reads the
// body twice, once for the payload hash and once to send it).
//
// openPayloads reads the whole file once first, checking every record's
// checksums as the spool's replay does; it keeps one mark every markEvery
// records (the record's offset in the object and its head's offset in the
// file), so the index is a few bytes per hundred records whatever the
// object's size. A read starts at the nearest mark at or before its
// offset, or where an earlier read ended (readers read on from there), and
// walks the heads from it, through a buffer of windowBytes. A sealed spool file is never written again, so
// reading its heads a second time needs no checksum: their values were
// checked by the first pass, and the lengths are checked against the index.
type payloads struct {
	f      *os.File
	path   string
	format int   // the spool file's format (head size)
	size   int64 // object bytes
	end    int64 // file bytes
	marks  []payloadMark

	mu      sync.Mutex
	cursors [8]payloadCursor // where recent reads ended; obj < 0: unused
	nextCur int
}

// payloadMark is a record boundary: obj is the offset in the object of the
// record's payload, file that of its head in the spool file.
type payloadMark struct{ obj, file int64 }

const markEvery = 64

// openPayloads opens the sealed spool sp as its JSON-lines object.
func openPayloads(sp *spool) (*payloads, error) {
	f, err := os.Open(sp.path)
	if err != nil {
		return nil, fmt.Errorf("s3 sink: open spool: %w", err)
	}
	p := &payloads{f: f, path: sp.path, format: sp.format}
	head := int64(frameHead)
	off := int64(len(spoolMagic))
	if p.format == 1 {
		head, off = frameHead1, 0
	}
	recs := 0
	err = sp.replayFile(f, false, func(flags byte, _ pos, _ int64, payload []byte) error {
		if flags&recHeader == 0 {
			if recs%markEvery == 0 {
				p.marks = append(p.marks, payloadMark{obj: p.size, file: off})
			}
			recs++
			p.size += int64(len(payload))
		}
		off += head + int64(len(payload))
		return nil
	})
	if err == nil && (recs == 0 || p.marks[0].file <= 0) {
		err = fmt.Errorf("s3 sink: spool %s holds no records (a bug)", sp.path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	p.end = off
	for i := range p.cursors {
		p.cursors[i].obj = -1
	}
	return p, nil
}

func (p *payloads) close() error {
	p.mu.Lock()
	for i := range p.cursors {
		p.cursors[i].release()
	}
	p.mu.Unlock()
	return p.f.Close()
}

// ReadAt implements io.ReaderAt; it is safe for concurrent use.
func (p *payloads) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3 sink: read the object of spool %s at %d", p.path, off)
	}
	if off >= p.size {
		return 0, io.EOF
	}
	want := len(b)
	if rest := p.size - off; int64(want) > rest {
		want = int(rest)
	}
	// Start where an earlier read ended at off, else at the nearest mark.
	var c payloadCursor
	found := false
	p.mu.Lock()
	for i := range p.cursors {
		if p.cursors[i].obj == off {
			c, found = p.cursors[i], true
			p.cursors[i] = payloadCursor{obj: -1}
			break
		}
	}
	p.mu.Unlock()
	if !found {
		i := sort.Search(len(p.marks), func(i int) bool { return p.marks[i].obj > off }) - 1
		c = payloadCursor{obj: p.marks[i].obj, file: p.marks[i].file}
	}
	n, err := p.read(b[:want], off, &c)
	if err != nil {
		c.release()
		return n, err
	}
	p.mu.Lock()
	p.cursors[p.nextCur].release()
	p.cursors[p.nextCur] = c
	p.nextCur = (p.nextCur + 1) % len(p.cursors)
	p.mu.Unlock()
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// payloadCursor is a place in the object: obj is the offset in the object,
// file that of the same byte in the spool file, left the bytes of the
// record's payload from there (0: file is at the next record's head). buf
// holds the file's bytes from bufAt: reads go through it, so a record costs
// no system call of its own.
type payloadCursor struct {
	obj, file, left int64
	buf             []byte
	bufAt           int64
}

// windowBytes is the size of a cursor's buffer.
const windowBytes = 256 << 10

var windowPool = sync.Pool{New: func() any { return new([windowBytes]byte) }}

// window returns the file's bytes from c.file on, at least need of them.
func (p *payloads) window(c *payloadCursor, need int64) ([]byte, error) {
	if c.buf != nil && c.file >= c.bufAt && c.file+need <= c.bufAt+int64(len(c.buf)) {
		return c.buf[c.file-c.bufAt:], nil
	}
	if c.buf == nil {
		c.buf = windowPool.Get().(*[windowBytes]byte)[:]
	}
	k := min(int64(cap(c.buf)), p.end-c.file)
	if k < need {
		return nil, fmt.Errorf("s3 sink: spool %s ends at byte %d, inside a record that the first reading found whole (it changed while being uploaded)", p.path, p.end)
	}
	c.buf = c.buf[:k]
	if _, err := p.f.ReadAt(c.buf, c.file); err != nil {
		c.buf = c.buf[:0]
		return nil, fmt.Errorf("s3 sink: read spool %s: %w", p.path, err)
	}
	c.bufAt = c.file
	return c.buf, nil
}

// read fills b with the object's bytes from off, walking the spool file
// from c (c.obj <= off), and leaves c where it stopped.
func (p *payloads) read(b []byte, off int64, c *payloadCursor) (int, error) {
	headSize := int64(frameHead)
	if p.format == 1 {
		headSize = frameHead1
	}
	n := 0
	for n < len(b) {
		if c.left == 0 {
			head, err := p.window(c, headSize)
			if err != nil {
				return n, err
			}
			size := int64(binary.LittleEndian.Uint32(head))
			if p.format == 1 {
				size -= frameHead1 - 8
			}
			if size < 0 || c.file+headSize+size > p.end {
				return n, fmt.Errorf("s3 sink: spool %s: the record at byte %d runs past the end of the file (it changed while being uploaded)", p.path, c.file)
			}
			c.file += headSize
			c.left = size
			continue
		}
		if skip := off - c.obj; skip > 0 {
			s := min(skip, c.left)
			c.obj, c.file, c.left = c.obj+s, c.file+s, c.left-s
			continue
		}
		w, err := p.window(c, 1)
		if err != nil {
			return n, err
		}
		m := copy(b[n:], w[:min(int64(len(w)), c.left)])
		n += m
		c.obj, c.file, c.left, off = c.obj+int64(m), c.file+int64(m), c.left-int64(m), off+int64(m)
	}
	return n, nil
}

// release returns a cursor's buffer to the pool.
func (c *payloadCursor) release() {
	if c.buf != nil {
		windowPool.Put((*[windowBytes]byte)(c.buf[:windowBytes]))
		c.buf = nil
	}
}
