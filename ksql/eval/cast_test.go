package eval

import (
	"math"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

func cast(x ir.Expr, t types.Type) *ir.Cast { return &ir.Cast{X: x, T: t} }

func TestCasts(t *testing.T) {
	ts, date, tm := types.TTimestamp, types.TDate, types.TTime
	d52 := types.DecimalOf(5, 2)
	runCases(t, []exprCase{
		{name: "int→string", e: cast(iLit(-12), tStr), want: str("-12")},
		{name: "bool→string", e: cast(tLit(true), tStr), want: str("true")},
		{name: "double→string", e: cast(fLit(1.0), tStr), want: str("1.0")},
		{name: "double→string sci", e: cast(fLit(1e7), tStr), want: str("1.0E7")},
		{name: "double→string small", e: cast(fLit(0.0001), tStr), want: str("1.0E-4")},
		{name: "double→string NaN", e: cast(fLit(math.NaN()), tStr), want: str("NaN")},
		{name: "decimal→string", e: cast(dLit("1.50"), tStr), want: str("1.50")},
		{name: "string→int trims", e: cast(sLit(" 42 "), tInt), want: i64(42)},
		{name: "string→int +", e: cast(sLit("+42"), tInt), want: i64(42)},
		{name: "string→int bad", e: cast(sLit("4x"), tInt), err: `cannot cast STRING "4x" to INTEGER: not an integer`},
		{name: "string→int range", e: cast(sLit("3000000000"), tInt), err: `cannot cast STRING "3000000000" to INTEGER: out of range`},
		{name: "string→bigint", e: cast(sLit("3000000000"), tBig), want: i64(3000000000)},
		{name: "string→double", e: cast(sLit("1e3"), tDbl), want: f64(1000)},
		{name: "string→double suffix", e: cast(sLit("1.5d"), tDbl), want: f64(1.5)},
		{name: "string→double NaN", e: cast(sLit("NaN"), tDbl), err: `cannot cast STRING "NaN" to DOUBLE: not a finite number`},
		{name: "string→double inf word", e: cast(sLit("inf"), tDbl), err: `cannot cast STRING "inf" to DOUBLE: not a finite number`},
		{name: "string→decimal rounds half up", e: cast(sLit("1.005"), d52), want: decv("1.01")},
		{name: "string→decimal exponent", e: cast(sLit("1.5e2"), d52), want: decv("150.00")},
		{name: "string→decimal overflow", e: cast(sLit("1000"), d52),
			err: `cannot cast STRING "1000" to DECIMAL(5, 2): numeric overflow: 1000 does not fit DECIMAL(5, 2), which holds absolute values below 10^3`},
		{name: "string→decimal bad", e: cast(sLit("1,5"), d52), err: `cannot cast STRING "1,5" to DECIMAL(5, 2): not a decimal number`},
		{name: "string→boolean", e: cast(sLit("Y"), tBool), want: vT},
		{name: "string→boolean prefix", e: cast(sLit("fal"), tBool), want: vF},
		{name: "string→boolean bad", e: cast(sLit("maybe"), tBool), err: `cannot cast STRING "maybe" to BOOLEAN: not true, false, yes, no or a prefix of them`},
		{name: "double→int truncates", e: cast(fLit(-2.7), tInt), want: i64(-2)},
		{name: "double→int range", e: cast(fLit(3e9), tInt), err: "cannot cast DOUBLE 3e+09 to INTEGER: out of range"},
		{name: "double→bigint NaN", e: cast(fLit(math.NaN()), tBig), err: "cannot cast DOUBLE NaN to BIGINT: out of range"},
		{name: "bigint→int range", e: cast(bLit(1<<31), tInt), err: "cannot cast BIGINT 2147483648 to INTEGER: out of range"},
		{name: "decimal→int truncates", e: cast(dLit("-9.99"), tInt), want: i64(-9)},
		{name: "decimal→double", e: cast(dLit("0.1"), tDbl), want: f64(0.1)},
		{name: "double→decimal rounds twice as ksqlDB", e: cast(fLit(1.005), d52), want: decv("1.01")},
		{name: "double→decimal exact binary", e: cast(fLit(1.005), types.DecimalOf(20, 2)), want: decv("1.00")},
		{name: "double→decimal", e: cast(fLit(2.5), types.DecimalOf(2, 0)), want: decv("3")},
		{name: "int→decimal", e: cast(iLit(7), d52), want: decv("7.00")},
		{name: "decimal→decimal", e: cast(dLit("1.235"), types.DecimalOf(4, 2)), want: decv("1.24")},
		{name: "decimal rounding overflows", e: cast(dLit("9.995"), types.DecimalOf(3, 2)),
			err: `cannot cast DECIMAL(4, 3) 9.995 to DECIMAL(3, 2): numeric overflow: 9.995 does not fit DECIMAL(3, 2), which holds absolute values below 10^1`},
		{name: "string→timestamp", e: cast(sLit("2020-04-03T11:20:00.5+01:00"), ts), want: i64(1585909200500000)},
		{name: "string→timestamp Z", e: cast(sLit("2020-04-03T11:20Z"), ts), want: i64(1585912800000000)},
		{name: "string→timestamp date", e: cast(sLit("2020-04"), ts), want: i64(1585699200000000)},
		{name: "string→timestamp micros", e: cast(sLit("1970-01-01T00:00:00.000001"), ts), want: i64(1)},
		{name: "timestamp→string", e: cast(lit(i64(1585912800500000), ts), tStr), want: str("2020-04-03T11:20:00.500")},
		{name: "timestamp→string micros", e: cast(lit(i64(1), ts), tStr), want: str("1970-01-01T00:00:00.000001")},
		{name: "timestamp→string before 1970", e: cast(lit(i64(-1000), ts), tStr), want: str("1969-12-31T23:59:59.999")},
		{name: "timestamp→date", e: cast(lit(i64(-1), ts), date), want: i64(-1)},
		{name: "timestamp→time", e: cast(lit(i64(-1), ts), tm), want: i64(86399999999)},
		{name: "date→timestamp", e: cast(lit(i64(2), date), ts), want: i64(172800000000)},
		{name: "date→string", e: cast(lit(i64(18355), date), tStr), want: str("2020-04-03")},
		{name: "date→string year 10000", e: cast(lit(i64(2932897), date), tStr), want: str("+10000-01-01")},
		{name: "string→date", e: cast(sLit("2020"), date), want: i64(18262)},
		{name: "string→date Feb 30", e: cast(sLit("2021-02-30"), date),
			err: `cannot parse "2021-02-30" as a DATE: expected yyyy-MM-dd, for example '2020-05-26' (or a part: '2020-05')`},
		{name: "time→string", e: cast(lit(i64(37800000000), tm), tStr), want: str("10:30")},
		{name: "time→string seconds", e: cast(lit(i64(37805000000), tm), tStr), want: str("10:30:05")},
		{name: "string→time", e: cast(sLit("10:30:05.25"), tm), want: i64(37805250000)},
		{name: "NULL", e: cast(nLit(tStr), tInt), want: vN},
		{name: "array→string", e: cast(lit(arr(i64(1), vN), types.ArrayOf(tInt)), tStr), want: str("[1, null]")},
		{name: "array of decimals", e: cast(lit(arr(decv("0.0000001"), decv("1.50")), types.ArrayOf(types.DecimalOf(8, 7))), tStr), want: str("[1E-7, 1.50]")},
		{name: "map→string", e: cast(lit(arr(str("a"), f64(1)), types.MapOf(tStr, tDbl)), tStr), want: str("{a=1.0}")},
		{name: "struct→string", e: cast(lit(arr(i64(1), vN, str("x")), types.StructOf(
			types.Field{Name: "A", Type: tInt}, types.Field{Name: "B", Type: tInt}, types.Field{Name: "C", Type: tStr})), tStr), want: str("Struct{A=1,C=x}")},
		{name: "array→array", e: cast(lit(arr(str("1"), vN), types.ArrayOf(tStr)), types.ArrayOf(tInt)), want: arr(i64(1), vN)},
		{name: "struct→struct by name", e: cast(lit(arr(i64(1), str("2")), types.StructOf(types.Field{Name: "A", Type: tInt}, types.Field{Name: "B", Type: tStr})),
			types.StructOf(types.Field{Name: "B", Type: tInt}, types.Field{Name: "Z", Type: tStr})), want: arr(i64(2), vN)},
	})
	compileErr(t, "bytes→int", cast(lit(event.Bytes([]byte("x")), types.TBytes), tInt), "cannot cast BYTES to INTEGER")
	compileErr(t, "int→timestamp", cast(iLit(1), ts), "cannot cast INTEGER to TIMESTAMP")
}

// TestCastRoundTrips: a value cast to STRING and back is itself.
func TestCastRoundTrips(t *testing.T) {
	check := func(v event.Value, typ types.Type) {
		t.Helper()
		s, err := Compile(cast(lit(v, typ), tStr))
		if err != nil {
			t.Fatal(err)
		}
		sv, err := s.Eval(nil)
		if err != nil {
			t.Fatalf("%s to STRING: %v", v.Text(), err)
		}
		back, err := Compile(cast(lit(sv, tStr), typ))
		if err != nil {
			t.Fatal(err)
		}
		got, err := back.Eval(nil)
		if err != nil || !got.Equal(v) {
			t.Errorf("%s %s → %q → %s, %v", typ, v.Text(), sv.Str, got.Text(), err)
		}
	}
	r := newRand(1)
	for i := 0; i < 2000; i++ {
		check(event.Int(int64(int32(r.Uint64()))), tInt)
		check(event.Int(int64(r.Uint64())), tBig)
		f := math.Float64frombits(r.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			check(event.Float(f), tDbl)
		}
		check(event.Int(int64(r.Uint64()%(1<<50))-1<<49), types.TTimestamp)
		check(event.Int(int64(r.Uint64()%6000000)-3000000), types.TDate)
		check(event.Int(int64(r.Uint64()%microsPerDay)/microsPerSecond*microsPerSecond), types.TTime) // ksqlDB prints whole seconds
		d := decFromInt(int64(r.Uint64() % 1e12))
		d.scale = int32(r.Uint64() % 12)
		if r.Uint64()%2 == 0 {
			d = decNeg(d)
		}
		check(event.Decimal(d.String()), types.DecimalOf(12, int(d.scale)))
	}
}
