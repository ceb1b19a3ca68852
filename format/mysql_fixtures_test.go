package format

import (
	"time"

	"github.com/sluice-dev/sluice/event"
)

// mysqlTypes is a table as source/mysql describes it (its doc's type
// table): one column of every MySQL type whose Debezium encoding is
// connector-specific, plus the types that share the generic encoding.
var mysqlTypes = &event.Schema{
	Stream: "my.inventory.types", Source: "my", Connector: "mysql", Database: "inventory", Table: "types", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int", Key: true},
		{Name: "ti", Type: event.TypeInt16, TypeName: "tinyint", Optional: true},
		{Name: "tiu", Type: event.TypeInt16, TypeName: "tinyint unsigned", Optional: true},
		{Name: "siu", Type: event.TypeInt32, TypeName: "smallint unsigned", Optional: true},
		{Name: "mi", Type: event.TypeInt32, TypeName: "mediumint", Optional: true},
		{Name: "miu", Type: event.TypeInt32, TypeName: "mediumint unsigned", Optional: true},
		{Name: "iu", Type: event.TypeInt64, TypeName: "int unsigned", Optional: true},
		{Name: "biu", Type: event.TypeDecimal, TypeName: "bigint unsigned", Optional: true, Precision: 20},
		{Name: "dec2", Type: event.TypeDecimal, TypeName: "decimal", Optional: true, Precision: 5, Scale: 2},
		{Name: "dt", Type: event.TypeTimestamp, TypeName: "datetime", Optional: true},
		{Name: "dt3", Type: event.TypeTimestamp, TypeName: "datetime", Optional: true, Precision: 3},
		{Name: "dt4", Type: event.TypeTimestamp, TypeName: "datetime", Optional: true, Precision: 4},
		{Name: "dt6", Type: event.TypeTimestamp, TypeName: "datetime", Optional: true, Precision: 6},
		{Name: "ts", Type: event.TypeTimestampTZ, TypeName: "timestamp", Optional: true},
		{Name: "ts3", Type: event.TypeTimestampTZ, TypeName: "timestamp", Optional: true, Precision: 3},
		{Name: "ts6", Type: event.TypeTimestampTZ, TypeName: "timestamp", Optional: true, Precision: 6},
		{Name: "dte", Type: event.TypeDate, TypeName: "date", Optional: true},
		{Name: "tm0", Type: event.TypeTime, TypeName: "time", Optional: true},
		{Name: "tm3", Type: event.TypeTime, TypeName: "time", Optional: true, Precision: 3},
		{Name: "tm6", Type: event.TypeTime, TypeName: "time", Optional: true, Precision: 6},
		{Name: "yr", Type: event.TypeInt32, TypeName: "year", Optional: true},
		{Name: "js", Type: event.TypeJSON, TypeName: "json", Optional: true},
		{Name: "en", Type: event.TypeEnum, TypeName: "enum", Optional: true, EnumValues: []string{"a", "b'q", "c"}},
		{Name: "st", Type: event.TypeString, TypeName: "set", Optional: true, EnumValues: []string{"x", "y", "z"}},
		{Name: "b1", Type: event.TypeBool, TypeName: "bit", Optional: true, Length: 1},
		{Name: "b12", Type: event.TypeBytes, TypeName: "bit", Optional: true, Length: 12},
		{Name: "b64", Type: event.TypeBytes, TypeName: "bit", Optional: true, Length: 64},
		{Name: "bin", Type: event.TypeBytes, TypeName: "binary", Optional: true, Length: 4},
	},
	KeyIdx: []int{0},
}

func myMicros(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// mysqlRow holds the values of the Debezium 2.7.3 check in
// testdata/debezium273/mysql.out, as source/mysql emits them.
func mysqlRow(id int64) []event.Value {
	return []event.Value{
		event.Int(id), event.Int(-128), event.Int(255), event.Int(65535), event.Int(-8388608), event.Int(16777215),
		event.Int(4294967295), event.Decimal("18446744073709551615"), event.Decimal("1.20"),
		event.Int(myMicros("2024-02-29 23:59:59")), event.Int(myMicros("2024-02-29 23:59:59.123")),
		event.Int(myMicros("2024-02-29 23:59:59.1234")), event.Int(myMicros("1000-01-01 00:00:00")),
		event.Int(myMicros("2038-01-19 03:14:07")), event.Int(myMicros("2038-01-19 03:14:07.5")),
		event.Int(myMicros("2020-01-01 00:00:00.12345")),
		event.Int(2932896), event.Int(-(838*3600 + 59*60 + 59) * 1_000_000), event.Int(3600005000), event.Int(3020399999999),
		event.Int(2155), event.String(`{"a": [1, 2.5, "é"]}`), event.String("b'q"), event.String("x,z"),
		event.Bool(true), event.Bytes([]byte{0x0a, 0xaa}), event.Bytes([]byte{0x80, 0, 0, 0, 0, 0, 0, 1}),
		event.Bytes([]byte{0, 0, 0, 0}),
	}
}

func mysqlNullRow(id int64) []event.Value {
	r := make([]event.Value, len(mysqlTypes.Columns))
	r[0] = event.Int(id)
	return r
}

func mysqlEvents() []namedEvent {
	bl := &event.Binlog{File: "binlog.000003", Pos: 1234, GTID: "0-1-42", ServerID: 1, Thread: 7}
	snap := &event.Binlog{File: "binlog.000003", Pos: 1000}
	return []namedEvent{
		{"mysql snapshot row (TIMESTAMP fractions as the snapshot reader writes them)", &event.Event{Op: event.OpRead, Schema: mysqlTypes, After: mysqlRow(1),
			Source: event.Source{TsUs: 1700000000000000, Snapshot: event.SnapshotLast, Binlog: snap}, TsMs: 1700000000123}},
		{"mysql insert", &event.Event{Op: event.OpCreate, Schema: mysqlTypes, After: mysqlRow(2),
			Source: event.Source{TsUs: 1700000001000000, Binlog: bl}, TsMs: 1700000001123}},
		{"mysql update to NULLs", &event.Event{Op: event.OpUpdate, Schema: mysqlTypes, Before: mysqlRow(2), After: mysqlNullRow(2),
			Source: event.Source{TsUs: 1700000002000000, Binlog: bl, Row: 1}, TsMs: 1700000002123}},
		{"mysql delete", &event.Event{Op: event.OpDelete, Schema: mysqlTypes, Before: mysqlNullRow(2),
			Source: event.Source{TsUs: 1700000003000000, Binlog: bl, Row: 2}, TsMs: 1700000003123}},
	}
}
