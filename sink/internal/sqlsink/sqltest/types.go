package sqltest

import (
	"github.com/sluice-dev/sluice/event"
)

// TypeCase is one column of the every-type schema with a value and the
// text each server gives back for it.
type TypeCase struct {
	Col   event.Column
	Val   event.Value
	PG    string // the value as PostgreSQL's ::text prints it
	MySQL string // as MariaDB's CAST(... AS CHAR) prints it (HEX for bytes)
}

// Day 19000 is 2022-01-08; 12:34:56.789012 is 45296789012 µs.
const (
	day   = 19000
	clock = 45296789012
	stamp = int64(day)*86400e6 + clock
)

// TypeCases covers every event type.
var TypeCases = []TypeCase{
	{event.Column{Name: "b", Type: event.TypeBool}, event.Bool(true), "true", "1"},
	{event.Column{Name: "i16", Type: event.TypeInt16}, event.Int(-32768), "-32768", "-32768"},
	{event.Column{Name: "i32", Type: event.TypeInt32}, event.Int(2147483647), "2147483647", "2147483647"},
	{event.Column{Name: "i64", Type: event.TypeInt64}, event.Int(-9223372036854775808), "-9223372036854775808", "-9223372036854775808"},
	{event.Column{Name: "f32", Type: event.TypeFloat32}, event.Float(1.5), "1.5", "1.5"},
	{event.Column{Name: "f64", Type: event.TypeFloat64}, event.Float(0.1), "0.1", "0.1"},
	{event.Column{Name: "dec", Type: event.TypeDecimal, Precision: 20, Scale: 5}, event.Decimal("-123456789012345.12345"), "-123456789012345.12345", "-123456789012345.12345"},
	{event.Column{Name: "num", Type: event.TypeDecimal, Scale: -1}, event.Decimal("12345678901234567890.123456789"),
		"12345678901234567890.123456789", "12345678901234567890.123456789000000000000000000000"},
	{event.Column{Name: "money", Type: event.TypeMoney, Scale: 2}, event.Decimal("-12.34"), "-12.34", "-12.34"},
	{event.Column{Name: "vc", Type: event.TypeString, TypeName: "varchar", Length: 10}, event.String("héllo"), "héllo", "héllo"},
	{event.Column{Name: "ch", Type: event.TypeString, TypeName: "bpchar", Length: 4}, event.String("ab  "), "ab", "ab  "}, // bpchar::text drops the padding
	{event.Column{Name: "txt", Type: event.TypeString, TypeName: "text"}, event.String("a\tb\nc\\d\r'\"`;"), "a\tb\nc\\d\r'\"`;", "a\tb\nc\\d\r'\"`;"},
	{event.Column{Name: "bin", Type: event.TypeBytes}, event.Bytes([]byte{0, 1, '\\', 0xff}), `\x00015cff`, "00015CFF"},
	{event.Column{Name: "uid", Type: event.TypeUUID}, event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{event.Column{Name: "js", Type: event.TypeJSON, TypeName: "jsonb"}, event.String(`{"a": [1, "x"]}`), `{"a": [1, "x"]}`, `{"a": [1, "x"]}`},
	{event.Column{Name: "d", Type: event.TypeDate}, event.Int(day), "2022-01-08", "2022-01-08"},
	{event.Column{Name: "t", Type: event.TypeTime}, event.Int(clock), "12:34:56.789012", "12:34:56.789012"},
	{event.Column{Name: "ttz", Type: event.TypeTimeTZ}, event.String("12:34:56.789Z"), "12:34:56.789+00", "12:34:56.789000"},
	{event.Column{Name: "ts", Type: event.TypeTimestamp}, event.Int(stamp), "2022-01-08 12:34:56.789012", "2022-01-08 12:34:56.789012"},
	{event.Column{Name: "ts3", Type: event.TypeTimestamp, Precision: 3}, event.Int(stamp - 12), "2022-01-08 12:34:56.789", "2022-01-08 12:34:56.789"},
	{event.Column{Name: "tstz", Type: event.TypeTimestampTZ}, event.Int(stamp), "2022-01-08 12:34:56.789012+00", "2022-01-08 12:34:56.789012"},
	{event.Column{Name: "iv", Type: event.TypeInterval}, event.Interval(0, "P1Y2M3DT4H5M6.7S"), "1 year 2 mons 3 days 04:05:06.7", "P1Y2M3DT4H5M6.7S"},
	{event.Column{Name: "en", Type: event.TypeEnum, TypeName: "mood", EnumValues: []string{"sad", "happy"}}, event.String("happy"), "happy", "happy"},
	{event.Column{Name: "ai", Type: event.TypeArray, TypeName: "_int4", Elem: &event.Column{Type: event.TypeInt32}},
		event.Array([]event.Value{event.Int(1), event.Int(2), event.Null}), "{1,2,NULL}", "[1,2,null]"},
	{event.Column{Name: "at", Type: event.TypeArray, TypeName: "_text", Elem: &event.Column{Type: event.TypeString}},
		event.Array([]event.Value{event.String(`a"b`), event.String("c,d"), event.String(`\`)}), `{"a\"b","c,d","\\"}`, `["a\"b","c,d","\\"]`},
	{event.Column{Name: "x", Type: event.TypeXML}, event.String("<a>1</a>"), "<a>1</a>", "<a>1</a>"},
	{event.Column{Name: "ip", Type: event.TypeInet, TypeName: "inet"}, event.String("192.168.0.1/24"), "192.168.0.1/24", "192.168.0.1/24"},
	{event.Column{Name: "pt", Type: event.TypeUnknown, TypeName: "point"}, event.String("(1,2)"), "(1,2)", "(1,2)"},
}

// TypeSchema is a table with a key and every TypeCases column (nullable).
func TypeSchema(table string) *event.Schema {
	cols := []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}}
	for _, tc := range TypeCases {
		c := tc.Col
		c.Optional = true
		cols = append(cols, c)
	}
	return Schema(table, 1, cols...)
}

// TypeRows returns row 1 with every value and row 2 with every NULL.
func TypeRows() (full, nulls []event.Value) {
	full = []event.Value{event.Int(1)}
	nulls = []event.Value{event.Int(2)}
	for _, tc := range TypeCases {
		full = append(full, tc.Val)
		nulls = append(nulls, event.Null)
	}
	return full, nulls
}
