package eval

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// dec is an exact decimal: unscaled × 10^-scale, as Java's BigDecimal with a
// scale ≥ 0. Values whose unscaled part fits an int64 stay in small, so the
// common cases (prices, amounts) do not touch math/big.
type dec struct {
	small int64
	big   *big.Int // non-nil: the unscaled value (small is unused)
	scale int32
}

// maxDecDigits bounds the digits of a parsed decimal, so a hostile value
// cannot make one expression allocate without limit.
const maxDecDigits = 1000

var (
	errDecSyntax    = errors.New("not a decimal number")
	errDecTooLong   = fmt.Errorf("decimal has more than %d digits", maxDecDigits)
	errDivideByZero = errors.New("division by zero")
	errRounding     = errors.New("rounding necessary")
)

var bigTen = big.NewInt(10)

// pow10 holds 10^0 … 10^18.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return
}()

func (d dec) bigInt() *big.Int {
	if d.big != nil {
		return d.big
	}
	return big.NewInt(d.small)
}

func decFromBig(u *big.Int, scale int32) dec {
	if u.IsInt64() {
		return dec{small: u.Int64(), scale: scale}
	}
	return dec{big: u, scale: scale}
}

func decFromInt(i int64) dec { return dec{small: i} }

func (d dec) sign() int {
	if d.big != nil {
		return d.big.Sign()
	}
	switch {
	case d.small > 0:
		return 1
	case d.small < 0:
		return -1
	}
	return 0
}

// parseDec parses decimal text as Java's new BigDecimal(String) does:
// optional sign, digits with an optional point (".5", "5." too), optional
// exponent. A negative resulting scale is normalised to 0.
func parseDec(s string) (dec, error) {
	if len(s) == 0 {
		return dec{}, errDecSyntax
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var u uint64
	var b *big.Int
	digits, scale := 0, 0
	sawDigit, sawPoint := false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if sawPoint {
				return dec{}, errDecSyntax
			}
			sawPoint = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		sawDigit = true
		if sawPoint {
			scale++
		}
		if digits > 0 || c != '0' {
			digits++
		}
		if digits > maxDecDigits {
			return dec{}, errDecTooLong
		}
		if b == nil && u <= (math.MaxInt64-9)/10 {
			u = u*10 + uint64(c-'0')
			continue
		}
		if b == nil {
			b = new(big.Int).SetUint64(u)
		}
		b.Mul(b, bigTen)
		b.Add(b, big.NewInt(int64(c-'0')))
	}
	if !sawDigit {
		return dec{}, errDecSyntax
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return dec{}, errDecSyntax
		}
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || strings.HasPrefix(s[i+1:], "+-") || e > maxDecDigits || e < -maxDecDigits {
			return dec{}, errDecSyntax
		}
		exp = e
	}
	scale -= exp
	var d dec
	if b != nil {
		if neg {
			b.Neg(b)
		}
		d = dec{big: b}
	} else {
		v := int64(u)
		if neg {
			v = -v
		}
		d = dec{small: v}
	}
	if scale < 0 {
		return d.upscale(int32(-scale))
	}
	if scale > maxDecDigits {
		return dec{}, errDecTooLong
	}
	d.scale = int32(scale)
	return d, nil
}

// upscale multiplies the unscaled value by 10^k (the value changes; callers
// use it to align or to normalise a negative scale).
func (d dec) upscale(k int32) (dec, error) {
	if k == 0 {
		return d, nil
	}
	if d.digits()+int(k) > maxDecDigits+maxDecDigits {
		return dec{}, errDecTooLong
	}
	if d.big == nil && k < 19 {
		p := pow10[k]
		if hi := d.small * p; d.small == 0 || (hi/p == d.small && (d.small > 0) == (hi > 0)) {
			return dec{small: hi, scale: d.scale}, nil
		}
	}
	u := new(big.Int).Mul(d.bigInt(), new(big.Int).Exp(bigTen, big.NewInt(int64(k)), nil))
	return decFromBig(u, d.scale), nil
}

// withScale returns d with scale s, exactly (s ≥ d.scale).
func (d dec) withScale(s int32) (dec, error) {
	if s < d.scale {
		panic("withScale: smaller scale")
	}
	n, err := d.upscale(s - d.scale)
	n.scale = s
	return n, err
}

// digits is the number of decimal digits of the unscaled value (1 for 0).
func (d dec) digits() int {
	if d.big == nil {
		v := d.small
		if v == math.MinInt64 {
			return 19
		}
		if v < 0 {
			v = -v
		}
		n := 1
		for v >= 10 {
			v /= 10
			n++
		}
		return n
	}
	return len(new(big.Int).Abs(d.big).String())
}

// precision is Java's BigDecimal.precision(): the digits of the unscaled value.
func (d dec) precision() int { return d.digits() }

// intDigits is how many digits the value has before the point (0 for |d| < 1).
func (d dec) intDigits() int {
	if d.sign() == 0 {
		return 0
	}
	n := d.digits() - int(d.scale)
	if n < 0 {
		return 0
	}
	return n
}

func align(a, b dec) (dec, dec, error) {
	var err error
	switch {
	case a.scale < b.scale:
		a, err = a.withScale(b.scale)
	case b.scale < a.scale:
		b, err = b.withScale(a.scale)
	}
	return a, b, err
}

func decAdd(a, b dec) (dec, error) {
	a, b, err := align(a, b)
	if err != nil {
		return dec{}, err
	}
	if a.big == nil && b.big == nil {
		s := a.small + b.small
		if (s > a.small) == (b.small > 0) {
			return dec{small: s, scale: a.scale}, nil
		}
	}
	return decFromBig(new(big.Int).Add(a.bigInt(), b.bigInt()), a.scale), nil
}

func decNeg(a dec) dec {
	if a.big == nil && a.small != math.MinInt64 {
		return dec{small: -a.small, scale: a.scale}
	}
	return decFromBig(new(big.Int).Neg(a.bigInt()), a.scale)
}

func decSub(a, b dec) (dec, error) { return decAdd(a, decNeg(b)) }

func decMul(a, b dec) (dec, error) {
	scale := a.scale + b.scale
	if scale > 2*maxDecDigits {
		return dec{}, errDecTooLong
	}
	if a.big == nil && b.big == nil {
		if a.small == 0 || b.small == 0 {
			return dec{scale: scale}, nil
		}
		p := a.small * b.small
		if p/b.small == a.small && !(a.small == -1 && b.small == math.MinInt64) && !(b.small == -1 && a.small == math.MinInt64) {
			return dec{small: p, scale: scale}, nil
		}
	}
	return decFromBig(new(big.Int).Mul(a.bigInt(), b.bigInt()), scale), nil
}

// decCmp compares a and b exactly.
func decCmp(a, b dec) int {
	if a.scale == b.scale && a.big == nil && b.big == nil {
		switch {
		case a.small < b.small:
			return -1
		case a.small > b.small:
			return 1
		}
		return 0
	}
	if sa, sb := a.sign(), b.sign(); sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	a, b, err := align(a, b)
	if err != nil { // beyond maxDecDigits: compare as big rationals
		ra := new(big.Rat).SetFrac(a.bigInt(), new(big.Int).Exp(bigTen, big.NewInt(int64(a.scale)), nil))
		rb := new(big.Rat).SetFrac(b.bigInt(), new(big.Int).Exp(bigTen, big.NewInt(int64(b.scale)), nil))
		return ra.Cmp(rb)
	}
	return a.bigInt().Cmp(b.bigInt())
}

// roundMode is how rescale drops digits.
type roundMode uint8

const (
	halfUp      roundMode = iota // Java's RoundingMode.HALF_UP: ties away from zero
	halfDown                     // Java's RoundingMode.HALF_DOWN: ties toward zero
	down                         // toward zero (Java's intValue/longValue truncation)
	floorMode                    // toward -infinity
	ceilingMode                  // toward +infinity
	unnecessary                  // dropping a non-zero digit is an error
)

// rescale returns d with scale s, rounding by mode when s < d.scale.
func (d dec) rescale(s int32, mode roundMode) (dec, error) {
	if s >= d.scale {
		return d.withScale(s)
	}
	k := d.scale - s
	var q, r *big.Int
	if d.big == nil && k < 19 {
		p := pow10[k]
		qs, rs := d.small/p, d.small%p
		if rs == 0 {
			return dec{small: qs, scale: s}, nil
		}
		adj, err := roundAdjust(mode, d.small < 0, cmpHalf(rs, p))
		if err != nil {
			return dec{}, err
		}
		return dec{small: qs + adj, scale: s}, nil
	}
	q, r = new(big.Int).QuoRem(d.bigInt(), new(big.Int).Exp(bigTen, big.NewInt(int64(k)), nil), new(big.Int))
	if r.Sign() == 0 {
		return decFromBig(q, s), nil
	}
	half := new(big.Int).Exp(bigTen, big.NewInt(int64(k)), nil)
	r2 := new(big.Int).Abs(r)
	r2.Lsh(r2, 1)
	adj, err := roundAdjust(mode, d.sign() < 0, r2.Cmp(half))
	if err != nil {
		return dec{}, err
	}
	return decFromBig(q.Add(q, big.NewInt(adj)), s), nil
}

// cmpHalf compares |r| with p/2 (r is a non-zero remainder of a division by p).
func cmpHalf(r, p int64) int {
	if r < 0 {
		r = -r
	}
	switch {
	case 2*r < p:
		return -1
	case 2*r > p:
		return 1
	}
	return 0
}

// roundAdjust is what to add to a truncated quotient (of sign neg) whose
// dropped remainder compares with one half as half says.
func roundAdjust(mode roundMode, neg bool, half int) (int64, error) {
	away := int64(1)
	if neg {
		away = -1
	}
	switch mode {
	case halfUp:
		if half >= 0 {
			return away, nil
		}
		return 0, nil
	case halfDown:
		if half > 0 {
			return away, nil
		}
		return 0, nil
	case down:
		return 0, nil
	case floorMode:
		if neg {
			return -1, nil
		}
		return 0, nil
	case ceilingMode:
		if neg {
			return 0, nil
		}
		return 1, nil
	}
	return 0, errRounding
}

// decQuo divides a by b and rounds the quotient half up to scale.
func decQuo(a, b dec, scale int32) (dec, error) {
	if b.sign() == 0 {
		return dec{}, errDivideByZero
	}
	// a/b at scale is (ua·10^(scale+sb-sa)) / ub, unscaled.
	k := int64(scale) + int64(b.scale) - int64(a.scale)
	num, den := a.bigInt(), b.bigInt()
	if k >= 0 {
		num = new(big.Int).Mul(num, new(big.Int).Exp(bigTen, big.NewInt(k), nil))
	} else {
		den = new(big.Int).Mul(den, new(big.Int).Exp(bigTen, big.NewInt(-k), nil))
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		r2 := r.Abs(r)
		r2.Lsh(r2, 1)
		if r2.CmpAbs(den) >= 0 {
			if (num.Sign() < 0) != (den.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return decFromBig(q, scale), nil
}

// decRem is Java's BigDecimal.remainder: a - trunc(a/b)·b, with the sign of a.
func decRem(a, b dec) (dec, error) {
	if b.sign() == 0 {
		return dec{}, errDivideByZero
	}
	a, b, err := align(a, b)
	if err != nil {
		return dec{}, err
	}
	if a.big == nil && b.big == nil && !(a.small == math.MinInt64 && b.small == -1) {
		return dec{small: a.small % b.small, scale: a.scale}, nil
	}
	return decFromBig(new(big.Int).Rem(a.bigInt(), b.bigInt()), a.scale), nil
}

// String is Java's BigDecimal.toPlainString.
func (d dec) String() string {
	var digits string
	neg := false
	if d.big == nil {
		if d.small < 0 {
			neg = true
			digits = strconv.FormatUint(uint64(-(d.small+1))+1, 10)
		} else {
			digits = strconv.FormatInt(d.small, 10)
		}
	} else {
		neg = d.big.Sign() < 0
		digits = new(big.Int).Abs(d.big).String()
	}
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	sc := int(d.scale)
	if sc == 0 {
		sb.WriteString(digits)
		return sb.String()
	}
	if len(digits) <= sc {
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", sc-len(digits)))
		sb.WriteString(digits)
		return sb.String()
	}
	sb.WriteString(digits[:len(digits)-sc])
	sb.WriteByte('.')
	sb.WriteString(digits[len(digits)-sc:])
	return sb.String()
}

// javaString is Java's BigDecimal.toString: plain unless the scale is
// negative or the adjusted exponent is below -6, then scientific notation.
func (d dec) javaString() string {
	adjusted := d.digits() - 1 - int(d.scale)
	if adjusted >= -6 {
		return d.String()
	}
	u := new(big.Int).Abs(d.bigInt()).String()
	var sb strings.Builder
	if d.sign() < 0 {
		sb.WriteByte('-')
	}
	sb.WriteByte(u[0])
	if len(u) > 1 {
		sb.WriteByte('.')
		sb.WriteString(u[1:])
	}
	sb.WriteString("E")
	sb.WriteString(strconv.Itoa(adjusted))
	return sb.String()
}

// float is the nearest double (Java's BigDecimal.doubleValue).
func (d dec) float() float64 {
	if d.big == nil && d.scale == 0 && d.small > -1<<53 && d.small < 1<<53 {
		return float64(d.small)
	}
	if d.big == nil && d.scale < 19 && d.small > -1<<53 && d.small < 1<<53 && d.scale < 23 {
		// Both exact in a double: the quotient is correctly rounded.
		return float64(d.small) / float64(pow10[d.scale])
	}
	f, _ := strconv.ParseFloat(d.javaString(), 64)
	return f
}

// decFromFloatExact is Java's new BigDecimal(double, new
// MathContext(precision)): the double's exact binary value rounded half up
// to precision significant digits.
func decFromFloatExact(f float64, precision int) (dec, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dec{}, fmt.Errorf("%s is not a decimal number", javaDouble(f))
	}
	exact := new(big.Float).SetFloat64(f).Text('f', 1100)
	d, err := parseDecExact(exact)
	if err != nil {
		return dec{}, err
	}
	if drop := d.digits() - precision; drop > 0 && d.sign() != 0 {
		r, err := d.rescale(d.scale-int32(drop), halfUp)
		if err != nil {
			return dec{}, err
		}
		if r.scale < 0 { // rounded left of the point: back to scale 0
			s := r.scale
			r.scale = 0
			if r, err = r.upscale(-s); err != nil {
				return dec{}, err
			}
		}
		d = r
	}
	return d, nil
}

// parseDecExact parses a long plain decimal (the exact expansion of a
// double), trimming trailing zeros of the fraction first.
func parseDecExact(s string) (dec, error) {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
		s = s[:i] + s[i+1:]
	}
	u, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return dec{}, errDecSyntax
	}
	if neg {
		u.Neg(u)
	}
	return decFromBig(u, int32(scale)), nil
}

// decFromJavaDouble is Java's BigDecimal.valueOf(double): the decimal whose
// text is Double.toString(f).
func decFromJavaDouble(f float64) (dec, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dec{}, fmt.Errorf("%s is not a decimal number", javaDouble(f))
	}
	return parseDec(javaDouble(f))
}

// fits reports whether d fits DECIMAL(p, s) after rescaling to s, and
// returns the rescaled value; overflow is an error naming the type.
func (d dec) fit(p, s int, mode roundMode) (dec, error) {
	r, err := d.rescale(int32(s), mode)
	if err != nil {
		if err == errRounding {
			return dec{}, fmt.Errorf("cannot fit decimal %s into DECIMAL(%d, %d) without rounding", d, p, s)
		}
		return dec{}, err
	}
	if r.intDigits() > p-s {
		return dec{}, fmt.Errorf("numeric overflow: %s does not fit DECIMAL(%d, %d), which holds absolute values below 10^%d", d, p, s, p-s)
	}
	return r, nil
}
