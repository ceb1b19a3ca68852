package mysql

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// recordingPath holds raw binlog events recorded from MariaDB by
// TestImageDecoderDifferential -update: the format description, then the
// edge table's TABLE_MAP and rows events.
var recordingPath = filepath.Join("testdata", "rowsevents.bin.gz")

// replayer parses raw events twice: with go-mysql's own row decoding, as
// the source did before imageDecoder (ref), and with imageDecoder (fast).
// Both are configured like the source's syncer.
type replayer struct {
	ref, fast *replication.BinlogParser
	out       *handoff
}

func newReplayer() *replayer {
	r := &replayer{ref: replication.NewBinlogParser(), fast: replication.NewBinlogParser(), out: newHandoff()}
	for _, p := range []*replication.BinlogParser{r.ref, r.fast} {
		p.SetFlavor(gomysql.MariaDBFlavor)
		p.SetParseTime(true)
		p.SetTimestampStringLocation(time.UTC)
	}
	r.fast.SetRowsEventDecodeFunc((&imageDecoder{out: r.out}).decode)
	return r
}

// parse parses with one parser; go-mysql's own decoders panic on some
// malformed input (table maps, rows event headers).
func parse(p *replication.BinlogParser, raw []byte) (ev *replication.BinlogEvent, err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			ev, err, panicked = nil, fmt.Errorf("panic: %v\n%s", r, debug.Stack()), true
		}
	}()
	ev, err = p.Parse(raw)
	return ev, err, false
}

// rowsResult is one parser's outcome for a rows event.
type rowsResult struct {
	ev   *replication.BinlogEvent
	err  error
	fast *decodedRows // imageDecoder's images (nil: go-mysql decoded)
}

// feed parses one raw event with both parsers. skip is set when the
// outcomes cannot be compared: go-mysql panicked (its table map and header
// decoding run on both sides), or the image decoder found images without
// columns, which go-mysql decodes forever. A panic on the image decoder's
// side alone is its own and fails the comparison.
func (r *replayer) feed(raw []byte) (ref, fast rowsResult, skip bool) {
	var fastPanic, refPanic bool
	fast.ev, fast.err, fastPanic = parse(r.fast, raw)
	if fast.ev != nil {
		if re, ok := fast.ev.Event.(*replication.RowsEvent); ok {
			fast.fast = r.out.take(re)
		}
	}
	if fast.err != nil && strings.Contains(fast.err.Error(), errNoProgress.Error()) {
		return ref, fast, true // the parser keeps only the error's text
	}
	ref.ev, ref.err, refPanic = parse(r.ref, raw)
	if fastPanic && !refPanic {
		ref.err = nil // a difference for diffRows
		return ref, fast, false
	}
	return ref, fast, refPanic
}

// variants are the column decodings sluice may pair with a binlog type
// (those binlogTypeFits accepts), with the settings that change values.
func variants(rt byte) []*colType {
	labels := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("l%d", i+1)
		}
		return out
	}
	switch rt {
	case gomysql.MYSQL_TYPE_TINY, gomysql.MYSQL_TYPE_SHORT, gomysql.MYSQL_TYPE_INT24, gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_LONGLONG:
		return []*colType{{kind: vInt}, {kind: vUint}, {kind: vUint, size: 24}, {kind: vUint64}}
	case gomysql.MYSQL_TYPE_FLOAT:
		return []*colType{{kind: vFloat32}}
	case gomysql.MYSQL_TYPE_DOUBLE:
		return []*colType{{kind: vFloat64}}
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		return []*colType{{kind: vDecimal}}
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING, gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_BLOB, gomysql.MYSQL_TYPE_JSON:
		return []*colType{{kind: vString}, {kind: vString, cs: csLatin1}, {kind: vString, cs: csBinary}, {kind: vJSON},
			{kind: vBytes, cs: csBinary}, {kind: vBytes, cs: csBinary, padBin: true, size: 5}, {kind: vBytes, cs: csBinary, padBin: true, size: 300}}
	case gomysql.MYSQL_TYPE_ENUM:
		return []*colType{{kind: vEnum, labels: labels(3)}, {kind: vEnum}, {kind: vEnum, labels: labels(300)}}
	case gomysql.MYSQL_TYPE_SET:
		return []*colType{{kind: vSet, labels: labels(3)}, {kind: vSet, labels: labels(64)}, {kind: vSet, labels: labels(70)}}
	case gomysql.MYSQL_TYPE_BIT:
		return []*colType{{kind: vBool, size: 1}, {kind: vBits, size: 1}, {kind: vBits, size: 12}, {kind: vBits, size: 64}, {kind: vBits, size: 70}}
	case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
		return []*colType{{kind: vDate}}
	case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
		return []*colType{{kind: vTime}}
	case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
		return []*colType{{kind: vDatetime}}
	case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
		return []*colType{{kind: vTimestamp}}
	case gomysql.MYSQL_TYPE_YEAR:
		return []*colType{{kind: vYear}}
	}
	return nil
}

// diffStats counts what a comparison covered.
type diffStats struct {
	events, fastEvents, values int
	// forms counts the image decoder's generic values by binlog type and
	// kind (KindString for temporal types: go-mysql's text path).
	forms map[[2]int]int
}

// diffRows compares a rows event decoded both ways: go-mysql's rows
// through fromBinlog against imageDecoder's values through fromImage, for
// every column decoding in types(i) (nil: variants of the binlog type).
// It returns the first difference.
func diffRows(ref, fast rowsResult, types func(i int) []*colType, st *diffStats) error {
	if (ref.err == nil) != (fast.err == nil) {
		return fmt.Errorf("go-mysql error %v, image decoder error %v", ref.err, fast.err)
	}
	if ref.err != nil {
		return nil
	}
	rr, ok1 := ref.ev.Event.(*replication.RowsEvent)
	fr, ok2 := fast.ev.Event.(*replication.RowsEvent)
	if !ok1 || !ok2 {
		return nil
	}
	st.events++
	if fast.fast == nil {
		// go-mysql decoded it on the fast side too.
		if fmt.Sprintf("%#v", rr.Rows) != fmt.Sprintf("%#v", fr.Rows) { // NaN is not DeepEqual to itself
			return errors.New("fallback decoding differs from go-mysql's")
		}
		return nil
	}
	st.fastEvents++
	img := fast.fast
	if img.ncols != int(rr.ColumnCount) {
		return fmt.Errorf("%d columns, go-mysql %d", img.ncols, rr.ColumnCount)
	}
	if img.images() != len(rr.Rows) {
		return fmt.Errorf("%d images, go-mysql %d", img.images(), len(rr.Rows))
	}
	for k, row := range rr.Rows {
		if len(row) != img.ncols {
			return fmt.Errorf("image %d: go-mysql row of %d columns", k, len(row))
		}
		for i, gv := range row {
			v := img.vals[k*img.ncols+i]
			if img.kinds[i]&(1<<v.Kind) == 0 {
				return fmt.Errorf("image %d column %d: kind %d not in the column's kinds %b", k, i, v.Kind, img.kinds[i])
			}
			if st.forms == nil {
				st.forms = map[[2]int]int{}
			}
			st.forms[[2]int{int(realType(fr.Table, i)), int(v.Kind)}]++
			cts := types(i)
			if cts == nil {
				cts = variants(realType(fr.Table, i))
			}
			for _, ct := range cts {
				st.values++
				want, werr := ct.fromBinlog(gv)
				got, ok, gerr := ct.fromImage(fr.Table.ColumnType[i], v)
				if !ok {
					return fmt.Errorf("image %d column %d (binlog type %d, kind %d): fromImage does not convert %+v", k, i, fr.Table.ColumnType[i], ct.kind, v)
				}
				if fmt.Sprint(werr) != fmt.Sprint(gerr) || !got.Equal(want) ||
					ct.keepsAll(img.kinds[i], img.ascii) && !v.Equal(want) ||
					ct.keeps(v, img.ascii) && !v.Equal(want) ||
					v.Kind == event.KindString && isASCII([]byte(v.Str)) && ct.keeps(v, true) && !v.Equal(want) {
					return fmt.Errorf("image %d column %d (binlog type %d meta %#x, colType %+v): go-mysql %#v → %q (kind %d) err %v; image decoder %q (kind %d) err %v",
						k, i, fr.Table.ColumnType[i], fr.Table.ColumnMeta[i], *ct, gv, want.Text(), want.Kind, werr, got.Text(), got.Kind, gerr)
				}
			}
		}
	}
	return nil
}

// replayAll feeds raw events to a replayer and compares every rows event.
func replayAll(t *testing.T, raws [][]byte, types func(tm *replication.TableMapEvent, i int) []*colType) diffStats {
	t.Helper()
	r := newReplayer()
	var st diffStats
	for n, raw := range raws {
		ref, fast, skip := r.feed(raw)
		if skip {
			t.Fatalf("event %d: go-mysql cannot decode a recorded event (%v)", n, ref.err)
		}
		re, ok := fast.ev.Event.(*replication.RowsEvent)
		if fast.err != nil || !ok {
			continue
		}
		colTypes := func(i int) []*colType { return types(re.Table, i) }
		if err := diffRows(ref, fast, colTypes, &st); err != nil {
			t.Fatalf("event %d (%s): %v", n, fast.ev.Header.EventType, err)
		}
	}
	return st
}

func readRecording(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(recordingPath)
	if err != nil {
		t.Fatalf("%v (run TestImageDecoderDifferential -update against MariaDB)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint32(b))
		if len(b) < 4+n {
			t.Fatalf("%s is truncated", recordingPath)
		}
		raws = append(raws, b[4:4+n])
		b = b[4+n:]
	}
	return raws
}

func writeRecording(t *testing.T, raws [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	for _, r := range raws {
		_ = binary.Write(zw, binary.LittleEndian, uint32(len(r)))
		_, _ = zw.Write(r)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordingPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImageDecoderRecorded replays the recorded edge-table events (no
// server needed) and compares both decodings value by value, with the
// column decodings the full TABLE_MAP metadata gives and with every
// variant of each binlog type.
func TestImageDecoderRecorded(t *testing.T) {
	raws := readRecording(t)
	byMeta := map[*replication.TableMapEvent][]*colType{}
	st := replayAll(t, raws, func(tm *replication.TableMapEvent, i int) []*colType {
		types, ok := byMeta[tm]
		if !ok {
			_, types, _ = schemaFromTableMap(event.Schema{}, tableRef{string(tm.Schema), string(tm.Table)}, tm)
			byMeta[tm] = types
		}
		out := variants(realType(tm, i))
		if types != nil {
			out = append(out, types[i])
		}
		return out
	})
	if st.events == 0 || st.fastEvents != st.events {
		t.Fatalf("%d rows events, %d decoded by the image decoder", st.events, st.fastEvents)
	}
	// The recording exercises both forms of the temporal types: values
	// computed directly and go-mysql's text (zero dates, zero parts).
	for _, bt := range []byte{gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_DATETIME2, gomysql.MYSQL_TYPE_TIMESTAMP2} {
		for _, k := range []event.Kind{event.KindInt, event.KindString, event.KindNull} {
			if st.forms[[2]int{int(bt), int(k)}] == 0 {
				t.Errorf("no value of binlog type %d as kind %d in the recording", bt, k)
			}
		}
	}
	t.Logf("%d rows events, %d values compared", st.events, st.values)
}

// throughDecoder parses raw events (with the image decoder or without) and
// turns them into events with decoder.rows, as the source does; it
// returns them, and the errors of rows events that stop the source,
// rendered as events. retype may change a table's column decodings.
// inject, if given, runs before decoder.rows with the event body.
func throughDecoder(t *testing.T, raws [][]byte, fast bool, retype func([]*colType) []*colType,
	inject ...func(d *decoder, e *replication.RowsEvent, body []byte)) []event.Event {
	t.Helper()
	p := replication.NewBinlogParser()
	p.SetFlavor(gomysql.MariaDBFlavor)
	p.SetParseTime(true)
	p.SetTimestampStringLocation(time.UTC)
	out := sourcetest.NewEmitter()
	cfg := DefaultConfig()
	cfg.BatchSize = 1 << 20
	d := &decoder{src: &Source{cfg: *cfg}, out: out, byID: map[uint64]*tableState{}, captured: map[tableRef]*tableState{}}
	d.images = newHandoff()
	if fast {
		p.SetRowsEventDecodeFunc((&imageDecoder{out: d.images}).decode)
	}
	states := map[tableRef]*tableState{}
	for n, raw := range raws {
		ev, err := p.Parse(raw)
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			ref := tableRef{string(e.Schema), string(e.Table)}
			st := states[ref]
			if st == nil {
				sch, types, err := schemaFromTableMap(event.Schema{Table: ref.name}, ref, e)
				if err != nil {
					t.Fatal(err)
				}
				if retype != nil {
					types = retype(types)
				}
				st = &tableState{ref: ref, sch: sch, types: types}
				states[ref] = st
			}
			d.byID[e.TableID] = st
		case *replication.RowsEvent:
			for _, f := range inject {
				f(d, e, raw[replication.EventHeaderSize:len(raw)-4])
			}
			if err := d.rows(context.Background(), ev.Header, e); err != nil {
				d.batch = append(d.batch, event.Event{Op: event.OpTruncate, Schema: &event.Schema{Table: err.Error()}})
			}
		}
	}
	if err := d.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out.Events()
}

// sameEvents compares the rows of two event lists.
func sameEvents(t *testing.T, what string, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Op == event.OpTruncate || w.Op == event.OpTruncate {
			if g.Op != w.Op || g.Schema.Table != w.Schema.Table {
				t.Fatalf("%s: event %d: %s %s, want %s %s", what, i, g.Op, g.Schema.Table, w.Op, w.Schema.Table)
			}
			continue
		}
		if g.Op != w.Op || g.Source.Row != w.Source.Row || rowText(g.Schema, g.Before) != rowText(w.Schema, w.Before) ||
			rowText(g.Schema, g.After) != rowText(w.Schema, w.After) || !slices.EqualFunc(g.After, w.After, event.Value.Equal) ||
			!slices.EqualFunc(g.Before, w.Before, event.Value.Equal) {
			t.Fatalf("%s: event %d:\n%s %s -> %s\nwant\n%s %s -> %s", what, i, g.Op, rowText(g.Schema, g.Before), rowText(g.Schema, g.After),
				w.Op, rowText(w.Schema, w.Before), rowText(w.Schema, w.After))
		}
	}
}

// compressRows turns a recorded v1 rows event into MariaDB's compressed
// form (log_bin_compress): the rows after the bitmaps as a zlib stream
// behind a header byte and the uncompressed length.
func compressRows(t *testing.T, raw []byte) []byte {
	t.Helper()
	var ct replication.EventType
	switch replication.EventType(raw[4]) {
	case replication.WRITE_ROWS_EVENTv1:
		ct = replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1
	case replication.UPDATE_ROWS_EVENTv1:
		ct = replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1
	case replication.DELETE_ROWS_EVENTv1:
		ct = replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1
	default:
		return raw
	}
	body := raw[replication.EventHeaderSize : len(raw)-4]
	ncols, _, n := gomysql.LengthEncodedInt(body[8:])
	head := 8 + n + int(ncols+7)/8
	if ct == replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1 {
		head += int(ncols+7) / 8
	}
	rows := body[head:]
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(rows)
	_ = zw.Close()
	out := append([]byte(nil), body[:head]...)
	out = append(out, 0x80|4)
	out = binary.BigEndian.AppendUint32(out, uint32(len(rows)))
	out = append(out, z.Bytes()...)
	return rawEvent(ct, out)
}

// TestDecoderRowsPaths checks decoder.rows end to end on the recorded
// events: the image decoder's events equal those of go-mysql's decoding;
// MariaDB's compressed rows events (which the image decoder cannot tell
// from plain ones) are decoded again by go-mysql with the same result; and
// a column decoding fromImage does not convert switches the event to
// go-mysql's decoding.
func TestDecoderRowsPaths(t *testing.T) {
	raws := readRecording(t)
	want := throughDecoder(t, raws, false, nil)
	if len(want) < 200 {
		t.Fatalf("%d events from the recording", len(want))
	}
	sameEvents(t, "image decoder", throughDecoder(t, raws, true, nil), want)

	compressed := make([][]byte, len(raws))
	for i, raw := range raws {
		compressed[i] = raw
		if i > 0 {
			compressed[i] = compressRows(t, raw)
		}
	}
	if bytes.Equal(compressed[2], raws[2]) {
		t.Fatal("the recording's rows events were not compressed")
	}
	sameEvents(t, "compressed, go-mysql", throughDecoder(t, compressed, false, nil), want)
	sameEvents(t, "compressed, image decoder", throughDecoder(t, compressed, true, nil), want)

	// BIT(64) read as an unsigned integer: go-mysql's int64 fits
	// fromBinlog, the image decoder's value is left to go-mysql.
	asUint := func(types []*colType) []*colType {
		out := slices.Clone(types)
		for i, ct := range out {
			if ct.kind == vBits && ct.size == 64 {
				out[i] = &colType{kind: vUint64}
			}
		}
		return out
	}
	want = throughDecoder(t, raws, false, asUint)
	sameEvents(t, "unconverted column", throughDecoder(t, raws, true, asUint), want)
}

// TestCompressedLookalike: when the image decoder took a compressed rows
// event's bytes for row images (they may happen to parse), decoder.rows
// decodes the event again with go-mysql and ignores the images.
func TestCompressedLookalike(t *testing.T) {
	raws := readRecording(t)
	compressed := [][]byte{raws[0]}
	for _, raw := range raws[1:] {
		compressed = append(compressed, compressRows(t, raw))
	}
	want := throughDecoder(t, raws, false, nil)
	got := throughDecoder(t, compressed, false, nil, func(d *decoder, e *replication.RowsEvent, body []byte) {
		pos, err := e.DecodeHeader(body)
		if err != nil {
			t.Fatal(err)
		}
		bogus := make([]event.Value, e.ColumnCount)
		for i := range bogus {
			bogus[i] = event.String("not a row")
		}
		d.images.put(e, &decodedRows{vals: bogus, ncols: len(bogus), data: body, pos: pos})
	})
	sameEvents(t, "compressed lookalike", got, want)
}

// TestUncapturedTablesNotDecoded: rows of tables the source does not
// capture are not decoded at all (decoder.rows skips them).
func TestUncapturedTablesNotDecoded(t *testing.T) {
	raws := readRecording(t)
	p := replication.NewBinlogParser()
	out := newHandoff()
	p.SetRowsEventDecodeFunc((&imageDecoder{out: out, captured: map[string]map[string]bool{"inventory": {"edge": true}}}).decode)
	rowsEvents := 0
	for n, raw := range raws {
		ev, err := p.Parse(raw)
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if e, ok := ev.Event.(*replication.RowsEvent); ok {
			rowsEvents++
			if e.Rows != nil || out.take(e) != nil {
				t.Fatalf("event %d of an uncaptured table was decoded", n)
			}
		}
	}
	if rowsEvents == 0 {
		t.Fatal("no rows events")
	}
}

// TestImageTextOwnedPerEvent: the strings of a decoded rows event are its
// body's bytes, which decoding the next event does not change; the text of
// values written as text (decimals, unusual temporals) is a buffer per
// event, taken without a copy when the text fills most of it, and copied
// to its own size when it does not.
func TestImageTextOwnedPerEvent(t *testing.T) {
	tm := synthTableMap([]byte{gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_VARCHAR}, [][]byte{nil, {100, 0}})
	image := func(id uint32, s string) []byte {
		b := binary.LittleEndian.AppendUint32([]byte{0}, id)
		return append(append(b, byte(len(s))), s...)
	}
	p := replication.NewBinlogParser()
	out := newHandoff()
	dec := &imageDecoder{out: out}
	p.SetRowsEventDecodeFunc(dec.decode)
	for _, raw := range [][]byte{readRecording(t)[0], rawEvent(replication.TABLE_MAP_EVENT, tm)} {
		if _, err := p.Parse(raw); err != nil {
			t.Fatal(err)
		}
	}
	decode := func(images ...[]byte) *decodedRows {
		t.Helper()
		ev, err := p.Parse(rawEvent(replication.WRITE_ROWS_EVENTv1, synthRows(2, false, images...)))
		if err != nil {
			t.Fatal(err)
		}
		r := out.take(ev.Event.(*replication.RowsEvent))
		if r == nil {
			t.Fatal("the image decoder left the event to go-mysql")
		}
		return r
	}
	texts := func(r *decodedRows) []string {
		var s []string
		for _, v := range r.vals {
			if v.Kind == event.KindString {
				s = append(s, v.Str)
			}
		}
		return s
	}
	first := decode(image(1, "alpha alpha alpha"), image(2, "beta beta beta"))
	second := decode(image(3, "GAMMA GAMMA GAMMA"), image(4, "DELTA DELTA DELT"))
	third := decode(image(5, "e"))
	for _, c := range []struct {
		r    *decodedRows
		want []string
	}{
		{first, []string{"alpha alpha alpha", "beta beta beta"}},
		{second, []string{"GAMMA GAMMA GAMMA", "DELTA DELTA DELT"}},
		{third, []string{"e"}},
	} {
		if got := texts(c.r); !slices.Equal(got, c.want) {
			t.Fatalf("strings %q, want %q", got, c.want)
		}
	}
	// ascii: whether every string of the event is ASCII.
	fourth := decode(image(6, "plain"), image(7, "caf\xc3\xa9"))
	if got := texts(fourth); !slices.Equal(got, []string{"plain", "caf\u00e9"}) {
		t.Fatalf("strings %q", got)
	}
	if !first.ascii || !third.ascii || fourth.ascii {
		t.Fatalf("ascii: %v, %v, %v; want true, true, false", first.ascii, third.ascii, fourth.ascii)
	}
	// Strings are the event body's own bytes, not copies.
	for _, r := range []*decodedRows{first, second, third, fourth} {
		lo, hi := uintptr(unsafe.Pointer(&r.data[0])), uintptr(unsafe.Pointer(&r.data[0]))+uintptr(len(r.data))
		for _, s := range texts(r) {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p < lo || p+uintptr(len(s)) > hi {
				t.Fatalf("string %q is not in the event's body", s)
			}
		}
	}

	// eventText: no copy at two thirds of the capacity or more.
	buf := make([]byte, 9, 12)
	copy(buf, "abcdefghi")
	if s := eventText(buf); s != "abcdefghi" || unsafe.StringData(s) != &buf[0] {
		t.Fatalf("eventText(9 of 12) = %q, copied", s)
	}
	buf = make([]byte, 7, 12)
	copy(buf, "abcdefg")
	if s := eventText(buf); s != "abcdefg" || unsafe.StringData(s) == &buf[0] {
		t.Fatalf("eventText(7 of 12) = %q, not copied", s)
	}
	if s := eventText(nil); s != "" {
		t.Fatalf("eventText(nil) = %q", s)
	}
	// textSize: the body's size without history, then the last event's
	// share of text, a sixteenth more and 16 bytes.
	d := &imageDecoder{}
	if n := d.textSize(1000); n != 1000 {
		t.Fatalf("textSize without history = %d, want 1000", n)
	}
	d.lastBody, d.lastText = 400, 100
	if n := d.textSize(1600); n != 400+100+16 {
		t.Fatalf("textSize = %d, want 516", n)
	}
}

// TestKeepsFloatsAndYears: the image decoder's floats (float widened
// exactly, as go-mysql does) and years are the columns' values already, so
// decoder.rows does not convert those columns; a value of another kind
// (the binlog's type differs from the catalog's) still is.
func TestKeepsFloatsAndYears(t *testing.T) {
	const null, num, float, str = 1 << event.KindNull, 1 << event.KindInt, 1 << event.KindFloat, 1 << event.KindString
	for _, c := range []struct {
		kind vkind
		mask uint16
		want bool
	}{
		{vFloat64, float, true},
		{vFloat64, float | null, true},
		{vFloat32, float, true},
		{vFloat64, num, false},
		{vFloat32, float | str, false},
		{vYear, num | null, true},
		{vYear, float, false},
		{vInt, float, false},
	} {
		ct := &colType{kind: c.kind}
		if got := ct.keepsAll(c.mask, true); got != c.want {
			t.Errorf("kind %d keepsAll(%#x) = %v, want %v", c.kind, c.mask, got, c.want)
		}
	}
	for _, c := range []struct {
		kind vkind
		v    event.Value
		want bool
	}{
		{vFloat64, event.Float(1.5), true},
		{vFloat32, event.Float(0.10000000149011612), true},
		{vFloat64, event.Null, true},
		{vFloat64, event.Int(3), false},
		{vYear, event.Int(2024), true},
		{vYear, event.Float(2024), false},
	} {
		ct := &colType{kind: c.kind}
		if got := ct.keeps(c.v, true); got != c.want {
			t.Errorf("kind %d keeps(%v) = %v, want %v", c.kind, c.v, got, c.want)
		}
		if c.want {
			if x, ok, err := ct.fromImage(gomysql.MYSQL_TYPE_DOUBLE, c.v); err != nil || !ok || !x.Equal(c.v) {
				t.Errorf("kind %d: fromImage(%v) = %v, %v, %v; keeps says it stays", c.kind, c.v, x, ok, err)
			}
		}
	}
}

// TestIsASCII: every length up to 80, with one byte above 0x7f at each
// position or none.
func TestIsASCII(t *testing.T) {
	for n := range 81 {
		b := bytes.Repeat([]byte{'x'}, n)
		if !isASCII(b) {
			t.Fatalf("%d ASCII bytes: not ASCII", n)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b[i] = c
				if isASCII(b) {
					t.Fatalf("%d bytes with %#x at %d: ASCII", n, c, i)
				}
				b[i] = 0x7f
				if !isASCII(b) {
					t.Fatalf("%d bytes with 0x7f at %d: not ASCII", n, i)
				}
				b[i] = 'x'
			}
		}
	}
}
