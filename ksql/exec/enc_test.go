package exec

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// sortedValues are in increasing order within each kind; kinds follow the
// key tags' order.
var sortedValues = [][]event.Value{
	{event.Null},
	{event.Bool(false), event.Bool(true)},
	{event.Int(math.MinInt64), event.Int(-1000), event.Int(-1), event.Int(0), event.Int(1), event.Int(255), event.Int(256), event.Int(math.MaxInt64)},
	{event.Float(math.Inf(-1)), event.Float(-1e300), event.Float(-2.5), event.Float(-1e-300), event.Float(0), event.Float(1e-300), event.Float(1), event.Float(2.5), event.Float(math.Inf(1)), event.Float(math.NaN())},
	{
		event.Decimal("-Infinity"), event.Decimal("-1000"), event.Decimal("-120.5"), event.Decimal("-12.06"), event.Decimal("-12.05"), event.Decimal("-12"),
		event.Decimal("-0.5"), event.Decimal("-0.0001"), event.Decimal("0"), event.Decimal("0.0001"), event.Decimal("0.05"), event.Decimal("0.5"),
		event.Decimal("1"), event.Decimal("1.0001"), event.Decimal("9.99"), event.Decimal("12"), event.Decimal("12.05"), event.Decimal("12.5"), event.Decimal("120"),
		event.Decimal("1E+10"), event.Decimal("Infinity"), event.Decimal("NaN"),
	},
	{event.String(""), event.String("\x00"), event.String("\x00\x00"), event.String("\x00a"), event.String("a"), event.String("a\x00"), event.String("a\x00b"), event.String("ab"), event.String("b"), event.String("é")},
	{event.Bytes(nil), event.Bytes([]byte{0}), event.Bytes([]byte{0, 0xFF}), event.Bytes([]byte{1}), event.Bytes([]byte{0xFF})},
	{
		event.Array(nil), event.Array([]event.Value{event.Null}), event.Array([]event.Value{event.Int(1)}),
		event.Array([]event.Value{event.Int(1), event.Null}), event.Array([]event.Value{event.Int(1), event.Int(0)}), event.Array([]event.Value{event.Int(2)}),
		event.Array([]event.Value{event.String("a"), event.Array(nil)}),
	},
	{event.Interval(-5, "PT-0.000005S"), event.Interval(0, "PT0S"), event.Interval(3600e6, "PT1H")},
}

func mustKey(t testing.TB, vs ...event.Value) []byte {
	t.Helper()
	b, err := appendKeys(nil, vs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyOrder(t *testing.T) {
	var all []event.Value
	for _, group := range sortedValues {
		all = append(all, group...)
	}
	for i := 1; i < len(all); i++ {
		a, b := mustKey(t, all[i-1]), mustKey(t, all[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key(%s %s) = %x is not below key(%s %s) = %x", kindName(all[i-1]), all[i-1].Text(), a, kindName(all[i]), all[i].Text(), b)
		}
	}
	// Tuples sort by their first value, then the second: no encoding is a
	// prefix of another's that changes the order.
	for _, x := range all {
		for _, y := range all {
			kx, ky := mustKey(t, x), mustKey(t, y)
			c := bytes.Compare(kx, ky)
			if c == 0 {
				continue
			}
			a, b := mustKey(t, x, event.Int(math.MaxInt64)), mustKey(t, y, event.Null)
			if bytes.Compare(a, b) != c {
				t.Errorf("tuple order of (%s, max) and (%s, NULL) differs from the values' order", x.Text(), y.Text())
			}
		}
	}
}

func kindName(v event.Value) string {
	return [...]string{"null", "unchanged", "bool", "int", "float", "decimal", "string", "bytes", "interval", "array"}[v.Kind]
}

func TestKeyRoundTrip(t *testing.T) {
	for _, group := range sortedValues {
		for _, v := range group {
			k := mustKey(t, v, event.String("tail"))
			got, rest, err := decodeKey(k)
			if err != nil {
				t.Fatalf("decode %s: %v", v.Text(), err)
			}
			want := v
			if v.Kind == event.KindFloat && math.IsNaN(v.AsFloat()) {
				if !math.IsNaN(got.AsFloat()) {
					t.Errorf("NaN decoded as %s", got.Text())
				}
				continue
			}
			if v.Kind == event.KindDecimal && v.Str == "1E+10" {
				want = event.Decimal("10000000000")
			}
			if !got.Equal(want) {
				t.Errorf("decode(key(%s)) = %s", v.Text(), got.Text())
			}
			tail, rest, err := decodeKey(rest)
			if err != nil || tail.Str != "tail" || len(rest) != 0 {
				t.Errorf("after %s: %v %q %x", v.Text(), err, tail.Str, rest)
			}
		}
	}
}

func TestDecimalKeyEquality(t *testing.T) {
	for _, same := range [][]string{
		{"1.5", "1.50", "+1.5", "01.500", "15E-1", "0.15e1"},
		{"0", "0.000", "-0", "-0.0", "0e5", "00"},
		{"-120", "-120.0", "-1.2E2", "-1.2e+2"},
		{"0.005", ".005", "5e-3"},
	} {
		want := mustKey(t, event.Decimal(same[0]))
		for _, s := range same[1:] {
			if got := mustKey(t, event.Decimal(s)); !bytes.Equal(got, want) {
				t.Errorf("key(%s) = %x, key(%s) = %x", s, got, same[0], want)
			}
		}
	}
	for _, bad := range []string{"", "-", ".", "1..2", "1e", "1e+", "abc", "1.2.3", "1e99999999"} {
		if _, err := appendKey(nil, event.Decimal(bad)); err == nil {
			t.Errorf("decimal %q encoded as a key", bad)
		}
	}
	if got, want := mustKey(t, event.Float(math.Copysign(0, -1))), mustKey(t, event.Float(0)); !bytes.Equal(got, want) {
		t.Errorf("key(-0.0) = %x, key(0.0) = %x", got, want)
	}
}

func TestRowRoundTrip(t *testing.T) {
	var row []event.Value
	for _, group := range sortedValues {
		row = append(row, group...)
	}
	row = append(row, event.Unchanged, event.Array([]event.Value{event.Array([]event.Value{event.String("x"), event.Null})}))
	b := appendRow(nil, row)
	got, err := decodeRow(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(row) {
		t.Fatalf("decoded %d values, want %d", len(got), len(row))
	}
	for i := range row {
		if !got[i].Equal(row[i]) && !(row[i].Kind == event.KindFloat && math.IsNaN(row[i].AsFloat())) {
			t.Errorf("value %d: %s, want %s", i, got[i].Text(), row[i].Text())
		}
	}
	if _, err := decodeRow(append(b, 0)); err == nil {
		t.Error("a row with trailing bytes decoded")
	}
	for n := range b {
		if _, err := decodeRow(b[:n]); err == nil {
			t.Errorf("a row cut at %d of %d bytes decoded", n, len(b))
		}
	}
}

func FuzzDecodeKey(f *testing.F) {
	for _, group := range sortedValues {
		for _, v := range group {
			f.Add(mustKey(f, v))
		}
	}
	f.Add([]byte{ktArray, ktArray, ktString, 0, 0xFF, 0, 1, 0, 0})
	f.Add([]byte{ktDecimal, decNeg, 0x7F, 0xFF, 0xFF, 0xF0, 0xFD, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := decodeKey(b)
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatal("rest grew")
		}
		// The decoded value re-encodes canonically: decoding that gives the
		// same value again.
		k, err := appendKey(nil, v)
		if err != nil {
			t.Fatalf("re-encode %s: %v", v.Text(), err)
		}
		w, rest2, err := decodeKey(k)
		if err != nil || len(rest2) != 0 {
			t.Fatalf("decode(encode(%s)): %v, %d bytes left", v.Text(), err, len(rest2))
		}
		if !sameValue(v, w) {
			t.Fatalf("%s re-decoded as %s", v.Text(), w.Text())
		}
		k2, _ := appendKey(nil, w)
		if !bytes.Equal(k, k2) {
			t.Fatalf("encoding of %s is not canonical: %x then %x", v.Text(), k, k2)
		}
	})
}

func FuzzDecodeRow(f *testing.F) {
	for _, group := range sortedValues {
		f.Add(appendRow(nil, group))
	}
	f.Add([]byte{1, rtArray, 200, 1})
	f.Add([]byte{2, rtString, 3, 'a', 'b', 'c', rtInterval, 3, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		row, err := decodeRow(b)
		if err != nil {
			return
		}
		again, err := decodeRow(appendRow(nil, row))
		if err != nil || len(again) != len(row) {
			t.Fatalf("re-decode: %v", err)
		}
		for i := range row {
			if !sameValue(row[i], again[i]) {
				t.Fatalf("value %d: %s then %s", i, row[i].Text(), again[i].Text())
			}
		}
	})
}

// sameValue is Equal, with every NaN equal to every NaN.
func sameValue(a, b event.Value) bool {
	if a.Kind == event.KindFloat && b.Kind == event.KindFloat && math.IsNaN(a.AsFloat()) && math.IsNaN(b.AsFloat()) {
		return true
	}
	if a.Kind == event.KindArray && b.Kind == event.KindArray {
		ae, be := a.Elems(), b.Elems()
		if len(ae) != len(be) {
			return false
		}
		for i := range ae {
			if !sameValue(ae[i], be[i]) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

func TestDecimalText(t *testing.T) {
	for in, want := range map[string]string{"0.05": "0.05", "120": "120", "-1.5": "-1.5", "12.340": "12.34", "1e3": "1000", "-0.001e-2": "-0.00001"} {
		v, _, err := decodeKey(mustKey(t, event.Decimal(in)))
		if err != nil || v.Str != want {
			t.Errorf("%s: %q %v, want %q", in, v.Str, err, want)
		}
	}
	if s := strings.Repeat("9", 40); true {
		v, _, _ := decodeKey(mustKey(t, event.Decimal(s+".5")))
		if v.Str != s+".5" {
			t.Errorf("long decimal: %s", v.Str)
		}
	}
}
