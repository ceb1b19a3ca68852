package expr

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Decimal is an exact decimal number: what an expression sees for a
// decimal, numeric or money column. It never goes through float64: + - *
// and % are exact, comparisons are exact, and / rounds half away from zero
// to at least DivisionDigits significant digits. A Decimal keeps its scale
// through arithmetic as SQL does (10.50 * 2 is 21.00; addition takes the
// larger scale, multiplication the sum of scales). NaN and ±Infinity
// (PostgreSQL numeric) compare as PostgreSQL orders them: -Infinity < every
// number < Infinity < NaN, and NaN equals NaN.
type Decimal struct {
	d  decimal.Decimal
	sp special
}

type special int8

const (
	finite special = iota
	nan
	posInf
	negInf
)

// DivisionDigits is the least number of significant digits a decimal
// division keeps (PostgreSQL's NUMERIC_MIN_SIG_DIGITS); the quotient also
// keeps at least the scale of either operand.
const DivisionDigits = 16

// maxScale bounds the scale of a quotient (PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE).
const maxScale = 1000

// maxDigits bounds the digits of a parsed decimal, so that a hostile value
// cannot make one expression allocate without limit (PostgreSQL numeric
// holds at most 131072 digits before the point and 16383 after).
const maxDigits = 150000

var errDivZero = errors.New("division by zero")

// ParseDecimal parses decimal text: digits with an optional sign, point and
// exponent ("-12.3400", "1e3"), or NaN, Infinity, -Infinity (any case; inf
// too).
func ParseDecimal(s string) (Decimal, error) {
	if d, ok := parseSmall(s); ok {
		return Decimal{d: d}, nil
	}
	switch strings.ToLower(s) {
	case "nan":
		return Decimal{sp: nan}, nil
	case "infinity", "+infinity", "inf", "+inf":
		return Decimal{sp: posInf}, nil
	case "-infinity", "-inf":
		return Decimal{sp: negInf}, nil
	}
	if len(s) > maxDigits {
		return Decimal{}, fmt.Errorf("decimal text of %d characters is too long", len(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Decimal{}, fmt.Errorf("not a decimal number")
	}
	if e := d.Exponent(); e > maxDigits || e < -maxDigits {
		return Decimal{}, fmt.Errorf("decimal exponent %d is out of range", e)
	}
	return Decimal{d: d}, nil
}

// parseSmall parses the common case without the general parser's string
// work: an optional sign, at most 18 digits and an optional point.
func parseSmall(s string) (decimal.Decimal, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, i = s[0] == '-', 1
	}
	var coef int64
	digits, exp, point := 0, int32(0), false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 18 {
				return decimal.Decimal{}, false
			}
			coef = coef*10 + int64(c-'0')
			digits++
			if point {
				exp--
			}
		case c == '.' && !point:
			point = true
		default:
			return decimal.Decimal{}, false
		}
	}
	if digits == 0 {
		return decimal.Decimal{}, false
	}
	if neg {
		coef = -coef
	}
	return decimal.New(coef, exp), true
}

// DecimalFromInt returns i as a Decimal of scale 0.
func DecimalFromInt(i int64) Decimal { return Decimal{d: decimal.New(i, 0)} }

// DecimalFromFloat returns f at its shortest decimal text (0.1 → 0.1, not
// 0.1000000000000000055511151231257827), so a float literal in an
// expression means the number it spells; NaN and ±Inf map to their decimal
// counterparts.
func DecimalFromFloat(f float64) Decimal {
	switch {
	case math.IsNaN(f):
		return Decimal{sp: nan}
	case math.IsInf(f, 1):
		return Decimal{sp: posInf}
	case math.IsInf(f, -1):
		return Decimal{sp: negInf}
	}
	d, err := decimal.NewFromString(strconv.FormatFloat(f, 'g', -1, 64))
	if err != nil {
		panic(err) // FormatFloat's output always parses
	}
	return Decimal{d: d}
}

// String returns the decimal's text with its scale: "21.00", "-0.5",
// "1000", "NaN", "Infinity", "-Infinity".
func (x Decimal) String() string {
	switch x.sp {
	case nan:
		return "NaN"
	case posInf:
		return "Infinity"
	case negInf:
		return "-Infinity"
	}
	if e := x.d.Exponent(); e < 0 {
		return x.d.StringFixed(-e)
	}
	return x.d.String()
}

// MarshalJSON writes the number as a JSON number (NaN and the infinities,
// which JSON lacks, as strings).
func (x Decimal) MarshalJSON() ([]byte, error) {
	if x.sp != finite {
		return []byte(`"` + x.String() + `"`), nil
	}
	return []byte(x.String()), nil
}

// WithScale returns x with scale digits after the point when that adds
// only zeros (an exact change of representation; comparing two decimals of
// the same scale is cheaper); otherwise x.
func (x Decimal) WithScale(scale int) Decimal {
	if x.sp != finite || scale <= x.Scale() || scale > maxScale {
		return x
	}
	d, err := decimal.NewFromString(x.d.StringFixed(int32(scale)))
	if err != nil {
		return x
	}
	return Decimal{d: d}
}

// Scale is the number of digits after the point (0 for the specials).
func (x Decimal) Scale() int {
	if x.sp != finite || x.d.Exponent() >= 0 {
		return 0
	}
	return int(-x.d.Exponent())
}

// IsFinite reports whether x is neither NaN nor infinite.
func (x Decimal) IsFinite() bool { return x.sp == finite }

// Float64 is the nearest float64.
func (x Decimal) Float64() float64 {
	switch x.sp {
	case nan:
		return math.NaN()
	case posInf:
		return math.Inf(1)
	case negInf:
		return math.Inf(-1)
	}
	f, _ := x.d.Float64()
	return f
}

// intDigits is the number of digits before the point (0 for |x| < 1).
func (x Decimal) intDigits() int {
	c := x.d.Coefficient()
	n := len(c.Text(10))
	if c.Sign() < 0 {
		n--
	}
	n += int(x.d.Exponent())
	if c.Sign() == 0 || n < 0 {
		return 0
	}
	return n
}

// Cmp returns -1, 0 or +1 as x is less than, equal to or greater than y.
func (x Decimal) Cmp(y Decimal) int {
	if x.sp != finite || y.sp != finite {
		rx, ry := rank(x), rank(y)
		switch {
		case rx < ry:
			return -1
		case rx > ry:
			return 1
		}
		return 0
	}
	return x.d.Cmp(y.d)
}

// rank orders the specials around the finite numbers (which rank 1 and are
// compared by value when both are finite).
func rank(x Decimal) int {
	switch x.sp {
	case negInf:
		return 0
	case posInf:
		return 2
	case nan:
		return 3
	}
	return 1
}

// Neg returns -x.
func (x Decimal) Neg() Decimal {
	switch x.sp {
	case posInf:
		return Decimal{sp: negInf}
	case negInf:
		return Decimal{sp: posInf}
	case nan:
		return x
	}
	return Decimal{d: x.d.Neg()}
}

// Abs returns |x|.
func (x Decimal) Abs() Decimal {
	if x.sp == negInf {
		return Decimal{sp: posInf}
	}
	if x.sp != finite {
		return x
	}
	return Decimal{d: x.d.Abs()}
}

// Add returns x + y at the larger scale.
func (x Decimal) Add(y Decimal) Decimal {
	if x.sp != finite || y.sp != finite {
		return viaFloat(x.Float64() + y.Float64())
	}
	return Decimal{d: x.d.Add(y.d)}
}

// Sub returns x - y at the larger scale.
func (x Decimal) Sub(y Decimal) Decimal {
	if x.sp != finite || y.sp != finite {
		return viaFloat(x.Float64() - y.Float64())
	}
	return Decimal{d: x.d.Sub(y.d)}
}

// Mul returns x * y at the sum of the scales.
func (x Decimal) Mul(y Decimal) Decimal {
	if x.sp != finite || y.sp != finite {
		return viaFloat(x.Float64() * y.Float64())
	}
	return Decimal{d: x.d.Mul(y.d)}
}

// Div returns x / y rounded half away from zero to at least DivisionDigits
// significant digits and at least the scale of x and y (PostgreSQL's rule,
// counted in decimal digits); y = 0 is an error.
func (x Decimal) Div(y Decimal) (Decimal, error) {
	if x.sp == nan || y.sp == nan {
		return Decimal{sp: nan}, nil
	}
	if y.sp == finite && y.d.IsZero() {
		return Decimal{}, errDivZero
	}
	if x.sp != finite || y.sp != finite {
		return viaFloat(x.Float64() / y.Float64()), nil // ±Inf, or x/±Inf = 0
	}
	// The quotient's leading digit sits at weight(x) - weight(y) or one
	// below; keep DivisionDigits digits from there.
	places := DivisionDigits - (weight(x.d) - weight(y.d))
	places = max(places, x.Scale(), y.Scale(), 0)
	places = min(places, maxScale)
	return Decimal{d: x.d.DivRound(y.d, int32(places))}, nil
}

// weight is the power of ten of d's leading digit (0 for 1..9, -1 for 0.1..0.9).
func weight(d decimal.Decimal) int {
	c := d.Coefficient()
	if c.Sign() == 0 {
		return 0
	}
	return len(new(big.Int).Abs(c).Text(10)) - 1 + int(d.Exponent())
}

// Mod returns the remainder of x / y truncated toward zero, with the sign
// of x (as PostgreSQL's %); y = 0 is an error.
func (x Decimal) Mod(y Decimal) (Decimal, error) {
	if x.sp == nan || y.sp == nan {
		return Decimal{sp: nan}, nil
	}
	if y.sp == finite && y.d.IsZero() {
		return Decimal{}, errDivZero
	}
	if x.sp != finite || y.sp != finite {
		if x.sp == finite {
			return x, nil // x % ±Infinity is x
		}
		return Decimal{sp: nan}, nil
	}
	return Decimal{d: x.d.Mod(y.d)}, nil
}

// Round rounds x half away from zero to places digits after the point
// (negative places round to tens, hundreds, ...).
func (x Decimal) Round(places int) Decimal {
	if x.sp != finite {
		return x
	}
	return Decimal{d: x.d.Round(int32(places))}
}

// Floor returns the greatest integer ≤ x.
func (x Decimal) Floor() Decimal {
	if x.sp != finite {
		return x
	}
	return Decimal{d: x.d.Floor()}
}

// Ceil returns the least integer ≥ x.
func (x Decimal) Ceil() Decimal {
	if x.sp != finite {
		return x
	}
	return Decimal{d: x.d.Ceil()}
}

// Int returns x truncated toward zero, or an error when it is not finite or
// does not fit an int64.
func (x Decimal) Int() (int64, error) {
	if x.sp != finite {
		return 0, fmt.Errorf("%s has no integer value", x.String())
	}
	b := x.d.Truncate(0).BigInt()
	if !b.IsInt64() {
		return 0, errors.New("decimal is out of the int64 range")
	}
	return b.Int64(), nil
}

// viaFloat maps back the float64 result of an operation with NaN or an
// infinity as an operand: such a result is NaN, an infinity, or (a finite
// number divided by an infinity) zero, so no digit can be lost.
func viaFloat(f float64) Decimal {
	if f == 0 {
		return Decimal{d: decimal.Zero}
	}
	return DecimalFromFloat(f)
}
