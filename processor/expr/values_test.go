package expr

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

func TestDecimal(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-12.3400", "-12.3400"}, {"1e3", "1000"}, {"1.5e-3", "0.0015"}, {"0", "0"}, {"-0.0", "0.0"},
		{"NaN", "NaN"}, {"infinity", "Infinity"}, {"-Infinity", "-Infinity"},
		{"123456789012345678901234567890.123456789012345678901234567890", "123456789012345678901234567890.123456789012345678901234567890"},
	} {
		d, err := ParseDecimal(tc.in)
		if err != nil || d.String() != tc.want {
			t.Errorf("ParseDecimal(%q) = %s, %v; want %s", tc.in, d, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1.2.3", "1e999999"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) succeeded", bad)
		}
	}
	// PostgreSQL's order: -Infinity < numbers < Infinity < NaN; NaN = NaN.
	order := []string{"-Infinity", "-1e100", "-1", "0", "0.0001", "1", "Infinity", "NaN"}
	for i, a := range order {
		for j, b := range order {
			x, _ := ParseDecimal(a)
			y, _ := ParseDecimal(b)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := x.Cmp(y); got != want {
				t.Errorf("Cmp(%s, %s) = %d; want %d", a, b, got, want)
			}
		}
	}
	d := func(s string) Decimal {
		x, err := ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	div := func(x, y Decimal) string {
		q, err := x.Div(y)
		if err != nil {
			return err.Error()
		}
		return q.String()
	}
	mod := func(x, y Decimal) string {
		q, err := x.Mod(y)
		if err != nil {
			return err.Error()
		}
		return q.String()
	}
	for _, tc := range []struct{ got, want string }{
		{d("10.50").Mul(d("2")).String(), "21.00"},
		{d("0.1").Add(d("0.2")).String(), "0.3"},
		{d("1.000").Sub(d("0.5")).String(), "0.500"},
		{d("Infinity").Add(d("1")).String(), "Infinity"},
		{d("Infinity").Sub(d("Infinity")).String(), "NaN"},
		{d("-Infinity").Mul(d("-2")).String(), "Infinity"},
		{d("Infinity").Mul(d("0")).String(), "NaN"},
		{div(d("1"), d("Infinity")), "0"},
		{div(d("NaN"), d("0")), "NaN"},
		{div(d("1"), d("0")), "division by zero"},
		{div(d("2"), d("3")), "0.6666666666666667"},
		{div(d("123456789012345678901234567890"), d("7")), "17636684144620811271604938270"},
		{div(d("1.23456789"), d("1")), "1.2345678900000000"},
		{mod(d("-7.5"), d("2")), "-1.5"},
		{mod(d("5"), d("Infinity")), "5"},
		{mod(d("Infinity"), d("5")), "NaN"},
		{mod(d("5"), d("0")), "division by zero"},
		{d("2.5").Round(0).String(), "3"},
		{d("-2.5").Round(0).String(), "-3"},
		{d("1234.5678").Round(-2).String(), "1200"},
		{d("-1.5").Floor().String(), "-2"},
		{d("-1.5").Ceil().String(), "-1"},
		{d("-Infinity").Abs().String(), "Infinity"},
		{d("NaN").Neg().String(), "NaN"},
		{DecimalFromFloat(0.1).String(), "0.1"},
		{DecimalFromFloat(1e21).String(), "1000000000000000000000"},
		{DecimalFromFloat(math.Inf(-1)).String(), "-Infinity"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s; want %s", tc.got, tc.want)
		}
	}
	if _, err := d("NaN").Int(); err == nil || err.Error() != "NaN has no integer value" {
		t.Errorf("NaN.Int: %v", err)
	}
	if _, err := d("1e19").Int(); err == nil || err.Error() != "decimal is out of the int64 range" {
		t.Errorf("1e19.Int: %v", err)
	}
}

func TestToValue(t *testing.T) {
	day := time.Date(2024, 3, 10, 23, 30, 0, 500_000_000, time.FixedZone("", -5*3600)) // 2024-03-11T04:30:00.5Z
	for _, tc := range []struct {
		col  event.Column
		in   any
		want event.Value
	}{
		{event.Column{Type: event.TypeBool}, true, event.Bool(true)},
		{event.Column{Type: event.TypeInt16}, int64(-32768), event.Int(-32768)},
		{event.Column{Type: event.TypeInt32}, 7, event.Int(7)},
		{event.Column{Type: event.TypeFloat64}, 2, event.Float(2)},
		{event.Column{Type: event.TypeFloat32}, 1.1, event.Float(float64(float32(1.1)))},
		{event.Column{Type: event.TypeDecimal, Precision: 20, Scale: 10}, mustDec("24.6913578024"), event.Decimal("24.6913578024")},
		{event.Column{Type: event.TypeDecimal, Precision: 10, Scale: 2}, mustDec("3.1000"), event.Decimal("3.1000")},
		{event.Column{Type: event.TypeDecimal, Scale: -1}, mustDec("NaN"), event.Decimal("NaN")},
		{event.Column{Type: event.TypeDecimal, Scale: -1}, 42, event.Decimal("42")},
		{event.Column{Type: event.TypeMoney}, mustDec("-1.5"), event.Decimal("-1.5")},
		{event.Column{Type: event.TypeString}, "x", event.String("x")},
		{event.Column{Type: event.TypeUUID}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{event.Column{Type: event.TypeBytes}, []byte{1, 2}, event.Bytes([]byte{1, 2})},
		{event.Column{Type: event.TypeJSON}, map[string]any{"a": []any{int64(1), mustDec("2.50")}, "b": nil}, event.String(`{"a":[1,2.50],"b":null}`)},
		{event.Column{Type: event.TypeJSON}, 3.5, event.String(`3.5`)},
		{event.Column{Type: event.TypeTimestampTZ}, day, event.Int(1710131400500000)},
		{event.Column{Type: event.TypeTimestamp}, day, event.Int(1710113400500000)}, // the wall clock, 23:30:00.5
		{event.Column{Type: event.TypeDate}, day, event.Int(19792)},                 // 2024-03-10, the local date
		{event.Column{Type: event.TypeTime}, day, event.Int(84600500000)},
		{event.Column{Type: event.TypeTime}, clockZero.Add(24 * time.Hour), event.Int(86400000000)},
		{event.Column{Type: event.TypeTimeTZ}, day, event.String("04:30:00.500000Z")},
		{event.Column{Type: event.TypeInterval}, 26*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Microsecond, event.Interval(93784000005, "P1DT2H3M4.000005S")},
		{event.Column{Type: event.TypeInterval}, -time.Microsecond, event.Interval(-1, "-PT0.000001S")},
		{event.Column{Type: event.TypeArray, Elem: &event.Column{Type: event.TypeInt32}}, []any{1, nil, int64(3)}, event.Array([]event.Value{event.Int(1), event.Null, event.Int(3)})},
		{event.Column{Type: event.TypeString}, nil, event.Null},
	} {
		got, err := ToValue(&tc.col, tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ToValue(%s, %v) = %#v, %v; want %#v", tc.col.Type, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		col  event.Column
		in   any
		want string
	}{
		{event.Column{Type: event.TypeInt16}, 40000, "the result is out of the range of int16"},
		{event.Column{Type: event.TypeInt32}, "7", "the result is string, which a int32 column cannot hold"},
		{event.Column{Type: event.TypeDecimal, Precision: 20, Scale: 10}, mustDec("24.69135780245"), "the result has more than 10 digits after the point, which numeric(20,10) cannot hold (round it: round(x, 10))"},
		{event.Column{Type: event.TypeDecimal, Precision: 5, Scale: 2}, mustDec("1234.5"), "the result has more than 3 digits before the point, which numeric(5,2) cannot hold"},
		{event.Column{Type: event.TypeDecimal, Precision: 5, Scale: 2}, mustDec("Infinity"), "the result is Infinity, which numeric(5,2) cannot hold"},
		{event.Column{Type: event.TypeMoney}, mustDec("0.001"), "the result has more than 2 digits after the point, which money cannot hold (round it: round(x, 2))"},
		{event.Column{Type: event.TypeDecimal, Scale: -1}, 1.5, "the result is float, which a decimal column cannot hold"},
		{event.Column{Type: event.TypeArray, Elem: &event.Column{Type: event.TypeInt32}}, []any{"a"}, "element 0: the result is string, which a int32 column cannot hold"},
	} {
		_, err := ToValue(&tc.col, tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ToValue(%s, %v) error = %v; want %s", tc.col.Type, tc.in, err, tc.want)
		}
	}
}

func mustDec(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestColumnForAndFits(t *testing.T) {
	for _, tc := range []struct {
		t    reflect.Type
		want event.Type
		name string
	}{
		{typeBool, event.TypeBool, "bool"}, {reflect.TypeOf(0), event.TypeInt64, "int8"}, {typeInt, event.TypeInt64, "int8"},
		{typeFloat, event.TypeFloat64, "float8"}, {typeDecimal, event.TypeDecimal, "numeric"}, {typeString, event.TypeString, "text"},
		{typeBytes, event.TypeBytes, "bytea"}, {typeTime, event.TypeTimestampTZ, "timestamptz"}, {typeDuration, event.TypeInterval, "interval"},
		{typeArray, event.TypeJSON, "jsonb"}, {reflect.TypeOf(map[string]any{}), event.TypeJSON, "jsonb"}, {nil, event.TypeJSON, "jsonb"},
	} {
		c := ColumnFor("c", tc.t)
		if c.Type != tc.want || c.TypeName != tc.name || !c.Optional || c.Name != "c" {
			t.Errorf("ColumnFor(%v) = %+v; want %s %s", tc.t, c, tc.want, tc.name)
		}
	}
	if c := ColumnFor("d", typeDecimal); c.Scale != -1 {
		t.Errorf("a new decimal column has scale %d; want -1 (any)", c.Scale)
	}
	for _, tc := range []struct {
		col event.Type
		t   reflect.Type
		ok  bool
	}{
		{event.TypeInt32, reflect.TypeOf(0), true}, {event.TypeInt32, typeFloat, false}, {event.TypeDecimal, reflect.TypeOf(0), true},
		{event.TypeDecimal, typeFloat, false}, {event.TypeFloat32, typeInt, true}, {event.TypeFloat64, typeFloat, true},
		{event.TypeString, typeString, true}, {event.TypeEnum, typeString, true}, {event.TypeString, typeInt, false},
		{event.TypeJSON, reflect.TypeOf(map[string]any{}), true}, {event.TypeJSON, typeString, false}, {event.TypeDate, typeTime, true},
		{event.TypeArray, typeArray, true}, {event.TypeBytes, typeString, false}, {event.TypeInt64, nil, true},
	} {
		if got := Fits(&event.Column{Type: tc.col}, tc.t); got != tc.ok {
			t.Errorf("Fits(%s, %v) = %v; want %v", tc.col, tc.t, got, tc.ok)
		}
	}
}

func TestToGoErrors(t *testing.T) {
	for _, tc := range []struct {
		col  event.Column
		v    event.Value
		want string
	}{
		{event.Column{Type: event.TypeTimestampTZ}, event.String("infinity"), "holds a special time (infinity or a zero date) that no expression can use"},
		{event.Column{Type: event.TypeInt32}, event.String("7"), "holds a string value where its type int32 expects int (a bug in the source)"},
		{event.Column{Type: event.TypeJSON}, event.String("{"), "holds text that is not valid JSON"},
		{event.Column{Type: event.TypeJSON}, event.String("1 2"), "holds text that is not one JSON value"},
		{event.Column{Type: event.TypeDecimal}, event.Decimal("12x"), "holds a value that is not a decimal number"},
		{event.Column{Type: event.TypeTimeTZ}, event.String("10:00:00+5"), "holds a time with a zone offset that cannot be read"},
		{event.Column{Type: event.TypeInterval}, event.Interval(math.MaxInt64, ""), "holds an interval beyond ±292 years, which an expression cannot hold"},
	} {
		_, err := ToGo(&tc.col, tc.v)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ToGo(%s, %s) error = %v; want %s", tc.col.Type, tc.v.Text(), err, tc.want)
		}
	}
	tz, err := ToGo(&event.Column{Type: event.TypeTimeTZ}, event.String("10:15:30.25+05:30"))
	if err != nil || show(tz) != "time 0000-01-01T10:15:30.25+05:30" {
		t.Errorf("timetz with zone = %s, %v", show(tz), err)
	}
}
