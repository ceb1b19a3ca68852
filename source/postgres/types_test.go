package postgres

import (
	"math"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func days(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func arr(vs ...event.Value) event.Value { return event.Array(vs) }

// typeCases are the columns of the all-types table: SQL type, literal,
// expected logical type and value.
var typeCases = []struct {
	col, sqlType, literal string
	typ                   event.Type
	want                  event.Value
}{
	{"c_int2", "int2", "-5", event.TypeInt16, event.Int(-5)},
	{"c_int4", "int4", "2147483647", event.TypeInt32, event.Int(2147483647)},
	{"c_int8", "int8", "-9223372036854775808", event.TypeInt64, event.Int(math.MinInt64)},
	{"c_oid", "oid", "4000000000", event.TypeInt64, event.Int(4000000000)},
	{"c_num", "numeric(10,3)", "12.34", event.TypeDecimal, event.Decimal("12.340")},
	{"c_num_free", "numeric", "-0.000100", event.TypeDecimal, event.Decimal("-0.000100")},
	{"c_num_nan", "numeric", "'NaN'", event.TypeDecimal, event.Decimal("NaN")},
	{"c_num_inf", "numeric", "'Infinity'", event.TypeDecimal, event.Decimal("Infinity")},
	{"c_f4", "float4", "1.1", event.TypeFloat32, event.Float(float64(float32(1.1)))},
	{"c_f8", "float8", "0.1", event.TypeFloat64, event.Float(0.1)},
	{"c_f8_nan", "float8", "'NaN'", event.TypeFloat64, event.Float(math.NaN())},
	{"c_f8_ninf", "float8", "'-Infinity'", event.TypeFloat64, event.Float(math.Inf(-1))},
	{"c_bool", "bool", "true", event.TypeBool, event.Bool(true)},
	{"c_text", "text", `E'h\u00e9llo\ttab\\back\nline'`, event.TypeString, event.String("héllo\ttab\\back\nline")},
	{"c_varchar", "varchar(20)", "'v'", event.TypeString, event.String("v")},
	{"c_bpchar", "char(3)", "'ab'", event.TypeString, event.String("ab ")},
	{"c_name", "name", "'nm'", event.TypeString, event.String("nm")},
	{"c_bytea", "bytea", `'\xdeadbeef'`, event.TypeBytes, event.Bytes([]byte{0xde, 0xad, 0xbe, 0xef})},
	{"c_bytea_empty", "bytea", `''`, event.TypeBytes, event.Bytes(nil)},
	{"c_uuid", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", event.TypeUUID, event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{"c_json", "json", `'{"a":  1}'`, event.TypeJSON, event.String(`{"a":  1}`)},
	{"c_jsonb", "jsonb", `'{"b":[1,2]}'`, event.TypeJSON, event.String(`{"b": [1, 2]}`)},
	{"c_date", "date", "'2024-02-29'", event.TypeDate, event.Int(days(2024, 2, 29))},
	{"c_date_bc", "date", "'0044-03-15 BC'", event.TypeDate, event.Int(days(-43, 3, 15))},
	{"c_date_inf", "date", "'infinity'", event.TypeDate, event.Int(DateInfinity)},
	{"c_time", "time", "'13:45:12.123456'", event.TypeTime, event.Int((13*3600+45*60+12)*1e6 + 123456)},
	{"c_timetz", "timetz", "'13:45:12.5+02'", event.TypeTimeTZ, event.String("11:45:12.5Z")},
	{"c_timetz2", "timetz", "'00:30:00-01:30'", event.TypeTimeTZ, event.String("02:00:00Z")},
	{"c_timetz3", "timetz", "'01:00:00+03'", event.TypeTimeTZ, event.String("22:00:00Z")},
	{"c_ts", "timestamp", "'2024-01-02 03:04:05.678'", event.TypeTimestamp, event.Int(micros(time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)))},
	{"c_ts_old", "timestamp(0)", "'1900-12-31 23:59:59'", event.TypeTimestamp, event.Int(micros(time.Date(1900, 12, 31, 23, 59, 59, 0, time.UTC)))},
	{"c_ts_ninf", "timestamp", "'-infinity'", event.TypeTimestamp, event.Int(TimestampNegInfinity)},
	{"c_tstz", "timestamptz", "'2024-01-02 03:04:05.000001+05'", event.TypeTimestampTZ, event.Int(micros(time.Date(2024, 1, 1, 22, 4, 5, 1000, time.UTC)))},
	{"c_interval", "interval", "'1 year 2 months 3 days 04:05:06.5'", event.TypeInterval,
		event.Interval(int64(((float64(14)*365.25/12+3)*86400+4*3600+5*60+6.5)*1e6), "P1Y2M3DT4H5M6.5S")},
	{"c_interval_neg", "interval", "'-1 day -00:00:01.25'", event.TypeInterval,
		event.Interval(-86401250000, "P0Y0M-1DT0H0M-1.25S")},
	{"c_interval_zero", "interval", "'0'", event.TypeInterval, event.Interval(0, "P0Y0M0DT0H0M0S")},
	{"c_int_arr", "int4[]", "'{1,NULL,3}'", event.TypeArray, arr(event.Int(1), event.Null, event.Int(3))},
	{"c_text_arr", "text[]", `'{"a b","c\"d",NULL,"NULL",e}'`, event.TypeArray,
		arr(event.String("a b"), event.String(`c"d`), event.Null, event.String("NULL"), event.String("e"))},
	{"c_int_arr2", "int8[][]", "'{{1,2},{3,4}}'", event.TypeArray, arr(event.Int(1), event.Int(2), event.Int(3), event.Int(4))},
	{"c_ts_arr", "timestamptz[]", `'{"2024-01-02 03:04:05+00"}'`, event.TypeArray, arr(event.Int(micros(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))))},
	{"c_enum", "mood", "'ok'", event.TypeEnum, event.String("ok")},
	{"c_enum_arr", "mood[]", "'{sad,happy}'", event.TypeArray, arr(event.String("sad"), event.String("happy"))},
	{"c_money", "money", "1234.5", event.TypeMoney, event.Decimal("1234.50")},
	{"c_money_neg", "money", "-0.25", event.TypeMoney, event.Decimal("-0.25")},
	{"c_inet", "inet", "'192.168.0.1/24'", event.TypeInet, event.String("192.168.0.1/24")},
	{"c_cidr", "cidr", "'10.0.0.0/8'", event.TypeInet, event.String("10.0.0.0/8")},
	{"c_mac", "macaddr", "'08:00:2b:01:02:03'", event.TypeInet, event.String("08:00:2b:01:02:03")},
	{"c_xml", "xml", "'<a>1</a>'", event.TypeXML, event.String("<a>1</a>")},
	{"c_point", "point", "'(1,2)'", event.TypeUnknown, event.String("(1,2)")},
	{"c_domain", "posint", "7", event.TypeInt32, event.Int(7)},
	{"c_null", "text", "NULL", event.TypeString, event.Null},
}

func TestTypes(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
	te.exec(`CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`)
	ddl := "CREATE TABLE types (id int PRIMARY KEY"
	ins := "INSERT INTO types VALUES ($1"
	for _, c := range typeCases {
		ddl += ", " + c.col + " " + c.sqlType
		ins += ", " + c.literal
	}
	te.exec(ddl + ")")
	te.exec(ins+")", 1)

	out := sourcetest.NewEmitter()
	te.start(te.config("public.types"), nil, out)
	out.WaitFor(t, "snapshot row", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	te.exec(ins+")", 2)
	out.WaitFor(t, "streamed row", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 2 })

	evs := out.Events()
	for i, path := range []string{"snapshot", "stream"} {
		e := evs[i]
		sch := e.Schema
		if len(sch.Columns) != len(typeCases)+1 {
			t.Fatalf("%s: %d columns", path, len(sch.Columns))
		}
		for j, c := range typeCases {
			col := sch.Columns[j+1]
			if col.Name != c.col || col.Type != c.typ {
				t.Errorf("%s: column %d = %s %s, want %s %s", path, j+1, col.Name, col.Type, c.col, c.typ)
			}
			if got := e.After[j+1]; !got.Equal(c.want) {
				t.Errorf("%s: %s (%s) = %#v, want %#v", path, c.col, c.sqlType, got, c.want)
			}
		}
	}
	// Column metadata from the catalog.
	sch := evs[1].Schema
	col := func(name string) event.Column { return sch.Columns[sch.ColumnIndex(name)] }
	if c := col("c_num"); c.Precision != 10 || c.Scale != 3 {
		t.Errorf("numeric(10,3): precision %d scale %d", c.Precision, c.Scale)
	}
	if c := col("c_num_free"); c.Scale != -1 {
		t.Errorf("numeric: scale %d, want -1", c.Scale)
	}
	if c := col("c_varchar"); c.Length != 20 || c.TypeName != "varchar" {
		t.Errorf("varchar(20): length %d type %s", c.Length, c.TypeName)
	}
	if c := col("c_bpchar"); c.Length != 3 {
		t.Errorf("char(3): length %d", c.Length)
	}
	if c := col("c_enum"); len(c.EnumValues) != 3 || c.EnumValues[1] != "ok" || c.TypeName != "mood" {
		t.Errorf("enum: %+v", c)
	}
	if c := col("c_enum_arr"); c.Elem == nil || c.Elem.Type != event.TypeEnum || len(c.Elem.EnumValues) != 3 {
		t.Errorf("enum array element: %+v", c.Elem)
	}
	if c := col("c_int_arr"); c.Elem == nil || c.Elem.Type != event.TypeInt32 {
		t.Errorf("int array element: %+v", c.Elem)
	}
	if c := col("c_point"); c.TypeName != "point" {
		t.Errorf("point: type name %q", c.TypeName)
	}
	if c := col("c_money"); c.Scale != 2 {
		t.Errorf("money: scale %d", c.Scale)
	}
	if c := col("id"); !c.Key || c.Optional {
		t.Errorf("id: key %v optional %v", c.Key, c.Optional)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE d (
		id serial PRIMARY KEY,
		i int DEFAULT 42,
		neg int DEFAULT -1,
		n numeric(5,2) DEFAULT 1.5,
		s text DEFAULT 'it''s',
		v varchar(10) DEFAULT 'x',
		b bool DEFAULT true,
		ts timestamptz DEFAULT now(),
		dt date DEFAULT '2020-01-02',
		e int DEFAULT (1 + 2),
		nd text)`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.d"), nil, out)
	te.exec(`INSERT INTO d DEFAULT VALUES`)
	out.WaitFor(t, "insert", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	sch := out.Events()[0].Schema
	want := map[string]event.Value{
		"id": event.Int(0), "i": event.Int(42), "neg": event.Int(-1), "n": event.Decimal("1.5"), "s": event.String("it's"),
		"v": event.String("x"), "b": event.Bool(true), "dt": event.Int(days(2020, 1, 2)),
	}
	for _, c := range sch.Columns {
		w, ok := want[c.Name]
		if ok != c.HasDefault {
			t.Errorf("%s: HasDefault %v, want %v (default %#v)", c.Name, c.HasDefault, ok, c.Default)
			continue
		}
		if ok && !c.Default.Equal(w) {
			t.Errorf("%s: default %#v, want %#v", c.Name, c.Default, w)
		}
	}
}

func TestTemporalPrecision(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE tp (id int PRIMARY KEY, a timestamp(3), b time(2), c timestamptz(6), d timestamp, e timetz(4))`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.tp"), nil, out)
	te.exec(`INSERT INTO tp (id) VALUES (1)`)
	out.WaitFor(t, "insert", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	got := map[string]int{}
	for _, c := range out.Events()[0].Schema.Columns {
		got[c.Name] = c.Precision
	}
	want := map[string]int{"id": 0, "a": 3, "b": 2, "c": 6, "d": 0, "e": 4}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("column %s precision %d, want %d", k, got[k], v)
		}
	}
}
