package eval

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// accV1 is the first byte of every accumulator: its layout's version, so
// that a later layout can tell old state from new.
const accV1 byte = 1

func accBody(acc []byte) ([]byte, error) {
	if len(acc) == 0 || acc[0] != accV1 {
		return nil, errCorrupt
	}
	return acc[1:], nil
}

// readUvarint reads a count at the start of b.
func readUvarint(b []byte) (uint64, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, errCorrupt
	}
	return n, b[k:], nil
}

// countAgg is COUNT(*) (every row) and COUNT(x) (rows where x is not
// NULL): a BIGINT, undoable.
type countAgg struct{ star bool }

var (
	_ ir.Aggregator = countAgg{}
	_ ir.Merger     = countAgg{}
)

func countAcc(n uint64) []byte { return binary.AppendUvarint([]byte{accV1}, n) }

func countOf(acc []byte) (uint64, error) {
	b, err := accBody(acc)
	if err != nil {
		return 0, err
	}
	n, rest, err := readUvarint(b)
	if err == nil && len(rest) != 0 {
		err = errCorrupt
	}
	return n, err
}

func (c countAgg) counts(args []event.Value) bool {
	return c.star || len(args) > 0 && args[0].Kind != event.KindNull
}

func (countAgg) Init() []byte { return countAcc(0) }

func (c countAgg) Add(acc []byte, args []event.Value, _ uint64) ([]byte, error) {
	n, err := countOf(acc)
	if err != nil || !c.counts(args) {
		return acc, err
	}
	return countAcc(n + 1), nil
}

func (c countAgg) Undo(acc []byte, args []event.Value) ([]byte, bool, error) {
	n, err := countOf(acc)
	if err != nil || !c.counts(args) {
		return acc, true, err
	}
	if n == 0 {
		return acc, true, fmt.Errorf("COUNT: undoing a row that was not counted")
	}
	return countAcc(n - 1), true, nil
}

func (countAgg) Merge(a, b []byte) ([]byte, error) {
	x, err := countOf(a)
	if err != nil {
		return nil, err
	}
	y, err := countOf(b)
	if err != nil {
		return nil, err
	}
	return countAcc(x + y), nil
}

func (countAgg) Result(acc []byte) (event.Value, error) {
	n, err := countOf(acc)
	if err != nil {
		return event.Null, err
	}
	return event.Int(int64(n)), nil
}

// sumAgg is SUM: of the argument's type, 0 for no rows (ksqlDB), NULLs
// skipped, undoable. Integer overflow and a DECIMAL sum beyond its
// precision are errors (ksqlDB wraps integers around).
type sumAgg struct{ t types.Type }

var (
	_ ir.Aggregator = (*sumAgg)(nil)
	_ ir.Merger     = (*sumAgg)(nil)
)

func (s *sumAgg) zero() event.Value {
	switch s.t.Base {
	case types.Double:
		return event.Float(0)
	case types.Decimal:
		return event.Decimal(dec{scale: int32(s.t.Scale)}.String())
	}
	return event.Int(0)
}

func (s *sumAgg) Init() []byte { return appendValue([]byte{accV1}, s.zero()) }

func (s *sumAgg) value(acc []byte) (event.Value, error) {
	b, err := accBody(acc)
	if err != nil {
		return event.Null, err
	}
	v, rest, err := readValue(b)
	if err == nil && (len(rest) != 0 || v.Kind != kindOf(s.t)) {
		err = errCorrupt
	}
	return v, err
}

// add is sum + sign·v.
func (s *sumAgg) add(sum, v event.Value, sign int64) (event.Value, error) {
	switch s.t.Base {
	case types.Integer, types.Bigint:
		x, y := sum.AsInt(), v.AsInt()
		op := ir.Add
		if sign < 0 {
			op = ir.Sub
		}
		z, ok := intOps[op](x, y)
		if !ok || s.t.Base == types.Integer && (z < math.MinInt32 || z > math.MaxInt32) {
			return event.Null, fmt.Errorf("SUM overflow: %d %s %d does not fit %s", x, opName(op), y, s.t)
		}
		return event.Int(z), nil
	case types.Double:
		return event.Float(sum.AsFloat() + float64(sign)*v.AsFloat()), nil
	}
	x, err := parseDec(sum.Str)
	if err != nil {
		return event.Null, err
	}
	y, err := parseDec(v.Str)
	if err != nil {
		return event.Null, fmt.Errorf("SUM: decimal %q: %w", v.Str, err)
	}
	if sign < 0 {
		y = decNeg(y)
	}
	z, err := decAdd(x, y)
	if err == nil {
		z, err = z.fit(s.t.Precision, s.t.Scale, halfUp)
	}
	if err != nil {
		return event.Null, fmt.Errorf("SUM: %w", err)
	}
	return event.Decimal(z.String()), nil
}

func (s *sumAgg) update(acc []byte, args []event.Value, sign int64) ([]byte, error) {
	sum, err := s.value(acc)
	if err != nil || len(args) == 0 || args[0].Kind == event.KindNull {
		return acc, err
	}
	r, err := s.add(sum, args[0], sign)
	if err != nil {
		return acc, err
	}
	return appendValue([]byte{accV1}, r), nil
}

func (s *sumAgg) Add(acc []byte, args []event.Value, _ uint64) ([]byte, error) {
	return s.update(acc, args, 1)
}

func (s *sumAgg) Undo(acc []byte, args []event.Value) ([]byte, bool, error) {
	out, err := s.update(acc, args, -1)
	return out, true, err
}

func (s *sumAgg) Merge(a, b []byte) ([]byte, error) {
	y, err := s.value(b)
	if err != nil {
		return nil, err
	}
	return s.update(a, []event.Value{y}, 1)
}

func (s *sumAgg) Result(acc []byte) (event.Value, error) { return s.value(acc) }

// avgAgg is AVG: a DOUBLE, 0.0 for no rows (ksqlDB), NULLs skipped,
// undoable. Integers are summed exactly (ksqlDB wraps an INTEGER sum
// around), DOUBLEs and DECIMALs (which ksqlDB casts to DOUBLE) as doubles
// in arrival order.
type avgAgg struct{ in types.Type }

var (
	_ ir.Aggregator = (*avgAgg)(nil)
	_ ir.Merger     = (*avgAgg)(nil)
)

func (a *avgAgg) integer() bool { return isInt(a.in) }

func (a *avgAgg) acc(sum event.Value, n uint64) []byte {
	return binary.AppendUvarint(appendValue([]byte{accV1}, sum), n)
}

func (a *avgAgg) Init() []byte {
	if a.integer() {
		return a.acc(event.Int(0), 0)
	}
	return a.acc(event.Float(0), 0)
}

func (a *avgAgg) state(acc []byte) (event.Value, uint64, error) {
	b, err := accBody(acc)
	if err != nil {
		return event.Null, 0, err
	}
	sum, b, err := readValue(b)
	if err != nil {
		return event.Null, 0, err
	}
	n, rest, err := readUvarint(b)
	if err == nil && len(rest) != 0 {
		err = errCorrupt
	}
	return sum, n, err
}

func (a *avgAgg) update(acc []byte, v event.Value, n uint64, sign int64) ([]byte, error) {
	sum, count, err := a.state(acc)
	if err != nil {
		return acc, err
	}
	if sign < 0 && count < n {
		return acc, fmt.Errorf("AVG: undoing a row that was not added")
	}
	if a.integer() {
		z, ok := intOps[ir.Add](sum.AsInt(), sign*v.AsInt())
		if !ok {
			return acc, fmt.Errorf("AVG overflow: the sum of BIGINTs is out of range")
		}
		sum = event.Int(z)
	} else {
		f := v.AsFloat()
		if a.in.Base == types.Decimal && v.Kind == event.KindDecimal {
			d, err := parseDec(v.Str)
			if err != nil {
				return acc, fmt.Errorf("AVG: decimal %q: %w", v.Str, err)
			}
			f = d.float()
		}
		sum = event.Float(sum.AsFloat() + float64(sign)*f)
	}
	if sign < 0 {
		return a.acc(sum, count-n), nil
	}
	return a.acc(sum, count+n), nil
}

func (a *avgAgg) Add(acc []byte, args []event.Value, _ uint64) ([]byte, error) {
	if len(args) == 0 || args[0].Kind == event.KindNull {
		_, _, err := a.state(acc)
		return acc, err
	}
	return a.update(acc, args[0], 1, 1)
}

func (a *avgAgg) Undo(acc []byte, args []event.Value) ([]byte, bool, error) {
	if len(args) == 0 || args[0].Kind == event.KindNull {
		_, _, err := a.state(acc)
		return acc, true, err
	}
	out, err := a.update(acc, args[0], 1, -1)
	return out, true, err
}

func (a *avgAgg) Merge(x, y []byte) ([]byte, error) {
	sum, n, err := a.state(y)
	if err != nil {
		return nil, err
	}
	return a.update(x, sum, n, 1) // a float sum is KindFloat: no decimal parse
}

func (a *avgAgg) Result(acc []byte) (event.Value, error) {
	sum, n, err := a.state(acc)
	if err != nil || n == 0 {
		return event.Float(0), err
	}
	if a.integer() {
		return event.Float(float64(sum.AsInt()) / float64(n)), nil
	}
	return event.Float(sum.AsFloat() / float64(n)), nil
}

// extremeAgg is MIN (dir -1) and MAX (1): NULL for no rows, NULLs
// skipped, ordered as Java's compareTo (DOUBLE NaN above all, strings by
// UTF-16 code units, BYTES as signed bytes). Not undoable: a MIN over a
// table would need every row (ksqlDB refuses it too).
type extremeAgg struct {
	dir int
	cmp comparator
}

var (
	_ ir.Aggregator = (*extremeAgg)(nil)
	_ ir.Merger     = (*extremeAgg)(nil)
)

func extremeBuild(dir int) func([]types.Type, []*event.Value, types.Type) (ir.Aggregator, error) {
	return func(args []types.Type, _ []*event.Value, _ types.Type) (ir.Aggregator, error) {
		name := "MAX"
		if dir < 0 {
			name = "MIN"
		}
		cmp, err := orderFunc(&callSite{name: name}, args[0])
		if err != nil {
			return nil, err
		}
		return &extremeAgg{dir: dir, cmp: cmp}, nil
	}
}

func (m *extremeAgg) Init() []byte { return []byte{accV1, tagNull} }

func (m *extremeAgg) value(acc []byte) (event.Value, error) {
	b, err := accBody(acc)
	if err != nil {
		return event.Null, err
	}
	v, rest, err := readValue(b)
	if err == nil && len(rest) != 0 {
		err = errCorrupt
	}
	return v, err
}

func (m *extremeAgg) fold(acc []byte, v event.Value) ([]byte, error) {
	cur, err := m.value(acc)
	if err != nil || v.Kind == event.KindNull {
		return acc, err
	}
	if cur.Kind != event.KindNull {
		r, err := m.cmp(v, cur)
		if err != nil {
			return acc, err
		}
		if r != m.dir {
			return acc, nil
		}
	}
	return appendValue([]byte{accV1}, v), nil
}

func (m *extremeAgg) Add(acc []byte, args []event.Value, _ uint64) ([]byte, error) {
	if len(args) == 0 {
		return acc, nil
	}
	return m.fold(acc, args[0])
}

func (m *extremeAgg) Undo(acc []byte, _ []event.Value) ([]byte, bool, error) { return acc, false, nil }

func (m *extremeAgg) Merge(a, b []byte) ([]byte, error) {
	v, err := m.value(b)
	if err != nil {
		return nil, err
	}
	return m.fold(a, v)
}

func (m *extremeAgg) Result(acc []byte) (event.Value, error) { return m.value(acc) }
