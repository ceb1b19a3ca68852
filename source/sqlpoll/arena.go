package sqlpoll

import "unsafe"

// textArena hands out the text of read rows as strings cut from large
// append-only chunks: one allocation per chunk instead of one per row (or
// per value), and one copy of the driver's bytes instead of two. A chunk's
// bytes are never written again once a string points at them, so the
// strings are as immutable as any other; a chunk lives as long as any of
// its strings, as the row images cut from one value slab do (query).
type textArena struct{ buf []byte }

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
		a.buf = make([]byte, 0, arenaChunk)
	}
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[off], n)
}
