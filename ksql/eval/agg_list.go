package eval

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// An offset accumulator is a list of (seq, value) entries ordered by seq:
// accV1, uvarint count, then per entry uvarint seq and the value.

type seqEntry struct {
	seq uint64
	v   event.Value
}

func readEntries(acc []byte) ([]seqEntry, error) {
	b, err := accBody(acc)
	if err != nil {
		return nil, err
	}
	n, b, err := readUvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	es := make([]seqEntry, n)
	for i := range es {
		if es[i].seq, b, err = readUvarint(b); err != nil {
			return nil, err
		}
		if es[i].v, b, err = readValue(b); err != nil {
			return nil, err
		}
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return es, nil
}

func writeEntries(es []seqEntry) []byte {
	b := binary.AppendUvarint([]byte{accV1}, uint64(len(es)))
	for _, e := range es {
		b = binary.AppendUvarint(b, e.seq)
		b = appendValue(b, e.v)
	}
	return b
}

// offsetAgg is LATEST_BY_OFFSET (latest) and EARLIEST_BY_OFFSET: the value
// of the row with the highest (lowest) sequence, or with n > 0 the values
// of the n highest (lowest), oldest first. NULLs are skipped unless
// ignoreNulls is false. Not undoable, as in ksqlDB.
type offsetAgg struct {
	latest      bool
	n           int // 0: a single value
	ignoreNulls bool
}

var (
	_ ir.Aggregator = (*offsetAgg)(nil)
	_ ir.Merger     = (*offsetAgg)(nil)
)

// byOffset declares LATEST_BY_OFFSET / EARLIEST_BY_OFFSET(x[, n][,
// ignoreNulls]); n and ignoreNulls are constants.
func byOffset(name string, latest bool) *aggFunc {
	parse := func(args []types.Type, lits []*event.Value) (n int, ignore bool, err error) {
		ignore = true
		if len(args) < 1 || len(args) > 3 {
			return 0, false, fmt.Errorf("%s takes a value and optionally a count and whether to ignore NULLs", name)
		}
		for i := 1; i < len(args); i++ {
			lit := lits[i]
			switch {
			case lit == nil || lit.Kind == event.KindNull:
				return 0, false, fmt.Errorf("%s: argument %d must be a constant", name, i+1)
			case args[i].Base == types.Integer && i == 1:
				if lit.AsInt() < 1 {
					return 0, false, fmt.Errorf("%s: the number of values must be 1 or greater, not %d", name, lit.AsInt())
				}
				if lit.AsInt() > CollectLimit {
					return 0, false, fmt.Errorf("%s: the number of values must be at most %d, not %d", name, CollectLimit, lit.AsInt())
				}
				n = int(lit.AsInt())
			case args[i].Base == types.Boolean && i == len(args)-1:
				ignore = lit.AsBool()
			default:
				return 0, false, fmt.Errorf("%s takes (value[, INTEGER count][, BOOLEAN ignoreNulls]), not argument %d of type %s", name, i+1, args[i])
			}
		}
		return n, ignore, nil
	}
	return &aggFunc{
		sigs: []string{name + "(T) -> T", name + "(T, BOOLEAN) -> T", name + "(T, INTEGER) -> ARRAY<T>", name + "(T, INTEGER, BOOLEAN) -> ARRAY<T>"},
		ret: func(args []types.Type, lits []*event.Value) (types.Type, error) {
			n, _, err := parse(args, lits)
			if err != nil {
				return types.Type{}, err
			}
			if n > 0 {
				return types.ArrayOf(args[0]), nil
			}
			return args[0], nil
		},
		build: func(args []types.Type, lits []*event.Value, _ types.Type) (ir.Aggregator, error) {
			n, ignore, err := parse(args, lits)
			if err != nil {
				return nil, err
			}
			return &offsetAgg{latest: latest, n: n, ignoreNulls: ignore}, nil
		},
	}
}

func (o *offsetAgg) Init() []byte { return writeEntries(nil) }

// keep is how many entries the accumulator holds.
func (o *offsetAgg) keep() int { return max(o.n, 1) }

// insert adds an entry and drops what falls outside the kept window.
func (o *offsetAgg) insert(es []seqEntry, e seqEntry) []seqEntry {
	if e.v.Kind == event.KindNull && o.ignoreNulls {
		return es
	}
	i := sort.Search(len(es), func(i int) bool { return es[i].seq > e.seq })
	es = append(es, seqEntry{})
	copy(es[i+1:], es[i:])
	es[i] = e
	if over := len(es) - o.keep(); over > 0 {
		if o.latest {
			es = es[over:]
		} else {
			es = es[:len(es)-over]
		}
	}
	return es
}

func (o *offsetAgg) Add(acc []byte, args []event.Value, seq uint64) ([]byte, error) {
	es, err := readEntries(acc)
	if err != nil {
		return acc, err
	}
	v := event.Null
	if len(args) > 0 {
		v = args[0]
	}
	if v.Kind == event.KindNull && o.ignoreNulls {
		return acc, nil
	}
	return writeEntries(o.insert(es, seqEntry{seq, v})), nil
}

func (o *offsetAgg) Undo(acc []byte, _ []event.Value) ([]byte, bool, error) { return acc, false, nil }

func (o *offsetAgg) Merge(a, b []byte) ([]byte, error) {
	ea, err := readEntries(a)
	if err != nil {
		return nil, err
	}
	eb, err := readEntries(b)
	if err != nil {
		return nil, err
	}
	for _, e := range eb {
		ea = o.insert(ea, e)
	}
	return writeEntries(ea), nil
}

func (o *offsetAgg) Result(acc []byte) (event.Value, error) {
	es, err := readEntries(acc)
	if err != nil {
		return event.Null, err
	}
	if o.n == 0 {
		if len(es) == 0 {
			return event.Null, nil
		}
		return es[0].v, nil
	}
	out := make([]event.Value, len(es))
	for i, e := range es {
		out[i] = e.v
	}
	return event.Array(out), nil
}

// collectAgg is COLLECT_LIST (every value, NULLs too, in arrival order,
// undoable) and COLLECT_SET (distinct values, not undoable as in ksqlDB),
// both bounded by CollectLimit. Its accumulator is accV1, a uvarint count
// and the values.
type collectAgg struct {
	eq  eqFn
	set bool
}

var (
	_ ir.Aggregator = (*collectAgg)(nil)
	_ ir.Merger     = (*collectAgg)(nil)
)

func (c *collectAgg) Init() []byte { return []byte{accV1, 0} }

func readList(acc []byte) ([]event.Value, error) {
	b, err := accBody(acc)
	if err != nil {
		return nil, err
	}
	n, b, err := readUvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	vs := make([]event.Value, n)
	for i := range vs {
		if vs[i], b, err = readValue(b); err != nil {
			return nil, err
		}
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return vs, nil
}

func writeList(vs []event.Value) []byte {
	b := binary.AppendUvarint([]byte{accV1}, uint64(len(vs)))
	for _, v := range vs {
		b = appendValue(b, v)
	}
	return b
}

func (c *collectAgg) contains(vs []event.Value, v event.Value) bool {
	for _, w := range vs {
		if nullSafe(c.eq, w, v) {
			return true
		}
	}
	return false
}

func (c *collectAgg) add(vs []event.Value, v event.Value) ([]event.Value, bool) {
	if len(vs) >= CollectLimit || c.set && c.contains(vs, v) {
		return vs, false
	}
	return append(vs, v), true
}

func (c *collectAgg) Add(acc []byte, args []event.Value, _ uint64) ([]byte, error) {
	vs, err := readList(acc)
	if err != nil {
		return acc, err
	}
	v := event.Null
	if len(args) > 0 {
		v = args[0]
	}
	vs, changed := c.add(vs, v)
	if !changed {
		return acc, nil
	}
	return writeList(vs), nil
}

func (c *collectAgg) Undo(acc []byte, args []event.Value) ([]byte, bool, error) {
	if c.set {
		return acc, false, nil
	}
	vs, err := readList(acc)
	if err != nil {
		return acc, true, err
	}
	v := event.Null
	if len(args) > 0 {
		v = args[0]
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if nullSafe(c.eq, vs[i], v) {
			return writeList(append(vs[:i], vs[i+1:]...)), true, nil
		}
	}
	return acc, true, nil
}

func (c *collectAgg) Merge(a, b []byte) ([]byte, error) {
	va, err := readList(a)
	if err != nil {
		return nil, err
	}
	vb, err := readList(b)
	if err != nil {
		return nil, err
	}
	for _, v := range vb {
		va, _ = c.add(va, v)
	}
	return writeList(va), nil
}

func (c *collectAgg) Result(acc []byte) (event.Value, error) {
	vs, err := readList(acc)
	if err != nil {
		return event.Null, err
	}
	if vs == nil {
		vs = []event.Value{}
	}
	return event.Array(vs), nil
}
