package eval

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// conv converts a non-NULL value.
type conv func(event.Value) (event.Value, error)

func compileCast(e *ir.Cast) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	if x.t.Base == types.Unknown || x.t.Equal(e.T) {
		x.t = e.T
		return x, nil
	}
	c, err := castFunc(x.t, e.T)
	if err != nil {
		return node{}, err
	}
	return mapNode(x, e.T, c), nil
}

func castError(v event.Value, from, to types.Type, why string) error {
	text := v.Text()
	if from.Base == types.String {
		text = strconv.Quote(v.Str)
	}
	return fmt.Errorf("cannot cast %s %s to %s: %s", from, text, to, why)
}

// castFunc is CAST(from AS to) for non-NULL values: ksqlDB's supported
// casts, with failures (unparsable text, out-of-range numbers) as errors.
func castFunc(from, to types.Type) (conv, error) {
	if from.Equal(to) || from.Base == types.Unknown {
		return func(v event.Value) (event.Value, error) { return v, nil }, nil
	}
	unsupported := fmt.Errorf("cannot cast %s to %s", from, to)
	switch to.Base {
	case types.String:
		return castToString(from)
	case types.Boolean:
		if from.Base != types.String {
			return nil, unsupported
		}
		return func(v event.Value) (event.Value, error) {
			b, ok := parseSQLBoolean(javaTrim(v.Str))
			if !ok {
				return event.Null, castError(v, from, to, "not true, false, yes, no or a prefix of them")
			}
			return event.Bool(b), nil
		}, nil
	case types.Integer, types.Bigint:
		return castToInt(from, to)
	case types.Double:
		switch from.Base {
		case types.Integer, types.Bigint:
			return func(v event.Value) (event.Value, error) { return event.Float(float64(v.AsInt())), nil }, nil
		case types.Decimal:
			return func(v event.Value) (event.Value, error) {
				d, err := parseDec(v.Str)
				if err != nil {
					return event.Null, castError(v, from, to, err.Error())
				}
				return event.Float(d.float()), nil
			}, nil
		case types.String:
			return func(v event.Value) (event.Value, error) {
				f, ok := parseJavaDouble(javaTrim(v.Str))
				if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
					return event.Null, castError(v, from, to, "not a finite number")
				}
				return event.Float(f), nil
			}, nil
		}
	case types.Decimal:
		return castToDecimal(from, to)
	case types.Timestamp:
		switch from.Base {
		case types.String:
			return func(v event.Value) (event.Value, error) {
				t, err := parseSQLTimestamp(javaTrim(v.Str))
				if err != nil {
					return event.Null, err
				}
				return event.Int(t), nil
			}, nil
		case types.Date:
			return func(v event.Value) (event.Value, error) {
				us, ok := dateMicros(v.AsInt())
				if !ok {
					return event.Null, castError(v, from, to, "out of range")
				}
				return event.Int(us), nil
			}, nil
		}
	case types.Date:
		switch from.Base {
		case types.String:
			return func(v event.Value) (event.Value, error) {
				d, err := parseSQLDate(javaTrim(v.Str))
				if err != nil {
					return event.Null, err
				}
				return event.Int(d), nil
			}, nil
		case types.Timestamp:
			return func(v event.Value) (event.Value, error) {
				return event.Int(civil.FloorDiv(v.AsInt(), microsPerDay)), nil
			}, nil
		}
	case types.Time:
		switch from.Base {
		case types.String:
			return func(v event.Value) (event.Value, error) {
				t, err := parseSQLTime(javaTrim(v.Str))
				if err != nil {
					return event.Null, err
				}
				return event.Int(t), nil
			}, nil
		case types.Timestamp:
			return func(v event.Value) (event.Value, error) { return event.Int(floorMod(v.AsInt(), microsPerDay)), nil }, nil
		}
	case types.Array:
		if from.Base != types.Array {
			return nil, unsupported
		}
		ec, err := castFunc(*from.Elem, *to.Elem)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", unsupported, err)
		}
		return func(v event.Value) (event.Value, error) { return mapElems(v.Elems(), ec, 1) }, nil
	case types.Map:
		if from.Base != types.Map {
			return nil, unsupported
		}
		kc, err := castFunc(*from.Key, *to.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", unsupported, err)
		}
		vc, err := castFunc(*from.Elem, *to.Elem)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", unsupported, err)
		}
		return func(v event.Value) (event.Value, error) {
			in := v.Elems()
			out := make([]event.Value, len(in))
			for i := range in {
				c := vc
				if i%2 == 0 {
					c = kc
				}
				if in[i].Kind == event.KindNull {
					continue
				}
				w, err := c(in[i])
				if err != nil {
					return event.Null, err
				}
				out[i] = w
			}
			return event.Array(out), nil
		}, nil
	case types.Struct:
		return castStruct(from, to)
	}
	return nil, unsupported
}

// mapElems converts every non-NULL element.
func mapElems(in []event.Value, c conv, _ int) (event.Value, error) {
	out := make([]event.Value, len(in))
	for i, e := range in {
		if e.Kind == event.KindNull {
			continue
		}
		w, err := c(e)
		if err != nil {
			return event.Null, err
		}
		out[i] = w
	}
	return event.Array(out), nil
}

// castStruct converts a STRUCT field by field, by name: fields of to that
// from lacks are NULL, fields of from that to lacks are dropped (ksqlDB).
func castStruct(from, to types.Type) (conv, error) {
	if from.Base != types.Struct {
		return nil, fmt.Errorf("cannot cast %s to %s", from, to)
	}
	src := make([]int, len(to.Fields))
	cs := make([]conv, len(to.Fields))
	for i, tf := range to.Fields {
		src[i] = -1
		for j, ff := range from.Fields {
			if ff.Name == tf.Name {
				c, err := castFunc(ff.Type, tf.Type)
				if err != nil {
					return nil, fmt.Errorf("cannot cast %s to %s: field %s: %w", from, to, tf.Name, err)
				}
				src[i], cs[i] = j, c
				break
			}
		}
	}
	return func(v event.Value) (event.Value, error) {
		in := v.Elems()
		out := make([]event.Value, len(src))
		for i, j := range src {
			if j < 0 || j >= len(in) || in[j].Kind == event.KindNull {
				continue
			}
			w, err := cs[i](in[j])
			if err != nil {
				return event.Null, err
			}
			out[i] = w
		}
		return event.Array(out), nil
	}, nil
}

func castToInt(from, to types.Type) (conv, error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if to.Base == types.Integer {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	inRange := func(v event.Value, i int64) (event.Value, error) {
		if i < lo || i > hi {
			return event.Null, castError(v, from, to, "out of range")
		}
		return event.Int(i), nil
	}
	switch from.Base {
	case types.Integer, types.Bigint:
		return func(v event.Value) (event.Value, error) { return inRange(v, v.AsInt()) }, nil
	case types.Double:
		return func(v event.Value) (event.Value, error) {
			f := math.Trunc(v.AsFloat())
			if math.IsNaN(f) || f < -9.223372036854775808e18 || f >= 9.223372036854775808e18 {
				return event.Null, castError(v, from, to, "out of range")
			}
			return inRange(v, int64(f))
		}, nil
	case types.Decimal:
		return func(v event.Value) (event.Value, error) {
			d, err := parseDec(v.Str)
			if err == nil {
				d, err = d.rescale(0, down)
			}
			if err != nil {
				return event.Null, castError(v, from, to, err.Error())
			}
			if d.big != nil {
				return event.Null, castError(v, from, to, "out of range")
			}
			return inRange(v, d.small)
		}, nil
	case types.String:
		return func(v event.Value) (event.Value, error) {
			s := javaTrim(v.Str)
			if !javaIntSyntax(s) {
				return event.Null, castError(v, from, to, "not an integer")
			}
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return event.Null, castError(v, from, to, "out of range")
			}
			return inRange(v, i)
		}, nil
	}
	return nil, fmt.Errorf("cannot cast %s to %s", from, to)
}

// javaIntSyntax is Integer.parseInt's syntax: an optional sign and ASCII
// digits.
func javaIntSyntax(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func castToDecimal(from, to types.Type) (conv, error) {
	p, s := to.Precision, to.Scale
	if p < 1 || s < 0 || s > p {
		return nil, fmt.Errorf("invalid type %s", to)
	}
	out := func(v event.Value, d dec, err error) (event.Value, error) {
		if err == nil {
			d, err = d.fit(p, s, halfUp)
		}
		if err != nil {
			return event.Null, castError(v, from, to, err.Error())
		}
		return event.Decimal(d.String()), nil
	}
	switch from.Base {
	case types.Integer, types.Bigint:
		return func(v event.Value) (event.Value, error) { return out(v, decFromInt(v.AsInt()), nil) }, nil
	case types.Decimal:
		return func(v event.Value) (event.Value, error) {
			d, err := parseDec(v.Str)
			return out(v, d, err)
		}, nil
	case types.Double:
		return func(v event.Value) (event.Value, error) {
			d, err := decFromFloatExact(v.AsFloat(), p)
			return out(v, d, err)
		}, nil
	case types.String:
		return func(v event.Value) (event.Value, error) {
			d, err := parseDec(javaTrim(v.Str))
			return out(v, d, err)
		}, nil
	}
	return nil, fmt.Errorf("cannot cast %s to %s", from, to)
}

// javaTrim is Java's String.trim: it drops characters ≤ ' ' at both ends.
func javaTrim(s string) string {
	i, j := 0, len(s)
	for i < j && s[i] <= ' ' {
		i++
	}
	for j > i && s[j-1] <= ' ' {
		j--
	}
	return s[i:j]
}

// parseSQLBoolean reads true/false as ksqlDB: any case of a non-empty
// prefix of "true", "yes" (TRUE) or "false", "no" (FALSE).
func parseSQLBoolean(s string) (bool, bool) {
	if s == "" {
		return false, false
	}
	l := strings.ToLower(s)
	if strings.HasPrefix("true", l) || strings.HasPrefix("yes", l) {
		return true, true
	}
	if strings.HasPrefix("false", l) || strings.HasPrefix("no", l) {
		return false, true
	}
	return false, false
}

func castToString(from types.Type) (conv, error) {
	switch from.Base {
	case types.Boolean, types.Integer, types.Bigint, types.Double, types.Decimal,
		types.Date, types.Time, types.Timestamp, types.Array, types.Map, types.Struct:
	default:
		return nil, fmt.Errorf("cannot cast %s to STRING", from)
	}
	return func(v event.Value) (event.Value, error) {
		s, err := sqlString(v, from)
		if err != nil {
			return event.Null, err
		}
		return event.String(s), nil
	}, nil
}

// sqlString is a non-NULL value as CAST(… AS STRING) gives it.
func sqlString(v event.Value, t types.Type) (string, error) {
	switch t.Base {
	case types.Boolean:
		return strconv.FormatBool(v.AsBool()), nil
	case types.Integer, types.Bigint:
		return strconv.FormatInt(v.AsInt(), 10), nil
	case types.Double:
		return javaDouble(v.AsFloat()), nil
	case types.Decimal:
		d, err := parseDec(v.Str)
		if err != nil {
			return "", fmt.Errorf("decimal %q: %w", v.Str, err)
		}
		return d.String(), nil
	case types.String:
		return v.Str, nil
	case types.Date:
		return formatSQLDate(v.AsInt()), nil
	case types.Time:
		return formatSQLTime(v.AsInt()), nil
	case types.Timestamp:
		return formatSQLTimestamp(v.AsInt()), nil
	}
	var b strings.Builder
	if err := writeJavaString(&b, v, t); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeJavaString writes v as Java's String.valueOf writes the object
// ksqlDB holds: List as [a, b], Map as {k=v, …} (in sluice's insertion
// order; Java's HashMap order is unspecified), Struct as Struct{A=1,B=x}
// without its NULL fields, decimals as BigDecimal.toString, temporal
// values as java.sql's toString in UTC, bytes in base64.
func writeJavaString(b *strings.Builder, v event.Value, t types.Type) error {
	if v.Kind == event.KindNull {
		b.WriteString("null")
		return nil
	}
	switch t.Base {
	case types.Array:
		b.WriteByte('[')
		for i, e := range v.Elems() {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJavaString(b, e, *t.Elem); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case types.Map:
		b.WriteByte('{')
		es := v.Elems()
		for i := 0; i+1 < len(es); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJavaString(b, es[i], *t.Key); err != nil {
				return err
			}
			b.WriteByte('=')
			if err := writeJavaString(b, es[i+1], *t.Elem); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case types.Struct:
		b.WriteString("Struct{")
		first := true
		for i, e := range v.Elems() {
			if e.Kind == event.KindNull || i >= len(t.Fields) {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(t.Fields[i].Name)
			b.WriteByte('=')
			if err := writeJavaString(b, e, t.Fields[i].Type); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case types.Decimal:
		d, err := parseDec(v.Str)
		if err != nil {
			return fmt.Errorf("decimal %q: %w", v.Str, err)
		}
		b.WriteString(d.javaString())
	case types.Bytes:
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(v.Str)))
	case types.Time:
		s := floorMod(v.AsInt(), microsPerDay) / microsPerSecond
		fmt.Fprintf(b, "%02d:%02d:%02d", s/3600, s/60%60, s%60)
	case types.Timestamp:
		ts := formatSQLTimestamp(v.AsInt())
		i := strings.IndexByte(ts, 'T')
		frac := strings.TrimRight(ts[i+10:], "0")
		if frac == "" {
			frac = "0"
		}
		b.WriteString(ts[:i] + " " + ts[i+1:i+9] + "." + frac)
	default:
		s, err := sqlString(v, t)
		if err != nil {
			return err
		}
		b.WriteString(s)
	}
	return nil
}
