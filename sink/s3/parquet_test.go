package s3

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-dev/sluice/event"
)

// typesSchema has a column of every logical type.
var typesSchema = &event.Schema{
	Stream: "pg.public.types", Source: "pg", Connector: "postgresql", Database: "shop",
	Namespace: "public", Table: "types", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, TypeName: "int8", Key: true},
		{Name: "b", Type: event.TypeBool, TypeName: "bool", Optional: true},
		{Name: "i2", Type: event.TypeInt16, TypeName: "int2", Optional: true},
		{Name: "i4", Type: event.TypeInt32, TypeName: "int4", Optional: true},
		{Name: "f4", Type: event.TypeFloat32, TypeName: "float4", Optional: true},
		{Name: "f8", Type: event.TypeFloat64, TypeName: "float8", Optional: true},
		{Name: "num", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Precision: 10, Scale: 2},
		{Name: "small", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Precision: 5, Scale: 3},
		{Name: "big", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Precision: 30, Scale: 4},
		{Name: "numv", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Scale: -1},
		{Name: "cash", Type: event.TypeMoney, TypeName: "money", Optional: true},
		{Name: "txt", Type: event.TypeString, TypeName: "text", Optional: true},
		{Name: "bin", Type: event.TypeBytes, TypeName: "bytea", Optional: true},
		{Name: "uid", Type: event.TypeUUID, TypeName: "uuid", Optional: true},
		{Name: "doc", Type: event.TypeJSON, TypeName: "jsonb", Optional: true},
		{Name: "day", Type: event.TypeDate, TypeName: "date", Optional: true},
		{Name: "tm", Type: event.TypeTime, TypeName: "time", Optional: true},
		{Name: "tmtz", Type: event.TypeTimeTZ, TypeName: "timetz", Optional: true},
		{Name: "ts", Type: event.TypeTimestamp, TypeName: "timestamp", Optional: true},
		{Name: "tstz", Type: event.TypeTimestampTZ, TypeName: "timestamptz", Optional: true},
		{Name: "span", Type: event.TypeInterval, TypeName: "interval", Optional: true},
		{Name: "mood", Type: event.TypeEnum, TypeName: "mood", Optional: true, EnumValues: []string{"sad", "ok", "happy"}},
		{Name: "ints", Type: event.TypeArray, TypeName: "_int4", Optional: true, Elem: &event.Column{Type: event.TypeInt32, TypeName: "int4"}},
		{Name: "tags", Type: event.TypeArray, TypeName: "_text", Optional: true, Elem: &event.Column{Type: event.TypeString, TypeName: "text"}},
		{Name: "nums", Type: event.TypeArray, TypeName: "_numeric", Optional: true, Precision: 6, Scale: 3, Elem: &event.Column{Type: event.TypeDecimal, TypeName: "numeric"}},
		{Name: "addr", Type: event.TypeInet, TypeName: "inet", Optional: true},
	},
	KeyIdx: []int{0},
}

func typesRow(id int64) []event.Value {
	return []event.Value{
		event.Int(id),
		event.Bool(true),
		event.Int(-32768),
		event.Int(2147483647),
		event.Float(float64(float32(3.14))),
		event.Float(0.1),
		event.Decimal("12345678.9"),
		event.Decimal("-0.5"),
		event.Decimal("-12345678901234567890123456.7890"),
		event.Decimal("3.14159265358979323846264338327950288419716939937510"),
		event.Decimal("-12.34"),
		event.String("hello, world"),
		event.Bytes([]byte{0xde, 0xad, 0xbe, 0xef}),
		event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		event.String(`{"a": [1, 2]}`),
		event.Int(19723),
		event.Int(45296789123),
		event.String("10:15:30.500000Z"),
		event.Int(1704067200123456),
		event.Int(-1),
		event.Interval(93784000005, "P1DT2H3M4.000005S"),
		event.String("happy"),
		event.Array([]event.Value{event.Int(1), event.Int(2), event.Int(3)}),
		event.Array([]event.Value{event.String("red"), event.Null, event.String("green")}),
		event.Array([]event.Value{event.Decimal("1.5"), event.Decimal("-0.001")}),
		event.String("192.168.0.1/32"),
	}
}

// typesRowText is typesRow as the Parquet file stores it, column by column.
var typesRowText = []string{
	"true", "-32768", "2147483647", "3.14", "0.1",
	"1234567890",                 // DECIMAL(10,2) INT64 unscaled
	"-500",                       // DECIMAL(5,3) INT32 unscaled
	"fe7116f0093c8c1f11b1c0f52e", // DECIMAL(30,4) FIXED_LEN_BYTE_ARRAY(13), two's complement
	"3.14159265358979323846264338327950288419716939937510",
	"-1234", "hello, world", "deadbeef", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a": [1, 2]}`,
	"19723", "45296789123", "10:15:30.500000Z", "1704067200123456", "-1", "P1DT2H3M4.000005S", "happy",
	"[1 2 3]", "[red <null> green]", "[1500 -1]", "192.168.0.1/32",
}

func nullRow(id int64) []event.Value {
	row := make([]event.Value, len(typesSchema.Columns))
	row[0] = event.Int(id)
	return row
}

// readParquet reads every row of a Parquet file as text, one string per
// top-level column: leaf values as their physical value (byte arrays of
// DECIMAL columns in hex), lists as [a b], nulls as <null>.
func readParquet(t *testing.T, b []byte) (*parquet.Schema, [][]string) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sch := f.Schema()
	fields := sch.Fields()
	r := parquet.NewReader(f)
	defer r.Close()
	var out [][]string
	buf := make([]parquet.Row, 10)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			var cols []string
			for i, fld := range fields {
				var vals []parquet.Value
				for _, v := range row {
					if v.Column() == i {
						vals = append(vals, v)
					}
				}
				cols = append(cols, columnText(fld, vals))
			}
			out = append(out, cols)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return sch, out
}

func columnText(f parquet.Field, vals []parquet.Value) string {
	if f.Leaf() {
		if len(vals) != 1 {
			return fmt.Sprintf("<%d values>", len(vals))
		}
		if vals[0].IsNull() {
			return "<null>"
		}
		return valueText(f, vals[0])
	}
	// LIST: optional group (1) > repeated (2) > optional element (3).
	if len(vals) == 1 && vals[0].DefinitionLevel() == 0 {
		return "<null>"
	}
	if len(vals) == 1 && vals[0].DefinitionLevel() == 1 {
		return "[]"
	}
	elem := f.Fields()[0].Fields()[0]
	var parts []string
	for _, v := range vals {
		if v.DefinitionLevel() < 3 {
			parts = append(parts, "<null>")
		} else {
			parts = append(parts, valueText(elem, v))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func valueText(f parquet.Node, v parquet.Value) string {
	switch v.Kind() {
	case parquet.Boolean:
		return fmt.Sprint(v.Boolean())
	case parquet.Int32:
		return fmt.Sprint(v.Int32())
	case parquet.Int64:
		return fmt.Sprint(v.Int64())
	case parquet.Float:
		return fmt.Sprint(v.Float())
	case parquet.Double:
		return fmt.Sprint(v.Double())
	case parquet.FixedLenByteArray:
		return hex.EncodeToString(v.ByteArray())
	}
	if lt := f.Type().LogicalType(); lt == nil || (lt.String() != "STRING" && lt.String() != "JSON") {
		return hex.EncodeToString(v.ByteArray())
	}
	return string(v.ByteArray())
}

func parquetConfig() Config {
	cfg := *DefaultConfig()
	cfg.Bucket, cfg.Format, cfg.Partition, cfg.FlushSize = "lake", Parquet, "${table}", 100
	return cfg
}

// TestParquetTypes writes every type and every operation, reads the object
// back with parquet-go and compares the stored values exactly.
func TestParquetTypes(t *testing.T) {
	src := event.Source{TsUs: baseMs * 1000, LSN: 0x2000, CommitLSN: 0x2100, HasLSN: true}
	unchanged := nullRow(4)
	unchanged[11], unchanged[12], unchanged[6], unchanged[22] = event.Unchanged, event.Unchanged, event.Unchanged, event.Unchanged
	emptyLists := nullRow(5)
	emptyLists[22], emptyLists[23] = event.Array(nil), event.Array([]event.Value{event.Null})
	snap := event.Source{TsUs: (baseMs - 5) * 1000, Snapshot: event.SnapshotTrue, LSN: 0x100, HasLSN: true}
	at := func(i uint64) event.Source { s := src; s.LSN += i; s.CommitLSN += i; return s }
	evs := []event.Event{
		{Schema: typesSchema, Op: event.OpRead, After: typesRow(1), Source: snap},
		{Schema: typesSchema, Op: event.OpCreate, After: typesRow(2), Source: at(1)},
		{Schema: typesSchema, Op: event.OpUpdate, Before: typesRow(2), After: nullRow(2), Source: at(2)},
		{Schema: typesSchema, Op: event.OpDelete, Before: typesRow(2), Source: at(3)},
		{Schema: typesSchema, Op: event.OpTruncate, Source: at(4)},
		{Schema: typesSchema, Op: event.OpUpdate, After: unchanged, Source: at(5)},
		{Schema: typesSchema, Op: event.OpCreate, After: emptyLists, Source: at(6)},
	}
	store := newMemStore()
	s := newTestSink(t, parquetConfig(), t.TempDir(), store)
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantKey := fmt.Sprintf("types/pg.public.types+s000000000001+%016x-%016x.parquet", 0x2106, 0x2006)
	keys := store.keys()
	if len(keys) != 1 || keys[0] != wantKey {
		t.Fatalf("objects %v, want %s", keys, wantKey)
	}
	sch, rows := readParquet(t, store.get(wantKey))
	if got := sch.String(); got != wantSchema {
		t.Errorf("schema:\n%s\nwant\n%s", got, wantSchema)
	}
	nulls := func(id string) []string {
		r := []string{id}
		for range len(typesSchema.Columns) - 1 {
			r = append(r, "<null>")
		}
		return r
	}
	row := func(cols []string, op string, ts int64, lsn, deleted string) string {
		return strings.Join(append(cols, op, fmt.Sprint(ts), lsn, deleted), " | ")
	}
	full := func(id string) []string { return append([]string{id}, typesRowText...) }
	unch := nulls("4")
	unch[11], unch[12] = "__debezium_unavailable_value", hex.EncodeToString([]byte("__debezium_unavailable_value"))
	empty := nulls("5")
	empty[22], empty[23] = "[]", "[<null>]"
	want := []string{
		row(full("1"), "r", baseMs-5, "256", "false"),
		row(full("2"), "c", baseMs, "8193", "false"),
		row(nulls("2"), "u", baseMs, "8194", "false"),
		row(full("2"), "d", baseMs, "8195", "true"),
		row(unch, "u", baseMs, "8197", "false"),
		row(empty, "c", baseMs, "8198", "false"),
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if got := strings.Join(rows[i], " | "); got != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

// wantSchema is the documented type mapping, in the table's column order.
const wantSchema = `message pg_public_types_v1 {
	optional int64 id (INT(64,true));
	optional boolean b;
	optional int32 i2 (INT(16,true));
	optional int32 i4 (INT(32,true));
	optional float f4;
	optional double f8;
	optional int64 num (DECIMAL(10,2));
	optional int32 small (DECIMAL(5,3));
	optional fixed_len_byte_array(13) big (DECIMAL(30,4));
	optional binary numv (STRING);
	optional int64 cash (DECIMAL(18,2));
	optional binary txt (STRING);
	optional binary bin;
	optional binary uid (STRING);
	optional binary doc (JSON);
	optional int32 day (DATE);
	optional int64 tm (TIME(isAdjustedToUTC=false,unit=MICROS));
	optional binary tmtz (STRING);
	optional int64 ts (TIMESTAMP(isAdjustedToUTC=false,unit=MICROS));
	optional int64 tstz (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional binary span (STRING);
	optional binary mood (STRING);
	optional group ints (LIST) {
		repeated group list {
			optional int32 element (INT(32,true));
		}
	}
	optional group tags (LIST) {
		repeated group list {
			optional binary element (STRING);
		}
	}
	optional group nums (LIST) {
		repeated group list {
			optional int32 element (DECIMAL(6,3));
		}
	}
	optional binary addr (STRING);
	required binary __op (STRING);
	required int64 __source_ts_ms (INT(64,true));
	optional int64 __lsn (INT(64,true));
	required boolean __deleted;
}`

func TestDecimalEncoding(t *testing.T) {
	for _, tc := range []struct {
		text       string
		prec, scal int
		want       string // unscaled, or an error fragment
	}{
		{"12.5", 4, 2, "1250"},
		{"-0.01", 3, 2, "-1"},
		{"+7", 1, 0, "7"},
		{"0.000", 5, 3, "0"},
		{"99.99", 4, 2, "9999"},
		{"100.00", 4, 2, "does not fit"},
		{"1.005", 4, 2, "fraction digits"},
		{"NaN", 4, 2, "no DECIMAL"},
		{"Infinity", 4, 2, "no DECIMAL"},
		{".", 4, 2, "not a decimal"},
	} {
		u, err := unscaled(tc.text, tc.prec, tc.scal)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = u.String()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s as DECIMAL(%d,%d): got %s, want %s", tc.text, tc.prec, tc.scal, got, tc.want)
		}
	}
	if n := decimalBytes(30); n != 13 {
		t.Errorf("decimalBytes(30) = %d, want 13", n)
	}
	if n := decimalBytes(38); n != 16 {
		t.Errorf("decimalBytes(38) = %d, want 16", n)
	}
}

// TestParquetRejects: values without a Parquet form are RecordErrors, the
// rest of the Write is stored.
func TestParquetRejects(t *testing.T) {
	bad := typesRow(2)
	bad[6] = event.Decimal("NaN")
	evs := []event.Event{
		{Schema: typesSchema, Op: event.OpCreate, After: typesRow(1), Source: event.Source{TsUs: baseMs * 1000, LSN: 1, CommitLSN: 1}},
		{Schema: typesSchema, Op: event.OpCreate, After: bad, Source: event.Source{TsUs: baseMs * 1000, LSN: 2, CommitLSN: 2}},
		{Schema: typesSchema, Op: event.OpCreate, After: typesRow(3), Source: event.Source{TsUs: baseMs * 1000, LSN: 3, CommitLSN: 3}},
	}
	store := newMemStore()
	s := newTestSink(t, parquetConfig(), t.TempDir(), store)
	err := s.Write(context.Background(), evs)
	if err == nil || !strings.Contains(err.Error(), `event 1: column "num"`) {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, rows := readParquet(t, store.get(store.keys()[0]))
	if len(rows) != 2 || rows[0][0] != "1" || rows[1][0] != "3" {
		t.Errorf("rows %v", rows)
	}
}

// TestParquetSchemaVersion: a new schema version starts a new object.
func TestParquetSchemaVersion(t *testing.T) {
	v2 := *usersSchema
	v2.Version = 2
	v2.Columns = append(slicesClone(usersSchema.Columns), event.Column{Name: "age", Type: event.TypeInt16, Optional: true})
	e1 := change(1, event.OpCreate)
	e2 := change(2, event.OpCreate)
	e2.Schema = &v2
	e2.After = append(e2.After, event.Int(42))
	store := newMemStore()
	s := newTestSink(t, parquetConfig(), t.TempDir(), store)
	write(t, s, []event.Event{e1, e2})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := store.keys()
	if len(keys) != 2 {
		t.Fatalf("objects %v", keys)
	}
	_, r1 := readParquet(t, store.get(keys[0]))
	_, r2 := readParquet(t, store.get(keys[1]))
	if got := fmt.Sprint(r1, r2); got != fmt.Sprintf("[[1 user 1 c %d 4088 false]] [[2 user 2 42 c %d 8184 false]]", baseMs+1000, baseMs+2000) {
		t.Errorf("rows %s", got)
	}
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// TestParquetRowGroups: a large object is written in row groups bounded by
// size, and every row reads back in order.
func TestParquetRowGroups(t *testing.T) {
	old := rowGroupBytes
	rowGroupBytes = 4 << 10
	defer func() { rowGroupBytes = old }()
	store := newMemStore()
	cfg := parquetConfig()
	cfg.FlushSize = 0
	s := newTestSink(t, cfg, t.TempDir(), store)
	write(t, s, changes(1, 1000))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := store.get(store.keys()[0])
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n < 5 {
		t.Errorf("%d row groups, want several", n)
	}
	_, rows := readParquet(t, b)
	if len(rows) != 1000 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r[0] != fmt.Sprint(i+1) || r[1] != fmt.Sprintf("user %d", i+1) {
			t.Fatalf("row %d: %v", i, r)
		}
	}
}

// TestParquetMongoDocument pins what README says Parquet holds for the
// MongoDB source's events (columns as that source types them): ObjectId
// and UUID as strings, date as a UTC timestamp in µs, decimal128 as its
// exact text, binary as bytes, nested documents as JSON columns holding the
// relaxed Extended JSON unchanged.
func TestParquetMongoDocument(t *testing.T) {
	col := func(name, tn string, typ event.Type) event.Column {
		return event.Column{Name: name, Type: typ, TypeName: tn, Optional: name != "_id", Key: name == "_id"}
	}
	dec := col("dec", "decimal", event.TypeDecimal)
	dec.Scale = -1
	sch := &event.Schema{Stream: "mongo.shop.orders", Source: "mongo", Connector: "mongodb", Database: "shop", Table: "orders", Version: 1,
		Columns: []event.Column{col("_id", "objectId", event.TypeString), dec, col("at", "date", event.TypeTimestampTZ),
			col("uid", "uuid", event.TypeUUID), col("bin", "binData", event.TypeBytes), col("obj", "object", event.TypeJSON)},
		KeyIdx: []int{0}}
	obj := `{"oid":{"$oid":"65a000000000000000000002"},"when":{"$date":"1970-01-01T00:00:00Z"},"dec":{"$numberDecimal":"1.5"},"bin":{"$binary":{"base64":"AQ==","subType":"00"}},"n":5}`
	ev := event.Event{Schema: sch, Op: event.OpRead, Source: event.Source{TsUs: baseMs * 1000, Snapshot: event.SnapshotTrue},
		After: []event.Value{event.String("65a000000000000000000001"), event.Decimal("1234.5600"), event.Int(1700000000123000),
			event.String("73ffd264-44b3-4c69-90e8-e7d1dfc035d4"), event.Bytes([]byte{1, 2, 3}), event.String(obj)}}
	store := newMemStore()
	s := newTestSink(t, parquetConfig(), t.TempDir(), store)
	write(t, s, []event.Event{ev})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := store.keys()
	if len(keys) != 1 {
		t.Fatalf("objects %v", keys)
	}
	got, rows := readParquet(t, store.get(keys[0]))
	want := `message mongo_shop_orders_v1 {
	optional binary _id (STRING);
	optional binary dec (STRING);
	optional int64 at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional binary uid (STRING);
	optional binary bin;
	optional binary obj (JSON);
	required binary __op (STRING);
	required int64 __source_ts_ms (INT(64,true));
	optional int64 __lsn (INT(64,true));
	required boolean __deleted;
}`
	if got.String() != want {
		t.Errorf("schema:\n%s\nwant\n%s", got, want)
	}
	wantRow := "65a000000000000000000001 | 1234.5600 | 1700000000123000 | 73ffd264-44b3-4c69-90e8-e7d1dfc035d4 | 010203 | " + obj + " | r | " + fmt.Sprint(baseMs) + " | <null> | false"
	if len(rows) != 1 || strings.Join(rows[0], " | ") != wantRow {
		t.Errorf("rows %q\nwant %s", rows, wantRow)
	}
}

// TestEventRowEncoding: the spool rows written straight from events
// (appendEventRow) are byte for byte those of the dynamic path they
// replace, appendRow(parquetRow(e)), and fail with the same errors, for
// every column type: values, nulls, unchanged TOAST values, empty and
// null lists, list elements that are null or unchanged, deletes,
// truncates, events with and without an LSN, and values that have no
// Parquet form.
func TestEventRowEncoding(t *testing.T) {
	specs := specsFor(typesSchema)
	unchanged := nullRow(3)
	for i := 1; i < len(unchanged); i++ {
		unchanged[i] = event.Unchanged
	}
	lists := typesRow(4)
	lists[22] = event.Array(nil)
	lists[23] = event.Array([]event.Value{event.Unchanged, event.Null})
	lists[24] = event.Null
	src := event.Source{TsUs: baseMs*1000 + 1234567, LSN: 0xfedcba9876543210, CommitLSN: 7, HasLSN: true}
	var cases []event.Event
	for _, img := range [][]event.Value{typesRow(1), nullRow(2), unchanged, lists} {
		cases = append(cases,
			event.Event{Schema: typesSchema, Op: event.OpCreate, After: img, Source: src},
			event.Event{Schema: typesSchema, Op: event.OpUpdate, After: img, Source: event.Source{TsUs: baseMs * 1000}},
			event.Event{Schema: typesSchema, Op: event.OpDelete, Before: img, Source: src},
			event.Event{Schema: typesSchema, Op: event.OpRead, After: img, Source: event.Source{TsUs: -5000, Snapshot: event.SnapshotTrue}})
	}
	cases = append(cases, event.Event{Schema: typesSchema, Op: event.OpTruncate, Source: src})
	for col, v := range map[int]event.Value{
		6:  event.Decimal("NaN"),
		7:  event.Decimal("123.4"), // wider than DECIMAL(5,3)
		8:  event.Decimal("1e5"),
		2:  event.Int(1 << 40), // out of range for int16 (INT32)
		1:  event.String("yes"),
		4:  event.Int(1),
		22: event.String("[1]"),
		11: event.Array(nil),
	} {
		bad := typesRow(9)
		bad[col] = v
		cases = append(cases, event.Event{Schema: typesSchema, Op: event.OpCreate, After: bad, Source: src})
	}
	short := typesRow(10)[:5]
	cases = append(cases, event.Event{Schema: typesSchema, Op: event.OpCreate, After: short, Source: src})
	prefix := []byte("kept")
	rows, failed := 0, 0
	defer func() {
		if rows != 16 || failed != 9 {
			t.Errorf("%d rows and %d errors compared, want 16 and 9", rows, failed)
		}
	}()
	for i, e := range cases {
		row, wantOK, wantErr := parquetRow(nil, specs, &e)
		if wantErr != nil {
			failed++
		} else if wantOK {
			rows++
		}
		var want []byte
		if wantErr == nil && wantOK {
			want = appendRow(nil, row)
		}
		got, ok, err := appendEventRow(append([]byte(nil), prefix...), specs, &e)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || ok != wantOK {
			t.Errorf("case %d: ok %v, err %v; want ok %v, err %v", i, ok, err, wantOK, wantErr)
			continue
		}
		if !bytes.HasPrefix(got, prefix) {
			t.Errorf("case %d: the bytes before the row were changed", i)
			continue
		}
		if got = got[len(prefix):]; wantErr == nil && wantOK && !bytes.Equal(got, want) {
			t.Errorf("case %d: row\n%s\nwant\n%s", i, hex.Dump(got), hex.Dump(want))
		}
		if (wantErr != nil || !wantOK) && len(got) != 0 {
			t.Errorf("case %d: %d bytes appended for a row that has none", i, len(got))
		}
	}
}

// writeParquetRows is writeParquet as it was before it wrote columns:
// each spooled row decoded into a parquet.Row and written with WriteRows,
// in batches of 256. TestWriteParquetColumnar holds the files of the two
// byte for byte.
func writeParquetRows(w io.Writer, name string, specs []colSpec, compression string, next func() ([]byte, bool, error)) error {
	sch, err := parquetSchema(name, specs)
	if err != nil {
		return err
	}
	pw := parquet.NewWriter(w, sch, parquet.Compression(codec(compression)),
		parquet.CreatedBy("sluice", "", ""), parquet.MaxRowsPerRowGroup(int64(maxRowsPerRowGroup)))
	rows := make([]parquet.Row, 0, 256)
	leaves := len(sch.Columns())
	var groupBytes int
	flush := func() error {
		if _, err := pw.WriteRows(rows); err != nil {
			return err
		}
		rows = rows[:0]
		return nil
	}
	for {
		b, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		var r parquet.Row
		if len(rows) < cap(rows) {
			r = rows[:len(rows)+1][len(rows)][:0]
		}
		r, err = decodeRow(r, b)
		if err != nil {
			return err
		}
		for _, v := range r {
			if v.Column() >= leaves {
				return errCorruptRow
			}
		}
		rows = append(rows, r)
		groupBytes += len(b)
		if len(rows) == cap(rows) || groupBytes >= rowGroupBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if groupBytes >= rowGroupBytes {
			if err := pw.Flush(); err != nil {
				return err
			}
			groupBytes = 0
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

// TestWriteParquetColumnar: the Parquet file written column by column is
// byte for byte the one written row by row, for rows of every type (lists
// of several values, nulls, unchanged values), with row groups cut by rows
// (at a row that is not a multiple of the 64-row chunk) and by bytes, and
// in every compression; both read back as the same rows.
func TestWriteParquetColumnar(t *testing.T) {
	specs := specsFor(typesSchema)
	var recs [][]byte
	r := rand.New(rand.NewPCG(5, 6))
	for i := 1; i <= 2000; i++ {
		var img []event.Value
		switch i % 5 {
		case 0:
			img = nullRow(int64(i))
		case 1:
			img = typesRow(int64(i))
			img[11] = event.Unchanged
			img[23] = event.Array([]event.Value{event.String(fmt.Sprint(i)), event.Null, event.Unchanged, event.String("x")})
		case 2:
			img = typesRow(int64(i))
			img[22] = event.Array(nil)
			img[11] = event.String(strings.Repeat("y", r.IntN(3000))) // pages fill mid-chunk
		default:
			img = typesRow(int64(i))
		}
		e := event.Event{Schema: typesSchema, Op: event.OpCreate, After: img, Source: event.Source{TsUs: int64(i) * 1000, LSN: uint64(i), HasLSN: i%3 != 0}}
		b, ok, err := appendEventRow(nil, specs, &e)
		if err != nil || !ok {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	oldRows, oldBytes := maxRowsPerRowGroup, rowGroupBytes
	defer func() { maxRowsPerRowGroup, rowGroupBytes = oldRows, oldBytes }()
	for _, tc := range []struct {
		rows, bytes int
		compression string
	}{{128 << 10, 64 << 20, "snappy"}, {300, 64 << 20, "zstd"}, {128 << 10, 50 << 10, "none"}, {700, 90 << 10, "gzip"}} {
		maxRowsPerRowGroup, rowGroupBytes = tc.rows, tc.bytes
		var files [2]bytes.Buffer
		for j, write := range []func(io.Writer, string, []colSpec, string, func() ([]byte, bool, error)) error{writeParquet, writeParquetRows} {
			i := 0
			var reused []byte
			err := write(&files[j], "types_v1", specs, tc.compression, func() ([]byte, bool, error) {
				if i == len(recs) {
					return nil, false, nil
				}
				i++
				if j == 0 {
					// The column writer is given one buffer for every row, as
					// the spool's replay gives it.
					clear(reused)
					reused = append(reused[:0], recs[i-1]...)
					return reused, true, nil
				}
				return recs[i-1], true, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(files[0].Bytes(), files[1].Bytes()) {
			t.Fatalf("%+v: column by column %d bytes, row by row %d bytes: they differ", tc, files[0].Len(), files[1].Len())
		}
		f, err := parquet.OpenFile(bytes.NewReader(files[0].Bytes()), int64(files[0].Len()))
		if err != nil {
			t.Fatal(err)
		}
		if f.NumRows() != int64(len(recs)) || (tc.rows < 1000 || tc.bytes < 1<<20) != (len(f.RowGroups()) > 1) {
			t.Errorf("%+v: %d rows in %d row groups", tc, f.NumRows(), len(f.RowGroups()))
		}
		pages := 0
		for _, rg := range f.RowGroups() {
			pr := rg.ColumnChunks()[11].Pages()
			for {
				if _, err := pr.ReadPage(); err != nil {
					break
				}
				pages++
			}
			pr.Close()
		}
		if len(f.RowGroups()) == 1 && pages < 3 {
			t.Errorf("%+v: column txt has %d pages; want pages that end inside the row group", tc, pages)
		}
		_, got := readParquet(t, files[0].Bytes())
		_, want := readParquet(t, files[1].Bytes())
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(recs) {
			t.Errorf("%+v: rows differ", tc)
		}
	}
}

// TestDecodeColumnsCorrupt: a spooled row that skips a column, repeats an
// earlier one or names one past the schema is corrupt.
func TestDecodeColumnsCorrupt(t *testing.T) {
	row := func(cols ...int) []byte {
		b := binary.AppendUvarint(nil, uint64(len(cols)))
		for _, c := range cols {
			b = append(binary.AppendUvarint(b, uint64(c)), 0, 0, rvNull)
		}
		return b
	}
	for _, tc := range []struct {
		cols []int
		err  error
	}{
		{[]int{0, 1, 2}, nil},
		{[]int{0, 1, 1, 1, 2}, nil},
		{[]int{0, 2}, errCorruptRow},
		{[]int{0, 1, 2, 0}, errCorruptRow},
		{[]int{0, 1, 2, 3}, errCorruptRow},
		{[]int{0, 1}, errCorruptRow},
		{[]int{1, 2}, errCorruptRow},
	} {
		cols := make([][]parquet.Value, 3)
		if _, err := decodeColumns(cols, nil, row(tc.cols...)); err != tc.err {
			t.Errorf("%v: %v, want %v", tc.cols, err, tc.err)
		}
	}
}

// TestParquetBuildAllocations: building a Parquet object reads its spool
// with one reused record buffer and decodes rows straight into the column
// chunks, so it allocates far less than the spooled bytes (before, every
// record was read into a fresh buffer and decoded into a parquet.Row).
func TestParquetBuildAllocations(t *testing.T) {
	store := newMemStore()
	store.fail = errors.New("keep it sealed")
	cfg := parquetConfig()
	cfg.FlushSize = 20000
	s := newTestSink(t, cfg, t.TempDir(), store)
	evs := make([]event.Event, 20000)
	long := strings.Repeat("n", 700)
	for i := range evs {
		evs[i] = change(i+1, event.OpCreate)
		evs[i].After[1] = event.String(long)
		evs[i].Source.TsUs = baseMs * 1000
	}
	write(t, s, evs)
	settle(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sealed) != 1 {
		t.Fatalf("%d sealed objects, want 1", len(s.sealed))
	}
	sp := s.sealed[0]
	path := filepath.Join(t.TempDir(), "obj")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.build(sp, path); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n, spooled := after.TotalAlloc-before.TotalAlloc, uint64(sp.bytes); n > spooled/2 && !raceEnabled {
		t.Errorf("building an object of %d spooled bytes allocated %d bytes; want less than half of them", spooled, n)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readParquet(t, b)
	if len(rows) != 20000 || rows[19999][0] != "20000" || rows[19999][1] != long {
		t.Errorf("%d rows", len(rows))
	}
}

// TestParquetPagesInFiles: with a page directory, the pages of the row
// group being written wait in files, not on the heap, so the build's heap
// does not grow with the object: 40 MB of poorly compressible rows in one
// row group leave the live heap within 16 MB of where it started (held in
// memory, the pages alone are over 30 MB). The file is byte for byte the
// one written with the pages in memory, and no page file is left.
func TestParquetPagesInFiles(t *testing.T) {
	specs := specsFor(usersSchema)
	const rows = 40000
	next := func() func() ([]byte, bool, error) {
		r := rand.New(rand.NewPCG(7, 8))
		val := make([]byte, 1000)
		var rec []byte
		i := 0
		return func() ([]byte, bool, error) {
			if i == rows {
				return nil, false, nil
			}
			i++
			for j := range val {
				val[j] = byte(' ' + r.IntN(95))
			}
			e := change(i, event.OpCreate)
			e.After[1] = event.String(string(val))
			var err error
			rec, _, err = appendEventRow(rec[:0], specs, &e)
			return rec, true, err
		}
	}
	dir := t.TempDir()
	var inFiles bytes.Buffer
	inFiles.Grow(48 << 20)
	runtime.GC()
	var before, full runtime.MemStats
	runtime.ReadMemStats(&before)
	cw, err := newColumnWriter(&inFiles, "users_v1", specs, "snappy", dir)
	if err != nil {
		t.Fatal(err)
	}
	for n := next(); ; {
		b, ok, err := n()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if err := cw.add(b); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&full)
	if err := cw.close(); err != nil {
		t.Fatal(err)
	}
	if grown := int64(full.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Errorf("the live heap grew by %d bytes while the row group was written; want at most 16 MiB", grown)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("page directory holds %v (%v); want nothing", left, err)
	}
	var inMemory bytes.Buffer
	if err := writeParquet(&inMemory, "users_v1", specs, "snappy", next()); err != nil {
		t.Fatal(err)
	}
	if inMemory.Len() < 30<<20 || !bytes.Equal(inFiles.Bytes(), inMemory.Bytes()) {
		t.Fatalf("pages in files: %d bytes, in memory: %d bytes; want the same bytes, over 30 MiB", inFiles.Len(), inMemory.Len())
	}
	f, err := parquet.OpenFile(bytes.NewReader(inFiles.Bytes()), int64(inFiles.Len()))
	if err != nil || f.NumRows() != rows || len(f.RowGroups()) != 1 {
		t.Fatalf("%v; want %d rows in one row group", err, rows)
	}
}

// TestParquetPageFileError: a page directory where no file can be made
// fails the build with an error naming the page buffer file.
func TestParquetPageFileError(t *testing.T) {
	specs := specsFor(usersSchema)
	cw, err := newColumnWriter(io.Discard, "users_v1", specs, "snappy", filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	e := change(1, event.OpCreate)
	rec, _, err := appendEventRow(nil, specs, &e)
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.add(rec); err != nil {
		t.Fatal(err)
	}
	err = cw.close()
	if err == nil || !strings.Contains(err.Error(), "page buffer file: open ") || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("close: %v; want the page buffer file's error", err)
	}
}

// TestParquetSnappyCodec: the default codec (snappy, and no setting) is
// SNAPPY in the file, its pages are s2's standard snappy blocks (not
// EncodeSnappyBetter's) that a snappy decoder reads back, and a file
// written with it holds every value the one written with parquet-go's own
// snappy encoder holds.
func TestParquetSnappyCodec(t *testing.T) {
	var page []byte
	for i := range 2000 {
		page = fmt.Appendf(page, "The classic design for everyday use, batch %d; ref %x, checked in hall %d and packed\n", i%977, i*2654435761, i%31)
	}
	for _, name := range []string{"snappy", ""} {
		c := codec(name)
		if c.CompressionCodec() != format.Snappy {
			t.Fatalf("codec(%q) is %v, want SNAPPY", name, c.CompressionCodec())
		}
		got, err := c.Encode(nil, page)
		if err != nil {
			t.Fatal(err)
		}
		if want := s2.EncodeSnappy(nil, page); !bytes.Equal(got, want) {
			t.Fatalf("codec(%q) wrote %d bytes, s2.EncodeSnappy %d: want s2's standard snappy block", name, len(got), len(want))
		}
		back, err := snappy.Decode(nil, got)
		if err != nil || !bytes.Equal(back, page) {
			t.Fatalf("codec(%q): the snappy decoder read back %d bytes (%v), want the %d written", name, len(back), err, len(page))
		}
	}

	specs := specsFor(typesSchema)
	var recs [][]byte
	for i := 1; i <= 3000; i++ {
		img := typesRow(int64(i))
		if i%4 == 0 {
			img = nullRow(int64(i))
		}
		e := event.Event{Schema: typesSchema, Op: event.OpCreate, After: img, Source: event.Source{TsUs: int64(i) * 1000, LSN: uint64(i), HasLSN: true}}
		b, _, err := appendEventRow(nil, specs, &e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	var files [2]bytes.Buffer
	for j := range files {
		i := 0
		next := func() ([]byte, bool, error) {
			if i == len(recs) {
				return nil, false, nil
			}
			i++
			return recs[i-1], true, nil
		}
		var err error
		if j == 0 {
			err = writeParquet(&files[0], "types_v1", specs, "snappy", next)
		} else {
			err = writeParquetCodec(&files[1], "types_v1", specs, &parquet.Snappy, next)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := parquet.OpenFile(bytes.NewReader(files[0].Bytes()), int64(files[0].Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			if cc.MetaData.Codec != format.Snappy {
				t.Fatalf("column %v: codec %v, want SNAPPY", cc.MetaData.PathInSchema, cc.MetaData.Codec)
			}
		}
	}
	_, got := readParquet(t, files[0].Bytes())
	_, want := readParquet(t, files[1].Bytes())
	if len(got) != len(recs) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the file read back %d rows, differing from the %d of parquet-go's own snappy", len(got), len(want))
	}
}

// writeParquetCodec is writeParquet with the pages compressed by c.
func writeParquetCodec(w io.Writer, name string, specs []colSpec, c compress.Codec, next func() ([]byte, bool, error)) error {
	sch, err := parquetSchema(name, specs)
	if err != nil {
		return err
	}
	pw := parquet.NewWriter(w, sch, parquet.Compression(c), parquet.CreatedBy("sluice", "", ""))
	var row parquet.Row
	for {
		b, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			return pw.Close()
		}
		if row, err = decodeRow(row[:0], b); err != nil {
			return err
		}
		if _, err := pw.WriteRows([]parquet.Row{row}); err != nil {
			return err
		}
	}
}
