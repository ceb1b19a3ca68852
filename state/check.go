package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkFile verifies the structure of a bbolt file before bbolt reads it.
// bbolt trusts its pages: a damaged page header or element makes it panic
// (on a goroutine of its own in tx.Check, where nothing can recover it) or
// read memory past the end of a truncated file, which kills the process
// with a fault. So every page bbolt will follow from the meta page it
// chooses is checked here first, with bounds checks, by reading the file:
// the meta pages' checksums, the high water mark against the file's size,
// the freelist, and every branch and leaf page of every bucket (page id,
// type, element table, key and value bounds, key order, inline buckets).
// A page referenced twice, or both referenced and free, is damage too: bbolt
// would hand it out again and overwrite live data.
//
// Pages below the high water mark that are neither referenced nor free are
// tolerated: they are leaked space, harmless to every read.
//
// bbolt's on-disk format (version 2), as of go.etcd.io/bbolt v1.4: native
// byte order; a page starts with a 16-byte header (id u64, flags u16,
// count u16, overflow u32); pages 0 and 1 hold a meta each after the header
// (magic, version, page size, flags u32; root bucket: root pgid u64,
// sequence u64; freelist pgid, high water mark pgid, txid, FNV-64a checksum
// of what precedes it, u64 each). Branch elements are (pos, ksize u32, pgid
// u64), leaf elements (flags, pos, ksize, vsize u32), pos counted from the
// element itself. A bucket is a leaf value with flags 1: its root pgid and
// sequence, then, when the root is 0, the bucket's single leaf page inline.
func checkFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	c := &checker{f: f, size: st.Size(), seen: map[uint64]bool{}}
	return c.run()
}

// damage is a structural problem found by checkFile.
type damage struct{ msg string }

func (d *damage) Error() string { return d.msg }

func damagef(format string, args ...any) error { return &damage{fmt.Sprintf(format, args...)} }

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elemSize         = 16 // branch and leaf elements are both 16 bytes
	metaSize         = 64
	bucketHeaderSize = 16
	noFreelist       = ^uint64(0)

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10

	maxDepth = 64 // far deeper than any real tree (keys double per level)
)

var ne = binary.NativeEndian // bbolt writes its structs in memory order

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseMeta decodes and validates the meta after a page header at b.
func parseMeta(b []byte) (meta, error) {
	if len(b) < pageHeaderSize+metaSize {
		return meta{}, damagef("too short for a meta page")
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	if ne.Uint32(m[0:]) != boltMagic {
		return meta{}, damagef("bad magic number (not a bbolt file, or overwritten)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return meta{}, damagef("format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return meta{}, damagef("checksum mismatch")
	}
	return meta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, nil
}

type checker struct {
	f        *os.File
	size     int64
	pageSize int
	hwm      uint64          // high water mark: pages [0, hwm) exist
	free     map[uint64]bool // the freelist's pages
	seen     map[uint64]bool // pages referenced so far
}

func (c *checker) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > c.size {
		return nil, damagef("bytes %d..%d lie past the end of the file (%d bytes)", off, off+int64(n), c.size)
	}
	b := make([]byte, n)
	if _, err := c.f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b, nil
}

func (c *checker) run() error {
	if c.size == 0 {
		return damagef("the file is empty (0 bytes): sluice never leaves an empty state file, so it was truncated")
	}
	first, err := c.readAt(0, int(min(c.size, 4096)))
	if err != nil {
		return err
	}
	m0, err0 := parseMeta(first)
	ps := 0
	if err0 == nil {
		ps = int(m0.pageSize)
	} else {
		// The first meta page is unreadable: find the second one at the
		// candidate page sizes, as bbolt does.
		for s := 1024; int64(s)+pageHeaderSize+metaSize <= c.size && s <= 1<<20; s *= 2 {
			b, err := c.readAt(int64(s), pageHeaderSize+metaSize)
			if err != nil {
				return err
			}
			if m, err := parseMeta(b); err == nil && int(m.pageSize) == s {
				ps = s
				break
			}
		}
		if ps == 0 {
			return damagef("both meta pages are invalid (page 0: %v; page 1: none valid at any page size)", err0)
		}
	}
	if ps < 1024 || ps > 1<<20 || ps&(ps-1) != 0 {
		return damagef("meta page: page size %d is not a power of two between 1 KiB and 1 MiB", ps)
	}
	c.pageSize = ps
	if c.size < int64(2*ps) {
		return damagef("the file is %d bytes, shorter than its two meta pages (%d bytes): it was truncated", c.size, 2*ps)
	}
	second, err := c.readAt(int64(ps), pageHeaderSize+metaSize)
	if err != nil {
		return err
	}
	m0, err0 = parseMeta(first)
	m1, err1 := parseMeta(second)
	if err0 == nil && int(m0.pageSize) != ps {
		err0 = damagef("page size %d differs from the file's %d", m0.pageSize, ps)
	}
	if err1 == nil && int(m1.pageSize) != ps {
		err1 = damagef("page size %d differs from the file's %d", m1.pageSize, ps)
	}
	// bbolt uses the valid meta with the higher transaction id. One invalid
	// meta page is what a write torn by a power loss leaves; the other
	// still describes the previous, complete transaction, so it is not
	// damage.
	var m meta
	switch {
	case err0 != nil && err1 != nil:
		return damagef("both meta pages are invalid (page 0: %v; page 1: %v)", err0, err1)
	case err0 != nil:
		m = m1
	case err1 != nil:
		m = m0
	case m1.txid > m0.txid:
		m = m1
	default:
		m = m0
	}
	return c.tree(m)
}

// tree checks everything reachable from meta m.
func (c *checker) tree(m meta) error {
	c.hwm = m.pgid
	if m.pgid < 3 {
		return damagef("meta page: high water mark %d is below the first data page", m.pgid)
	}
	if end := int64(m.pgid) * int64(c.pageSize); m.pgid > uint64(c.size) || end > c.size {
		return damagef("the file is %d bytes but its pages reach byte %d: it was truncated", c.size, int64(m.pgid)*int64(c.pageSize))
	}
	c.seen[0], c.seen[1] = true, true
	c.free = map[uint64]bool{}
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	if m.root < 2 || m.root >= c.hwm {
		return damagef("meta page: root page %d is outside the file's pages [2, %d)", m.root, c.hwm)
	}
	return c.page(m.root, 0)
}

// readPage reads page id with its overflow pages after checking its
// header's id and flags.
func (c *checker) readPage(id uint64, wantFlags ...uint16) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, damagef("page %d is outside the file's pages [2, %d)", id, c.hwm)
	}
	h, err := c.readAt(int64(id)*int64(c.pageSize), pageHeaderSize)
	if err != nil {
		return nil, err
	}
	if got := ne.Uint64(h[0:]); got != id {
		return nil, damagef("page %d: its header says it is page %d", id, got)
	}
	flags := ne.Uint16(h[8:])
	ok := false
	for _, f := range wantFlags {
		ok = ok || flags == f
	}
	if !ok {
		return nil, damagef("page %d: unexpected page type (flags %#x)", id, flags)
	}
	overflow := uint64(ne.Uint32(h[12:]))
	if id+overflow >= c.hwm {
		return nil, damagef("page %d: its %d overflow pages run past the file's last page %d", id, overflow, c.hwm-1)
	}
	for i := id; i <= id+overflow; i++ {
		if c.seen[i] {
			return nil, damagef("page %d is referenced twice", i)
		}
		if c.free[i] {
			return nil, damagef("page %d is both in use and on the freelist", i)
		}
		c.seen[i] = true
	}
	return c.readAt(int64(id)*int64(c.pageSize), int(overflow+1)*c.pageSize)
}

func (c *checker) freelist(id uint64) error {
	p, err := c.readPage(id, flagFreelist)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	idx, count := 0, uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return damagef("freelist page %d: too short", id)
		}
		idx, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)) || pageHeaderSize+(uint64(idx)+count)*8 > uint64(len(p)) {
		return damagef("freelist page %d: %d entries do not fit in the page", id, count)
	}
	for i := uint64(0); i < count; i++ {
		f := ne.Uint64(p[pageHeaderSize+(uint64(idx)+i)*8:])
		if f < 2 || f >= c.hwm {
			return damagef("freelist page %d: free page %d is outside the file's pages [2, %d)", id, f, c.hwm)
		}
		if c.free[f] {
			return damagef("freelist page %d: page %d is listed twice", id, f)
		}
		if c.seen[f] {
			return damagef("freelist page %d: page %d is both in use and free", id, f)
		}
		c.free[f] = true
	}
	return nil
}

// page checks a branch or leaf page and everything below it.
func (c *checker) page(id uint64, depth int) error {
	if depth > maxDepth {
		return damagef("page %d: the tree is deeper than %d levels", id, maxDepth)
	}
	p, err := c.readPage(id, flagBranch, flagLeaf)
	if err != nil {
		return err
	}
	return c.nodes(p, fmt.Sprintf("page %d", id), depth)
}

// nodes checks the elements of a branch or leaf page image p (a page and
// its overflow, or an inline bucket's page), named where for messages.
func (c *checker) nodes(p []byte, where string, depth int) error {
	if len(p) < pageHeaderSize {
		return damagef("%s: too short for a page header", where)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	table := pageHeaderSize + count*elemSize
	if table > len(p) {
		return damagef("%s: %d elements do not fit in the page", where, count)
	}
	if flags == flagBranch && count == 0 {
		return damagef("%s: a branch page without elements", where)
	}
	var prev []byte
	for i := range count {
		e := pageHeaderSize + i*elemSize
		pos, ksize := int64(ne.Uint32(p[e+4:])), int64(ne.Uint32(p[e+8:]))
		var vsize int64
		if flags == flagBranch {
			pos, ksize = int64(ne.Uint32(p[e:])), int64(ne.Uint32(p[e+4:]))
		} else {
			vsize = int64(ne.Uint32(p[e+12:]))
		}
		start := int64(e) + pos
		end := start + ksize + vsize
		if start < int64(table) || end > int64(len(p)) {
			return damagef("%s: element %d's key or value lies outside the page", where, i)
		}
		key := p[start : start+ksize]
		if ksize == 0 {
			return damagef("%s: element %d has an empty key", where, i)
		}
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return damagef("%s: keys out of order at element %d", where, i)
		}
		prev = key
		if flags == flagBranch {
			if err := c.page(ne.Uint64(p[e+8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		lflags := ne.Uint32(p[e:])
		if lflags > 1 {
			return damagef("%s: element %d has unknown flags %#x", where, i, lflags)
		}
		if lflags == 1 { // a bucket
			v := p[start+ksize : end]
			if err := c.bucket(v, fmt.Sprintf("%s: bucket %q", where, key), depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucket checks a bucket's header value v and its pages.
func (c *checker) bucket(v []byte, where string, depth int) error {
	if len(v) < bucketHeaderSize {
		return damagef("%s: the bucket header is cut short", where)
	}
	root := ne.Uint64(v)
	if root != 0 {
		if len(v) != bucketHeaderSize {
			return damagef("%s: a bucket with root page %d carries %d extra bytes", where, root, len(v)-bucketHeaderSize)
		}
		return c.page(root, depth+1)
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		return damagef("%s: the inline bucket is cut short", where)
	}
	if f := ne.Uint16(inline[8:]); f != flagLeaf {
		return damagef("%s: the inline bucket's page has type flags %#x, not a leaf", where, f)
	}
	if depth > maxDepth {
		return damagef("%s: buckets nest deeper than %d levels", where, maxDepth)
	}
	return c.nodes(inline, where+" (inline)", depth+1)
}
