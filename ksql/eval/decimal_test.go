package eval

import (
	"math/big"
	mrand "math/rand"
	"math/rand/v2"
	"testing"
)

func randDec(r *rand.Rand) dec {
	var d dec
	switch r.IntN(4) {
	case 0: // small
		d = decFromInt(r.Int64N(2000) - 1000)
	case 1: // int64-sized
		d = decFromInt(int64(r.Uint64()))
	default: // big
		u := new(big.Int).Rand(r2(r), new(big.Int).Exp(bigTen, big.NewInt(int64(r.IntN(40)+1)), nil))
		if r.IntN(2) == 0 {
			u.Neg(u)
		}
		d = decFromBig(u, 0)
	}
	d.scale = int32(r.IntN(25))
	return d
}

// r2 is a math/rand (v1) generator seeded from r, for big.Int.Rand.
func r2(r *rand.Rand) *mrand.Rand { return mrand.New(mrand.NewSource(int64(r.Uint64()))) }

func (d dec) rat() *big.Rat {
	return new(big.Rat).SetFrac(d.bigInt(), new(big.Int).Exp(bigTen, big.NewInt(int64(d.scale)), nil))
}

// TestDecimalAgainstBig checks the exact operations against math/big.
func TestDecimalAgainstBig(t *testing.T) {
	r := newRand(42)
	for i := 0; i < 20000; i++ {
		a, b := randDec(r), randDec(r)
		ra, rb := a.rat(), b.rat()
		// parse(String) is the identity.
		if p, err := parseDec(a.String()); err != nil || p.rat().Cmp(ra) != 0 || p.scale != a.scale {
			t.Fatalf("parseDec(%s) = %v, %v", a, p, err)
		}
		sum, _ := decAdd(a, b)
		if sum.rat().Cmp(new(big.Rat).Add(ra, rb)) != 0 || sum.scale != max(a.scale, b.scale) {
			t.Fatalf("%s + %s = %s", a, b, sum)
		}
		diff, _ := decSub(a, b)
		if diff.rat().Cmp(new(big.Rat).Sub(ra, rb)) != 0 {
			t.Fatalf("%s - %s = %s", a, b, diff)
		}
		prod, _ := decMul(a, b)
		if prod.rat().Cmp(new(big.Rat).Mul(ra, rb)) != 0 || prod.scale != a.scale+b.scale {
			t.Fatalf("%s * %s = %s", a, b, prod)
		}
		if got, want := decCmp(a, b), ra.Cmp(rb); got != want {
			t.Fatalf("cmp(%s, %s) = %d, want %d", a, b, got, want)
		}
		if b.sign() == 0 {
			continue
		}
		// Quotient: the exact one rounded half up (away from zero) at scale.
		scale := int32(r.IntN(20))
		q, err := decQuo(a, b, scale)
		if err != nil {
			t.Fatal(err)
		}
		if want := roundRat(new(big.Rat).Quo(ra, rb), scale); q.rat().Cmp(want) != 0 || q.scale != scale {
			t.Fatalf("%s / %s at %d = %s, want %s", a, b, scale, q, want.FloatString(int(scale)))
		}
		// Remainder: a - trunc(a/b)·b.
		rem, _ := decRem(a, b)
		tq := new(big.Int).Quo(new(big.Int).Mul(ra.Num(), rb.Denom()), new(big.Int).Mul(ra.Denom(), rb.Num()))
		wantRem := new(big.Rat).Sub(ra, new(big.Rat).Mul(new(big.Rat).SetInt(tq), rb))
		if rem.rat().Cmp(wantRem) != 0 {
			t.Fatalf("%s %% %s = %s, want %s", a, b, rem, wantRem.RatString())
		}
		// Rescaling half up.
		s := int32(r.IntN(25))
		rs, _ := a.rescale(s, halfUp)
		if rs.rat().Cmp(roundRat(ra, s)) != 0 {
			t.Fatalf("%s rescaled to %d = %s", a, s, rs)
		}
	}
}

// roundRat rounds x half away from zero to scale digits.
func roundRat(x *big.Rat, scale int32) *big.Rat {
	p := new(big.Int).Exp(bigTen, big.NewInt(int64(scale)), nil)
	y := new(big.Rat).Mul(x, new(big.Rat).SetInt(p))
	num, den := new(big.Int).Abs(y.Num()), y.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Lsh(m, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if y.Sign() < 0 {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, p)
}

func TestParseDecSyntax(t *testing.T) {
	for s, want := range map[string]string{
		"1": "1", "-1.50": "-1.50", "+.5": "0.5", "5.": "5", "1e3": "1000", "1.5E-3": "0.0015", "-0": "0", "00012.30": "12.30",
	} {
		d, err := parseDec(s)
		if err != nil || d.String() != want {
			t.Errorf("parseDec(%q) = %s, %v; want %s", s, d, err, want)
		}
	}
	for _, s := range []string{"", "-", ".", "1.2.3", "1e", "1e+-3", "abc", "1 ", "NaN", "0x10", "1e99999"} {
		if _, err := parseDec(s); err == nil {
			t.Errorf("parseDec(%q) succeeded", s)
		}
	}
}
