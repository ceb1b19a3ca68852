package s3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

// Parquet column kinds (colSpec.Kind): the physical and logical type of a
// column, chosen from the event.Type of the source column.
const (
	pqBool        = "bool"        // BOOLEAN
	pqInt16       = "int16"       // INT32, INT(16, signed)
	pqInt32       = "int32"       // INT32, INT(32, signed)
	pqInt64       = "int64"       // INT64, INT(64, signed)
	pqFloat       = "float"       // FLOAT
	pqDouble      = "double"      // DOUBLE
	pqDecimal     = "decimal"     // DECIMAL(p,s): INT32 p<=9, INT64 p<=18, else FIXED_LEN_BYTE_ARRAY
	pqString      = "string"      // BYTE_ARRAY, STRING
	pqBytes       = "bytes"       // BYTE_ARRAY
	pqJSON        = "json"        // BYTE_ARRAY, JSON
	pqDate        = "date"        // INT32, DATE
	pqTime        = "time"        // INT64, TIME(MICROS, isAdjustedToUTC=false)
	pqTimestamp   = "timestamp"   // INT64, TIMESTAMP(MICROS, isAdjustedToUTC=false)
	pqTimestampTZ = "timestamptz" // INT64, TIMESTAMP(MICROS, isAdjustedToUTC=true)
	pqList        = "list"        // LIST of Elem
)

// colSpec describes one Parquet column. A spool file of a Parquet object
// stores its colSpecs in its header, so the object can be built from the
// spool alone after a restart.
type colSpec struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Precision int      `json:"precision,omitempty"`
	Scale     int      `json:"scale,omitempty"`
	Optional  bool     `json:"optional,omitempty"`
	Elem      *colSpec `json:"elem,omitempty"`
}

// Envelope columns, after the table's columns, as the row format names them.
const (
	colOp       = "__op"
	colSourceTs = "__source_ts_ms"
	colLSN      = "__lsn"
	colDeleted  = "__deleted"
)

// specsFor maps a table schema to Parquet columns (see the package doc's
// table). Table columns are all optional: a delete's image, a NULL, and an
// unchanged TOAST value of a non-text column are nulls.
func specsFor(s *event.Schema) []colSpec {
	specs := make([]colSpec, 0, len(s.Columns)+4)
	for i := range s.Columns {
		c := columnSpec(&s.Columns[i])
		c.Name = s.Columns[i].Name
		specs = append(specs, c)
	}
	return append(specs,
		colSpec{Name: colOp, Kind: pqString},
		colSpec{Name: colSourceTs, Kind: pqInt64},
		colSpec{Name: colLSN, Kind: pqInt64, Optional: true},
		colSpec{Name: colDeleted, Kind: pqBool},
	)
}

func columnSpec(c *event.Column) colSpec {
	s := colSpec{Optional: true}
	switch c.Type {
	case event.TypeBool:
		s.Kind = pqBool
	case event.TypeInt16:
		s.Kind = pqInt16
	case event.TypeInt32:
		s.Kind = pqInt32
	case event.TypeInt64:
		s.Kind = pqInt64
	case event.TypeFloat32:
		s.Kind = pqFloat
	case event.TypeFloat64:
		s.Kind = pqDouble
	case event.TypeDecimal:
		if c.Precision > 0 && c.Scale >= 0 && c.Scale <= c.Precision {
			s.Kind, s.Precision, s.Scale = pqDecimal, c.Precision, c.Scale
		} else {
			s.Kind = pqString // unconstrained numeric: exact text
		}
	case event.TypeMoney:
		s.Kind, s.Precision, s.Scale = pqDecimal, 18, 2
	case event.TypeBytes:
		s.Kind = pqBytes
	case event.TypeJSON:
		s.Kind = pqJSON
	case event.TypeDate:
		s.Kind = pqDate
	case event.TypeTime:
		s.Kind = pqTime
	case event.TypeTimestamp:
		s.Kind = pqTimestamp
	case event.TypeTimestampTZ:
		s.Kind = pqTimestampTZ
	case event.TypeArray:
		s.Kind = pqList
		elem := event.Column{Type: event.TypeString}
		if c.Elem != nil {
			elem = *c.Elem
		}
		if elem.Type == event.TypeArray { // flattened by the source; keep text
			elem.Type = event.TypeString
		}
		if elem.Type == event.TypeDecimal && elem.Precision == 0 && c.Precision > 0 {
			// numeric(p,s)[]: the modifier sits on the array column.
			elem.Precision, elem.Scale = c.Precision, c.Scale
		}
		e := columnSpec(&elem)
		s.Elem = &e
	default:
		// String, UUID (canonical text), enum labels, timetz, interval
		// (ISO 8601), XML, inet and unknown types (text).
		s.Kind = pqString
	}
	return s
}

// orderedGroup is a group whose fields keep the table's column order
// (parquet.Group sorts its fields by name).
type orderedGroup struct {
	parquet.Group
	order []string
}

func (g orderedGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	rank := make(map[string]int, len(g.order))
	for i, n := range g.order {
		rank[n] = i
	}
	slices.SortStableFunc(fields, func(a, b parquet.Field) int { return rank[a.Name()] - rank[b.Name()] })
	return fields
}

// parquetSchema builds the Parquet schema of specs, with fields in order.
func parquetSchema(name string, specs []colSpec) (*parquet.Schema, error) {
	g := parquet.Group{}
	order := make([]string, len(specs))
	for i, s := range specs {
		if _, dup := g[s.Name]; dup {
			return nil, fmt.Errorf("column %q appears twice", s.Name)
		}
		n, err := node(s)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", s.Name, err)
		}
		g[s.Name] = n
		order[i] = s.Name
	}
	return parquet.NewSchema(name, orderedGroup{Group: g, order: order}), nil
}

func node(s colSpec) (parquet.Node, error) {
	var n parquet.Node
	switch s.Kind {
	case pqBool:
		n = parquet.Leaf(parquet.BooleanType)
	case pqInt16:
		n = parquet.Int(16)
	case pqInt32:
		n = parquet.Int(32)
	case pqInt64:
		n = parquet.Int(64)
	case pqFloat:
		n = parquet.Leaf(parquet.FloatType)
	case pqDouble:
		n = parquet.Leaf(parquet.DoubleType)
	case pqDecimal:
		switch {
		case s.Precision < 1 || s.Scale < 0 || s.Scale > s.Precision:
			return nil, fmt.Errorf("decimal(%d,%d) is not valid", s.Precision, s.Scale)
		case s.Precision <= 9:
			n = parquet.Decimal(s.Scale, s.Precision, parquet.Int32Type)
		case s.Precision <= 18:
			n = parquet.Decimal(s.Scale, s.Precision, parquet.Int64Type)
		default:
			n = parquet.Decimal(s.Scale, s.Precision, parquet.FixedLenByteArrayType(decimalBytes(s.Precision)))
		}
	case pqString:
		n = parquet.String()
	case pqBytes:
		n = parquet.Leaf(parquet.ByteArrayType)
	case pqJSON:
		n = parquet.JSON()
	case pqDate:
		n = parquet.Date()
	case pqTime:
		n = parquet.TimeAdjusted(parquet.Microsecond, false)
	case pqTimestamp:
		n = parquet.TimestampAdjusted(parquet.Microsecond, false)
	case pqTimestampTZ:
		n = parquet.TimestampAdjusted(parquet.Microsecond, true)
	case pqList:
		if s.Elem == nil || s.Elem.Kind == pqList {
			return nil, errors.New("a list needs a scalar element type")
		}
		e, err := node(*s.Elem)
		if err != nil {
			return nil, err
		}
		n = parquet.List(e)
	default:
		return nil, fmt.Errorf("unknown column kind %q", s.Kind)
	}
	if s.Optional {
		n = parquet.Optional(n)
	}
	return n, nil
}

// decimalBytes is the smallest two's-complement width holding precision
// decimal digits.
func decimalBytes(precision int) int {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
	for n := 1; ; n++ {
		if new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) >= 0 {
			return n
		}
	}
}

// scalar converts a value to its Parquet value; null reports a NULL.
func scalar(s *colSpec, v event.Value) (pv parquet.Value, null bool, err error) {
	switch v.Kind {
	case event.KindNull:
		return pv, true, nil
	case event.KindUnchanged:
		// The source did not send the value. Text columns get Debezium's
		// placeholder, so readers can tell "unknown" from NULL.
		switch s.Kind {
		case pqString, pqBytes:
			return parquet.ByteArrayValue(stringBytes(format.UnavailableValuePlaceholder)), false, nil
		}
		return pv, true, nil
	}
	mismatch := func() (parquet.Value, bool, error) {
		return pv, false, fmt.Errorf("a value of kind %d does not fit a %s column", v.Kind, s.Kind)
	}
	switch s.Kind {
	case pqBool:
		if v.Kind != event.KindBool {
			return mismatch()
		}
		return parquet.BooleanValue(v.AsBool()), false, nil
	case pqInt16, pqInt32, pqDate:
		if v.Kind != event.KindInt {
			return mismatch()
		}
		i := v.AsInt()
		if i < math.MinInt32 || i > math.MaxInt32 {
			return pv, false, fmt.Errorf("%d is out of range for %s", i, s.Kind)
		}
		return parquet.Int32Value(int32(i)), false, nil
	case pqInt64, pqTime, pqTimestamp, pqTimestampTZ:
		if v.Kind != event.KindInt {
			return mismatch()
		}
		return parquet.Int64Value(v.AsInt()), false, nil
	case pqFloat:
		if v.Kind != event.KindFloat {
			return mismatch()
		}
		return parquet.FloatValue(float32(v.AsFloat())), false, nil
	case pqDouble:
		if v.Kind != event.KindFloat {
			return mismatch()
		}
		return parquet.DoubleValue(v.AsFloat()), false, nil
	case pqDecimal:
		if v.Kind != event.KindDecimal {
			return mismatch()
		}
		u, err := unscaled(v.Str, s.Precision, s.Scale)
		if err != nil {
			return pv, false, err
		}
		switch {
		case s.Precision <= 9:
			return parquet.Int32Value(int32(u.Int64())), false, nil
		case s.Precision <= 18:
			return parquet.Int64Value(u.Int64()), false, nil
		}
		return parquet.FixedLenByteArrayValue(twosComplement(u, decimalBytes(s.Precision))), false, nil
	case pqString, pqJSON, pqBytes:
		switch v.Kind {
		case event.KindString, event.KindBytes, event.KindDecimal, event.KindInterval:
			return parquet.ByteArrayValue(stringBytes(v.Str)), false, nil
		case event.KindInt, event.KindFloat, event.KindBool:
			return parquet.ByteArrayValue(stringBytes(v.Text())), false, nil
		}
		return mismatch()
	}
	return pv, false, fmt.Errorf("unknown column kind %q", s.Kind)
}

// stringBytes views s as bytes without copying. The parquet.Values built
// from it live only until appendRow copies them into the spool record, and
// nothing writes to them.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// unscaled parses exact decimal text as an integer at scale, checking the
// precision. NaN and infinities have no DECIMAL form.
func unscaled(text string, precision, scale int) (*big.Int, error) {
	t := text
	neg := false
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac, _ := strings.Cut(t, ".")
	frac = strings.TrimRight(frac, "0")
	if len(frac) > scale {
		return nil, fmt.Errorf("decimal %s has more than %d fraction digits", text, scale)
	}
	digits := strings.TrimLeft(intPart, "0") + frac + strings.Repeat("0", scale-len(frac))
	if intPart == "" && frac == "" {
		return nil, fmt.Errorf("%q is not a decimal number", text)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return nil, fmt.Errorf("%q has no DECIMAL(%d,%d) form", text, precision, scale)
		}
	}
	if len(strings.TrimLeft(digits, "0")) > precision {
		return nil, fmt.Errorf("decimal %s does not fit DECIMAL(%d,%d)", text, precision, scale)
	}
	u, ok := new(big.Int).SetString("0"+digits, 10)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", text)
	}
	if neg {
		u.Neg(u)
	}
	return u, nil
}

// twosComplement renders u big-endian in n bytes.
func twosComplement(u *big.Int, n int) []byte {
	b := make([]byte, n)
	if u.Sign() >= 0 {
		u.FillBytes(b)
		return b
	}
	m := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*n)), u)
	m.FillBytes(b)
	return b
}

// Spooled Parquet rows are stored as their values: column, levels, a kind
// byte and the datum, so that building the object needs no event.Schema.
const (
	rvNull byte = iota
	rvBool
	rvInt32
	rvInt64
	rvFloat
	rvDouble
	rvBytes
	rvFixed
)

var errCorruptRow = errors.New("corrupt spooled parquet row")

func codec(name string) compress.Codec {
	switch name {
	case "zstd":
		return &parquet.Zstd
	case "gzip":
		return &parquet.Gzip
	case "none":
		return &parquet.Uncompressed
	}
	return &snappyCodec{}
}

// snappyCodec is the SNAPPY codec with s2's snappy block encoder at its
// standard speed. parquet-go's (klauspost/compress/snappy.Encode) uses
// s2.EncodeSnappyBetter, which took a fifth of an object's build for pages
// 5 % smaller on the benchmark's rows (sluice-bench's product table):
// the blocks are plain snappy either way, decoded by every reader (the
// codec in the file is SNAPPY), and about as small as other writers'
// snappy pages.
type snappyCodec struct{ snappy.Codec }

func (*snappyCodec) Encode(dst, src []byte) ([]byte, error) { return s2.EncodeSnappy(dst, src), nil }

// rowGroupBytes bounds a row group by the spooled size of its rows, so the
// memory that parquet-go buffers for a row group stays bounded whatever the
// row width.
var rowGroupBytes = 64 << 20

// maxRowsPerRowGroup bounds a row group by its rows (a variable for
// tests).
var maxRowsPerRowGroup = 128 << 10

// writeParquet writes rows (each as appendRow stored it) as one Parquet
// file, through a columnWriter whose pages are buffered in memory.
func writeParquet(w io.Writer, name string, specs []colSpec, compression string, next func() ([]byte, bool, error)) error {
	cw, err := newColumnWriter(w, name, specs, compression, "")
	if err != nil {
		return err
	}
	for {
		b, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			return cw.close()
		}
		if err := cw.add(b); err != nil {
			return err
		}
	}
}

// columnWriter writes spooled rows as one Parquet file. Rows are decoded
// straight into one value slice per leaf column (decodeColumns) and
// written column by column through the writer's column writers, in chunks
// of 64 rows within batches of 256, the chunks parquet-go's WriteRows makes
// of the same rows: pages end where they ended before, so the file is byte
// for byte the one WriteRows writes (TestWriteParquetColumnar), without
// building a parquet.Row per row. Byte arrays are copied into an arena
// that lives until the batch is written, so add may be passed a buffer
// that its caller reuses.
type columnWriter struct {
	pw     *parquet.Writer
	leaves int
	// chunk[c] holds column c's values of the batch; starts[r] is where row
	// r of the batch starts in each column.
	chunk                        [][]parquet.Value
	starts                       [][]int32
	startsBuf                    []int32
	arena                        []byte
	batch, groupRows, groupBytes int
}

const batchRows, chunkRows = 256, 64

// newColumnWriter returns a columnWriter writing to w. With pageDir set, the
// pages of the row group being written wait in files there (pageFiles)
// instead of in memory.
func newColumnWriter(w io.Writer, name string, specs []colSpec, compression, pageDir string) (*columnWriter, error) {
	sch, err := parquetSchema(name, specs)
	if err != nil {
		return nil, err
	}
	leaves := len(sch.Columns())
	opts := []parquet.WriterOption{sch, parquet.Compression(codec(compression)),
		parquet.CreatedBy("sluice", "", ""), parquet.MaxRowsPerRowGroup(int64(maxRowsPerRowGroup))}
	if pageDir != "" {
		opts = append(opts, parquet.ColumnPageBuffers(pageFiles{dir: pageDir}))
	}
	return &columnWriter{
		pw:        parquet.NewWriter(w, opts...),
		leaves:    leaves,
		chunk:     make([][]parquet.Value, leaves),
		starts:    make([][]int32, 0, batchRows),
		startsBuf: make([]int32, batchRows*leaves),
	}, nil
}

// pageFiles is a parquet.BufferPool of files in dir. parquet-go keeps the
// encoded, compressed pages of each column until its row group is flushed
// (a row group is up to rowGroupBytes of spooled rows: all of a 64 MiB
// object, or as many MB of pages), then copies them to the output in
// column order. In memory that made the build's heap grow with the object;
// in files the heap holds only the column buffers of the pages being
// filled (a page each, 256 KiB of values), whatever the object's size, and
// the bytes written are the same. Each file is unlinked as soon as it is
// made, so nothing is left behind when the build ends, fails or crashes
// (a name left by a crash between the two ends in .obj, which the sink
// removes on start).
type pageFiles struct{ dir string }

func (p pageFiles) GetBuffer() io.ReadWriteSeeker {
	f, err := os.CreateTemp(p.dir, "pages-*.obj")
	if err != nil {
		return pageFileError{fmt.Errorf("page buffer file: %w", err)}
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return pageFileError{fmt.Errorf("page buffer file: %w", err)}
	}
	return f
}

func (p pageFiles) PutBuffer(b io.ReadWriteSeeker) {
	if f, ok := b.(*os.File); ok {
		f.Close()
	}
}

// pageFileError is the page buffer of a pageFiles that could not make one:
// every use fails with its error, which the writer returns.
type pageFileError struct{ err error }

func (e pageFileError) Read([]byte) (int, error)       { return 0, e.err }
func (e pageFileError) Write([]byte) (int, error)      { return 0, e.err }
func (e pageFileError) Seek(int64, int) (int64, error) { return 0, e.err }

// add adds one spooled row.
func (cw *columnWriter) add(b []byte) error {
	st := cw.startsBuf[cw.batch*cw.leaves : (cw.batch+1)*cw.leaves]
	for c := range cw.chunk {
		st[c] = int32(len(cw.chunk[c]))
	}
	var err error
	if cw.arena, err = decodeColumns(cw.chunk, cw.arena, b); err != nil {
		return err
	}
	cw.starts = append(cw.starts, st)
	cw.batch++
	cw.groupBytes += len(b)
	if cw.batch == batchRows || cw.groupBytes >= rowGroupBytes {
		if err := cw.writeBatch(); err != nil {
			return err
		}
	}
	if cw.groupBytes >= rowGroupBytes {
		if err := cw.pw.Flush(); err != nil {
			return err
		}
		cw.groupRows, cw.groupBytes = 0, 0
	}
	return nil
}

// writeBatch writes the batch's rows in chunks of 64, starting a new row
// group when the current one is full, as WriteRows does.
func (cw *columnWriter) writeBatch() error {
	for r := 0; r < cw.batch; {
		if cw.groupRows == maxRowsPerRowGroup {
			if err := cw.pw.Flush(); err != nil {
				return err
			}
			cw.groupRows = 0
		}
		n := min(chunkRows, cw.batch-r, maxRowsPerRowGroup-cw.groupRows)
		cws := cw.pw.ColumnWriters()
		for c := range cw.leaves {
			from := int(cw.starts[r][c])
			to := len(cw.chunk[c])
			if r+n < cw.batch {
				to = int(cw.starts[r+n][c])
			}
			if _, err := cws[c].WriteRowValues(cw.chunk[c][from:to]); err != nil {
				return err
			}
		}
		r += n
		cw.groupRows += n
	}
	for c := range cw.chunk {
		clear(cw.chunk[c])
		cw.chunk[c] = cw.chunk[c][:0]
	}
	cw.starts, cw.batch = cw.starts[:0], 0
	if cap(cw.arena) > 16<<20 {
		cw.arena = nil // a batch of large values grew it
	}
	cw.arena = cw.arena[:0]
	return nil
}

func (cw *columnWriter) close() error {
	if err := cw.writeBatch(); err != nil {
		return err
	}
	return cw.pw.Close()
}

// decodeColumns decodes one spooled row (see appendRow), appending each
// value to its column's slice. The row is first copied whole to arena
// (returned), and byte arrays point into that copy: one copy per row, not
// one per value. A row holds every column, in order, one or more values
// each; anything else is a corrupt row.
func decodeColumns(cols [][]parquet.Value, arena, b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return arena, errCorruptRow
	}
	at := len(arena)
	arena = append(arena, b[k:]...)
	b = arena[at:len(arena):len(arena)]
	next := 0 // the column the next value starts, or continues next-1
	for range n {
		var col uint64
		if len(b) > 0 && b[0] < 0x80 { // one-byte varint: every column below 128
			col, k = uint64(b[0]), 1
		} else {
			col, k = binary.Uvarint(b)
		}
		if k <= 0 || len(b) < k+3 || col > math.MaxInt16 {
			return arena, errCorruptRow
		}
		c := int(col)
		switch c {
		case next:
			next++
		case next - 1:
		default:
			return arena, errCorruptRow
		}
		if c >= len(cols) {
			return arena, errCorruptRow
		}
		rep, def, kind := int(b[k]), int(b[k+1]), b[k+2]
		b = b[k+3:]
		var v parquet.Value
		switch kind {
		case rvNull:
			v = parquet.NullValue()
		case rvBool:
			if len(b) < 1 {
				return arena, errCorruptRow
			}
			v, b = parquet.BooleanValue(b[0] == 1), b[1:]
		case rvInt32, rvFloat:
			if len(b) < 4 {
				return arena, errCorruptRow
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
				return arena, errCorruptRow
			}
			u := binary.LittleEndian.Uint64(b)
			if kind == rvInt64 {
				v = parquet.Int64Value(int64(u))
			} else {
				v = parquet.DoubleValue(math.Float64frombits(u))
			}
			b = b[8:]
		case rvBytes, rvFixed:
			var l uint64
			if len(b) > 0 && b[0] < 0x80 {
				l, k = uint64(b[0]), 1
			} else {
				l, k = binary.Uvarint(b)
			}
			if k <= 0 || uint64(len(b)-k) < l {
				return arena, errCorruptRow
			}
			end := k + int(l)
			data := b[k:end:end]
			if kind == rvFixed {
				v = parquet.FixedLenByteArrayValue(data)
			} else {
				v = parquet.ByteArrayValue(data)
			}
			b = b[end:]
		default:
			return arena, errCorruptRow
		}
		// Levelled with the in-place setters, not Value.Level: Level is not
		// inlined, and its copies of the 24-byte value through the stack
		// (written in pieces, read back whole: a store-forwarding stall)
		// cost more than the rest of the decoding.
		v.SetRepetitionLevel(rep)
		v.SetDefinitionLevel(def)
		v.SetColumnIndex(c)
		cols[c] = append(cols[c], v)
	}
	if next != len(cols) {
		return arena, errCorruptRow
	}
	return arena, nil
}

// schemaName names a Parquet schema after its stream.
func schemaName(stream string, version int) string {
	return strings.NewReplacer(".", "_", "-", "_").Replace(stream) + "_v" + strconv.Itoa(version)
}

// appendEventRow appends e's row to dst in the spool's row encoding: the
// bytes appendRow(parquetRow(e)) makes, written straight from the event's
// values with a typed switch per column (no parquet.Value is built, boxed
// or levelled on the way). ok is false for events without an image
// (truncate), which have no row. The Parquet writer reads these rows back
// when the object is built (decodeRow), so the objects are unchanged.
func appendEventRow(dst []byte, specs []colSpec, e *event.Event) (_ []byte, ok bool, err error) {
	img := e.After
	if img == nil {
		img = e.Before
	}
	if img == nil {
		return dst, false, nil
	}
	cols := len(specs) - 4
	if len(img) != cols {
		return dst, false, fmt.Errorf("image has %d values, schema %d columns", len(img), cols)
	}
	// The row's value count comes first: one per column, one per element
	// of a non-empty list.
	n := 4
	for i := 0; i < cols; i++ {
		n++
		if specs[i].Kind == pqList && img[i].Kind == event.KindArray {
			if k := len(img[i].Elems()); k > 1 {
				n += k - 1
			}
		}
	}
	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(n))
	for i := 0; i < cols; i++ {
		if dst, err = appendColumn(dst, i, &specs[i], &img[i]); err != nil {
			return dst[:start], false, fmt.Errorf("column %q: %w", specs[i].Name, err)
		}
	}
	dst = appendLevels(dst, cols, 0, 0)
	op := e.Op.String()
	dst = binary.AppendUvarint(append(dst, rvBytes), uint64(len(op)))
	dst = append(dst, op...)
	dst = appendLevels(dst, cols+1, 0, 0)
	dst = binary.LittleEndian.AppendUint64(append(dst, rvInt64), uint64(e.Source.TsMs()))
	if e.Source.HasLSN {
		dst = appendLevels(dst, cols+2, 0, 1)
		dst = binary.LittleEndian.AppendUint64(append(dst, rvInt64), e.Source.LSN)
	} else {
		dst = append(appendLevels(dst, cols+2, 0, 0), rvNull)
	}
	dst = appendLevels(dst, cols+3, 0, 0)
	if e.Op == event.OpDelete {
		return append(dst, rvBool, 1), true, nil
	}
	return append(dst, rvBool, 0), true, nil
}

func appendLevels(dst []byte, col, rep, def int) []byte {
	return append(binary.AppendUvarint(dst, uint64(col)), byte(rep), byte(def))
}

// appendColumn appends the values of one top-level column (optional), as
// appendValue and appendRow do. Values are passed by pointer, here and to
// appendScalar: a 40-byte event.Value passed by value is copied through a
// temporary in pieces that the copy reads back whole, a stall that took
// two thirds of appendEventRow's time.
func appendColumn(dst []byte, col int, s *colSpec, v *event.Value) ([]byte, error) {
	if s.Kind != pqList {
		return appendScalar(dst, col, 0, 0, 1, s, v)
	}
	// optional group (def 1) > repeated list (def 2) > optional element (def 3).
	switch v.Kind {
	case event.KindNull, event.KindUnchanged:
		return append(appendLevels(dst, col, 0, 0), rvNull), nil
	case event.KindArray:
	default:
		return dst, fmt.Errorf("value of kind %d is not an array", v.Kind)
	}
	elems := v.Elems()
	if len(elems) == 0 {
		return append(appendLevels(dst, col, 0, 1), rvNull), nil
	}
	for i := range elems {
		rep := 0
		if i > 0 {
			rep = 1
		}
		var err error
		if dst, err = appendScalar(dst, col, rep, 2, 3, s.Elem, &elems[i]); err != nil {
			return dst, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return dst, nil
}

// appendScalar appends one value of a scalar column at repetition level
// rep: a null at definition level defNull, a value at defVal. It converts
// as scalar does, with the same errors.
func appendScalar(dst []byte, col, rep, defNull, defVal int, s *colSpec, v *event.Value) ([]byte, error) {
	null := func() ([]byte, error) { return append(appendLevels(dst, col, rep, defNull), rvNull), nil }
	bytesVal := func(b string) ([]byte, error) {
		d := binary.AppendUvarint(append(appendLevels(dst, col, rep, defVal), rvBytes), uint64(len(b)))
		return append(d, b...), nil
	}
	switch v.Kind {
	case event.KindNull:
		return null()
	case event.KindUnchanged:
		switch s.Kind {
		case pqString, pqBytes:
			return bytesVal(format.UnavailableValuePlaceholder)
		}
		return null()
	}
	mismatch := func() ([]byte, error) {
		return dst, fmt.Errorf("a value of kind %d does not fit a %s column", v.Kind, s.Kind)
	}
	switch s.Kind {
	case pqBool:
		if v.Kind != event.KindBool {
			return mismatch()
		}
		b := byte(0)
		if v.AsBool() {
			b = 1
		}
		return append(appendLevels(dst, col, rep, defVal), rvBool, b), nil
	case pqInt16, pqInt32, pqDate:
		if v.Kind != event.KindInt {
			return mismatch()
		}
		i := v.AsInt()
		if i < math.MinInt32 || i > math.MaxInt32 {
			return dst, fmt.Errorf("%d is out of range for %s", i, s.Kind)
		}
		return binary.LittleEndian.AppendUint32(append(appendLevels(dst, col, rep, defVal), rvInt32), uint32(int32(i))), nil
	case pqInt64, pqTime, pqTimestamp, pqTimestampTZ:
		if v.Kind != event.KindInt {
			return mismatch()
		}
		return binary.LittleEndian.AppendUint64(append(appendLevels(dst, col, rep, defVal), rvInt64), uint64(v.AsInt())), nil
	case pqFloat:
		if v.Kind != event.KindFloat {
			return mismatch()
		}
		return binary.LittleEndian.AppendUint32(append(appendLevels(dst, col, rep, defVal), rvFloat), math.Float32bits(float32(v.AsFloat()))), nil
	case pqDouble:
		if v.Kind != event.KindFloat {
			return mismatch()
		}
		return binary.LittleEndian.AppendUint64(append(appendLevels(dst, col, rep, defVal), rvDouble), math.Float64bits(v.AsFloat())), nil
	case pqDecimal:
		if v.Kind != event.KindDecimal {
			return mismatch()
		}
		u, err := unscaled(v.Str, s.Precision, s.Scale)
		if err != nil {
			return dst, err
		}
		d := appendLevels(dst, col, rep, defVal)
		switch {
		case s.Precision <= 9:
			return binary.LittleEndian.AppendUint32(append(d, rvInt32), uint32(int32(u.Int64()))), nil
		case s.Precision <= 18:
			return binary.LittleEndian.AppendUint64(append(d, rvInt64), uint64(u.Int64())), nil
		}
		fixed := twosComplement(u, decimalBytes(s.Precision))
		return append(binary.AppendUvarint(append(d, rvFixed), uint64(len(fixed))), fixed...), nil
	case pqString, pqJSON, pqBytes:
		switch v.Kind {
		case event.KindString, event.KindBytes, event.KindDecimal, event.KindInterval:
			return bytesVal(v.Str)
		case event.KindInt, event.KindFloat, event.KindBool:
			return bytesVal(v.Text())
		}
		return mismatch()
	}
	return dst, fmt.Errorf("unknown column kind %q", s.Kind)
}
