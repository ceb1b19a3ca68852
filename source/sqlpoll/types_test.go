package sqlpoll

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// TestTypes reads one row of many column types from every database and
// checks each event value and logical type exactly.
func TestTypes(t *testing.T) {
	day := func(s string) event.Value {
		d, _ := time.Parse(time.DateOnly, s)
		return event.Int(d.Unix() / 86400)
	}
	us := func(s string) event.Value {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return event.Int(ts.UnixMicro())
	}
	clock := func(h, m, s, micro int64) event.Value { return event.Int(((h*60+m)*60+s)*1e6 + micro) }
	type col struct {
		name string
		typ  event.Type
		val  event.Value
	}
	cases := map[string]struct {
		ddl, insert string
		want        []col
	}{
		DriverPostgres: {
			ddl: `CREATE TABLE types (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
				n numeric(10,3), s varchar(20), b bytea, ok boolean, d date, tm time, ts timestamp(6),
				tz timestamptz, j jsonb, u uuid, iv interval, nul text)`,
			insert: `INSERT INTO types VALUES (1, -2, 9007199254740993, 1.1, 2.5, 12.340, 'héllo', '\x00ff', true,
				'2024-02-29', '13:14:15.5', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02',
				'{"a": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day', NULL)`,
			want: []col{
				{"id", event.TypeInt32, event.Int(1)},
				{"i2", event.TypeInt16, event.Int(-2)},
				{"i8", event.TypeInt64, event.Int(9007199254740993)},
				{"f4", event.TypeFloat32, event.Float(float64(float32(1.1)))},
				{"f8", event.TypeFloat64, event.Float(2.5)},
				{"n", event.TypeDecimal, event.Decimal("12.340")},
				{"s", event.TypeString, event.String("héllo")},
				{"b", event.TypeBytes, event.Bytes([]byte{0, 0xff})},
				{"ok", event.TypeBool, event.Bool(true)},
				{"d", event.TypeDate, day("2024-02-29")},
				{"tm", event.TypeTime, clock(13, 14, 15, 500000)},
				{"ts", event.TypeTimestamp, us("2024-02-29T13:14:15.123456Z")},
				{"tz", event.TypeTimestampTZ, us("2024-02-29T11:14:15.123456Z")},
				{"j", event.TypeJSON, event.String(`{"a": 1}`)},
				{"u", event.TypeUUID, event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
				{"iv", event.TypeUnknown, event.String("1 day")},
				{"nul", event.TypeString, event.Null},
			},
		},
		DriverMySQL: {
			ddl: `CREATE TABLE types (id INT PRIMARY KEY, i2 SMALLINT, i8 BIGINT, u8 BIGINT UNSIGNED, f4 FLOAT,
				f8 DOUBLE, n DECIMAL(10,3), s VARCHAR(20), b VARBINARY(10), d DATE, tm TIME(6), ts DATETIME(6),
				tz TIMESTAMP(6) NULL, j JSON, e ENUM('x','y'), nul TEXT)`,
			insert: `INSERT INTO types VALUES (1, -2, 9007199254740993, 18446744073709551615, 1.1, 2.5, 12.340,
				'héllo', x'00ff', '2024-02-29', '-838:59:59.5', '2024-02-29 13:14:15.123456',
				'2024-02-29 13:14:15.123456', '{"a": 1}', 'y', NULL)`,
			want: []col{
				{"id", event.TypeInt32, event.Int(1)},
				{"i2", event.TypeInt16, event.Int(-2)},
				{"i8", event.TypeInt64, event.Int(9007199254740993)},
				{"u8", event.TypeDecimal, event.Decimal("18446744073709551615")},
				{"f4", event.TypeFloat32, event.Float(float64(float32(1.1)))},
				{"f8", event.TypeFloat64, event.Float(2.5)},
				{"n", event.TypeDecimal, event.Decimal("12.340")},
				{"s", event.TypeString, event.String("héllo")},
				{"b", event.TypeBytes, event.Bytes([]byte{0, 0xff})},
				{"d", event.TypeDate, day("2024-02-29")},
				{"tm", event.TypeTime, event.Int(-(838*3600+59*60+59)*1e6 - 500000)},
				{"ts", event.TypeTimestamp, us("2024-02-29T13:14:15.123456Z")},
				{"tz", event.TypeTimestampTZ, us("2024-02-29T13:14:15.123456Z")},
				{"j", event.TypeString, event.String(`{"a": 1}`)},
				{"e", event.TypeString, event.String("y")},
				{"nul", event.TypeString, event.Null},
			},
		},
		DriverSQLite: {
			ddl: `CREATE TABLE types (id INTEGER PRIMARY KEY, i8 BIGINT, f8 REAL, n NUMERIC, s VARCHAR(20), b BLOB,
				ok BOOLEAN, d DATE, ts DATETIME, j JSON, nul TEXT)`,
			insert: `INSERT INTO types VALUES (1, 9007199254740993, 2.5, '12.340', 'héllo', x'00ff', 1,
				'2024-02-29', '2024-02-29 13:14:15.123', '{"a": 1}', NULL)`,
			want: []col{
				{"id", event.TypeInt32, event.Int(1)},
				{"i8", event.TypeInt64, event.Int(9007199254740993)},
				{"f8", event.TypeFloat64, event.Float(2.5)},
				{"n", event.TypeDecimal, event.Decimal("12.34")}, // NUMERIC affinity stores a REAL
				{"s", event.TypeString, event.String("héllo")},
				{"b", event.TypeBytes, event.Bytes([]byte{0, 0xff})},
				{"ok", event.TypeBool, event.Bool(true)},
				{"d", event.TypeDate, day("2024-02-29")},
				{"ts", event.TypeTimestamp, us("2024-02-29T13:14:15.123Z")},
				{"j", event.TypeJSON, event.String(`{"a": 1}`)},
				{"nul", event.TypeString, event.Null},
			},
		},
	}
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			tc := cases[driver]
			d := newTestDB(t, driver)
			d.exec(t, tc.ddl, tc.insert)
			cfg := d.config(ModeIncrementing)
			cfg.Tables = []string{"types"}
			cfg.IncrementingColumn = "id"
			evs, _ := pollOnce(t, started(t, cfg, nil))
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			e := evs[0]
			if len(e.Schema.Columns) != len(tc.want) {
				t.Fatalf("%d columns, want %d", len(e.Schema.Columns), len(tc.want))
			}
			for i, w := range tc.want {
				c := e.Schema.Columns[i]
				if c.Name != w.name || c.Type != w.typ || !e.After[i].Equal(w.val) {
					t.Errorf("column %d: %s %s (%s) = %#v, want %s %s = %#v", i, c.Name, c.Type, c.TypeName, e.After[i], w.name, w.typ, w.val)
				}
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"2024-02-29 13:14:15":           "2024-02-29T13:14:15Z",
		"2024-02-29T13:14:15.5":         "2024-02-29T13:14:15.5Z",
		"2024-02-29 13:14:15.123456789": "2024-02-29T13:14:15.123456789Z",
		"2024-02-29 13:14:15.123+02:00": "2024-02-29T11:14:15.123Z",
		"2024-02-29":                    "2024-02-29T00:00:00Z",
		"2023-02-29 00:00:00":           "error",
		"2024-02-29 24:00:00":           "error",
		"2024-02-29 13:14:15.":          "error",
		"2024-02-29 13:14:1x":           "error",
	} {
		got, err := parseTimestamp(in)
		g := got.UTC().Format(time.RFC3339Nano)
		if err != nil {
			g = "error"
		}
		if g != want {
			t.Errorf("%q: got %s, want %s", in, g, want)
		}
	}
}
