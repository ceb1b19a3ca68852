package postgres

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

func TestDecodeTextEdgeCases(t *testing.T) {
	ts := func(y int, m time.Month, d, h, mi, s, us int) event.Value {
		return event.Int(time.Date(y, m, d, h, mi, s, us*1000, time.UTC).UnixMicro())
	}
	for _, tc := range []struct {
		ct   colType
		in   string
		want event.Value
		bad  bool
	}{
		{colType{dec: decTimestamp}, "0001-01-01 00:00:00 BC", ts(0, 1, 1, 0, 0, 0, 0), false},
		{colType{dec: decTimestamp}, "10000-01-01 00:00:00", ts(10000, 1, 1, 0, 0, 0, 0), false},
		{colType{dec: decTimestamp}, "1969-12-31 23:59:59.999999", event.Int(-1), false},
		{colType{dec: decTimestampTZ}, "2024-01-01 00:00:00+05:30:15", ts(2023, 12, 31, 18, 29, 45, 0), false},
		{colType{dec: decTimestampTZ}, "infinity", event.Int(TimestampInfinity), false},
		{colType{dec: decTimestampTZ}, "2024-01-01 00:00:00", event.Null, true},
		{colType{dec: decTime}, "24:00:00", event.Int(86_400_000_000), false},
		{colType{dec: decTime}, "12:00", event.Null, true},
		{colType{dec: decTimeTZ}, "23:59:59.999999-00:00:01", event.String("00:00:00.999999Z"), false},
		{colType{dec: decDate}, "-infinity", event.Int(DateNegInfinity), false},
		{colType{dec: decDate}, "1970-01-01", event.Int(0), false},
		{colType{dec: decDate}, "2024-13-01", event.Null, true},
		{colType{dec: decInterval}, "PT1H", event.Interval(3_600_000_000, "P0Y0M0DT1H0M0S"), false},
		{colType{dec: decInterval}, "P1M", event.Interval(int64(365.25/12*86400*1e6), "P0Y1M0DT0H0M0S"), false},
		{colType{dec: decInterval}, "PT-0.000001S", event.Interval(-1, "P0Y0M0DT0H0M-0.000001S"), false},
		{colType{dec: decInterval}, "1 day", event.Null, true},
		{colType{dec: decMoney}, "-$92,233,720,368,547,758.08", event.Decimal("-92233720368547758.08"), false},
		{colType{dec: decNumeric}, "1e5", event.Null, true},
		{colType{dec: decBytea}, `\x0`, event.Null, true},
		{colType{dec: decBytea}, `\xzz`, event.Null, true},
		{colType{dec: decBool}, "yes", event.Null, true},
		{colType{dec: decArray, elem: &colType{dec: decInt}, delim: ','}, "[2:3]={7,8}", event.Array([]event.Value{event.Int(7), event.Int(8)}), false},
		{colType{dec: decArray, elem: &colType{dec: decInt}, delim: ','}, "{}", event.Array([]event.Value{}), false},
		{colType{dec: decArray, elem: &colType{dec: decInt}, delim: ','}, "{1,,2}", event.Null, true},
		{colType{dec: decArray, elem: &colType{dec: decInt}, delim: ','}, "{1,2", event.Null, true},
		{colType{dec: decArray, elem: &colType{dec: decString}, delim: ';'}, `{(1,1),(0,0);"a;b"}`, event.Array([]event.Value{event.String("(1,1),(0,0)"), event.String("a;b")}), false},
	} {
		got, err := decodeText(&tc.ct, tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error, got %#v", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: got %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitCopyLine(t *testing.T) {
	f := make([]copyField, 3)
	want := []copyField{{s: "1\tx\\N"}, {s: "abAA\\"}, {null: true}}
	if err := splitCopyLine(`1\tx\\N`+"\t"+`ab\x41\101\\`+"\t"+`\N`, f); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if f[i] != w {
			t.Errorf("field %d = %+v, want %+v", i, f[i], w)
		}
	}
	if err := splitCopyLine("a\tb", f); err == nil {
		t.Error("too few fields accepted")
	}
}

// BenchmarkCopyDecode measures the snapshot hot path per row: split one
// COPY line and decode its fields.
func BenchmarkCopyDecode(b *testing.B) {
	line := "123456\tcustomer name number 123456\tuser123456@example.com\t234.56\t2024-01-02 10:17:36+00\tt\t456\t" +
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn123456"
	types := []*colType{{dec: decInt}, {dec: decString}, {dec: decString}, {dec: decNumeric},
		{dec: decTimestampTZ}, {dec: decBool}, {dec: decInt}, {dec: decString}}
	fields := make([]copyField, len(types))
	vals := make([]event.Value, len(types))
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	for b.Loop() {
		if err := splitCopyLine(line, fields); err != nil {
			b.Fatal(err)
		}
		for i := range fields {
			v, err := decodeText(types[i], fields[i].s)
			if err != nil {
				b.Fatal(err)
			}
			vals[i] = v
		}
	}
}
