package sqlsink_test

import (
	"math"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// copyField is what the COPY path sent before AppendPGCopy: PGText's
// string, escaped for COPY's text format, or \N.
func copyField(c *event.Column, v event.Value) (string, error) {
	s, null, err := sqlsink.PGText(c, v)
	if err != nil {
		return "", err
	}
	if null {
		return `\N`, nil
	}
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return r.Replace(s), nil
}

// TestAppendPGCopyMatchesPGText checks that the COPY encoder writes exactly
// the bytes PGText and COPY escaping give, and the same errors, for every
// type case and for edge values (infinities, BC dates, 24:00, NaN, text
// with every character COPY escapes, NUL bytes, unchanged TOAST values).
func TestAppendPGCopyMatchesPGText(t *testing.T) {
	type tc struct {
		col event.Column
		val event.Value
	}
	var cases []tc
	for _, c := range sqltest.TypeCases {
		cases = append(cases, tc{c.Col, c.Val}, tc{c.Col, event.Null}, tc{c.Col, event.Unchanged})
	}
	col := func(typ event.Type) event.Column { return event.Column{Name: "c", Type: typ} }
	for _, d := range []int64{0, 1, -1, 19000, -719162, -719163, -800000, 2932896, math.MaxInt32, math.MinInt32} {
		cases = append(cases, tc{col(event.TypeDate), event.Int(d)})
	}
	for _, us := range []int64{0, 1, 10, 120, 59_999_999, 86_400_000_000, 45296789012, 3_600_000_000 * 100, -1} {
		cases = append(cases, tc{col(event.TypeTime), event.Int(us)})
	}
	for _, us := range []int64{0, 1, -1, 1700000000000001, -62135596800000000, -62135596800000001, -65000000000000000, math.MaxInt64, math.MinInt64} {
		cases = append(cases, tc{col(event.TypeTimestamp), event.Int(us)}, tc{col(event.TypeTimestampTZ), event.Int(us)})
	}
	for _, f := range []float64{0, -0.0, 1.5, 0.1, 1e300, 3.4028234663852886e38, math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64} {
		cases = append(cases, tc{col(event.TypeFloat32), event.Float(f)}, tc{col(event.TypeFloat64), event.Float(f)})
	}
	for _, s := range []string{"", "plain", "a\\b", "\t\n\r\\", "x\ty\nz\r\\\\", "é\t", "nul\x00byte"} {
		for _, typ := range []event.Type{event.TypeString, event.TypeJSON, event.TypeDecimal, event.TypeBytes, event.TypeUnknown, event.TypeInterval, event.TypeTimeTZ} {
			cases = append(cases, tc{col(typ), event.String(s)}, tc{col(typ), event.Bytes([]byte(s))})
		}
	}
	cases = append(cases,
		tc{col(event.TypeInterval), event.Interval(-5, "")},
		tc{col(event.TypeInterval), event.Interval(7, "P1D")},
		tc{col(event.TypeBool), event.Bool(false)},
		tc{col(event.TypeString), event.Int(42)},
		tc{col(event.TypeString), event.Bool(true)},
		tc{col(event.TypeString), event.Float(2.5)},
		tc{col(event.TypeDate), event.String("2020-01-01")},
		tc{event.Column{Name: "a", Type: event.TypeArray, Elem: &event.Column{Type: event.TypeString}},
			event.Array([]event.Value{event.String("t\tab"), event.String(`q"\`), event.Null, event.Array([]event.Value{event.String("n\nl")})})},
		tc{event.Column{Name: "a", Type: event.TypeArray, Elem: &event.Column{Type: event.TypeString}},
			event.Array([]event.Value{event.String("nul\x00")})},
		tc{event.Column{Name: "a", Type: event.TypeArray}, event.Array([]event.Value{event.String("no elem column")})},
	)
	for _, c := range cases {
		want, wantErr := copyField(&c.col, c.val)
		got, err := sqlsink.AppendPGCopy([]byte("prefix|"), &c.col, c.val)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%v %+v: error %v, want %v", c.col.Type, c.val, err, wantErr)
			continue
		}
		if err == nil && string(got) != "prefix|"+want {
			t.Errorf("%v %+v: got %q, want %q", c.col.Type, c.val, got, "prefix|"+want)
		}
	}
}
