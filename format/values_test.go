package format

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
)

func TestJavaFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"},
		{0.1, 64, "0.1"},
		{100, 64, "100.0"},
		{-42.5, 64, "-42.5"},
		{9999999, 64, "9999999.0"},
		{1e7, 64, "1.0E7"},
		{1e10, 64, "1.0E10"},
		{12345678.9, 64, "1.23456789E7"},
		{0.001, 64, "0.001"},
		{0.0001, 64, "1.0E-4"},
		{1.5e-5, 64, "1.5E-5"},
		{0.61987811851418, 64, "0.61987811851418"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{0, 64, "0.0"},
		{math.NaN(), 64, `"NaN"`},
		{math.Inf(1), 64, `"Infinity"`},
		{math.Inf(-1), 64, `"-Infinity"`},
		{float64(float32(0.1)), 32, "0.1"},
		{float64(float32(1.1)), 32, "1.1"},
		{float64(float32(16777216)), 32, "1.6777216E7"},
		{float64(math.MaxFloat32), 32, "3.4028235E38"},
		{float64(float32(0.001)), 32, "0.001"},
		{float64(math.SmallestNonzeroFloat32), 32, "1.4E-45"},
		{1e23, 64, "1.0E23"},
		{2e-323, 64, "2.0E-323"},
	} {
		if got := string(appendJavaFloat(nil, c.f, c.bits)); got != c.want {
			t.Errorf("appendJavaFloat(%v, %d) = %s, want %s", c.f, c.bits, got, c.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c/d`, `"a\"b\\c/d"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001F` + "\x7f" + `"`},
		{"é日本😀\u2028", "\"é日本\\uD83D\\uDE00\u2028\""}, // Jackson 2.16 escapes surrogates
		{"a\xffb\xc3", "\"a\uFFFDb\uFFFD\""},
		{"", `""`},
	} {
		if got := string(appendString(nil, c.in)); got != c.want {
			t.Errorf("appendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestBase64(t *testing.T) {
	for _, in := range []string{"", "a", "ab", "abc", "abcd", "\x00\xff\xfe", UnavailableValuePlaceholder} {
		got := string(appendBase64(nil, in))
		want := `"` + b64std(in) + `"`
		if got != want {
			t.Errorf("appendBase64(%q) = %s, want %s", in, got, want)
		}
	}
}

// refUnscaled is BigInteger.toByteArray by definition: the value in
// bitLength()/8+1 bytes of two's complement.
func refUnscaled(x *big.Int) []byte {
	bl := x.BitLen()
	if x.Sign() < 0 {
		bl = new(big.Int).Not(x).BitLen()
	}
	n := bl/8 + 1
	v := new(big.Int).Set(x)
	if x.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	b := v.Bytes()
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		in      string
		scale   int
		want    string // unscaled integer, or "error"
		varWant string // variable scale: "scale/unscaled"
	}{
		{"1.5", 2, "150", "1/15"},
		{"-1.5", 2, "-150", "1/-15"},
		{"0", 2, "0", "0/0"},
		{"-0.00", 2, "0", "0/0"},
		{"127", 0, "127", "0/127"},
		{"128", 0, "128", "0/128"},
		{"-128", 0, "-128", "0/-128"},
		{"-129", 0, "-129", "0/-129"},
		{"100", 0, "100", "0/100"},
		{"1.500", 2, "150", "1/15"},
		{"1e3", 1, "10000", "0/1000"},
		{"+.25", 2, "25", "2/25"},
		{"1.234", 2, "error", "3/1234"},
		{"NaN", 2, "error", "error"},
		{"Infinity", 2, "error", "error"},
		{"abc", 2, "error", "error"},
		{"", 2, "error", "error"},
		{"9223372036854775807", 0, "9223372036854775807", "0/9223372036854775807"},
		{"-9223372036854775808", 0, "-9223372036854775808", "0/-9223372036854775808"},
		{"99999999999999999999999999999999999999.99", 2, "9999999999999999999999999999999999999999", "2/9999999999999999999999999999999999999999"},
		{"-123456789012345678901234567890.123456", 6, "-123456789012345678901234567890123456", "6/-123456789012345678901234567890123456"},
		{"-0.000001", 6, "-1", "6/-1"},
	} {
		col := &event.Column{Name: "n", Type: event.TypeDecimal, Precision: 40, Scale: c.scale}
		got, err := newColCodec(col, false, nil).appendValue(nil, new(event.Decimal(c.in)))
		if c.want == "error" {
			if err == nil {
				t.Errorf("decimal %q scale %d = %s, want error", c.in, c.scale, got)
			} else if !strings.Contains(err.Error(), `column "n"`) {
				t.Errorf("error %q does not name the column", err)
			}
		} else {
			x, _ := new(big.Int).SetString(c.want, 10)
			want := `"` + b64std(string(refUnscaled(x))) + `"`
			if err != nil || string(got) != want {
				t.Errorf("decimal %q scale %d = %s, %v; want %s", c.in, c.scale, got, err, want)
			}
		}
		vcol := &event.Column{Name: "n", Type: event.TypeDecimal, Scale: -1}
		got, err = newColCodec(vcol, false, nil).appendValue(nil, new(event.Decimal(c.in)))
		if c.varWant == "error" {
			if err == nil {
				t.Errorf("variable decimal %q = %s, want error", c.in, got)
			}
			continue
		}
		sc, un, _ := strings.Cut(c.varWant, "/")
		x, _ := new(big.Int).SetString(un, 10)
		want := `{"scale":` + sc + `,"value":"` + b64std(string(refUnscaled(x))) + `"}`
		if err != nil || string(got) != want {
			t.Errorf("variable decimal %q = %s, %v; want %s", c.in, got, err, want)
		}
	}
}

func TestTemporal(t *testing.T) {
	col := func(typ event.Type, prec int) *colCodec {
		return newColCodec(&event.Column{Name: "t", Type: typ, Precision: prec}, false, nil)
	}
	for _, c := range []struct {
		c    *colCodec
		v    event.Value
		want string
	}{
		{col(event.TypeTimestampTZ, 0), event.Int(0), `"1970-01-01T00:00:00.000000Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(-1), `"1969-12-31T23:59:59.999999Z"`},
		{col(event.TypeTimestampTZ, 3), event.Int(1_500_000), `"1970-01-01T00:00:01.500Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(1529501823123456), `"2018-06-20T13:37:03.123456Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(-62135596800000000), `"0001-01-01T00:00:00.000000Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(-62135596800000000 - 86400_000000), `"0000-12-31T00:00:00.000000Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(-62198755200000000), `"-0001-01-01T00:00:00.000000Z"`},
		{col(event.TypeTimestampTZ, 6), event.Int(253402300800000000), `"+10000-01-01T00:00:00.000000Z"`},
		{col(event.TypeTimestampTZ, 6), event.String("infinity"), `"infinity"`},
		{col(event.TypeTimestamp, 0), event.Int(-1), `-1`},
		{col(event.TypeTimestamp, 3), event.Int(-1), `-1`},
		{col(event.TypeTimestamp, 3), event.Int(-1001), `-2`},
		{col(event.TypeTimestamp, 3), event.Int(1_234_567), `1234`},
		{col(event.TypeTimestamp, 6), event.Int(-86_400_000_001), `-86400000001`},
		{col(event.TypeTime, 3), event.Int(45296789123), `45296789`},
		{col(event.TypeTime, 6), event.Int(45296789123), `45296789123`},
		{col(event.TypeTimeTZ, 0), event.String("10:15:30.500000Z"), `"10:15:30.5Z"`},
		{col(event.TypeTimeTZ, 0), event.String("10:15:30.000000Z"), `"10:15:30Z"`},
		{col(event.TypeTimeTZ, 0), event.String("10:15:30Z"), `"10:15:30Z"`},
		{col(event.TypeTimeTZ, 0), event.String("10:15:30.123+00"), `"10:15:30.123Z"`},
		{col(event.TypeDate, 0), event.Int(-719162), `-719162`},
		{col(event.TypeInterval, 0), event.Interval(-3_000_000, "-PT3S"), `-3000000`},
	} {
		got, err := c.c.appendValue(nil, new(c.v))
		if err != nil || string(got) != c.want {
			t.Errorf("%v %s %v = %s, %v; want %s", c.c.kind, c.c.schema, c.v, got, err, c.want)
		}
	}
}

func TestCivilAgainstTime(t *testing.T) {
	for _, days := range []int64{-1000000, -719528, -719162, -1, 0, 1, 365, 10957, 2932896, 1000000} {
		y, m, d := civil.Date(days)
		ref := refDate(days)
		if y != int64(ref.Year()) || m != int(ref.Month()) || d != ref.Day() {
			t.Errorf("civil.Date(%d) = %d-%d-%d, want %s", days, y, m, d, ref)
		}
	}
}

func TestUnchangedToast(t *testing.T) {
	arr := func(elem event.Type) *event.Column {
		return &event.Column{Name: "a", Type: event.TypeArray, Elem: &event.Column{Type: elem}}
	}
	ph := UnavailableValuePlaceholder
	var ints []string
	for i := 0; i < len(ph); i++ {
		ints = append(ints, itoa(int(ph[i])))
	}
	for _, c := range []struct {
		col  *event.Column
		want string
	}{
		{&event.Column{Name: "s", Type: event.TypeString}, `"` + ph + `"`},
		{&event.Column{Name: "j", Type: event.TypeJSON}, `"` + ph + `"`},
		{&event.Column{Name: "b", Type: event.TypeBytes}, `"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="`},
		{arr(event.TypeString), `["` + ph + `"]`},
		{arr(event.TypeInt32), `[` + strings.Join(ints, ",") + `]`},
		{arr(event.TypeInt64), `[` + strings.Join(ints, ",") + `]`},
	} {
		got, err := newColCodec(c.col, false, nil).appendValue(nil, new(event.Unchanged))
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %s, %v; want %s", c.col.Name, got, err, c.want)
		}
	}
	if _, err := newColCodec(&event.Column{Name: "n", Type: event.TypeInt32}, false, nil).appendValue(nil, new(event.Unchanged)); err == nil {
		t.Error("unchanged int4: want an error")
	}
}

func TestKindMismatch(t *testing.T) {
	c := newColCodec(&event.Column{Name: "n", Type: event.TypeInt32}, false, nil)
	if _, err := c.appendValue(nil, new(event.String("x"))); err == nil || !strings.Contains(err.Error(), `"n"`) {
		t.Errorf("err = %v", err)
	}
}
