package exec

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

func (b *builder) join(n *ir.Join, out link, wantOld bool) (view, error) {
	lk, rk := n.Left.Kind(), n.Right.Kind()
	lw, rw := len(n.Left.Schema().Columns), len(n.Right.Schema().Columns)
	if len(n.S.Columns) != lw+rw {
		return nil, fmt.Errorf("a join's schema has %d columns for %d on the left and %d on the right", len(n.S.Columns), lw, rw)
	}
	left, err := b.expr(n.LeftKey, "join ON (left side)")
	if err != nil {
		return nil, err
	}
	right, err := b.expr(n.RightKey, "join ON (right side)")
	if err != nil {
		return nil, err
	}
	// A side read by key is read with the one value of its ON expression.
	lkeys, rkeys := len(n.Left.Schema().Key), len(n.Right.Schema().Key)
	if rk == ir.Table && rkeys > 1 || lk == ir.Table && !n.ForeignKey && lkeys > 1 {
		return nil, fmt.Errorf("a join of a table with a key of several columns: ON gives one value")
	}
	if lk == ir.Table && n.ForeignKey && lkeys == 0 {
		return nil, fmt.Errorf("a foreign-key join whose left table has no key")
	}
	switch {
	case lk == ir.Stream && rk == ir.Table:
		if n.Type != ir.Inner && n.Type != ir.LeftOuter {
			return nil, fmt.Errorf("a stream-table join is INNER or LEFT")
		}
		pfx, err := b.prefix()
		if err != nil {
			return nil, err
		}
		j := &stJoin{typ: n.Type, leftKey: left, rw: rw, out: out, hold: append(pfx, 'h'), st: b.x.st}
		if _, err := b.node(n.Left, link{j, 0}, false); err != nil {
			return nil, err
		}
		v, err := b.node(n.Right, link{j, 1}, false)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("the right side of a stream-table join is not a table")
		}
		j.right = v
		j.tableSources = b.q.sources[len(b.q.sources)-countSources(n.Right):]
		b.x.holds.joins = append(b.x.holds.joins, j)
		return nil, nil
	case lk == ir.Stream && rk == ir.Stream:
		pfx, err := b.prefix()
		if err != nil {
			return nil, err
		}
		m, err := b.meta(pfx)
		if err != nil {
			return nil, err
		}
		j, err := newSSJoin(n, [2]ir.Evaluator{left, right}, [2]int{lw, rw}, pfx, m, b.x.st, out)
		if err != nil {
			return nil, err
		}
		if _, err := b.node(n.Left, link{j, 0}, false); err != nil {
			return nil, err
		}
		_, err = b.node(n.Right, link{j, 1}, false)
		return nil, err
	case lk == ir.Table && rk == ir.Table:
		if n.ForeignKey && n.Type != ir.Inner && n.Type != ir.LeftOuter {
			return nil, fmt.Errorf("a foreign-key join is INNER or LEFT")
		}
		pfx, err := b.prefix()
		if err != nil {
			return nil, err
		}
		j := &ttJoin{typ: n.Type, fk: n.ForeignKey, keys: [2]ir.Evaluator{left, right}, lw: lw, rw: rw, out: out,
			wantOld: wantOld, subs: append(pfx, 'f'), st: b.x.st}
		j.keyIdx[0], j.keyIdx[1] = n.Left.Schema().Key, n.Right.Schema().Key
		if j.views[0], err = b.node(n.Left, link{j, 0}, true); err != nil {
			return nil, err
		}
		if j.views[1], err = b.node(n.Right, link{j, 1}, true); err != nil {
			return nil, err
		}
		if j.views[0] == nil || j.views[1] == nil {
			return nil, fmt.Errorf("a table-table join of a side that cannot be read by key")
		}
		return j, nil
	}
	return nil, fmt.Errorf("a %s-%s join: put the stream on the left", kindName2(lk), kindName2(rk))
}

func kindName2(k ir.Kind) string {
	if k == ir.Table {
		return "table"
	}
	return "stream"
}

func countSources(n ir.Node) int {
	switch n := n.(type) {
	case *ir.Source:
		return 1
	case *ir.Filter:
		return countSources(n.Input)
	case *ir.Project:
		return countSources(n.Input)
	case *ir.Repartition:
		return countSources(n.Input)
	case *ir.Aggregate:
		return countSources(n.Input)
	case *ir.Join:
		return countSources(n.Left) + countSources(n.Right)
	}
	return 0
}

// joinRows concatenates a left and a right row; a missing side is NULLs.
func joinRows(l, r []event.Value, lw, rw int) []event.Value {
	out := make([]event.Value, lw+rw)
	copy(out, l)
	copy(out[lw:], r)
	return out
}

// stJoin is a stream-table join, Kafka Streams' KStreamKTableJoin: a
// stream row looks up the table's current row for its join key and
// emits (LEFT: also without one); a table change only updates the table
// (done by the table's source), it emits nothing. A NULL join key drops
// the stream row.
type stJoin struct {
	typ          ir.JoinType
	leftKey      ir.Evaluator
	right        view
	rw           int
	out          link
	tableSources []*sourceOp
	// Holding the stream side until the table side's snapshot ended.
	hold    []byte // 'h' + seq → time, row
	holding bool
	deps    []*holdGroup
	st      stateStore
}

// stateStore is the part of component.State the joins use.
type stateStore interface {
	Get(key []byte) ([]byte, bool, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	DeleteRange(start, end []byte) error
	Scan(start, end []byte, fn func(key, value []byte) bool) error
}

func (j *stJoin) push(r *run, side int, c *change) error {
	if side == 1 {
		return nil
	}
	if j.holding {
		return j.keep(r, c)
	}
	return j.join(r, c)
}

func (j *stJoin) join(r *run, c *change) error {
	k, err := j.leftKey.Eval(c.row)
	if err != nil {
		return &RecordError{Err: err}
	}
	if k.IsNull() {
		r.x.stats.nullKeys.Add(1)
		return nil
	}
	right, _, ok, err := j.right.lookup(r, []event.Value{k})
	if err != nil {
		return err
	}
	if !ok && j.typ == ir.Inner {
		return nil
	}
	return j.out.emit(r, &change{row: joinRows(c.row, right, len(c.row), j.rw), ts: c.ts, seq: c.seq})
}
