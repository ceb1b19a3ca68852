package sqlsink

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Action is what a Step does to its rows.
type Action uint8

// Actions, in the order a segment applies them.
const (
	ActTruncate   Action = iota + 1 // empty the table
	ActDelete                       // DELETE by key
	ActInsert                       // INSERT the full row; an existing key is an error
	ActUpsert                       // INSERT the full row or overwrite the existing one
	ActUpdate                       // UPDATE the row's sent columns by key; a missing row is left missing
	ActSoftDelete                   // UPDATE the soft-delete column to true by key
)

var actionNames = [...]string{ActTruncate: "truncate", ActDelete: "delete", ActInsert: "insert",
	ActUpsert: "upsert", ActUpdate: "update", ActSoftDelete: "soft-delete"}

func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// Row is one row of a Step.
type Row struct {
	Schema *event.Schema
	// Vals is the row image in Schema's column order. It may hold
	// event.Unchanged (ActUpdate only): those columns are not written.
	Vals []event.Value
	// Where, when set, is the image whose key selects the row to update
	// (a key-changing update that must keep unchanged columns).
	Where []event.Value
	// Deleted is the soft-delete column's value for written rows.
	Deleted bool
	// Events are the indexes of the events this row stands for: if the
	// row is rejected, they are the ones reported.
	Events []int

	args []any // Vals converted by Dialect.Arg (set by the applier)
	// enc is the row's span in the applier's COPY buffer when it was
	// encoded for a RowCopier (end > 0).
	enc struct{ start, end int }
}

// Step is one statement kind on one table. Rows of an insert or upsert
// step share one Schema.
type Step struct {
	Action Action
	Table  string
	Rows   []Row
}

// PlanOptions steer Plan.
type PlanOptions struct {
	Mode       string
	DeleteMode string
	Truncate   bool
	// Keys returns the key column indexes of a schema (the source's key or
	// the key_columns override); empty for a keyless table.
	Keys func(*event.Schema) []int
}

// Plan turns a Write's events into steps. Events whose skip flag is set are
// left out (already written); tables[i] is event i's target table.
//
// Changes to the same key are collapsed, later wins: a key's final state in
// the batch is at most one delete followed by one write, so rows of
// different keys can be written together in multi-row statements without
// breaking per-key order. A truncate (when applied) and a key-changing
// update that must keep unchanged TOAST columns end a segment: what came
// before is planned, then they are, then the rest. In a segment, deletes
// come first, then inserts and upserts, then updates, then soft deletes.
//
// Columns marked unchanged are filled from an earlier image of the same key
// in the batch; those still unchanged make the row an ActUpdate that leaves
// them alone.
func Plan(events []event.Event, tables []string, skip []bool, opt PlanOptions) ([]Step, component.RecordErrors) {
	if st, ok := planNewRows(events, tables, skip, opt); ok {
		return []Step{st}, nil
	}
	return planAll(events, tables, skip, opt)
}

// planAll is Plan without the fast path.
func planAll(events []event.Event, tables []string, skip []bool, opt PlanOptions) ([]Step, component.RecordErrors) {
	p := planner{opt: opt, tables: map[string]map[string]*keyState{}, sizeHint: len(events)}
	for i := range events {
		if skip != nil && skip[i] {
			continue
		}
		p.add(i, &events[i], tables[i])
	}
	p.flush()
	return p.steps, p.errs
}

type keyState struct {
	table     string
	del       bool // delete the stored row first
	delRow    Row  // a row holding the key, for the delete
	row       *Row // the row to write (rowBuf), or nil
	act       Action
	soft      *Row // soft-delete by key (no row known in the batch)
	lastWrite event.Op
	rowBuf    Row // row's storage: one allocation per key, not per change
}

type planner struct {
	opt PlanOptions
	// tables holds the key states of each table by encoded key (appendKey).
	tables   map[string]map[string]*keyState
	sizeHint int // events planned: the first table's map is sized for them
	order    []*keyState
	steps    []Step
	errs     component.RecordErrors
	// slab and ints hand out key states and one-event lists in blocks:
	// a snapshot batch has one of each per row.
	slab    []keyState
	ints    []int
	kb, kb2 []byte // key encoding scratch
}

func (p *planner) reject(i int, format string, args ...any) {
	p.errs = append(p.errs, component.RecordError{Index: i, Err: fmt.Errorf(format, args...)})
}

// state returns the state of key (encoded by appendKey) in table,
// creating it when new. Looking up allocates nothing.
func (p *planner) state(table string, key []byte) *keyState {
	m := p.tables[table]
	if m == nil {
		m = make(map[string]*keyState, p.sizeHint)
		p.sizeHint = 0
		p.tables[table] = m
	}
	st := m[string(key)]
	if st == nil {
		st = p.newState(table)
		m[string(key)] = st
	}
	return st
}

// newState returns a fresh key state, in planning order.
func (p *planner) newState(table string) *keyState {
	if len(p.slab) == 0 {
		p.slab = make([]keyState, 256)
	}
	st := &p.slab[0]
	p.slab = p.slab[1:]
	st.table = table
	p.order = append(p.order, st)
	return st
}

// one returns the event list [i] (capacity 1: appending copies).
func (p *planner) one(i int) []int {
	if len(p.ints) == 0 {
		p.ints = make([]int, 1024)
	}
	evs := p.ints[:1:1]
	p.ints = p.ints[1:]
	evs[0] = i
	return evs
}

// events returns r's events followed by i.
func (p *planner) events(r *Row, i int) []int {
	if r == nil {
		return p.one(i)
	}
	return append(r.Events, i)
}

func (p *planner) add(i int, e *event.Event, table string) {
	s := e.Schema
	if e.Op == event.OpTruncate {
		if p.opt.Truncate {
			p.flush()
			p.steps = append(p.steps, Step{Action: ActTruncate, Table: table, Rows: []Row{{Schema: s, Events: []int{i}}}})
		}
		return
	}
	keys := p.opt.Keys(s)
	if len(keys) == 0 {
		switch e.Op {
		case event.OpRead, event.OpCreate:
			if e.After == nil {
				p.reject(i, "%s %s event has no row image", s.Stream, e.Op)
				return
			}
			// Every row of a keyless table stands alone.
			st := p.newState(table)
			st.rowBuf = Row{Schema: s, Vals: e.After, Events: p.one(i)}
			st.row, st.act = &st.rowBuf, ActInsert
		default:
			p.reject(i, "table %s has no key, so its %s events cannot find their row; set key_columns or add a primary key (or replica identity) in the source", table, opName(e.Op))
		}
		return
	}
	switch e.Op {
	case event.OpDelete:
		img := e.Before
		if img == nil {
			p.reject(i, "%s delete event has no before image", s.Stream)
			return
		}
		var err error
		if p.kb, err = appendKey(p.kb[:0], s, img, keys); err != nil {
			p.reject(i, "%s: %v", table, err)
			return
		}
		p.delete(p.state(table, p.kb), i, s, img)
	case event.OpRead, event.OpCreate, event.OpUpdate:
		if e.After == nil {
			p.reject(i, "%s %s event has no after image", s.Stream, e.Op)
			return
		}
		var err error
		if p.kb, err = appendKey(p.kb[:0], s, e.After, keys); err != nil {
			p.reject(i, "%s: %v", table, err)
			return
		}
		if e.Op == event.OpUpdate && e.Before != nil {
			if p.kb2, err = appendKey(p.kb2[:0], s, e.Before, keys); err == nil && !bytes.Equal(p.kb2, p.kb) {
				p.keyChange(i, e, table, p.kb2, p.kb)
				return
			}
		}
		p.write(p.state(table, p.kb), i, e)
	default:
		p.reject(i, "%s: unknown operation %q", s.Stream, e.Op)
	}
}

func opName(op event.Op) string {
	switch op {
	case event.OpUpdate:
		return "update"
	case event.OpDelete:
		return "delete"
	}
	return op.String()
}

// keyChange handles an update that moves a row to another key: a delete of
// the old key and a write of the new one, unless unchanged columns must be
// carried over, which only an UPDATE of the old row can do.
func (p *planner) keyChange(i int, e *event.Event, table string, oldKey, newKey []byte) {
	old := p.state(table, oldKey)
	img := merge(e.Schema, e.After, old.row)
	if hasUnchanged(img) {
		p.flush()
		p.steps = append(p.steps, Step{Action: ActUpdate, Table: table, Rows: []Row{{Schema: e.Schema, Vals: img, Where: e.Before, Events: []int{i}}}})
		return
	}
	// The old key goes away whatever delete_mode says about deletes: the
	// row moved, it was not deleted.
	evs := p.events(old.row, i)
	if old.del {
		evs = append(old.delRow.Events, evs...)
	}
	old.del, old.delRow = true, Row{Schema: e.Schema, Vals: e.Before, Events: evs}
	old.row, old.soft = nil, nil
	ev := *e
	ev.After = img
	st := p.state(table, newKey)
	st.lastWrite = event.OpCreate // the new key's row is new
	p.write(st, i, &ev)
}

func (p *planner) delete(st *keyState, i int, s *event.Schema, img []event.Value) {
	switch p.opt.DeleteMode {
	case DeleteNone:
		return
	case DeleteSoft:
		if st.row != nil {
			st.row.Deleted = true
			st.row.Events = append(st.row.Events, i)
			return
		}
		st.soft = &Row{Schema: s, Vals: img, Deleted: true, Events: []int{i}}
		return
	}
	evs := p.events(st.row, i)
	if st.del {
		evs = append(st.delRow.Events, evs...)
	}
	st.del, st.delRow = true, Row{Schema: s, Vals: img, Events: evs}
	st.row, st.soft = nil, nil
}

func (p *planner) write(st *keyState, i int, e *event.Event) {
	img := merge(e.Schema, e.After, st.row)
	var act Action
	switch {
	case hasUnchanged(img):
		act = ActUpdate
	case p.opt.Mode == ModeUpdate:
		act = ActUpdate
	case p.opt.Mode == ModeUpsert:
		act = ActUpsert
	default: // insert
		switch {
		case e.Op == event.OpCreate:
			act = ActInsert
		case e.Op == event.OpRead:
			act = ActUpsert // snapshot rows are replayed after a crash: idempotent
		case st.row != nil && (st.act == ActInsert || st.act == ActUpsert):
			act = st.act // updated after being written in this batch
		case st.lastWrite == event.OpCreate:
			act = ActInsert // moved here by a key change
		default:
			act = ActUpdate
		}
	}
	evs := p.events(st.row, i)
	if st.soft != nil {
		evs = append(st.soft.Events, evs...)
	}
	st.rowBuf = Row{Schema: e.Schema, Vals: img, Events: evs}
	st.row = &st.rowBuf
	st.act, st.soft = act, nil
	st.lastWrite = e.Op
}

// merge fills unchanged columns of img from prev (by column name when the
// schema changed in between). It copies img only when it changes something.
func merge(s *event.Schema, img []event.Value, prev *Row) []event.Value {
	if prev == nil || !hasUnchanged(img) {
		return img
	}
	out := append([]event.Value(nil), img...)
	for c := range out {
		if out[c].Kind != event.KindUnchanged {
			continue
		}
		j := c
		if prev.Schema != s {
			j = prev.Schema.ColumnIndex(s.Columns[c].Name)
		}
		if j >= 0 && j < len(prev.Vals) {
			out[c] = prev.Vals[j]
		}
	}
	return out
}

func hasUnchanged(img []event.Value) bool {
	for i := range img {
		if img[i].Kind == event.KindUnchanged {
			return true
		}
	}
	return false
}

// appendKey appends the key columns of img, encoded so that equal keys
// give equal bytes.
func appendKey(b []byte, s *event.Schema, img []event.Value, keys []int) ([]byte, error) {
	for _, c := range keys {
		v := img[c]
		if v.Kind == event.KindNull || v.Kind == event.KindUnchanged {
			return b, fmt.Errorf("key column %q has no value", s.Columns[c].Name)
		}
		b = append(b, byte(v.Kind))
		b = binary.LittleEndian.AppendUint64(b, v.Num)
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		b = append(b, v.Str...)
		if v.Kind == event.KindArray {
			b = append(b, v.Text()...)
		}
	}
	return b, nil
}

// flush turns the collected key states into steps.
func (p *planner) flush() {
	if len(p.order) == 0 {
		return
	}
	type groupKey struct {
		act    Action
		table  string
		schema *event.Schema
	}
	idx := map[groupKey]int{}
	var groups []Step
	var sizes []int
	last, lastG := groupKey{}, -1
	group := func(act Action, table string, r *Row) int {
		gk := groupKey{act, table, nil}
		if act == ActInsert || act == ActUpsert {
			gk.schema = r.Schema
		}
		if gk == last {
			return lastG // consecutive keys mostly share their group
		}
		g, ok := idx[gk]
		if !ok {
			g = len(groups)
			idx[gk] = g
			groups = append(groups, Step{Action: act, Table: table})
			sizes = append(sizes, 0)
		}
		last, lastG = gk, g
		return g
	}
	// Twice: count each group's rows, then fill groups sized exactly
	// (rows are large; growing the slices copied them again and again).
	for fill := range 2 {
		add := func(act Action, table string, r *Row) {
			g := group(act, table, r)
			if fill == 0 {
				sizes[g]++
				return
			}
			if groups[g].Rows == nil {
				groups[g].Rows = make([]Row, 0, sizes[g])
			}
			groups[g].Rows = append(groups[g].Rows, *r)
		}
		for _, pass := range []Action{ActDelete, ActInsert, ActSoftDelete} {
			for _, st := range p.order {
				switch pass {
				case ActDelete:
					if st.del {
						add(ActDelete, st.table, &st.delRow)
					}
				case ActInsert:
					if st.row != nil {
						add(st.act, st.table, st.row)
					}
				case ActSoftDelete:
					if st.soft != nil {
						add(ActSoftDelete, st.table, st.soft)
					}
				}
			}
		}
	}
	// Groups were created pass by pass; order inserts/upserts before
	// updates (both come from the second pass).
	var late []Step
	for _, g := range groups {
		if g.Action == ActUpdate {
			late = append(late, g)
			continue
		}
		if g.Action == ActSoftDelete {
			continue
		}
		p.steps = append(p.steps, g)
	}
	p.steps = append(p.steps, late...)
	for _, g := range groups {
		if g.Action == ActSoftDelete {
			p.steps = append(p.steps, g)
		}
	}
	for _, m := range p.tables {
		clear(m)
	}
	clear(p.order) // the states stay reachable from the slab only
	p.order = p.order[:0]
}

// planNewRows is Plan for the commonest batch, a snapshot's: every event
// (not skipped) writes a full row image of one schema into one table, by a
// one-column key whose value is a number (no text), each key once, and the
// events all make the same insert or upsert. Plan's answer is then one
// step holding the rows in event order, which planNewRows builds without
// the planner's per-key map and states (Plan's cost was most of the
// server's idle time in a Write). ok is false, having built nothing, when
// the batch is anything else; Plan then plans it in full.
func planNewRows(events []event.Event, tables []string, skip []bool, opt PlanOptions) (Step, bool) {
	if opt.Mode == ModeUpdate {
		return Step{}, false
	}
	first := -1
	var act Action
	var s *event.Schema
	var kc int
	var kind event.Kind
	var last uint64
	sorted := true
	n := 0
	for i := range events {
		if skip != nil && skip[i] {
			continue
		}
		e := &events[i]
		var a Action
		switch {
		case e.Op == event.OpRead, e.Op == event.OpCreate && opt.Mode == ModeUpsert:
			a = ActUpsert
		case e.Op == event.OpCreate:
			a = ActInsert
		default:
			return Step{}, false
		}
		if first < 0 {
			keys := opt.Keys(e.Schema)
			if len(keys) != 1 || e.After == nil || keys[0] >= len(e.After) {
				return Step{}, false
			}
			first, act, s, kc, kind = i, a, e.Schema, keys[0], e.After[keys[0]].Kind
			switch kind {
			case event.KindNull, event.KindUnchanged, event.KindArray:
				return Step{}, false
			}
		} else if a != act || e.Schema != s || tables[i] != tables[first] || e.After == nil {
			return Step{}, false
		}
		if kc >= len(e.After) {
			return Step{}, false
		}
		k := e.After[kc]
		if k.Kind != kind || k.Str != "" || hasUnchanged(e.After) {
			return Step{}, false
		}
		if n > 0 && k.Num <= last {
			sorted = false
		}
		last = k.Num
		n++
	}
	if n == 0 {
		return Step{}, false
	}
	if !sorted {
		// Keys in no order (a table's physical order): each must be new.
		seen := make(map[uint64]struct{}, n)
		for i := first; i < len(events); i++ {
			if skip != nil && skip[i] {
				continue
			}
			k := events[i].After[kc].Num
			if _, dup := seen[k]; dup {
				return Step{}, false
			}
			seen[k] = struct{}{}
		}
	}
	rows := make([]Row, 0, n)
	idx := make([]int, n) // each row's one event
	for i := first; i < len(events); i++ {
		if skip != nil && skip[i] {
			continue
		}
		j := len(rows)
		idx[j] = i
		rows = append(rows, Row{Schema: s, Vals: events[i].After, Events: idx[j : j+1 : j+1]})
	}
	return Step{Action: act, Table: tables[first], Rows: rows}, true
}
