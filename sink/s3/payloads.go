package s3

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
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
//
// When the upload signs its payload (SigV4 over plain HTTP: the SDK then
// reads every request's body once to hash it before sending it), the first
// pass also computes the SHA-256 of each request's byte range (the whole
// object, or each part of a multipart upload), so that the SDK's own
// hashing pass is skipped (see knownPayloadHash): the object is read twice
// in all, not three times. A hash is only ever used for the exact range it
// was computed over, from the bytes the checksums were checked on.
type payloads struct {
	f      *os.File
	path   string
	format int   // the spool file's format (head size)
	size   int64 // object bytes
	end    int64 // file bytes
	marks  []payloadMark
	// sums holds the hex SHA-256 of byte ranges of the object, by range.
	sums map[byteRange]string
	// hashed and unhashed count the requests whose body is a range of
	// this object, by whether sums held its hash (tests).
	hashed, unhashed atomic.Int32

	mu      sync.Mutex
	cursors [8]payloadCursor // where recent reads ended; obj < 0: unused
	nextCur int
}

// payloadMark is a record boundary: obj is the offset in the object of the
// record's payload, file that of its head in the spool file.
type payloadMark struct{ obj, file int64 }

const markEvery = 64

// byteRange is a range of an object's bytes: off and length.
type byteRange struct{ off, n int64 }

// partHasher hashes an object's bytes in consecutive ranges of part bytes
// (the last one shorter).
type partHasher struct {
	part  int64
	h     hash.Hash
	start int64 // where the current range starts
	n     int64 // bytes of it hashed so far
	sums  map[byteRange]string
}

func (ph *partHasher) write(b []byte) {
	for len(b) > 0 {
		k := min(int64(len(b)), ph.part-ph.n)
		ph.h.Write(b[:k])
		ph.n += k
		b = b[k:]
		if ph.n == ph.part {
			ph.end()
		}
	}
}

// end closes the current range, if it holds any byte.
func (ph *partHasher) end() {
	if ph.n == 0 {
		return
	}
	ph.sums[byteRange{ph.start, ph.n}] = hex.EncodeToString(ph.h.Sum(nil))
	ph.h.Reset()
	ph.start += ph.n
	ph.n = 0
}

// openPayloads opens the sealed spool sp as its JSON-lines object. With
// part > 0 the first pass also hashes the object in ranges of part bytes
// (payloads.sums).
func openPayloads(sp *spool, part int64) (*payloads, error) {
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
	var ph *partHasher
	if part > 0 {
		ph = &partHasher{part: part, h: sha256.New(), sums: map[byteRange]string{}}
	}
	recs := 0
	err = sp.replayFile(f, false, func(flags byte, _ pos, _ int64, payload []byte) error {
		if flags&recHeader == 0 {
			if recs%markEvery == 0 {
				p.marks = append(p.marks, payloadMark{obj: p.size, file: off})
			}
			recs++
			p.size += int64(len(payload))
			if ph != nil {
				ph.write(payload)
			}
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
	if ph != nil {
		ph.end()
		p.sums = ph.sums
	}
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

// sum returns the SHA-256 (hex) of the object's bytes in r, if the first
// pass computed it.
func (p *payloads) sum(r byteRange) string {
	h := p.sums[r]
	if h == "" {
		p.unhashed.Add(1)
	} else {
		p.hashed.Add(1)
	}
	return h
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
