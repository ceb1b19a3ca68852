package mysql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-dev/sluice/event"
)

// rawEvent wraps an event body in a header (and a checksum the parser
// strips without checking).
func rawEvent(t replication.EventType, body []byte) []byte {
	b := make([]byte, replication.EventHeaderSize, replication.EventHeaderSize+len(body)+4)
	b[4] = byte(t)
	binary.LittleEndian.PutUint32(b[5:], 1)
	binary.LittleEndian.PutUint32(b[9:], uint32(cap(b)))
	b = append(b, body...)
	return append(b, 0, 0, 0, 0)
}

// synthTableMap is a TABLE_MAP body (table id 7) of columns with binlog
// types and metadata (each column's metadata bytes as the event stores
// them), all nullable.
func synthTableMap(types []byte, meta [][]byte) []byte {
	b := []byte{7, 0, 0, 0, 0, 0, 1, 0, 1, 'd', 0, 1, 't', 0, byte(len(types))}
	b = append(b, types...)
	var m []byte
	for _, x := range meta {
		m = append(m, x...)
	}
	b = append(b, byte(len(m)))
	b = append(b, m...)
	for range (len(types) + 7) / 8 {
		b = append(b, 0xff)
	}
	return b
}

// synthRows is a v1 rows event body for table id 7 with every column
// present, followed by the images.
func synthRows(ncols int, update bool, images ...[]byte) []byte {
	b := []byte{7, 0, 0, 0, 0, 0, 0, 0, byte(ncols)}
	bitmap := make([]byte, (ncols+7)/8)
	for i := range ncols {
		bitmap[i/8] |= 1 << (i % 8)
	}
	b = append(b, bitmap...)
	if update {
		b = append(b, bitmap...)
	}
	for _, img := range images {
		b = append(b, img...)
	}
	return b
}

var fuzzRowsTypes = []replication.EventType{replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
	replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2}

// compareRowsEvent parses a TABLE_MAP body and a rows event body with both
// decoders and compares them (every binlog type's decodings).
func compareRowsEvent(t testing.TB, fde, tm, rows []byte, et replication.EventType) diffStats {
	var st diffStats
	r := newReplayer()
	if _, _, skip := r.feed(fde); skip {
		t.Fatal("format description does not parse")
	}
	if ref, fast, skip := r.feed(rawEvent(replication.TABLE_MAP_EVENT, tm)); skip || ref.err != nil || fast.err != nil {
		return st // go-mysql's table map decoding rejects it
	}
	ref, fast, skip := r.feed(rawEvent(et, rows))
	if skip {
		return st
	}
	if err := diffRows(ref, fast, func(int) []*colType { return nil }, &st); err != nil {
		t.Fatalf("%s: %v", et, err)
	}
	return st
}

// oldTemporal is a table of the pre-5.6 temporal types (TIME, DATETIME,
// TIMESTAMP: no fraction), a DATE, a YEAR and a BIT(9), which MariaDB 10.11
// writes only with mysql56_temporal_format=OFF.
var oldTemporal = synthTableMap(
	[]byte{gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_YEAR, gomysql.MYSQL_TYPE_BIT},
	[][]byte{nil, nil, nil, nil, nil, {1, 1}})

func le(n int, v uint64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// oldTemporalImages are images of oldTemporal: plain values, zeros, zero
// parts, out-of-range parts, and far-future dates.
var oldTemporalImages = [][]byte{
	cat([]byte{0}, le(3, 123456), le(8, 20240229235959), le(4, 1700000000), le(3, 2024*512+2*32+29), []byte{124}, []byte{1, 0xff}),
	cat([]byte{0}, le(3, 0), le(8, 0), le(4, 0), le(3, 0), []byte{0}, []byte{0, 0}),
	cat([]byte{0}, le(3, 8385959), le(8, 20240015120000), le(4, 1), le(3, 2024*512+0*32+5), []byte{255}, []byte{0, 1}),
	cat([]byte{0}, le(3, 16777215), le(8, 99991399996199), le(4, 0xffffffff), le(3, 9999*512+15*32+31), []byte{1}, []byte{1, 0}),
	cat([]byte{0}, le(3, 12075), le(8, 19691231235959), le(4, 86400), le(3, 2023*512+2*32+30), []byte{70}, []byte{0, 0x80}),
	cat([]byte{0}, le(3, 1), le(8, 1_000_000), le(4, 2), le(3, 32767*512+1*32+1), []byte{0}, []byte{0xff, 0xff}),
	cat([]byte{0}, le(3, 100), le(8, 18446744073709551615), le(4, 3), le(3, 1), []byte{0}, []byte{0, 0}),
}

// TestImageDecoderOldTemporal compares both decodings on the pre-5.6
// temporal types, which the recording from MariaDB 10.11 does not hold.
func TestImageDecoderOldTemporal(t *testing.T) {
	fde := readRecording(t)[0]
	for i, img := range oldTemporalImages {
		if st := compareRowsEvent(t, fde, oldTemporal, synthRows(6, false, img), replication.WRITE_ROWS_EVENTv1); st.fastEvents != 1 {
			t.Fatalf("image %d: not decoded by the image decoder", i)
		}
	}
	if st := compareRowsEvent(t, fde, oldTemporal, synthRows(6, true, oldTemporalImages[:6]...), replication.UPDATE_ROWS_EVENTv1); st.fastEvents != 1 {
		t.Fatal("update: not decoded by the image decoder")
	}
}

// FuzzRowsEvent feeds a TABLE_MAP body and a rows event body to go-mysql's
// own decoding and to imageDecoder. The image decoder must never panic,
// and whenever go-mysql decodes the event it must give the same values
// (through fromBinlog and fromImage, for every column decoding of each
// binlog type) or leave the event to go-mysql. Seeds: every recorded rows
// event of the edge table with its TABLE_MAP, and the pre-5.6 temporal
// types.
func FuzzRowsEvent(f *testing.F) {
	raws := readRecording(f)
	fde := raws[0]
	tms := map[uint64][]byte{}
	for _, raw := range raws[1:] {
		body := raw[replication.EventHeaderSize : len(raw)-4]
		id := gomysql.FixedLengthInt(body[:6])
		et := replication.EventType(raw[4])
		if et == replication.TABLE_MAP_EVENT {
			tms[id] = body
			continue
		}
		for i, t := range fuzzRowsTypes {
			if t == et {
				f.Add(tms[id], body, uint8(i))
			}
		}
	}
	for _, img := range oldTemporalImages {
		f.Add(oldTemporal, synthRows(6, false, img), uint8(0))
	}
	f.Add(oldTemporal, synthRows(6, true, oldTemporalImages[0], oldTemporalImages[2]), uint8(1))
	f.Fuzz(func(t *testing.T, tm, rows []byte, et uint8) {
		compareRowsEvent(t, fde, tm, rows, fuzzRowsTypes[int(et)%len(fuzzRowsTypes)])
	})
}

// benchRowsEvent is a rows event shaped like TestBinlogDrainThroughput's
// table (BIGINT, 2 × VARCHAR(100), DECIMAL(12,2), DATETIME(6), TINYINT,
// INT, VARCHAR(100)), 40 rows, with its column decodings.
func benchRowsEvent() (tm, rows []byte, types []*colType) {
	tm = synthTableMap([]byte{gomysql.MYSQL_TYPE_LONGLONG, gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_NEWDECIMAL,
		gomysql.MYSQL_TYPE_DATETIME2, gomysql.MYSQL_TYPE_TINY, gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_VARCHAR},
		[][]byte{nil, {144, 1}, {144, 1}, {12, 2}, {6}, nil, nil, {144, 1}})
	var images [][]byte
	for i := range 40 {
		id := uint64(1000000 + i)
		name := fmt.Sprintf("customer name number %d", id)
		email := fmt.Sprintf("user%d@example.com", id)
		note := strings.Repeat("n", 74) + strconv.FormatUint(id, 10)
		img := []byte{0}
		img = binary.LittleEndian.AppendUint64(img, id)
		img = append(binary.LittleEndian.AppendUint16(img, uint16(len(name))), name...)
		img = append(binary.LittleEndian.AppendUint16(img, uint16(len(email))), email...)
		img = append(img, 0x80, 0x00, 0x00, 0x03, 0xe8, 0x2a)             // 1000.42
		img = append(img, 0x99, 0xb2, 0x42, 0x00, 0x00, 0x01, 0xe2, 0x40) // 2024-01-01 00:00:00.123456
		img = append(img, byte(i%2))
		img = binary.LittleEndian.AppendUint32(img, uint32(i%1000))
		img = append(binary.LittleEndian.AppendUint16(img, uint16(len(note))), note...)
		images = append(images, img)
	}
	types = []*colType{{kind: vInt}, {kind: vString}, {kind: vString}, {kind: vDecimal}, {kind: vDatetime}, {kind: vInt}, {kind: vInt}, {kind: vString}}
	return tm, synthRows(8, false, images...), types
}

// BenchmarkRowsEvent decodes a rows event the way the source does:
// go-mysql's decoding and fromBinlog (old), or the image decoder and
// fromImage (image); per row.
func BenchmarkRowsEvent(b *testing.B) {
	tmBody, rowsBody, types := benchRowsEvent()
	fde := readRecording(b)[0]
	for _, fast := range []bool{false, true} {
		name := map[bool]string{false: "old", true: "image"}[fast]
		b.Run(name, func(b *testing.B) {
			p := replication.NewBinlogParser()
			p.SetParseTime(true)
			out := newHandoff()
			if fast {
				p.SetRowsEventDecodeFunc((&imageDecoder{out: out}).decode)
			}
			for _, raw := range [][]byte{fde, rawEvent(replication.TABLE_MAP_EVENT, tmBody)} {
				if _, err := p.Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
			raw := rawEvent(replication.WRITE_ROWS_EVENTv1, rowsBody)
			d := &decoder{}
			ts := &tableState{ref: tableRef{"d", "t"}, sch: &event.Schema{Columns: make([]event.Column, len(types))}, types: types}
			b.ReportAllocs()
			for b.Loop() {
				ev, err := p.Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				e := ev.Event.(*replication.RowsEvent)
				if r := out.take(e); r != nil {
					for k := range r.images() {
						if _, _, err := d.imageValues(ts, e.Table, r, k, []int{1, 2, 7}); err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				for _, row := range e.Rows {
					vals := make([]event.Value, len(row))
					for i, ct := range types {
						if vals[i], err = ct.fromBinlog(row[i]); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*40), "ns/row")
		})
	}
}
