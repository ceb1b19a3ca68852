package sourcetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// state is one state of a row in the model.
type state struct {
	exists bool
	v      string // the value of v; for Fill rows see fill
	fill   int    // pad+1 when the row was written by Fill: v is FillValue(id, fill-1)
	op     event.Op
}

func (s state) value(id int64) string {
	if s.fill > 0 {
		return FillValue(id, s.fill-1)
	}
	return s.v
}

// is reports whether v is this state's value.
func (s state) is(id int64, v string) bool {
	if s.fill > 0 {
		return isFillValue(v, id, s.fill-1)
	}
	return s.v == v
}

func (s state) String() string {
	if !s.exists {
		return "absent"
	}
	if s.fill > 0 {
		return fmt.Sprintf("fill(%d)", s.fill-1)
	}
	return short(s.v)
}

// change is one change after the start, in commit order.
type change struct {
	id  int64
	op  event.Op
	idx int // index in hist[id] of the state it made
	tx  int
}

// model is what the database holds and how it got there. Before start it
// only tracks current rows; from start on, every committed change is
// recorded: hist[id][0] is the row's state at the start (absent or not),
// hist[id][i] the state after the row's i-th change.
type model struct {
	started bool
	hist    map[int64][]state
	changes []change
	tx      int
	seq     int   // makes every value unique
	top     int64 // the highest row id written or handed out by newID
}

func newModel() *model { return &model{hist: map[int64][]state{}} }

// start marks the moment the source first starts: the snapshot holds every
// row in its current state; what comes after is a change.
func (m *model) start() {
	for id, h := range m.hist {
		m.hist[id] = h[len(h)-1:]
		m.hist[id][0].op = 0
	}
	m.started = true
}

func (m *model) cur(id int64) state {
	h := m.hist[id]
	if len(h) == 0 {
		return state{}
	}
	return h[len(h)-1]
}

// push records a new state of id.
func (m *model) push(id int64, s state) {
	h := m.hist[id]
	if len(h) == 0 {
		h = []state{{}}
	}
	if !m.started {
		h = h[:0]
	}
	h = append(h, s)
	m.hist[id] = h
	m.top = max(m.top, id)
	if m.started {
		m.changes = append(m.changes, change{id: id, op: s.op, idx: len(h) - 1, tx: m.tx})
	}
}

// apply records a committed transaction; it fails the test when the
// changes are not valid for the model's rows (a bug in the suite).
func (m *model) apply(t *testing.T, cs []Change) {
	t.Helper()
	m.tx++
	for _, c := range cs {
		cur := m.cur(c.ID)
		switch c.Op {
		case event.OpCreate:
			if cur.exists {
				t.Fatalf("suite bug: insert of existing row %d", c.ID)
			}
			m.push(c.ID, state{exists: true, v: c.V, op: event.OpCreate})
		case event.OpUpdate:
			if !cur.exists {
				t.Fatalf("suite bug: update of absent row %d", c.ID)
			}
			m.push(c.ID, state{exists: true, v: c.V, op: event.OpUpdate})
		case event.OpDelete:
			if !cur.exists {
				t.Fatalf("suite bug: delete of absent row %d", c.ID)
			}
			m.push(c.ID, state{op: event.OpDelete})
		default:
			t.Fatalf("suite bug: op %s", c.Op)
		}
	}
}

// fill records Target.Fill.
func (m *model) fill(t *testing.T, first, last int64, pad int) {
	t.Helper()
	m.tx++
	for id := first; id <= last; id++ {
		if m.cur(id).exists {
			t.Fatalf("suite bug: fill over existing row %d", id)
		}
		m.push(id, state{exists: true, fill: pad + 1, op: event.OpCreate})
	}
}

// value returns a new unique value for row id.
func (m *model) value(id int64) string {
	m.seq++
	return fmt.Sprintf("k%d.%d", id, m.seq)
}

// inserts returns inserts of ids first..last.
func (m *model) inserts(first, last int64) []Change {
	var cs []Change
	for id := first; id <= last; id++ {
		cs = append(cs, Change{Op: event.OpCreate, ID: id, V: m.value(id)})
	}
	return cs
}

// newID returns a row id above every id so far (sql_poll's incrementing
// mode only sees rows inserted with growing ids), at least floor.
func (m *model) newID(floor int64) int64 {
	m.top = max(m.top+1, floor)
	return m.top
}

// newRows returns inserts of n new rows with ids above every id so far.
func (m *model) newRows(n int) []Change {
	var cs []Change
	for range n {
		id := m.newID(0)
		cs = append(cs, Change{Op: event.OpCreate, ID: id, V: m.value(id)})
	}
	return cs
}

// randomTx returns a transaction of 1 to n changes to rows lo..hi, valid
// for the model's current rows and allowed by caps: inserts of absent rows,
// updates and deletes of present ones, a row possibly changed twice. A
// source that sees only inserts, or needs growing ids, gets inserts of new
// rows above every id so far.
func (m *model) randomTx(rng *rand.Rand, caps Caps, n int, lo, hi int64) []Change {
	pending := map[int64]bool{} // existence within the transaction
	exists := func(id int64) bool {
		if e, ok := pending[id]; ok {
			return e
		}
		return m.cur(id).exists
	}
	var cs []Change
	want := 1 + rng.IntN(n)
	for try := 0; len(cs) < want && try < 20*n; try++ {
		id := lo + rng.Int64N(hi-lo+1)
		switch {
		case !caps.Updates && !caps.Deletes, !exists(id) && caps.AscendingInserts:
			id = m.newID(0)
			cs = append(cs, Change{Op: event.OpCreate, ID: id, V: m.value(id)})
			pending[id] = true
		case !exists(id):
			cs = append(cs, Change{Op: event.OpCreate, ID: id, V: m.value(id)})
			pending[id] = true
		case caps.Deletes && (!caps.Updates || rng.IntN(3) == 0):
			cs = append(cs, Change{Op: event.OpDelete, ID: id})
			pending[id] = false
		case caps.Updates:
			cs = append(cs, Change{Op: event.OpUpdate, ID: id, V: m.value(id)})
		}
	}
	return cs
}

// ids returns every row id the model knows, sorted.
func (m *model) ids() []int64 {
	out := make([]int64, 0, len(m.hist))
	for id := range m.hist {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
