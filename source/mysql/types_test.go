package mysql

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

const typesTable = `CREATE TABLE types (
	id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
	mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE, dec1 DECIMAL(30,10), dec2 DECIMAL(5,2),
	dt6 DATETIME(6), dt DATETIME, ts3 TIMESTAMP(3) NULL, dte DATE, tm TIME(6), tm0 TIME, yr YEAR,
	js JSON, en ENUM('a','b''q','c'), st SET('x','y','z'), b1 BIT(1), b12 BIT(12),
	bl BLOB, tx TEXT, bin BINARY(4), vb VARBINARY(10),
	u8 VARCHAR(20) CHARACTER SET utf8mb4, l1 VARCHAR(20) CHARACTER SET latin1, ch CHAR(5), lt LONGTEXT CHARACTER SET latin1
)`

const typesRow = `(%d, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
	-9223372036854775808, 18446744073709551615,
	1.5, 3.141592653589793, '-12345678901234567890.0123456789', '1.20',
	'2024-02-29 23:59:59.123456', '1000-01-01 00:00:00', '2038-01-19 03:14:07.999', '9999-12-31',
	'-838:59:59.000000', '12:34:56', 2155,
	'{"a": [1, 2.5, "é"]}', 'b''q', 'x,z', b'1', b'101010101010',
	X'00FF10', 'héllo 🌍', X'0102', X'00', '日本 🌍', 'café €', 'ab', 'Ünïcødé ½')`

func micros(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func days(s string) int64 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t.Unix() / 86400
}

// typesWant is the row typesRow inserts, column by column.
var typesWant = map[string]event.Value{
	"ti": event.Int(-128), "tiu": event.Int(255), "si": event.Int(-32768), "siu": event.Int(65535),
	"mi": event.Int(-8388608), "miu": event.Int(16777215), "i": event.Int(-2147483648), "iu": event.Int(4294967295),
	"bi": event.Int(-9223372036854775808), "biu": event.Decimal("18446744073709551615"),
	"f": event.Float(1.5), "d": event.Float(3.141592653589793),
	"dec1": event.Decimal("-12345678901234567890.0123456789"), "dec2": event.Decimal("1.20"),
	"dt6": event.Int(micros("2024-02-29 23:59:59.123456")), "dt": event.Int(micros("1000-01-01 00:00:00")),
	"ts3": event.Int(micros("2038-01-19 03:14:07.999")), "dte": event.Int(days("9999-12-31")),
	"tm": event.Int(-(838*3600 + 59*60 + 59) * 1_000_000), "tm0": event.Int((12*3600 + 34*60 + 56) * 1_000_000),
	"yr": event.Int(2155), "js": event.String(`{"a": [1, 2.5, "é"]}`), "en": event.String("b'q"), "st": event.String("x,z"),
	"b1": event.Bool(true), "b12": event.Bytes([]byte{0x0a, 0xaa}), "bl": event.Bytes([]byte{0, 0xff, 0x10}),
	"tx": event.String("héllo 🌍"), "bin": event.Bytes([]byte{1, 2, 0, 0}), "vb": event.Bytes([]byte{0}),
	"u8": event.String("日本 🌍"), "l1": event.String("café €"), "ch": event.String("ab"), "lt": event.String("Ünïcødé ½"),
}

// typesSchema is the expected logical type per column.
var typesSchema = map[string]event.Type{
	"ti": event.TypeInt16, "tiu": event.TypeInt16, "si": event.TypeInt16, "siu": event.TypeInt32, "mi": event.TypeInt32,
	"miu": event.TypeInt32, "i": event.TypeInt32, "iu": event.TypeInt64, "bi": event.TypeInt64, "biu": event.TypeDecimal,
	"f": event.TypeFloat32, "d": event.TypeFloat64, "dec1": event.TypeDecimal, "dec2": event.TypeDecimal,
	"dt6": event.TypeTimestamp, "dt": event.TypeTimestamp, "ts3": event.TypeTimestampTZ, "dte": event.TypeDate,
	"tm": event.TypeTime, "tm0": event.TypeTime, "yr": event.TypeInt32, "js": event.TypeJSON, "en": event.TypeEnum,
	"st": event.TypeString, "b1": event.TypeBool, "b12": event.TypeBytes, "bl": event.TypeBytes, "tx": event.TypeString,
	"bin": event.TypeBytes, "vb": event.TypeBytes, "u8": event.TypeString, "l1": event.TypeString, "ch": event.TypeString,
	"lt": event.TypeString,
}

func checkTypesRow(t *testing.T, path string, e event.Event, id int64) {
	t.Helper()
	sch := e.Schema
	if got := e.After[0]; !got.Equal(event.Int(id)) {
		t.Fatalf("%s: id %s, want %d", path, got.Text(), id)
	}
	for i, c := range sch.Columns[1:] {
		v := e.After[i+1]
		if id%2 == 0 {
			if !v.IsNull() {
				t.Errorf("%s: %s = %q (kind %d), want NULL", path, c.Name, v.Text(), v.Kind)
			}
			continue
		}
		want, ok := typesWant[c.Name]
		if !ok {
			t.Fatalf("no expectation for %s", c.Name)
		}
		if !v.Equal(want) {
			t.Errorf("%s: %s = %q (kind %d), want %q (kind %d)", path, c.Name, v.Text(), v.Kind, want.Text(), want.Kind)
		}
		if typesSchema[c.Name] != c.Type {
			t.Errorf("%s: %s has type %s, want %s", path, c.Name, c.Type, typesSchema[c.Name])
		}
	}
}

func TestTypes(t *testing.T) {
	te := newTestEnv(t)
	te.exec(typesTable)
	te.exec(sprintf("INSERT INTO types VALUES "+typesRow, 1))
	te.exec("INSERT INTO types (id) VALUES (2)")
	out := newEmitter()
	te.start(te.config("types"), nil, out)
	out.waitFor(t, "snapshot", 20*time.Second, count(2))
	te.exec(sprintf("INSERT INTO types VALUES "+typesRow, 11))
	te.exec("INSERT INTO types (id) VALUES (12)")
	out.waitFor(t, "stream", 20*time.Second, count(4))
	evs := out.snapshotEvents()
	for i, e := range evs[:4] {
		path := "snapshot"
		if i >= 2 {
			path = "stream"
		}
		if want := []event.Op{event.OpRead, event.OpRead, event.OpCreate, event.OpCreate}[i]; e.Op != want {
			t.Fatalf("event %d: op %s, want %s", i, e.Op, want)
		}
		checkTypesRow(t, path, e, []int64{1, 2, 11, 12}[i])
	}
	if evs[1].Source.Snapshot != event.SnapshotLast {
		t.Errorf("last snapshot row: snapshot %s", evs[1].Source.Snapshot)
	}
	if evs[0].Schema != evs[2].Schema {
		t.Errorf("the stream made a new schema version for an unchanged table")
	}
}

// TestSnapshotAndStreamAgree inserts the same edge values before the
// snapshot and while streaming; both paths must give identical values.
func TestSnapshotAndStreamAgree(t *testing.T) {
	te := newTestEnv(t)
	te.exec(`CREATE TABLE e (id INT PRIMARY KEY, d52 DECIMAL(5,2), d100 DECIMAL(10,0), d3810 DECIMAL(38,10), f FLOAT, db DOUBLE,
		t6 TIME(6), t3 TIME(3), dt3 DATETIME(3), ts0 TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, y YEAR, b64 BIT(64), c CHAR(4), bn BINARY(3))`)
	vals := []string{
		"0.05, 0, '0.0000000001', 0.1, 0.1, '-00:00:00.500000', '23:59:59.999', '2024-01-01 00:00:00.001', '1970-01-01 00:00:01', '2024-06-30 12:00:00.000001', 1901, b'1111111111111111111111111111111111111111111111111111111111111111', 'a  ', X'000000'",
		"-0.50, -9999999999, '-9999999999999999999999999999.9999999999', -3.4e38, 1e308, '838:59:59', '-838:59:59.000', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07', '1970-01-01 00:00:01.000000', 2155, b'0', '', X'00'",
		"999.99, 9999999999, '0.5', 1.17549435e-38, 5e-324, '00:00:00', '00:00:00.001', '1000-01-01 00:00:00.000', NULL, NULL, NULL, NULL, NULL, NULL",
	}
	for i, v := range vals {
		te.exec(sprintf("INSERT INTO e VALUES (%d, %s)", i+1, v))
	}
	out := newEmitter()
	te.start(te.config("e"), nil, out)
	out.waitFor(t, "snapshot", 20*time.Second, count(len(vals)))
	for i, v := range vals {
		te.exec(sprintf("INSERT INTO e VALUES (%d, %s)", i+101, v))
	}
	out.waitFor(t, "stream", 20*time.Second, count(2*len(vals)))
	evs := out.snapshotEvents()
	for i := range vals {
		snap, str := evs[i], evs[i+len(vals)]
		for c := 1; c < len(snap.After); c++ {
			if !snap.After[c].Equal(str.After[c]) {
				t.Errorf("row %d column %s: snapshot %q (kind %d), stream %q (kind %d)", i+1, snap.Schema.Columns[c].Name,
					snap.After[c].Text(), snap.After[c].Kind, str.After[c].Text(), str.After[c].Kind)
			}
		}
	}
	if got := evs[0].After[1]; !got.Equal(event.Decimal("0.05")) {
		t.Errorf("decimal(5,2) 0.05 is %q", got.Text())
	}
	if got := evs[1].After[6]; got.AsInt() != 838*3600_000_000+59*60_000_000+59_000_000 {
		t.Errorf("time 838:59:59 is %d", got.AsInt())
	}
	if got := evs[0].After[13]; !got.Equal(event.String("a")) {
		t.Errorf("char(4) 'a  ' is %q", got.Text())
	}
}

// TestEnumAndSetLabelsKeepCase: ENUM and SET labels keep their declared
// case, quotes, commas, backslashes, line breaks and non-ASCII letters in
// snapshot rows, in binlog create/update/delete events (decoded from the
// label number through the catalog's COLUMN_TYPE) and in the schema's
// EnumValues, which Debezium's "allowed" parameter lists.
func TestEnumAndSetLabelsKeepCase(t *testing.T) {
	te := newTestEnv(t)
	te.exec(`CREATE TABLE lab (id INT PRIMARY KEY,
		e ENUM('M','f','Xy','it''s','a,b','a\\b','Ünï','l\nf'), s SET('A','b','Ç'))`)
	rows := []string{`'M', 'A'`, `'f', 'b,A'`, `'Xy', 'Ç,b'`, `'it''s', ''`, `'a,b', 'A,b,Ç'`, `'a\\b', NULL`, `'Ünï', 'Ç'`, `'l\nf', 'b'`}
	for i, r := range rows {
		te.exec(sprintf("INSERT INTO lab VALUES (%d, %s)", i+1, r))
	}
	out := newEmitter()
	te.start(te.config("lab"), nil, out)
	out.waitFor(t, "snapshot", 20*time.Second, count(len(rows)))
	for i, r := range rows {
		te.exec(sprintf("INSERT INTO lab VALUES (%d, %s)", i+101, r))
	}
	te.exec("UPDATE lab SET e = 'Xy', s = 'Ç,A' WHERE id = 101")
	te.exec("DELETE FROM lab WHERE id = 102")
	out.waitFor(t, "stream", 20*time.Second, count(2*len(rows)+2))
	evs := out.snapshotEvents()
	var got []string
	for _, e := range evs {
		got = append(got, e.Op.String()+" "+rowText(e.Schema, e.Before)+" | "+rowText(e.Schema, e.After))
	}
	want := []string{
		"r <nil> | id=1 e=M s=A",
		"r <nil> | id=2 e=f s=A,b",
		"r <nil> | id=3 e=Xy s=b,Ç",
		"r <nil> | id=4 e=it's s=",
		"r <nil> | id=5 e=a,b s=A,b,Ç",
		`r <nil> | id=6 e=a\b s=NULL`,
		"r <nil> | id=7 e=Ünï s=Ç",
		"r <nil> | id=8 e=l\nf s=b",
		"c <nil> | id=101 e=M s=A",
		"c <nil> | id=102 e=f s=A,b",
		"c <nil> | id=103 e=Xy s=b,Ç",
		"c <nil> | id=104 e=it's s=",
		"c <nil> | id=105 e=a,b s=A,b,Ç",
		`c <nil> | id=106 e=a\b s=NULL`,
		"c <nil> | id=107 e=Ünï s=Ç",
		"c <nil> | id=108 e=l\nf s=b",
		"u id=101 e=M s=A | id=101 e=Xy s=A,Ç",
		"d id=102 e=f s=A,b | <nil>",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sch := evs[len(evs)-1].Schema
	if want := []string{"M", "f", "Xy", "it's", "a,b", `a\b`, "Ünï", "l\nf"}; !slices.Equal(sch.Columns[1].EnumValues, want) {
		t.Errorf("enum labels %q, want %q", sch.Columns[1].EnumValues, want)
	}
	if want := []string{"A", "b", "Ç"}; !slices.Equal(sch.Columns[2].EnumValues, want) {
		t.Errorf("set labels %q, want %q", sch.Columns[2].EnumValues, want)
	}
	enc, err := format.New(format.Options{Format: format.DebeziumSchema})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := enc.AppendValue(nil, &evs[len(evs)-1])
	if err != nil {
		t.Fatal(err)
	}
	for _, allowed := range []string{`"allowed":"M,f,Xy,it's,a,b,a\\b,Ünï,l\nf"`, `"allowed":"A,b,Ç"`} {
		if !strings.Contains(string(v), allowed) {
			t.Errorf("the Debezium schema lacks %s:\n%s", allowed, v)
		}
	}
}
