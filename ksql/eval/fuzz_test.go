package eval

import (
	"encoding/binary"
	"math"
	"sort"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// byteSource turns fuzz input into choices; exhausted, it gives zeros.
type byteSource struct{ b []byte }

func (s *byteSource) n(k int) int {
	if k <= 1 {
		return 0
	}
	if len(s.b) == 0 {
		return 0
	}
	v := int(s.b[0])
	if k > 256 && len(s.b) > 1 {
		v = int(binary.LittleEndian.Uint16(s.b))
		s.b = s.b[2:]
		return v % k
	}
	s.b = s.b[1:]
	return v % k
}

func (s *byteSource) u64() uint64 {
	var x [8]byte
	n := copy(x[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(x[:])
}

var fuzzScalars = []types.Type{tBool, tInt, tBig, tDbl, types.DecimalOf(10, 2), types.DecimalOf(5, 0), tStr, types.TBytes,
	types.TDate, types.TTime, types.TTimestamp}

func (s *byteSource) typ(depth int) types.Type {
	k := s.n(len(fuzzScalars) + 3)
	if k < len(fuzzScalars) || depth > 2 {
		return fuzzScalars[k%len(fuzzScalars)]
	}
	switch k - len(fuzzScalars) {
	case 0:
		return types.ArrayOf(s.typ(depth + 1))
	case 1:
		return types.MapOf(tStr, s.typ(depth+1))
	}
	return types.StructOf(types.Field{Name: "A", Type: s.typ(depth + 1)}, types.Field{Name: "B", Type: s.typ(depth + 1)})
}

var fuzzStrings = []string{"", "a", "abc", "2020-04-03T11:20:00", "10:30", "1.5", "-7", "true", "yyyy-MM-dd", "%a_", "{\"a\": [1, 2]}",
	"$.a[1]", "DAYS", "UTC", "😀é", "(a|b)+", "Europe/Paris", "\x00\xff", "NaN", "1e400"}

// value is a random value of t (sometimes NULL, sometimes of a wrong kind).
func (s *byteSource) value(t types.Type, depth int) event.Value {
	switch s.n(16) {
	case 0:
		return event.Null
	case 1: // a wrong kind, which must give an error, not a panic
		return s.value(fuzzScalars[s.n(len(fuzzScalars))], depth+1)
	}
	switch t.Base {
	case types.Boolean:
		return event.Bool(s.n(2) == 1)
	case types.Integer:
		return event.Int(int64(int32(s.u64())))
	case types.Bigint, types.Date, types.Time, types.Timestamp:
		if s.n(3) == 0 {
			return event.Int([]int64{math.MinInt64, math.MaxInt64, -1, 0, 1, math.MinInt32, math.MaxInt32}[s.n(7)])
		}
		if s.n(2) == 0 {
			return event.Int(int64(s.n(2000)) - 1000)
		}
		return event.Int(int64(s.u64()))
	case types.Double:
		return event.Float(math.Float64frombits(s.u64()))
	case types.Decimal:
		return event.Decimal([]string{"0", "1.50", "-99999999.99", "12345", "1e3", "x"}[s.n(6)])
	case types.String, types.Bytes:
		return event.Value{Kind: kindOf(t), Str: fuzzStrings[s.n(len(fuzzStrings))]}
	case types.Array, types.Map, types.Struct:
		if depth > 3 {
			return event.Null
		}
		n := s.n(4)
		if t.Base == types.Struct {
			n = len(t.Fields)
		}
		es := make([]event.Value, 0, n*2)
		for i := 0; i < n; i++ {
			switch t.Base {
			case types.Array:
				es = append(es, s.value(*t.Elem, depth+1))
			case types.Map:
				es = append(es, event.String(fuzzStrings[s.n(len(fuzzStrings))]), s.value(*t.Elem, depth+1))
			default:
				es = append(es, s.value(t.Fields[i].Type, depth+1))
			}
		}
		return event.Array(es)
	}
	return event.Null
}

var fuzzFuncNames = func() []string {
	var ns []string
	for n := range scalars {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}()

// patType is a concrete type for a pattern, binding type variables.
func (s *byteSource) patType(p *tpat, b *bindings) types.Type {
	switch {
	case p.any:
		return s.typ(1)
	case p.tvar != 0:
		i := tvarIndex(p.tvar)
		if b[i] == nil {
			t := s.typ(1)
			b[i] = &t
		}
		return *b[i]
	case p.base == types.Array:
		return types.ArrayOf(s.patType(p.elem, b))
	case p.base == types.Map:
		return types.MapOf(s.patType(p.key, b), s.patType(p.elem, b))
	case p.base == types.Decimal:
		return types.DecimalOf(10, 2)
	case p.base == types.Struct:
		return types.StructOf(types.Field{Name: "A", Type: tInt})
	}
	return types.Type{Base: p.base}
}

// expr is a random expression of type t over columns of types cols.
func (s *byteSource) expr(t types.Type, cols []types.Type, depth int) ir.Expr {
	if depth > 4 {
		return s.leaf(t, cols)
	}
	switch s.n(12) {
	case 0, 1:
		return s.leaf(t, cols)
	case 2:
		if t.Base == types.Boolean {
			ops := []ir.BinOp{ir.Eq, ir.Ne, ir.Lt, ir.Le, ir.Gt, ir.Ge}
			x := s.typ(2)
			return cmp(ops[s.n(len(ops))], s.expr(x, cols, depth+1), s.expr(x, cols, depth+1))
		}
	case 3:
		if t.Base == types.Boolean {
			op := []ir.BinOp{ir.And, ir.Or}[s.n(2)]
			return bin(op, s.expr(tBool, cols, depth+1), s.expr(tBool, cols, depth+1), tBool)
		}
		if t.IsNumeric() {
			ops := []ir.BinOp{ir.Add, ir.Sub, ir.Mul, ir.Div, ir.Mod}
			return bin(ops[s.n(len(ops))], s.expr(t, cols, depth+1), s.expr(t, cols, depth+1), t)
		}
	case 4:
		switch t.Base {
		case types.Boolean:
			x := s.typ(2)
			switch s.n(5) {
			case 0:
				return &ir.Not{X: s.expr(tBool, cols, depth+1)}
			case 1:
				return &ir.IsNull{X: s.expr(x, cols, depth+1), Negate: s.n(2) == 1}
			case 2:
				return &ir.Like{X: s.expr(tStr, cols, depth+1), Pattern: s.expr(tStr, cols, depth+1), Escape: []rune{0, '\\', '%'}[s.n(3)]}
			case 3:
				return &ir.In{X: s.expr(x, cols, depth+1), List: []ir.Expr{s.expr(x, cols, depth+1), s.expr(x, cols, depth+1)}}
			default:
				return &ir.Between{X: s.expr(x, cols, depth+1), Lo: s.expr(x, cols, depth+1), Hi: s.expr(x, cols, depth+1)}
			}
		case types.String, types.Bytes:
			return bin(ir.Concat, s.expr(t, cols, depth+1), s.expr(t, cols, depth+1), t)
		}
		if t.IsNumeric() {
			return &ir.Neg{X: s.expr(t, cols, depth+1), T: t}
		}
	case 5:
		return &ir.Cast{X: s.expr(s.typ(1), cols, depth+1), T: t}
	case 6:
		c := &ir.Case{T: t, Else: s.expr(t, cols, depth+1)}
		if s.n(2) == 0 {
			x := s.typ(2)
			c.Operand = s.expr(x, cols, depth+1)
			c.Whens = []ir.When{{Cond: s.expr(x, cols, depth+1), Then: s.expr(t, cols, depth+1)}}
		} else {
			c.Whens = []ir.When{{Cond: s.expr(tBool, cols, depth+1), Then: s.expr(t, cols, depth+1)}}
		}
		return c
	case 7:
		if s.n(2) == 0 {
			return &ir.Subscript{X: s.expr(types.ArrayOf(t), cols, depth+1), Index: s.expr(tInt, cols, depth+1), T: t}
		}
		return &ir.Subscript{X: s.expr(types.MapOf(tStr, t), cols, depth+1), Index: s.expr(tStr, cols, depth+1), T: t}
	case 8:
		st := types.StructOf(types.Field{Name: "A", Type: t}, types.Field{Name: "B", Type: tInt})
		return &ir.FieldOf{X: s.expr(st, cols, depth+1), Field: 0, T: t}
	}
	// A function call; any result type, cast to t if it differs.
	name := fuzzFuncNames[s.n(len(fuzzFuncNames))]
	ov := scalars[name].overloads[s.n(len(scalars[name].overloads))]
	var b bindings
	var args []ir.Expr
	n := len(ov.params) + s.n(2)*boolInt(ov.variadic)
	for i := 0; i < n; i++ {
		p := ov.params[min(i, len(ov.params)-1)]
		args = append(args, s.expr(s.patType(p, &b), cols, depth+1))
	}
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	rt, err := ResolveScalar(name, ts)
	if err != nil {
		return s.leaf(t, cols)
	}
	var e ir.Expr = &ir.Call{Func: name, Args: args, T: rt}
	if !rt.Equal(t) {
		e = &ir.Cast{X: e, T: t}
	}
	return e
}

func (s *byteSource) leaf(t types.Type, cols []types.Type) ir.Expr {
	if s.n(2) == 0 {
		for i, c := range cols {
			if c.Equal(t) && s.n(2) == 0 {
				return col(i, t)
			}
		}
	}
	v := s.value(t, 0)
	if checkValue(v, t) != nil {
		v = event.Null
	}
	return lit(v, t)
}

// FuzzEval compiles random expressions over random rows: compiling and
// evaluating never panic, and a value without an error has the kind of
// the expression's type.
func FuzzEval(f *testing.F) {
	f.Add([]byte("seed"))
	f.Add([]byte{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
	f.Add([]byte{9, 9, 9, 9, 1, 2, 3, 200, 100, 50, 25, 12, 6, 3})
	for i := 0; i < 30; i++ {
		b := make([]byte, 64)
		r := newRand(uint64(i))
		for j := range b {
			b[j] = byte(r.Uint64())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &byteSource{b: data}
		cols := make([]types.Type, 1+s.n(6))
		for i := range cols {
			cols[i] = s.typ(0)
		}
		t0 := s.typ(0)
		e := s.expr(t0, cols, 0)
		ev, err := Compile(e)
		if err != nil {
			return
		}
		for r := 0; r < 3; r++ {
			row := make([]event.Value, len(cols))
			for i, c := range cols {
				row[i] = s.value(c, 0)
			}
			v, err := ev.Eval(row)
			if err != nil {
				continue
			}
			if cerr := checkValue(v, t0); cerr != nil && t0.Base != types.Struct && t0.Base != types.Map {
				t.Fatalf("%T of type %s gave %s: %v", e, t0, v.Text(), cerr)
			}
		}
	})
}

// FuzzAggregates: random accumulators never panic any aggregate.
func FuzzAggregates(f *testing.F) {
	f.Add([]byte{accV1, 2, tagInt, 4, tagNull})
	f.Add([]byte{accV1, tagString, 3, 'a', 'b', 'c'})
	f.Add([]byte{accV1, 1, 7, tagArray, 200})
	f.Fuzz(func(t *testing.T, acc []byte) {
		for _, fn := range []string{"COUNT", "SUM", "AVG", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "COLLECT_LIST", "COLLECT_SET"} {
			for _, typ := range []types.Type{tInt, types.DecimalOf(6, 2), tStr} {
				ret, err := ResolveAggregate(fn, []types.Type{typ}, nil)
				if err != nil {
					continue
				}
				a, err := CompileAggregate(ir.AggCall{Func: fn, Args: []ir.Expr{col(0, typ)}, T: ret})
				if err != nil {
					t.Fatal(err)
				}
				_, _ = a.Result(acc)
				_, _ = a.Add(acc, []event.Value{event.Int(1)}, 1)
				_, _, _ = a.Undo(acc, []event.Value{event.Int(1)})
				_, _ = a.(ir.Merger).Merge(acc, a.Init())
			}
		}
	})
}
