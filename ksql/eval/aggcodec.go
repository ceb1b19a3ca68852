package eval

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/sluice-dev/sluice/event"
)

// Accumulators are bytes kept in operator state. Values inside them use a
// small self-describing encoding: a tag byte, then
//
//	tagNull, tagFalse, tagTrue   nothing
//	tagInt                       zig-zag varint
//	tagFloat                     8 bytes, little endian IEEE 754
//	tagDecimal, tagString, tagBytes   uvarint length, bytes
//	tagArray                     uvarint count, the elements
//
// Decoding checks every length against the bytes left, so a damaged
// accumulator is an error, never a panic or a huge allocation.

const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagDecimal
	tagString
	tagBytes
	tagArray
)

var errCorrupt = errors.New("aggregate state is damaged")

// maxValueDepth bounds the nesting of an encoded value.
const maxValueDepth = 64

func appendValue(b []byte, v event.Value) []byte {
	switch v.Kind {
	case event.KindBool:
		if v.AsBool() {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	case event.KindInt:
		return binary.AppendVarint(append(b, tagInt), v.AsInt())
	case event.KindFloat:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), v.Num)
	case event.KindDecimal, event.KindString, event.KindBytes:
		tag := tagBytes
		switch v.Kind {
		case event.KindDecimal:
			tag = tagDecimal
		case event.KindString:
			tag = tagString
		}
		b = binary.AppendUvarint(append(b, tag), uint64(len(v.Str)))
		return append(b, v.Str...)
	case event.KindArray:
		es := v.Elems()
		b = binary.AppendUvarint(append(b, tagArray), uint64(len(es)))
		for _, e := range es {
			b = appendValue(b, e)
		}
		return b
	}
	return append(b, tagNull)
}

// readValue decodes one value and returns the bytes after it.
func readValue(b []byte) (event.Value, []byte, error) { return readValueDepth(b, 0) }

func readValueDepth(b []byte, depth int) (event.Value, []byte, error) {
	if len(b) == 0 || depth > maxValueDepth {
		return event.Null, nil, errCorrupt
	}
	tag, b := b[0], b[1:]
	switch tag {
	case tagNull:
		return event.Null, b, nil
	case tagFalse, tagTrue:
		return event.Bool(tag == tagTrue), b, nil
	case tagInt:
		i, n := binary.Varint(b)
		if n <= 0 {
			return event.Null, nil, errCorrupt
		}
		return event.Int(i), b[n:], nil
	case tagFloat:
		if len(b) < 8 {
			return event.Null, nil, errCorrupt
		}
		return event.Float(math.Float64frombits(binary.LittleEndian.Uint64(b))), b[8:], nil
	case tagDecimal, tagString, tagBytes:
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return event.Null, nil, errCorrupt
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		switch tag {
		case tagDecimal:
			return event.Decimal(s), b, nil
		case tagString:
			return event.String(s), b, nil
		}
		return event.Value{Kind: event.KindBytes, Str: s}, b, nil
	case tagArray:
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) { // every element takes a byte at least
			return event.Null, nil, errCorrupt
		}
		b = b[n:]
		es := make([]event.Value, l)
		for i := range es {
			var err error
			if es[i], b, err = readValueDepth(b, depth+1); err != nil {
				return event.Null, nil, err
			}
		}
		return event.Array(es), b, nil
	}
	return event.Null, nil, errCorrupt
}
