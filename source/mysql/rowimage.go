package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-dev/sluice/event"
)

// Row images straight into event.Values.
//
// go-mysql's parser calls imageDecoder.decode (its RowsEventDecodeFunc) for
// every rows event on the goroutine that reads the replication connection,
// before the event reaches the decoder. decode reads the row images into
// one slab of event.Values per rows event without boxing (rowvalue.go).
// Strings and blobs are the event body's own bytes, without a copy, as in
// go-mysql's own decoding: the body is read from the connection into a
// buffer of its own per event (go-mysql's ReadPacket), which nothing
// writes to again, and the values keep it alive. Values written as text
// (decimals, unusual temporals) share one buffer per event. It decodes by the
// binlog's types alone: the table's catalog description (colType) is
// applied later by the decoder, which owns it, on its own goroutine
// (decoder.imageValues, colType.fromImage); columns whose values stay as
// decoded (colType.keepsAll: signed integers, years, floats, temporals,
// decimals, ASCII or valid UTF-8 text) are not touched again. Rows of
// tables the source does not capture are not decoded.
//
// The values are exactly those go-mysql's own decoding gives after
// colType.fromBinlog (TestImageDecoderDifferential, TestImageDecoderRecorded,
// FuzzRowsEvent): the common forms are computed directly, the unusual ones
// (zero dates, values out of the calendar) are written as the text go-mysql
// would produce and parsed by the same text parser. Whatever decode does
// not handle — MySQL's binary JSON, geometry and vector columns, partial
// JSON updates, version 0 rows events, malformed data — is decoded by
// go-mysql as before (RowsEvent.Rows, colType.fromBinlog). MariaDB's
// compressed rows events look like plain ones to decode (the event type is
// not passed to it); the decoder, which sees the type, decodes those again
// with go-mysql.

// decodedRows is a rows event's images: image k is vals[k*ncols:(k+1)*ncols].
// Until colType.fromImage converts them they are generic values by binlog
// type (see imageDecoder.value); strings are the event body's bytes.
type decodedRows struct {
	vals  []event.Value
	ncols int
	// ascii: every string of the event is ASCII (valid UTF-8, and the same
	// in latin1), so the decoder need not check them one by one.
	ascii bool
	// kinds is, per column, the set of the kinds of its values (bit
	// 1<<Kind): the decoder skips columns whose values all stay as they are
	// (colType.keepsAll) without touching them.
	kinds []uint16
	// data and pos are the event body and the end of its header, kept to
	// decode the event again with go-mysql (compressed events, unusual
	// column types).
	data []byte
	pos  int
}

// images is the number of row images.
func (r *decodedRows) images() int {
	if r.ncols == 0 {
		return 0
	}
	return len(r.vals) / r.ncols
}

// handoff passes decodedRows from go-mysql's parsing goroutine to the
// decoder's goroutine. One per replication session.
type handoff struct {
	mu struct {
		sync.Mutex
		m map[*replication.RowsEvent]*decodedRows
	}
}

func newHandoff() *handoff {
	h := &handoff{}
	h.mu.m = map[*replication.RowsEvent]*decodedRows{}
	return h
}

func (h *handoff) put(e *replication.RowsEvent, r *decodedRows) {
	h.mu.Lock()
	h.mu.m[e] = r
	h.mu.Unlock()
}

// take returns and forgets e's decoded images (nil: go-mysql decoded e).
func (h *handoff) take(e *replication.RowsEvent) *decodedRows {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	r := h.mu.m[e]
	delete(h.mu.m, e)
	h.mu.Unlock()
	return r
}

// imageDecoder is the RowsEventDecodeFunc state. It is owned by go-mysql's
// parsing goroutine.
type imageDecoder struct {
	out *handoff
	// captured is the captured tables' names, database → table (read
	// only): other tables' rows are not decoded, as the decoder skips
	// them. nil: every table.
	captured map[string]map[string]bool
	// vals is scratch, reused across events: the values as decoded
	// (strings as offsets into body or text). body is the event's row
	// images, text the event's values written as text, a new buffer per
	// event (the event's values keep both). ascii: every string of body
	// so far is ASCII.
	vals  []rawValue
	body  []byte
	text  []byte
	ascii bool
	// lastBody and lastText are the body and text sizes of the last event
	// decoded (textSize).
	lastBody, lastText int
	kinds              []uint16
	dec                [128]byte // a decimal's bytes with the sign bit flipped
}

// errFallback means the rows event is left to go-mysql's own decoding.
var errFallback = errors.New("rows event needs go-mysql's decoding")

// decode is the parser's RowsEventDecodeFunc.
func (d *imageDecoder) decode(e *replication.RowsEvent, data []byte) error {
	pos, err := decodeHeader(e, data)
	if err != nil {
		return err
	}
	if d.captured != nil && e.Table != nil && !d.captured[string(e.Table.Schema)][string(e.Table.Table)] {
		return nil // no rows: decoder.rows skips tables it does not capture
	}
	if pos < len(data) && !hasColumns(e) {
		return errNoProgress // go-mysql's decoding would loop forever
	}
	r, err := d.images(e, data, pos)
	if err != nil {
		return e.DecodeData(pos, data)
	}
	d.out.put(e, r)
	return nil
}

// decodeHeader runs go-mysql's header decoding, which indexes the event
// without bounds checks.
func decodeHeader(e *replication.RowsEvent, data []byte) (pos int, err error) {
	defer func() {
		if r := recover(); r != nil {
			pos, err = 0, fmt.Errorf("malformed rows event header (%v)", r)
		}
	}()
	return e.DecodeHeader(data)
}

// errNoProgress is a rows event whose images hold no column.
var errNoProgress = errors.New("rows event images hold no column")

// hasColumns reports whether the event's images hold a column (each image
// then takes at least a byte of null bitmap).
func hasColumns(e *replication.RowsEvent) bool {
	if e.Type() == replication.EnumRowsEventTypeUnknown {
		return true // partial updates: each after image has its options
	}
	n := int(e.ColumnCount)
	return popCount(e.ColumnBitmap1, n) > 0 || popCount(e.ColumnBitmap2, n) > 0
}

// popCount counts the bits set among the first n of a bitmap.
func popCount(bitmap []byte, n int) int {
	c := 0
	for i := 0; i < n/8 && i < len(bitmap); i++ {
		c += bits.OnesCount8(bitmap[i])
	}
	if n%8 != 0 && n/8 < len(bitmap) {
		c += bits.OnesCount8(bitmap[n/8] & byte(1<<(n%8)-1))
	}
	return c
}

// images decodes every row image of the event body data[pos:].
func (d *imageDecoder) images(e *replication.RowsEvent, data []byte, pos int) (*decodedRows, error) {
	tm := e.Table
	typ := e.Type()
	if tm == nil || e.Version == 0 || typ == replication.EnumRowsEventTypeUnknown || pos > len(data) {
		return nil, errFallback
	}
	if e.ColumnCount > uint64(len(tm.ColumnType)) || e.ColumnCount > uint64(len(tm.ColumnMeta)) {
		return nil, errFallback
	}
	n := int(e.ColumnCount)
	for i := range n {
		switch tm.ColumnType[i] {
		case gomysql.MYSQL_TYPE_JSON, gomysql.MYSQL_TYPE_GEOMETRY, gomysql.MYSQL_TYPE_VECTOR:
			return nil, errFallback
		}
	}
	// Strings and blobs are the body's own bytes (bodyStr); the text of
	// the values written as text (decimals, unusual temporals) is built in
	// a buffer of its own, which its strings then share without a copy
	// (eventText), sized by the share of text in the last event's body.
	body := data[pos:]
	d.vals, d.body, d.ascii = d.vals[:0], body, true
	d.text = make([]byte, 0, d.textSize(len(body)))
	d.kinds = slices.Grow(d.kinds[:0], n)[:n]
	clear(d.kinds)
	for p := 0; p < len(body); {
		start := p
		k, err := d.image(tm, n, e.ColumnBitmap1, body[p:])
		if err != nil {
			return nil, err
		}
		p += k
		if typ == replication.EnumRowsEventTypeUpdate {
			if k, err = d.image(tm, n, e.ColumnBitmap2, body[p:]); err != nil {
				return nil, err
			}
			p += k
		}
		if p == start {
			return nil, errNoProgress
		}
	}
	if len(d.text) >= 1<<32 {
		return nil, errFallback
	}
	r := &decodedRows{vals: make([]event.Value, len(d.vals)), ncols: n, data: data, pos: pos, ascii: d.ascii && isASCII(d.text),
		kinds: slices.Clone(d.kinds)}
	d.lastBody, d.lastText = len(body), len(d.text)
	text := eventText(d.text)
	d.text, d.body = nil, nil
	for i, v := range d.vals {
		// Field by field into the zeroed slab: no write barrier but the
		// string's.
		x := &r.vals[i]
		x.Kind = v.kind
		switch {
		case v.kind != event.KindString && v.kind != event.KindDecimal:
			x.Num = v.num
		case v.body:
			if start, end := v.num>>32, v.num&(1<<32-1); end > start {
				x.Str = unsafe.String(&body[start], end-start)
			}
		default:
			x.Str = text[v.num>>32 : v.num&(1<<32-1)]
		}
	}
	return r, nil
}

// textSize is the capacity of the text buffer for a body of n bytes: the
// last event's share of text, a little more.
func (d *imageDecoder) textSize(n int) int {
	if d.lastBody == 0 {
		return n
	}
	return n*d.lastText/d.lastBody + n/16 + 16
}

// eventText returns b, which nothing writes to again, as the string the
// event's values share: without a copy when b uses most of its capacity
// (the string keeps all of it alive for as long as an event of the rows
// event is), else as a copy of its own size.
func eventText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if 2*cap(b) > 3*len(b) {
		return string(b)
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// isASCII reports whether b holds no byte above 0x7f.
func isASCII(b []byte) bool {
	var acc uint64
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 == 0
}

// image decodes one row image; it returns the bytes it used.
func (d *imageDecoder) image(tm *replication.TableMapEvent, n int, bitmap []byte, b []byte) (int, error) {
	if len(bitmap) < (n+7)/8 {
		return 0, errFallback
	}
	nb := (popCount(bitmap, n) + 7) / 8
	if len(b) < nb {
		return 0, errFallback
	}
	nulls, p, ni := b[:nb], nb, 0
	for i := range n {
		if bitmap[i>>3]&(1<<(i&7)) == 0 {
			d.vals = append(d.vals, rawValue{}) // not in the image: NULL
			d.kinds[i] |= 1 << event.KindNull
			continue
		}
		isNull := nulls[ni>>3]&(1<<(ni&7)) != 0
		ni++
		if isNull {
			d.vals = append(d.vals, rawValue{})
			d.kinds[i] |= 1 << event.KindNull
			continue
		}
		v, k := d.value(b[p:], tm.ColumnType[i], tm.ColumnMeta[i])
		if k < 0 {
			return 0, errFallback
		}
		d.vals = append(d.vals, v)
		d.kinds[i] |= 1 << v.kind
		p += k
	}
	return p, nil
}
