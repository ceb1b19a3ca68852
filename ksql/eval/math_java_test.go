package eval

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/eval/internal/jvmtest"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// TestMathMatchesJava compares the DOUBLE math functions, called as SQL
// calls through Compile, with ksqlDB 0.28's UDFs run by Java 17 (Math.*,
// which those UDFs call). The special values (NaN, infinities, signed
// zeros) and the functions Java defines exactly (SQRT: correctly rounded;
// DEGREES, RADIANS: one multiplication by a constant; POWER's special
// cases) must match bit for bit. The other functions may differ by one
// ulp: Java's Math allows that itself (HotSpot's intrinsics and StrictMath
// disagree), so no implementation matches "Java" exactly; except SIN, COS,
// TAN, COT, ACOS and POWER, which are Go's and further off (package doc).
func TestMathMatchesJava(t *testing.T) {
	unary := []string{"ACOS", "ASIN", "ATAN", "COS", "COSH", "COT", "DEGREES", "EXP", "LN", "RADIANS", "SIN", "SINH", "SQRT", "TAN", "TANH"}
	special := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 2, math.Pi, math.Pi / 2, -math.Pi, 1e-300, -1e-300,
		5e-324, 1e300, -1e300, math.MaxFloat64, 709.78, 710, -745.2, -746, 22, 1e9, 1e16, 1e22, 45, 90, 180, 360, 1e308,
		math.NaN(), math.Inf(1), math.Inf(-1)}
	r := newRand(11)
	vals := append([]float64{}, special...)
	for i := 0; i < 400; i++ {
		vals = append(vals, (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(12)-4)), math.Float64frombits(r.Uint64()))
	}
	type q struct {
		fn   string
		x, y float64
	}
	var qs []q
	for _, fn := range unary {
		for _, x := range vals {
			qs = append(qs, q{fn, x, 0})
		}
	}
	pairs := append([]float64{}, special...)
	for i := 0; i < 60; i++ {
		pairs = append(pairs, (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(6)-2)), float64(r.IntN(21)-10))
	}
	for _, x := range pairs {
		for _, y := range pairs {
			qs = append(qs, q{"POWER", x, y}, q{"ATAN2", x, y})
		}
	}
	questions := make([]string, len(qs))
	for i, c := range qs {
		questions[i] = fmt.Sprintf("MATH\t%s\t%x\t%x", c.fn, math.Float64bits(c.x), math.Float64bits(c.y))
	}
	answers := jvmtest.Ask(t, questions)
	evs := map[string]func(x, y float64) float64{}
	for _, fn := range append(unary, "POWER", "ATAN2") {
		args := []ir.Expr{col(0, tDbl)}
		if fn == "POWER" || fn == "ATAN2" {
			args = append(args, col(1, tDbl))
		}
		e := call(fn, args...)
		ev, err := Compile(e)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		evs[fn] = func(x, y float64) float64 {
			v, err := ev.Eval([]event.Value{event.Float(x), event.Float(y)})
			if err != nil || v.Kind != event.KindFloat {
				t.Fatalf("%s(%v, %v): %v, %v", fn, x, y, v.Text(), err)
			}
			return v.AsFloat()
		}
	}
	// ulps is how far each function may be from Java; see the package
	// doc ("Math") for why these are not all 0.
	ulps := map[string]int64{"DEGREES": 0, "RADIANS": 0, "SQRT": 0, "ACOS": 16, "COS": 512, "COT": 512, "POWER": 512, "SIN": 512, "TAN": 512}
	bad, worst := map[string]int{}, map[string]int64{}
	for i, c := range qs {
		if !answers[i].OK {
			t.Fatalf("Java failed on %s", questions[i])
		}
		bits, err := strconv.ParseUint(answers[i].Result, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		want, got := math.Float64frombits(bits), evs[c.fn](c.x, c.y)
		allowed, ok := ulps[c.fn]
		if !ok {
			allowed = 1
		}
		if c.fn == "POWER" && powSpecial(c.x, c.y) {
			allowed = 0
		}
		d := ulpDistance(got, want)
		worst[c.fn] = max(worst[c.fn], d)
		if d <= allowed {
			continue
		}
		if bad[c.fn]++; bad[c.fn] <= 5 {
			t.Errorf("%s(%v, %v): Java %v (%x), sluice %v (%x), %d ulps apart (%d allowed)", c.fn, c.x, c.y, want, bits, got, math.Float64bits(got), d, allowed)
		}
	}
	t.Logf("%d calls compared with Java; the most ulps apart per function: %v", len(qs), worst)
}

// ulpDistance is how many doubles lie between got and want, plus one:
// 0 for the same double (NaN = NaN), math.MaxInt64 when one is NaN, an
// infinity or a zero and the other is not the same, or the signs differ.
func ulpDistance(got, want float64) int64 {
	if math.IsNaN(want) || math.IsNaN(got) {
		if math.IsNaN(want) && math.IsNaN(got) {
			return 0
		}
		return math.MaxInt64
	}
	if math.Float64bits(got) == math.Float64bits(want) {
		return 0
	}
	if math.IsInf(got, 0) || math.IsInf(want, 0) || got == 0 || want == 0 || math.Signbit(got) != math.Signbit(want) {
		return math.MaxInt64
	}
	d := int64(math.Float64bits(got)) - int64(math.Float64bits(want))
	if d < 0 {
		d = -d
	}
	return d
}

// powSpecial: a POWER call Java's Math.pow defines exactly (a special
// case of its spec, or an integer power that is exact in a double).
func powSpecial(x, y float64) bool {
	return math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) || x == 0 || y == 0 || x == 1 || x == -1 || y == 1
}
