package format

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestMySQLColumnsMatchDebezium273 pins each MySQL column encoding to what
// Debezium 2.7.3.Final's MySqlValueConverters produced through
// JsonConverter for the same column and value (testdata/debezium273/
// mysql.out, made by MySqlCheck.java there). snapshot marks the snapshot
// reader's value (java.sql.Timestamp), the others are the binlog reader's.
func TestMySQLColumnsMatchDebezium273(t *testing.T) {
	col := func(name string, typ event.Type, typeName string, prec, length int, labels ...string) event.Column {
		return event.Column{Name: name, Type: typ, TypeName: typeName, Optional: true, Precision: prec, Length: length, EnumValues: labels}
	}
	cases := []struct {
		c        event.Column
		v        event.Value
		snapshot bool
		schema   string
		value    string
	}{
		{col("dt0", event.TypeTimestamp, "datetime", 0, 0), event.Int(myMicros("2024-02-29 23:59:59")), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dt0"}`, `1709251199000`},
		{col("dt0", event.TypeTimestamp, "datetime", 0, 0), event.Int(myMicros("1969-12-31 23:59:59")), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dt0"}`, `-1000`},
		{col("dt3", event.TypeTimestamp, "datetime", 3, 0), event.Int(myMicros("2024-02-29 23:59:59.123")), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dt3"}`, `1709251199123`},
		{col("dt4", event.TypeTimestamp, "datetime", 4, 0), event.Int(myMicros("2024-02-29 23:59:59.1234")), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"dt4"}`, `1709251199123400`},
		{col("dt6", event.TypeTimestamp, "datetime", 6, 0), event.Int(myMicros("1000-01-01 00:00:00")), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"dt6"}`, `-30610224000000000`},
		{col("ts0", event.TypeTimestampTZ, "timestamp", 0, 0), event.Int(myMicros("2038-01-19 03:14:07")), false,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts0"}`, `"2038-01-19T03:14:07Z"`},
		{col("ts0", event.TypeTimestampTZ, "timestamp", 0, 0), event.Int(myMicros("2038-01-19 03:14:07")), true,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts0"}`, `"2038-01-19T03:14:07Z"`},
		{col("ts3", event.TypeTimestampTZ, "timestamp", 3, 0), event.Int(myMicros("2038-01-19 03:14:07.5")), false,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts3"}`, `"2038-01-19T03:14:07.500Z"`},
		{col("ts3", event.TypeTimestampTZ, "timestamp", 3, 0), event.Int(myMicros("2038-01-19 03:14:07.5")), true,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts3"}`, `"2038-01-19T03:14:07.5Z"`},
		{col("ts3", event.TypeTimestampTZ, "timestamp", 3, 0), event.Int(myMicros("2038-01-19 03:14:07")), false,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts3"}`, `"2038-01-19T03:14:07.000Z"`},
		{col("ts6", event.TypeTimestampTZ, "timestamp", 6, 0), event.Int(myMicros("2020-01-01 00:00:00.12345")), false,
			`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts6"}`, `"2020-01-01T00:00:00.123450Z"`},
		{col("d", event.TypeDate, "date", 0, 0), event.Int(-354285), false,
			`{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"d"}`, `-354285`},
		{col("tm0", event.TypeTime, "time", 0, 0), event.Int(-3020399000000), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"tm0"}`, `-3020399000000`},
		{col("tm3", event.TypeTime, "time", 3, 0), event.Int(3600005000), false,
			`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"tm3"}`, `3600005000`},
		{col("yr", event.TypeInt32, "year", 0, 0), event.Int(1901), false,
			`{"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1,"field":"yr"}`, `1901`},
		{col("en", event.TypeEnum, "enum", 0, 0, "a", "b'q", "c"), event.String("b'q"), false,
			`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b'q,c"},"field":"en"}`, `"b'q"`},
		{col("st", event.TypeString, "set", 0, 0, "x", "y", "z"), event.String("x,z"), false,
			`{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"x,y,z"},"field":"st"}`, `"x,z"`},
		{col("st", event.TypeString, "set", 0, 0, "x", "y", "z"), event.String(""), false,
			`{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"x,y,z"},"field":"st"}`, `""`},
		{col("b1", event.TypeBool, "bit", 0, 1), event.Bool(true), false,
			`{"type":"boolean","optional":true,"field":"b1"}`, `true`},
		{col("b12", event.TypeBytes, "bit", 0, 12), event.Bytes([]byte{0x0a, 0xaa}), false,
			`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"12"},"field":"b12"}`, `"qgo="`},
		{col("b16", event.TypeBytes, "bit", 0, 16), event.Bytes([]byte{0x01, 0x02}), false,
			`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"16"},"field":"b16"}`, `"AgE="`},
		{col("b64", event.TypeBytes, "bit", 0, 64), event.Bytes([]byte{0x80, 0, 0, 0, 0, 0, 0, 1}), false,
			`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"64"},"field":"b64"}`, `"AQAAAAAAAIA="`},
		{col("js", event.TypeJSON, "json", 0, 0), event.String(`{"a": [1, 2.5, "é"]}`), false,
			`{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"js"}`, `"{\"a\": [1, 2.5, \"é\"]}"`},
		{col("tiu", event.TypeInt16, "tinyint unsigned", 0, 0), event.Int(255), false,
			`{"type":"int16","optional":true,"field":"tiu"}`, `255`},
		{col("siu", event.TypeInt32, "smallint unsigned", 0, 0), event.Int(65535), false,
			`{"type":"int32","optional":true,"field":"siu"}`, `65535`},
		{col("miu", event.TypeInt32, "mediumint unsigned", 0, 0), event.Int(16777215), false,
			`{"type":"int32","optional":true,"field":"miu"}`, `16777215`},
		{col("iu", event.TypeInt64, "int unsigned", 0, 0), event.Int(4294967295), false,
			`{"type":"int64","optional":true,"field":"iu"}`, `4294967295`},
		{col("biu", event.TypeDecimal, "bigint unsigned", 20, 0), event.Decimal("18446744073709551615"), false,
			`{"type":"int64","optional":true,"field":"biu"}`, `-1`},
		{col("biu", event.TypeDecimal, "bigint unsigned", 20, 0), event.Decimal("9223372036854775808"), false,
			`{"type":"int64","optional":true,"field":"biu"}`, `-9223372036854775808`},
		{col("dc", event.TypeDecimal, "decimal", 5, 0), event.Decimal("1.20"), false,
			`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"5"},"field":"dc"}`, `"eA=="`},
		{col("bin", event.TypeBytes, "binary", 0, 4), event.Bytes([]byte{0, 0, 0, 0}), false,
			`{"type":"bytes","optional":true,"field":"bin"}`, `"AAAAAA=="`},
	}
	for _, tc := range cases {
		c := tc.c
		if c.Name == "dc" {
			c.Scale = 2
		}
		s := &event.Schema{Stream: "my.db.t", Connector: "mysql", Columns: []event.Column{c}}
		tbl, err := newTableCodec(s, false)
		if err != nil {
			t.Fatal(err)
		}
		e := &event.Event{Schema: s}
		if tc.snapshot {
			e.Source.Snapshot = event.SnapshotTrue
		}
		cols, _ := tbl.colsFor(e)
		if got := string(cols[0].appendFieldSchema(nil)); got != tc.schema {
			t.Errorf("%s schema:\n got %s\nwant %s", c.Name, got, tc.schema)
		}
		got, err := cols[0].appendValue(nil, new(tc.v))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if string(got) != tc.value {
			t.Errorf("%s (snapshot %v) value = %s, want %s", c.Name, tc.snapshot, got, tc.value)
		}
	}
}

func TestMySQLBadUnsignedLong(t *testing.T) {
	s := &event.Schema{Stream: "my.db.t", Connector: "mysql", Columns: []event.Column{{Name: "biu", Type: event.TypeDecimal, TypeName: "bigint unsigned"}}}
	tbl, _ := newTableCodec(s, false)
	_, err := tbl.cols[0].appendValue(nil, new(event.Decimal("-1")))
	if err == nil || err.Error() != `column "biu": bigint unsigned value is not an unsigned 64-bit integer` {
		t.Fatalf("err = %v", err)
	}
}
