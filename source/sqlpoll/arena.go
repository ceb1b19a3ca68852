package sqlpoll

import (
	"unsafe"

	"github.com/sluice-dev/sluice/event"
)

// textArena hands out the text of read rows as strings cut from large
// append-only chunks: one allocation per chunk instead of one per row (or
// per value), and one copy of the driver's bytes instead of two. A chunk's
// bytes are never written again once a string points at them, so the
// strings are as immutable as any other; a chunk lives as long as any of
// its strings, as the row images cut from one value slab do (query).
//
// With recycling (mem.go), the chunks and the slabs of row images come
// from the page's memory, mem, which startPage sets before a page is read
// and takePage hands over with the page: then no chunk holds text of two
// pages.
type textArena struct {
	buf []byte
	mem *pageMem // the page being read; nil: no recycling
}

const (
	// arenaChunk is the size of a chunk: about two hundred rows of
	// typical text.
	arenaChunk = 32 << 10
	// arenaMax is the largest value cut from a chunk; larger values get
	// their own string, so one big value neither wastes a chunk's
	// remainder nor keeps it alive.
	arenaMax = arenaChunk / 8
)

// str returns b as a string.
func (a *textArena) str(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	if n > arenaMax {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < n {
		if a.mem != nil {
			a.buf = a.mem.chunk()
		} else {
			a.buf = make([]byte, 0, arenaChunk)
		}
	}
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[off], n)
}

// slab returns zeroed (NULL) values to cut row images of n values from:
// slabRows images, or from a recycled page's slab as many as fit in it.
func (a *textArena) slab(n int) []event.Value {
	if a.mem != nil && n <= slabValues {
		return a.mem.slab()
	}
	return make([]event.Value, n*slabRows)
}

// startPage makes the next strings and slabs part of a new page's memory,
// taken from pool. The rest of the current chunk is left unused.
func (a *textArena) startPage(pool *memPool) {
	a.buf, a.mem = nil, &pageMem{pool: pool}
}

// takePage ends the page being read and returns its memory (nil without
// recycling): nothing cut after it lands in that memory.
func (a *textArena) takePage() *pageMem {
	m := a.mem
	if m != nil {
		a.buf, a.mem = nil, nil
	}
	return m
}
