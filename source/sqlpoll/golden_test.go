package sqlpoll

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/format"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenTables are, per database, a table of every type the source maps
// and rows of values, edge values and NULLs, for TestDebeziumEnvelope.
var goldenTables = map[string][]string{
	DriverPostgres: {
		`CREATE TABLE types (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
			n numeric(10,3), nn numeric, s varchar(20), c char(4), t text, b bytea, ok boolean, d date, tm time,
			ts timestamp(6), tz timestamptz, j jsonb, js json, u uuid, iv interval, arr text[], nul text)`,
		`INSERT INTO types VALUES (1, -2, 9007199254740993, 1.1, 2.5, 12.340, '123456789012345678901234567890.5', 'héllo "q"', 'ab', E'line\nbreak\ttab\\',
			'\x00ff', true, '2024-02-29', '13:14:15.5', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02',
			'{"a": 1}', '[1, "x"]', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day', ARRAY['a','b'], NULL)`,
		`INSERT INTO types VALUES (2, 32767, -9223372036854775808, 'NaN', '-Infinity', -0.001, '1e-20', '', '', '',
			'', false, '1969-12-31', '00:00:00', '1900-01-01 00:00:00.000001', '1969-12-31 23:59:59.999999Z',
			'[]', 'null', '00000000-0000-0000-0000-000000000000', '-1 year', '{}', '')`,
		`INSERT INTO types (id) VALUES (3)`,
	},
	DriverMySQL: {
		`CREATE TABLE types (id INT PRIMARY KEY, i2 SMALLINT, i8 BIGINT, u8 BIGINT UNSIGNED, f4 FLOAT,
			f8 DOUBLE, n DECIMAL(10,3), s VARCHAR(20), t TEXT, b VARBINARY(10), d DATE, tm TIME(6), ts DATETIME(6),
			tz TIMESTAMP(6) NULL, j JSON, e ENUM('x','y'), st SET('a','b'), y YEAR, bt BIT(3), nul TEXT)`,
		`INSERT INTO types VALUES (1, -2, 9007199254740993, 18446744073709551615, 1.1, 2.5, 12.340,
			'héllo "q"', 'line\nbreak\ttab\\\\', x'00ff', '2024-02-29', '-838:59:59.5', '2024-02-29 13:14:15.123456',
			'2024-02-29 13:14:15.123456', '{"a": 1}', 'y', 'a,b', 2024, b'101', NULL)`,
		`INSERT INTO types VALUES (2, 32767, -9223372036854775808, 0, -0, 5e-324, -0.001,
			'', '', x'', '1000-01-01', '00:00:00', '9999-12-31 23:59:59.999999',
			'1970-01-01 00:00:01', '[]', 'x', '', 1901, b'0', '')`,
		`INSERT INTO types (id) VALUES (3)`,
	},
	DriverSQLite: {
		`CREATE TABLE types (id INTEGER PRIMARY KEY, i8 BIGINT, f8 REAL, n NUMERIC, s VARCHAR(20), t TEXT, b BLOB,
			ok BOOLEAN, d DATE, ts DATETIME, j JSON, other WHATEVER, nul TEXT)`,
		`INSERT INTO types VALUES (1, 9007199254740993, 2.5, '12.340', 'héllo "q"', 'line
break', x'00ff', 1, '2024-02-29', '2024-02-29 13:14:15.123', '{"a": 1}', 'w', NULL)`,
		`INSERT INTO types VALUES (2, -9223372036854775808, -0.0, 12, '', '', x'', 0, '1969-12-31', 1700000000, '[]', 2.5, '')`,
		`INSERT INTO types (id) VALUES (3)`,
	},
}

// TestDebeziumEnvelope polls the types table of every database and encodes
// the rows in Debezium's envelope, with and without its schema part, and
// compares them with testdata/envelope_<driver>*.golden: the bytes sinks
// write. Times and the database's random name are pinned first. The golden
// files were written by the database/sql read path, before the drivers'
// fast paths; they must not change with a read path.
func TestDebeziumEnvelope(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			d := newTestDB(t, driver)
			d.exec(t, goldenTables[driver]...)
			cfg := d.config(ModeIncrementing)
			cfg.Tables = []string{"types"}
			cfg.IncrementingColumn = "id"
			cfg.BatchMaxRows = 100
			evs, _ := pollOnce(t, started(t, cfg, nil))
			if len(evs) != 3 {
				t.Fatalf("%d events, want 3", len(evs))
			}
			for _, f := range []string{format.Debezium, format.DebeziumSchema} {
				enc, err := format.New(format.Options{Format: f})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				sch := *evs[0].Schema
				sch.Database = "inventory" // the test database's name is random
				if driver == DriverMySQL {
					sch.Stream = "src.inventory.types"
				}
				for i := range evs {
					e := evs[i]
					if e.Schema != evs[0].Schema {
						t.Fatalf("event %d has another schema", i)
					}
					e.Schema = &sch
					e.TsMs, e.Source.TsUs = 1700000000123, 1700000000000000
					k := enc.AppendKey(nil, &e)
					v, ok, err := enc.AppendValue(nil, &e)
					if err != nil || !ok {
						t.Fatalf("%s: encode %s: %v", f, e.String(), err)
					}
					buf.Write(k)
					buf.WriteByte('\n')
					buf.Write(v)
					buf.WriteByte('\n')
					buf.WriteString(e.Position + "\n")
				}
				path := filepath.Join("testdata", "envelope_"+driver+".golden")
				if f == format.DebeziumSchema {
					path = filepath.Join("testdata", "envelope_"+driver+"_schema.golden")
				}
				if *update {
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to write it)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s: envelope differs from %s\n--- got\n%s--- want\n%s", f, path, buf.Bytes(), want)
				}
			}
		})
	}
}
