package eval

import (
	"fmt"
	"math"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/types"
)

func float1(f func(float64) float64) callFn {
	return func(a []event.Value) (event.Value, error) { return event.Float(f(a[0].AsFloat())), nil }
}

func sameType(params []types.Type) (types.Type, error) { return params[0], nil }

func decimalArg(a event.Value) (dec, error) {
	d, err := parseDec(a.Str)
	if err != nil {
		return dec{}, fmt.Errorf("decimal %q: %w", a.Str, err)
	}
	return d, nil
}

// decResult fits d into DECIMAL(p, s) of t.
func decResult(d dec, t types.Type) (event.Value, error) {
	r, err := d.fit(t.Precision, t.Scale, halfUp)
	if err != nil {
		return event.Null, err
	}
	return event.Decimal(r.String()), nil
}

func mathFuncs() map[string][]*overload {
	trig := func(f func(float64) float64) []*overload { return []*overload{over("DOUBLE -> DOUBLE").fn(float1(f))} }
	return map[string][]*overload{
		"ABS": {
			over("INTEGER -> INTEGER").fn(intAbs(math.MinInt32, "INTEGER")),
			over("BIGINT -> BIGINT").fn(intAbs(math.MinInt64, "BIGINT")),
			over("DOUBLE -> DOUBLE").fn(float1(math.Abs)),
			over("DECIMAL -> ?DECIMAL(p, s)").retType(sameType).with(decimalUnary(func(d dec) (dec, error) {
				if d.sign() < 0 {
					return decNeg(d), nil
				}
				return d, nil
			})),
		},
		"CEIL":  roundingOverloads(math.Ceil, ceilingMode),
		"FLOOR": roundingOverloads(math.Floor, floorMode),
		"ROUND": {
			over("INTEGER -> BIGINT").fn(func(a []event.Value) (event.Value, error) { return a[0], nil }),
			over("BIGINT -> BIGINT").fn(func(a []event.Value) (event.Value, error) { return a[0], nil }),
			over("DOUBLE -> BIGINT").fn(roundDouble),
			over("DOUBLE, INTEGER -> DOUBLE").fn(roundDoublePlaces),
			over("DECIMAL -> ?DECIMAL(p - s, 0)").retType(func(p []types.Type) (types.Type, error) {
				return types.DecimalOf(max(1, p[0].Precision-p[0].Scale), 0), nil
			}).with(roundDecimal),
			over("DECIMAL, INTEGER -> ?DECIMAL(p, s)").retType(sameType).with(roundDecimal),
		},
		"SIGN": {
			over("BIGINT -> INTEGER").fn(func(a []event.Value) (event.Value, error) {
				return event.Int(int64(cmpInt(a[0].AsInt(), 0))), nil
			}),
			over("DOUBLE -> INTEGER").fn(func(a []event.Value) (event.Value, error) {
				f := a[0].AsFloat()
				if math.IsNaN(f) {
					return event.Int(0), nil // (int) Math.signum(NaN) is 0
				}
				return event.Int(int64(cmpFloat(f, 0))), nil
			}),
		},
		"SQRT": trig(math.Sqrt),
		"EXP":  trig(javaExp),
		"LN":   trig(javaLog),
		"POWER": {over("DOUBLE, DOUBLE -> DOUBLE").fn(func(a []event.Value) (event.Value, error) {
			return event.Float(javaPow(a[0].AsFloat(), a[1].AsFloat())), nil
		})},
		"ACOS":    trig(math.Acos),
		"ASIN":    trig(math.Asin),
		"ATAN":    trig(math.Atan),
		"COS":     trig(math.Cos),
		"COSH":    trig(javaCosh),
		"COT":     trig(func(x float64) float64 { return 1 / math.Tan(x) }),
		"SIN":     trig(math.Sin),
		"SINH":    trig(javaSinh),
		"TAN":     trig(math.Tan),
		"TANH":    trig(math.Tanh),
		"DEGREES": trig(javaDegrees),
		"RADIANS": trig(javaRadians),
		"ATAN2": {over("DOUBLE, DOUBLE -> DOUBLE").fn(func(a []event.Value) (event.Value, error) {
			return event.Float(javaAtan2(a[0].AsFloat(), a[1].AsFloat())), nil
		})},
		"PI":       {over(" -> DOUBLE").fn(func([]event.Value) (event.Value, error) { return event.Float(math.Pi), nil })},
		"GREATEST": {over("T, T... -> T").nulls().with(extreme(1))},
		"LEAST":    {over("T, T... -> T").nulls().with(extreme(-1))},
	}
}

func intAbs(minV int64, name string) callFn {
	return func(a []event.Value) (event.Value, error) {
		i := a[0].AsInt()
		if i == minV || i == math.MinInt64 {
			return event.Null, fmt.Errorf("%s overflow: ABS(%d) is out of range", name, i)
		}
		if i < 0 {
			i = -i
		}
		return event.Int(i), nil
	}
}

func decimalUnary(f func(dec) (dec, error)) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		t := c.ret
		return func(a []event.Value) (event.Value, error) {
			d, err := decimalArg(a[0])
			if err == nil {
				d, err = f(d)
			}
			if err != nil {
				return event.Null, err
			}
			return decResult(d, t)
		}, nil
	}
}

// roundingOverloads are CEIL and FLOOR: integers as they are, DOUBLE by
// f, DECIMAL to a whole number keeping the type's scale.
func roundingOverloads(f func(float64) float64, mode roundMode) []*overload {
	same := func(a []event.Value) (event.Value, error) { return a[0], nil }
	return []*overload{
		over("INTEGER -> INTEGER").fn(same),
		over("BIGINT -> BIGINT").fn(same),
		over("DOUBLE -> DOUBLE").fn(float1(f)),
		over("DECIMAL -> ?DECIMAL(p, s)").retType(sameType).with(decimalUnary(func(d dec) (dec, error) {
			return d.rescale(0, mode)
		})),
	}
}

// roundDouble is Java's Math.round: the closest long, ties toward
// positive infinity; NaN and values beyond BIGINT are errors (Java gives 0
// or saturates).
func roundDouble(a []event.Value) (event.Value, error) {
	f := a[0].AsFloat()
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	if math.IsNaN(r) || r < -9.223372036854775808e18 || r >= 9.223372036854775808e18 {
		return event.Null, fmt.Errorf("ROUND(%s) is not a BIGINT", javaDouble(f))
	}
	return event.Int(int64(r)), nil
}

// roundHalfUpSigned rounds to places as ksqlDB: half up for positive
// values, half down for negative ones (ties toward positive infinity).
func roundHalfUpSigned(d dec, places int64) (dec, error) {
	if places > maxDecDigits || places < -maxDecDigits {
		return dec{}, fmt.Errorf("ROUND to %d places is out of range", places)
	}
	mode := halfUp
	if d.sign() < 0 {
		mode = halfDown
	}
	r, err := d.rescale(int32(places), mode)
	if err != nil {
		return dec{}, err
	}
	if r.scale < 0 {
		s := r.scale
		r.scale = 0
		return r.upscale(-s)
	}
	return r, nil
}

func roundDoublePlaces(a []event.Value) (event.Value, error) {
	f := a[0].AsFloat()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return event.Null, fmt.Errorf("ROUND(%s, %d): not a finite number", javaDouble(f), a[1].AsInt())
	}
	d, err := decFromJavaDouble(f)
	if err == nil {
		d, err = roundHalfUpSigned(d, a[1].AsInt())
	}
	if err != nil {
		return event.Null, err
	}
	return event.Float(d.float()), nil
}

func roundDecimal(c *callSite) (callFn, error) {
	t := c.ret
	return func(a []event.Value) (event.Value, error) {
		d, err := decimalArg(a[0])
		if err != nil {
			return event.Null, err
		}
		places := int64(0)
		if len(a) > 1 {
			places = a[1].AsInt()
		}
		r, err := roundHalfUpSigned(d, places)
		if err != nil {
			return event.Null, err
		}
		return decResult(r, t)
	}, nil
}

// extreme is GREATEST (dir 1) or LEAST (-1): NULLs are skipped, NULL when
// all are NULL. DOUBLEs order as Java's Double.compareTo (NaN greatest).
func extreme(dir int) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		t := c.params[0]
		var cmp comparator
		switch {
		case t.Base == types.Double:
			cmp = func(a, b event.Value) (int, error) { return javaDoubleCompare(a.AsFloat(), b.AsFloat()), nil }
		case t.IsNumeric() || isTemporal(t) || t.Base == types.String || t.Base == types.Bytes:
			var err error
			if cmp, _, err = compareFunc(t, t); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s does not take %s values", c.name, t)
		}
		return func(a []event.Value) (event.Value, error) {
			best := event.Null
			for _, v := range a {
				if v.Kind == event.KindNull {
					continue
				}
				if best.Kind == event.KindNull {
					best = v
					continue
				}
				r, err := cmp(v, best)
				if err != nil {
					return event.Null, err
				}
				if r == dir {
					best = v
				}
			}
			return best, nil
		}, nil
	}
}

// javaDoubleCompare is Double.compareTo: -0.0 < 0.0, NaN above everything
// and equal to itself.
func javaDoubleCompare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	ab, bb := int64(math.Float64bits(a)), int64(math.Float64bits(b))
	if math.IsNaN(a) {
		ab = 0x7ff8000000000000
	}
	if math.IsNaN(b) {
		bb = 0x7ff8000000000000
	}
	return cmpInt(ab, bb)
}
