package eval

import "math"

// Java's Math where Go's math gives another result for a reason other
// than last-bit rounding: a different special-case rule (POWER), a
// different formula (DEGREES, RADIANS), a lost sign (ATAN2), or a
// spurious overflow or wrong result at the edge of the range in Go's
// amd64 assembly (EXP, LN, SINH, COSH). TestMathMatchesJava checks them,
// and every other DOUBLE function, against Java itself.

const (
	javaRadToDeg = 57.29577951308232          // Math.toDegrees multiplies by 180 / Math.PI, rounded once
	javaDegToRad = 0.017453292519943295       // Math.toRadians multiplies by Math.PI / 180, rounded once
	ln2Hi        = 6.93147180369123816490e-01 // ln 2 in two parts, the high one with
	ln2Lo        = 1.90821492927058770002e-10 // trailing zero bits, so e·ln2Hi is exact
	minNormal    = 0x1p-1022
)

func javaDegrees(x float64) float64 { return x * javaRadToDeg }
func javaRadians(x float64) float64 { return x * javaDegToRad }

// javaPow is Math.pow: a NaN exponent gives NaN, and so does ±1 to an
// infinite power (Go's Pow gives 1 for both, as C99). Go's Pow takes the
// logarithm of a subnormal base with the wrong Log (see javaLog), so such
// a base is scaled into the normal range first: (x·2^54)^y · 2^(-54y).
func javaPow(x, y float64) float64 {
	if math.IsNaN(y) || math.IsInf(y, 0) && (x == 1 || x == -1) {
		return math.NaN()
	}
	if a := math.Abs(x); a > 0 && a < minNormal && !math.IsInf(y, 0) && y != math.Trunc(y) {
		return math.Pow(x*0x1p54, y) * math.Pow(2, -54*y)
	}
	return math.Pow(x, y)
}

// javaAtan2 is Math.atan2: when y/x underflows to +0 with both negative,
// Go's Atan2 lands on +π; the point is below the axis, so -π.
func javaAtan2(y, x float64) float64 {
	r := math.Atan2(y, x)
	if x < 0 && math.Signbit(y) && r > 0 {
		return -math.Pi
	}
	return r
}

// javaExp is Math.exp: Go's amd64 Exp overflows to +Inf a little before
// the largest finite result (709.78 gives +Inf); Expm1 does not, and at
// that size e^x - 1 is e^x.
func javaExp(x float64) float64 {
	if x > 709 {
		return math.Expm1(x) + 1
	}
	return math.Exp(x)
}

// javaLog is Math.log: Go's amd64 Log is wrong for subnormal numbers
// (Log(4.9E-324) is -709.09, not -744.44); take the exponent out first.
func javaLog(x float64) float64 {
	if x > 0 && x < minNormal {
		f, e := math.Frexp(x)
		return float64(e)*ln2Hi + (math.Log(f) + float64(e)*ln2Lo)
	}
	return math.Log(x)
}

// javaSinh is Math.sinh, from e^|x| - 1 (accurate near zero, where Go's
// Sinh is two ulps off), and through e^(|x|/2) squared where e^|x| alone
// would overflow but sinh does not.
func javaSinh(x float64) float64 {
	a := math.Abs(x)
	h := math.Copysign(0.5, x)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || a < 0x1p-28:
		return x
	case a < 22:
		t := math.Expm1(a)
		if a < 1 {
			return h * (2*t - t*t/(t+1))
		}
		return h * (t + t/(t+1))
	case a < 709:
		return h * math.Exp(a)
	}
	w := javaExp(0.5 * a)
	return h * w * w
}

// javaCosh is Math.cosh, through e^(|x|/2) squared where e^|x| alone
// would overflow but cosh does not.
func javaCosh(x float64) float64 {
	a := math.Abs(x)
	if a > 709 && !math.IsInf(a, 0) {
		w := javaExp(0.5 * a)
		return 0.5 * w * w
	}
	return math.Cosh(x)
}
