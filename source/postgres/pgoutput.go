package postgres

// A hand-written pgoutput (protocol version 1) reader. pglogrepl has a parser,
// but it indexes its input without bounds checks (a truncated or corrupt
// message panics) and allocates a struct and a copy per column; this one
// reads a string (one allocation per WAL message, made by the caller), hands
// out substrings, and returns an error on any malformed input.

import (
	"errors"
	"fmt"
)

var errShort = errors.New("pgoutput message is truncated")

// wire reads big-endian fields from a message.
type wire struct {
	s   string
	off int
	err error
}

func (w *wire) need(n int) bool {
	if w.err != nil {
		return false
	}
	if n < 0 || w.off+n > len(w.s) || w.off+n < w.off {
		w.err = errShort
		return false
	}
	return true
}

func (w *wire) u8() byte {
	if !w.need(1) {
		return 0
	}
	v := w.s[w.off]
	w.off++
	return v
}

func (w *wire) u16() uint16 {
	if !w.need(2) {
		return 0
	}
	v := uint16(w.s[w.off])<<8 | uint16(w.s[w.off+1])
	w.off += 2
	return v
}

func (w *wire) u32() uint32 {
	if !w.need(4) {
		return 0
	}
	s := w.s[w.off:]
	v := uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
	w.off += 4
	return v
}

func (w *wire) u64() uint64 {
	hi := w.u32()
	lo := w.u32()
	return uint64(hi)<<32 | uint64(lo)
}

// cstr reads a NUL-terminated string.
func (w *wire) cstr() string {
	if w.err != nil {
		return ""
	}
	for i := w.off; i < len(w.s); i++ {
		if w.s[i] == 0 {
			v := w.s[w.off:i]
			w.off = i + 1
			return v
		}
	}
	w.err = errShort
	return ""
}

func (w *wire) bytes(n int) string {
	if !w.need(n) {
		return ""
	}
	v := w.s[w.off : w.off+n]
	w.off += n
	return v
}

// tupleCol is one column of a TupleData: kind 'n' (null), 'u' (unchanged
// TOAST), 't' (text) or 'b' (binary, never requested).
type tupleCol struct {
	kind byte
	data string
}

// tuple reads a TupleData into dst (reused) and returns it.
func (w *wire) tuple(dst []tupleCol) []tupleCol {
	n := int(w.u16())
	dst = dst[:0]
	for i := 0; i < n && w.err == nil; i++ {
		k := w.u8()
		switch k {
		case 'n', 'u':
			dst = append(dst, tupleCol{kind: k})
		case 't', 'b':
			l := w.u32()
			if l > uint32(len(w.s)) {
				w.err = errShort
				break
			}
			dst = append(dst, tupleCol{kind: k, data: w.bytes(int(l))})
		default:
			if w.err == nil {
				w.err = fmt.Errorf("unknown tuple column kind %q", k)
			}
		}
	}
	return dst
}

// relationMsg is a parsed Relation message.
type relationMsg struct {
	id        uint32
	namespace string
	name      string
	replIdent byte
	cols      []relationCol
}

type relationCol struct {
	key     bool
	name    string
	typeOID uint32
	typmod  int32
}

func parseRelation(w *wire) (relationMsg, error) {
	var r relationMsg
	r.id = w.u32()
	r.namespace = w.cstr()
	r.name = w.cstr()
	r.replIdent = w.u8()
	n := int(w.u16())
	if w.err == nil && n > len(w.s) {
		return r, errShort
	}
	for i := 0; i < n && w.err == nil; i++ {
		var c relationCol
		c.key = w.u8()&1 != 0
		c.name = w.cstr()
		c.typeOID = w.u32()
		c.typmod = int32(w.u32())
		r.cols = append(r.cols, c)
	}
	return r, w.err
}
