package s3

// The row codec the sink used before its columnar writer (parquetRow,
// appendRow, decodeRow): the reference the columnar path's tests compare
// against byte for byte (TestEventRowEncoding, TestWriteParquetColumnar).

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/event"
)

// parquetRow builds the Parquet row of e: its after image (the before image
// for deletes, with __deleted true) and the envelope columns. ok is false for
// events without an image (truncate), which have no row, as in the row
// format.
func parquetRow(row parquet.Row, specs []colSpec, e *event.Event) (_ parquet.Row, ok bool, err error) {
	img := e.After
	if img == nil {
		img = e.Before
	}
	if img == nil {
		return row, false, nil
	}
	cols := len(specs) - 4
	if len(img) != cols {
		return row, false, fmt.Errorf("image has %d values, schema %d columns", len(img), cols)
	}
	for i := 0; i < cols; i++ {
		if row, err = appendValue(row, i, &specs[i], img[i]); err != nil {
			return row, false, fmt.Errorf("column %q: %w", specs[i].Name, err)
		}
	}
	row = append(row,
		parquet.ByteArrayValue(stringBytes(e.Op.String())).Level(0, 0, cols),
		parquet.Int64Value(e.Source.TsMs()).Level(0, 0, cols+1))
	if e.Source.HasLSN {
		row = append(row, parquet.Int64Value(int64(e.Source.LSN)).Level(0, 1, cols+2))
	} else {
		row = append(row, parquet.NullValue().Level(0, 0, cols+2))
	}
	row = append(row, parquet.BooleanValue(e.Op == event.OpDelete).Level(0, 0, cols+3))
	return row, true, nil
}

// appendValue appends the values of one top-level column (optional).
func appendValue(row parquet.Row, col int, s *colSpec, v event.Value) (parquet.Row, error) {
	if s.Kind != pqList {
		pv, null, err := scalar(s, v)
		if err != nil {
			return row, err
		}
		if null {
			return append(row, parquet.NullValue().Level(0, 0, col)), nil
		}
		return append(row, pv.Level(0, 1, col)), nil
	}
	// optional group (def 1) > repeated list (def 2) > optional element (def 3).
	switch v.Kind {
	case event.KindNull, event.KindUnchanged:
		return append(row, parquet.NullValue().Level(0, 0, col)), nil
	case event.KindArray:
	default:
		return row, fmt.Errorf("value of kind %d is not an array", v.Kind)
	}
	elems := v.Elems()
	if len(elems) == 0 {
		return append(row, parquet.NullValue().Level(0, 1, col)), nil
	}
	for i, e := range elems {
		rep := 0
		if i > 0 {
			rep = 1
		}
		pv, null, err := scalar(s.Elem, e)
		if err != nil {
			return row, fmt.Errorf("element %d: %w", i, err)
		}
		if null {
			row = append(row, parquet.NullValue().Level(rep, 2, col))
		} else {
			row = append(row, pv.Level(rep, 3, col))
		}
	}
	return row, nil
}

func appendRow(dst []byte, row parquet.Row) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(row)))
	for _, v := range row {
		dst = binary.AppendUvarint(dst, uint64(v.Column()))
		dst = append(dst, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
		if v.IsNull() {
			dst = append(dst, rvNull)
			continue
		}
		switch v.Kind() {
		case parquet.Boolean:
			b := byte(0)
			if v.Boolean() {
				b = 1
			}
			dst = append(dst, rvBool, b)
		case parquet.Int32:
			dst = binary.LittleEndian.AppendUint32(append(dst, rvInt32), uint32(v.Int32()))
		case parquet.Int64:
			dst = binary.LittleEndian.AppendUint64(append(dst, rvInt64), uint64(v.Int64()))
		case parquet.Float:
			dst = binary.LittleEndian.AppendUint32(append(dst, rvFloat), math.Float32bits(v.Float()))
		case parquet.Double:
			dst = binary.LittleEndian.AppendUint64(append(dst, rvDouble), math.Float64bits(v.Double()))
		case parquet.FixedLenByteArray:
			dst = binary.AppendUvarint(append(dst, rvFixed), uint64(len(v.ByteArray())))
			dst = append(dst, v.ByteArray()...)
		default:
			dst = binary.AppendUvarint(append(dst, rvBytes), uint64(len(v.ByteArray())))
			dst = append(dst, v.ByteArray()...)
		}
	}
	return dst
}

func decodeRow(row parquet.Row, b []byte) (parquet.Row, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return row, errCorruptRow
	}
	b = b[k:]
	for range n {
		col, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+3 || col > math.MaxInt16 {
			return row, errCorruptRow
		}
		rep, def, kind := int(b[k]), int(b[k+1]), b[k+2]
		b = b[k+3:]
		var v parquet.Value
		switch kind {
		case rvNull:
			v = parquet.NullValue()
		case rvBool:
			if len(b) < 1 {
				return row, errCorruptRow
			}
			v, b = parquet.BooleanValue(b[0] == 1), b[1:]
		case rvInt32, rvFloat:
			if len(b) < 4 {
				return row, errCorruptRow
			}
			u := binary.LittleEndian.Uint32(b)
			if kind == rvInt32 {
				v = parquet.Int32Value(int32(u))
			} else {
				v = parquet.FloatValue(math.Float32frombits(u))
			}
			b = b[4:]
		case rvInt64, rvDouble:
			if len(b) < 8 {
				return row, errCorruptRow
			}
			u := binary.LittleEndian.Uint64(b)
			if kind == rvInt64 {
				v = parquet.Int64Value(int64(u))
			} else {
				v = parquet.DoubleValue(math.Float64frombits(u))
			}
			b = b[8:]
		case rvBytes, rvFixed:
			l, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < l {
				return row, errCorruptRow
			}
			data := b[k : k+int(l)]
			if kind == rvFixed {
				v = parquet.FixedLenByteArrayValue(data)
			} else {
				v = parquet.ByteArrayValue(data)
			}
			b = b[k+int(l):]
		default:
			return row, errCorruptRow
		}
		row = append(row, v.Level(rep, def, int(col)))
	}
	return row, nil
}
