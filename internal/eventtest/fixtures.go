// Package eventtest holds event fixtures shared by tests: a PostgreSQL-shaped
// table with a column of every logical type and rows that exercise each
// encoding, and seed 001's product table. The format encoders are checked
// against them, and the Kafka source's decoder round-trips them.
package eventtest

import (
	"math"

	"github.com/sluice-dev/sluice/event"
)

// AllTypes is a PostgreSQL-shaped table with one column of every logical
// type, plus variants of the type modifiers that change the encoding.
var AllTypes = &event.Schema{
	Stream: "pg.public.all_types", Source: "pg", Connector: "postgresql", Database: "shop",
	Namespace: "public", Table: "all_types", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, TypeName: "int8", Key: true},
		{Name: "b", Type: event.TypeBool, TypeName: "bool", Optional: true},
		{Name: "i2", Type: event.TypeInt16, TypeName: "int2", Optional: true},
		{Name: "i4", Type: event.TypeInt32, TypeName: "int4", Optional: true, Default: event.Int(42), HasDefault: true},
		{Name: "i8", Type: event.TypeInt64, TypeName: "int8", Optional: true},
		{Name: "f4", Type: event.TypeFloat32, TypeName: "float4", Optional: true},
		{Name: "f8", Type: event.TypeFloat64, TypeName: "float8", Optional: true},
		{Name: "num", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Precision: 10, Scale: 2, Default: event.Decimal("1.5"), HasDefault: true},
		{Name: "numv", Type: event.TypeDecimal, TypeName: "numeric", Optional: true, Scale: -1},
		{Name: "cash", Type: event.TypeMoney, TypeName: "money", Optional: true},
		{Name: "txt", Type: event.TypeString, TypeName: "text", Optional: true},
		{Name: "bin", Type: event.TypeBytes, TypeName: "bytea", Optional: true},
		{Name: "uid", Type: event.TypeUUID, TypeName: "uuid", Optional: true},
		{Name: "doc", Type: event.TypeJSON, TypeName: "jsonb", Optional: true},
		{Name: "day", Type: event.TypeDate, TypeName: "date", Optional: true},
		{Name: "tm", Type: event.TypeTime, TypeName: "time", Optional: true},
		{Name: "tm3", Type: event.TypeTime, TypeName: "time", Optional: true, Precision: 3},
		{Name: "tmtz", Type: event.TypeTimeTZ, TypeName: "timetz", Optional: true},
		{Name: "ts", Type: event.TypeTimestamp, TypeName: "timestamp", Optional: true},
		{Name: "ts3", Type: event.TypeTimestamp, TypeName: "timestamp", Optional: true, Precision: 3},
		{Name: "tstz", Type: event.TypeTimestampTZ, TypeName: "timestamptz", Optional: true},
		{Name: "span", Type: event.TypeInterval, TypeName: "interval", Optional: true},
		{Name: "mood", Type: event.TypeEnum, TypeName: "mood", Optional: true, EnumValues: []string{"sad", "ok", "happy"}},
		{Name: "ints", Type: event.TypeArray, TypeName: "_int4", Optional: true, Elem: &event.Column{Type: event.TypeInt32, TypeName: "int4"}},
		{Name: "tags", Type: event.TypeArray, TypeName: "_text", Optional: true, Elem: &event.Column{Type: event.TypeString, TypeName: "text"}},
		{Name: "nums", Type: event.TypeArray, TypeName: "_numeric", Optional: true, Precision: 6, Scale: 3, Elem: &event.Column{Type: event.TypeDecimal, TypeName: "numeric"}},
		{Name: "moods", Type: event.TypeArray, TypeName: "_mood", Optional: true, Elem: &event.Column{Type: event.TypeEnum, TypeName: "mood", EnumValues: []string{"sad", "ok", "happy"}}},
		{Name: "x", Type: event.TypeXML, TypeName: "xml", Optional: true},
		{Name: "addr", Type: event.TypeInet, TypeName: "inet", Optional: true},
		{Name: "tsv", Type: event.TypeUnknown, TypeName: "tsvector", Optional: true},
		{Name: "note", Type: event.TypeString, TypeName: "varchar", Optional: true, Default: event.String("n/a"), HasDefault: true},
	},
	KeyIdx: []int{0},
}

// TypicalRow has ordinary values in every column.
func TypicalRow(id int64) []event.Value {
	return []event.Value{
		event.Int(id),
		event.Bool(true),
		event.Int(-32768),
		event.Int(2147483647),
		event.Int(-9223372036854775808),
		event.Float(float64(float32(3.14))),
		event.Float(0.1),
		event.Decimal("12345678.90"),
		event.Decimal("3.14159265358979323846264338327950288419716939937510"),
		event.Decimal("-12.34"),
		event.String("hello, world"),
		event.Bytes([]byte{0xde, 0xad, 0xbe, 0xef}),
		event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		event.String(`{"a": [1, 2], "b": "x"}`),
		event.Int(19723), // 2024-01-01
		event.Int(45296789123),
		event.Int(45296789123),
		event.String("10:15:30.500000Z"),
		event.Int(1704067200123456),
		event.Int(1704067200123456),
		event.Int(1704067200123456),
		event.Interval(93784000005, "P1DT2H3M4.000005S"),
		event.String("happy"),
		event.Array([]event.Value{event.Int(1), event.Int(2), event.Int(3)}),
		event.Array([]event.Value{event.String("red"), event.String("green")}),
		event.Array([]event.Value{event.Decimal("1.5"), event.Decimal("-0.001")}),
		event.Array([]event.Value{event.String("ok"), event.String("sad")}),
		event.String("<a>b</a>"),
		event.String("192.168.0.1/24"),
		event.String("'fat':2 'rat':3"),
		event.String("first"),
	}
}

// NullRow has NULL in every column but the key.
func NullRow(id int64) []event.Value {
	r := make([]event.Value, len(AllTypes.Columns))
	r[0] = event.Int(id)
	return r
}

// EdgeRow has the values encoders get wrong: negative and huge decimals,
// decimals needing rescale, times before 1970, NaN, escapes and unicode,
// nested arrays with NULLs, and unchanged TOAST values.
func EdgeRow(id int64) []event.Value {
	return []event.Value{
		event.Int(id),
		event.Bool(false),
		event.Int(0),
		event.Int(-1),
		event.Int(9223372036854775807),
		event.Float(math.NaN()),
		event.Float(math.Inf(-1)),
		event.Decimal("-0.5"),
		event.Decimal("-98765432109876543210987654321098765432109876543210.000100"),
		event.Decimal("1e3"),
		event.String("quote\" backslash\\ slash/ nl\n tab\t nul\x00 bell\x07 del\x7f é 日本 😀 \u2028 bad\xff"),
		event.Bytes(nil),
		event.Unchanged,
		event.Unchanged,
		event.Int(-719162), // 0001-01-01
		event.Int(0),
		event.Int(86400000000), // 24:00:00
		event.String("23:59:59Z"),
		event.Int(-1),                 // 1969-12-31 23:59:59.999999
		event.Int(-1001),              // floors to -2 ms
		event.Int(-62135596800000000), // 0001-01-01T00:00:00Z
		event.Interval(-1, "-PT0.000001S"),
		event.String("sad"),
		event.Unchanged,
		event.Array([]event.Value{
			event.Array([]event.Value{event.String("a"), event.Null}),
			event.Array([]event.Value{event.Null, event.String("d\"e")}),
		}),
		event.Array([]event.Value{event.Null, event.Decimal("0")}),
		event.Array(nil),
		event.Unchanged,
		event.String("::1"),
		event.String(""),
		event.Unchanged,
	}
}

// Src is source metadata for a PostgreSQL event: a snapshot mark, an LSN and
// a transaction id (0 for none).
func Src(snap event.SnapshotMark, lsn uint64, tx int64) event.Source {
	s := event.Source{TsUs: 1704067200000000, Snapshot: snap, LSN: lsn, HasLSN: lsn != 0, TxID: tx, HasTxID: tx != 0}
	if snap == event.SnapshotFalse && lsn != 0 {
		s.LastCommitLSN = lsn - 100
	}
	return s
}

// NamedEvent is a fixture event with a description for test names.
type NamedEvent struct {
	Name  string
	Event *event.Event
}

// AllTypesEvents covers every operation and snapshot mark.
func AllTypesEvents() []NamedEvent {
	ev := func(op event.Op, before, after []event.Value, s event.Source) *event.Event {
		return &event.Event{Op: op, Schema: AllTypes, Before: before, After: after, Source: s, TsMs: 1704067201000, Position: "0/1"}
	}
	return []NamedEvent{
		{"snapshot row (snapshot=true)", ev(event.OpRead, nil, TypicalRow(1), Src(event.SnapshotTrue, 23043592, 490))},
		{"last snapshot row (snapshot=last), all NULL", ev(event.OpRead, nil, NullRow(2), Src(event.SnapshotLast, 23043592, 490))},
		{"insert, edge values", ev(event.OpCreate, nil, EdgeRow(3), Src(event.SnapshotFalse, 23044320, 491))},
		{"update with before image", ev(event.OpUpdate, TypicalRow(1), EdgeRow(1), Src(event.SnapshotFalse, 23044400, 492))},
		{"update without before, no LSN or txId", ev(event.OpUpdate, nil, TypicalRow(1), event.Source{TsUs: 1704067200000000})},
		{"delete", ev(event.OpDelete, TypicalRow(1), nil, Src(event.SnapshotFalse, 23044500, 493))},
		{"truncate", ev(event.OpTruncate, nil, nil, Src(event.SnapshotFalse, 23044600, 494))},
		{"incremental snapshot row", ev(event.OpRead, nil, NullRow(4), Src(event.SnapshotIncremental, 0, 0))},
	}
}

// Product is seed 001's table as Debezium sees it: an Exposed IntIdTable
// ("id" serial, which Debezium gives the default 0).
var Product = &event.Schema{
	Stream: "fulfillment.public.product", Source: "fulfillment", Connector: "postgresql", Database: "product_db",
	Namespace: "public", Table: "product", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true, Default: event.Int(0), HasDefault: true},
		{Name: "name", Type: event.TypeString, TypeName: "varchar", Length: 500},
		{Name: "price", Type: event.TypeFloat64, TypeName: "float8", Default: event.Float(0), HasDefault: true},
		{Name: "color", Type: event.TypeString, TypeName: "varchar", Length: 50, Optional: true},
		{Name: "category", Type: event.TypeString, TypeName: "varchar", Length: 50},
		{Name: "quantity", Type: event.TypeInt32, TypeName: "int4", Default: event.Int(0), HasDefault: true},
		{Name: "description", Type: event.TypeString, TypeName: "varchar", Length: 1000, Optional: true},
		{Name: "internalId", Type: event.TypeString, TypeName: "varchar", Length: 50},
	},
	KeyIdx: []int{0},
}

// ProductEvent is the insert of seed 001's example message.
func ProductEvent() *event.Event {
	return &event.Event{
		Op: event.OpCreate, Schema: Product,
		After: []event.Value{
			event.Int(132), event.String("Incredible Iron Pants"), event.Float(0.61987811851418), event.String("violet"),
			event.String("Tools"), event.Int(41), event.String("?"), event.String("B0009PC1XA"),
		},
		Source: event.Source{TsUs: 1641025283281000, TxID: 622, HasTxID: true, LSN: 23982504, LastCommitLSN: 23982504, HasLSN: true},
		TsMs:   1641025283552, Position: "0/16DF0A8",
	}
}
