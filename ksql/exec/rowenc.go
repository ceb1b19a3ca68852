package exec

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/sluice-dev/sluice/event"
)

// The row encoding: compact, not ordered, for the values of state entries
// (table rows, buffered join rows). A row is its length (uvarint), then
// each value as a tag byte and its payload:
//
//	0 NULL, 1 unchanged, 2 FALSE, 3 TRUE
//	4 integer: zig-zag varint
//	5 double: 8 bytes, little-endian IEEE bits
//	6 decimal, 7 string, 8 bytes: uvarint length, then the bytes
//	9 interval: varint microseconds, uvarint length, ISO text
//	10 array: uvarint count, then the elements
//
// A decoded row's strings share one copy of the encoded bytes (one
// allocation per row, not per string).
const (
	rtNull = iota
	rtUnchanged
	rtFalse
	rtTrue
	rtInt
	rtFloat
	rtDecimal
	rtString
	rtBytes
	rtInterval
	rtArray
)

// maxRowDepth bounds the nesting of arrays the decoder accepts.
const maxRowDepth = 64

var errBadRow = errors.New("state row does not decode")

// appendRow appends the encoding of row.
func appendRow(b []byte, row []event.Value) []byte {
	b = binary.AppendUvarint(b, uint64(len(row)))
	for _, v := range row {
		b = appendValue(b, v)
	}
	return b
}

func appendValue(b []byte, v event.Value) []byte {
	switch v.Kind {
	case event.KindUnchanged:
		return append(b, rtUnchanged)
	case event.KindBool:
		if v.AsBool() {
			return append(b, rtTrue)
		}
		return append(b, rtFalse)
	case event.KindInt:
		return binary.AppendVarint(append(b, rtInt), v.AsInt())
	case event.KindFloat:
		return binary.LittleEndian.AppendUint64(append(b, rtFloat), v.Num)
	case event.KindDecimal:
		return appendStr(append(b, rtDecimal), v.Str)
	case event.KindString:
		return appendStr(append(b, rtString), v.Str)
	case event.KindBytes:
		return appendStr(append(b, rtBytes), v.Str)
	case event.KindInterval:
		b = binary.AppendVarint(append(b, rtInterval), v.AsInt())
		return appendStr(b, v.Str)
	case event.KindArray:
		elems := v.Elems()
		b = binary.AppendUvarint(append(b, rtArray), uint64(len(elems)))
		for _, e := range elems {
			b = appendValue(b, e)
		}
		return b
	}
	return append(b, rtNull)
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// rowDecoder reads rows; its strings point into one string copy of the
// input.
type rowDecoder struct {
	s string // the input, as a string
	i int    // read position
}

// decodeRow decodes a row that fills all of b.
func decodeRow(b []byte) ([]event.Value, error) {
	row, n, err := decodeRowPrefix(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, errBadRow
	}
	return row, nil
}

// decodeRowPrefix decodes a row at the front of b and says how many bytes
// it took.
func decodeRowPrefix(b []byte) ([]event.Value, int, error) {
	d := rowDecoder{s: string(b)}
	n, err := d.count()
	if err != nil {
		return nil, 0, err
	}
	row := make([]event.Value, n)
	for i := range row {
		if row[i], err = d.value(0); err != nil {
			return nil, 0, err
		}
	}
	return row, d.i, nil
}

func (d *rowDecoder) uvarint() (uint64, error) {
	var x uint64
	var s uint
	for k := 0; k < binary.MaxVarintLen64; k++ {
		if d.i >= len(d.s) {
			return 0, errBadRow
		}
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			if k == binary.MaxVarintLen64-1 && c > 1 {
				return 0, errBadRow
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, errBadRow
}

// count reads an element count; every element takes at least a byte, so a
// count above the bytes left is damage (and allocation stays bounded by
// the input).
func (d *rowDecoder) count() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.s)-d.i) {
		return 0, errBadRow
	}
	return int(n), nil
}

func (d *rowDecoder) str() (string, error) {
	n, err := d.uvarint()
	if err != nil || n > uint64(len(d.s)-d.i) {
		return "", errBadRow
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s, nil
}

func (d *rowDecoder) value(depth int) (event.Value, error) {
	if d.i >= len(d.s) {
		return event.Null, errBadRow
	}
	tag := d.s[d.i]
	d.i++
	switch tag {
	case rtNull:
		return event.Null, nil
	case rtUnchanged:
		return event.Unchanged, nil
	case rtFalse:
		return event.Bool(false), nil
	case rtTrue:
		return event.Bool(true), nil
	case rtInt:
		u, err := d.uvarint()
		return event.Int(int64(u>>1) ^ -int64(u&1)), err
	case rtFloat:
		if len(d.s)-d.i < 8 {
			return event.Null, errBadRow
		}
		var u uint64
		for k := 7; k >= 0; k-- {
			u = u<<8 | uint64(d.s[d.i+k])
		}
		d.i += 8
		return event.Float(math.Float64frombits(u)), nil
	case rtDecimal, rtString, rtBytes:
		s, err := d.str()
		switch tag {
		case rtDecimal:
			return event.Decimal(s), err
		case rtString:
			return event.String(s), err
		}
		return event.Value{Kind: event.KindBytes, Str: s}, err
	case rtInterval:
		u, err := d.uvarint()
		if err != nil {
			return event.Null, err
		}
		s, err := d.str()
		return event.Interval(int64(u>>1)^-int64(u&1), s), err
	case rtArray:
		if depth >= maxRowDepth {
			return event.Null, errBadRow
		}
		n, err := d.count()
		if err != nil {
			return event.Null, err
		}
		elems := make([]event.Value, n)
		for i := range elems {
			if elems[i], err = d.value(depth + 1); err != nil {
				return event.Null, err
			}
		}
		return event.Array(elems), nil
	}
	return event.Null, errBadRow
}
