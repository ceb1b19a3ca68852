package exec

import (
	"bytes"
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// ttJoin is a table-table join. On the primary key it is Kafka Streams'
// KTableKTableJoin (inner, left, right, outer): a change on either side
// looks up the other side's current row by the key and forwards the
// joined new and old rows. On a foreign key (the left row's LeftKey is
// the right table's key) a change of a left row joins it with the right
// row it references, and a change of a right row re-joins every left row
// referencing it — so a renamed customer updates every joined order
// (beyond ksqlDB, whose stream-table pattern keeps the old name). The
// references are kept under 'f' + foreign key + left key.
//
// The output is the changelog of the joined table: each change forwards
// the new joined row (nil: the key left the result) and, when wanted, the
// old one; a change whose new and old joined rows are both absent is not
// forwarded.
type ttJoin struct {
	typ     ir.JoinType
	fk      bool
	keys    [2]ir.Evaluator // LeftKey over left rows, RightKey over right rows
	keyIdx  [2][]int        // each side's key columns
	views   [2]view
	lw, rw  int
	out     link
	wantOld bool
	subs    []byte
	st      stateStore
}

// present reports whether a side's rows take part in the result on their
// own: the preserved sides of an outer join.
func (j *ttJoin) keeps(side int) bool {
	switch j.typ {
	case ir.FullOuter:
		return true
	case ir.LeftOuter:
		return side == 0
	case ir.RightOuter:
		return side == 1
	}
	return false
}

// combine is the joined row of l and r (either may be nil), or nil when
// the join type drops it.
func (j *ttJoin) combine(l, r []event.Value) []event.Value {
	if l == nil && r == nil || l == nil && !j.keeps(1) || r == nil && !j.keeps(0) {
		return nil
	}
	return joinRows(l, r, j.lw, j.rw)
}

func (j *ttJoin) key(side int, c *change) ([]event.Value, error) {
	row := c.row
	if row == nil {
		row = c.old
	}
	v, err := j.keys[side].Eval(row)
	if err != nil {
		return nil, &RecordError{Err: err}
	}
	return []event.Value{v}, nil
}

func (j *ttJoin) push(r *run, side int, c *change) error {
	if j.fk {
		if side == 0 {
			return j.pushFKLeft(r, c)
		}
		return j.pushFKRight(r, c)
	}
	k, err := j.key(side, c)
	if err != nil {
		return err
	}
	if k[0].IsNull() {
		r.x.stats.nullKeys.Add(1)
		return nil
	}
	other, ots, found, err := j.views[1-side].lookup(r, k)
	if err != nil {
		return err
	}
	if !found {
		other = nil
	}
	pair := func(mine []event.Value) []event.Value {
		if side == 0 {
			return j.combine(mine, other)
		}
		return j.combine(other, mine)
	}
	nc := change{seq: c.seq, ts: c.ts}
	if found {
		nc.ts = max(c.ts, ots)
	}
	// A side's absent row still joins when the other side is preserved
	// (a deleted right row leaves the left row with NULLs in a LEFT join).
	nc.row = pair(c.row)
	if nc.row == nil || j.wantOld {
		nc.old = pair(c.old)
	}
	if nc.row == nil && nc.old == nil {
		return nil
	}
	return j.out.emit(r, &nc)
}

// lookup reads the joined row of a key.
func (j *ttJoin) lookup(r *run, key []event.Value) ([]event.Value, int64, bool, error) {
	l, lts, lok, err := j.views[0].lookup(r, key)
	if err != nil {
		return nil, 0, false, err
	}
	rkey := key
	if j.fk {
		if !lok {
			return nil, 0, false, nil
		}
		fk, err := j.keys[0].Eval(l)
		if err != nil {
			return nil, 0, false, &RecordError{Err: err}
		}
		rkey = []event.Value{fk}
	}
	var rr []event.Value
	var rts int64
	rok := false
	if !rkey[0].IsNull() {
		if rr, rts, rok, err = j.views[1].lookup(r, rkey); err != nil {
			return nil, 0, false, err
		}
	}
	if !lok {
		l = nil
	}
	if !rok {
		rr = nil
	}
	row := j.combine(l, rr)
	if row == nil {
		return nil, 0, false, nil
	}
	return row, max(lts, rts), true, nil
}

// leftKey returns the key of a left row (its key columns).
func (j *ttJoin) leftKey(row []event.Value) []event.Value {
	k := make([]event.Value, len(j.keyIdx[0]))
	for i, c := range j.keyIdx[0] {
		k[i] = row[c]
	}
	return k
}

func (j *ttJoin) fkOf(row []event.Value) (event.Value, error) {
	if row == nil {
		return event.Null, nil
	}
	v, err := j.keys[0].Eval(row)
	if err != nil {
		return event.Null, &RecordError{Err: err}
	}
	return v, nil
}

func (j *ttJoin) subKey(fk event.Value, lk []event.Value) ([]byte, error) {
	k, err := stateKey(j.subs, []event.Value{fk})
	if err != nil {
		return nil, err
	}
	k, err = appendKeys(k, lk)
	if err != nil {
		return nil, &RecordError{Err: err}
	}
	return k, nil
}

// rightRow reads the right row a foreign key references.
func (j *ttJoin) rightRow(r *run, fk event.Value) ([]event.Value, int64, error) {
	if fk.IsNull() {
		return nil, 0, nil
	}
	row, ts, ok, err := j.views[1].lookup(r, []event.Value{fk})
	if err != nil || !ok {
		return nil, 0, err
	}
	return row, ts, nil
}

func (j *ttJoin) pushFKLeft(r *run, c *change) error {
	src := c.row
	if src == nil {
		src = c.old
	}
	lk := j.leftKey(src)
	nfk, err := j.fkOf(c.row)
	if err != nil {
		return err
	}
	ofk, err := j.fkOf(c.old)
	if err != nil {
		return err
	}
	same := c.row != nil && c.old != nil && nfk.Equal(ofk)
	if c.old != nil && !ofk.IsNull() && !same {
		k, err := j.subKey(ofk, lk)
		if err != nil {
			return err
		}
		if err := j.st.Delete(k); err != nil {
			return err
		}
	}
	if c.row != nil && !nfk.IsNull() && !same {
		k, err := j.subKey(nfk, lk)
		if err != nil {
			return err
		}
		if err := j.st.Set(k, nil); err != nil {
			return err
		}
	}
	nc := change{seq: c.seq, ts: c.ts}
	if c.row != nil {
		rr, rts, err := j.rightRow(r, nfk)
		if err != nil {
			return err
		}
		if rr != nil {
			nc.ts = max(nc.ts, rts)
		}
		nc.row = j.combine(c.row, rr)
	}
	if c.old != nil && (nc.row == nil || j.wantOld) {
		// The right row's current value is the one last joined: every
		// change of it re-joined this row.
		rr, _, err := j.rightRow(r, ofk)
		if err != nil {
			return err
		}
		nc.old = j.combine(c.old, rr)
	}
	if nc.row == nil && nc.old == nil {
		return nil
	}
	return j.out.emit(r, &nc)
}

// pushFKRight re-joins every left row referencing the changed right row,
// reading the references a bounded batch at a time.
func (j *ttJoin) pushFKRight(r *run, c *change) error {
	src := c.row
	if src == nil {
		src = c.old
	}
	rk, err := j.keys[1].Eval(src)
	if err != nil {
		return &RecordError{Err: err}
	}
	if rk.IsNull() {
		return nil
	}
	p, err := stateKey(j.subs, []event.Value{rk})
	if err != nil {
		return err
	}
	const batch = 256
	from, end := p, prefixEnd(p)
	for {
		var lks [][]event.Value
		var next []byte
		var derr error
		err := j.st.Scan(from, end, func(k, _ []byte) bool {
			rest := k[len(p):]
			lk := make([]event.Value, len(j.keyIdx[0]))
			for i := range lk {
				var err error
				if lk[i], rest, err = decodeKey(rest); err != nil {
					derr = fmt.Errorf("exec: a foreign-key reference does not decode: %w", err)
					return false
				}
			}
			lks = append(lks, lk)
			if len(lks) == batch {
				next = append(bytes.Clone(k), 0)
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		for _, lk := range lks {
			l, lts, ok, err := j.views[0].lookup(r, lk)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			nc := change{seq: c.seq, ts: max(c.ts, lts), row: j.combine(l, c.row)}
			if nc.row == nil || j.wantOld {
				nc.old = j.combine(l, c.old)
			}
			if nc.row == nil && nc.old == nil {
				continue
			}
			if err := j.out.emit(r, &nc); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}
