package sourcetest

import (
	"github.com/sluice-dev/sluice/event"
)

// tracker follows a growing sequence of events and tells when it has caught
// up with the model: every row's newest event shows its newest state and,
// unless the source coalesces, as many changes arrived as were made. It
// looks at each event once, so waiting on it stays cheap with many rows.
type tracker struct {
	c       *checker
	m       *model
	fed     int            // events of the current run fed
	newest  map[int64]obs  // the newest event per row
	changes int            // change events (not snapshot reads)
	sat     map[int64]bool // row's newest event shows its newest state
	dirty   map[int64]bool // rows whose newest event changed since sat was computed
	tx      int            // the model's transaction count when sat was computed
}

func newTracker(c *checker, m *model) *tracker {
	return &tracker{c: c, m: m, newest: map[int64]obs{}, sat: map[int64]bool{}, dirty: map[int64]bool{}, tx: -1}
}

// feed takes events of earlier runs (prior) at once.
func (tr *tracker) feedAll(evs []event.Event) {
	for i := range evs {
		tr.add(&evs[i])
	}
}

// poll takes the events the recorder accepted since the last poll.
func (tr *tracker) poll(rec *recorder) {
	evs := rec.events(tr.fed)
	tr.fed += len(evs)
	tr.feedAll(evs)
}

// restart starts following a new run's recorder.
func (tr *tracker) restart() { tr.fed = 0 }

func (tr *tracker) add(e *event.Event) {
	if e.Schema == nil {
		return
	}
	img := e.After
	if e.Op == event.OpDelete {
		img = e.Before
	}
	r, err := tr.c.row(e.Schema, img)
	if err != nil {
		return // verify reports it
	}
	tr.newest[r.ID] = obs{op: e.Op, row: r}
	tr.dirty[r.ID] = true
	if e.Op != event.OpRead {
		tr.changes++
	}
}

// caughtUp reports whether every row shows its newest state.
func (tr *tracker) caughtUp() bool {
	caps := tr.c.h.Caps
	if !caps.Coalesce && tr.changes < len(tr.m.changes) {
		return false
	}
	if tr.tx != tr.m.tx {
		tr.tx = tr.m.tx
		for id := range tr.m.hist {
			tr.dirty[id] = true
		}
	}
	for id := range tr.dirty {
		h := tr.m.hist[id]
		if len(h) == 0 {
			continue
		}
		fin := h[len(h)-1]
		o, ok := tr.newest[id]
		switch {
		case fin.exists:
			tr.sat[id] = ok && o.op != event.OpDelete && o.row.HasV && fin.is(id, o.row.V)
		case ok:
			tr.sat[id] = o.op == event.OpDelete
		default:
			// Never seen and gone now: fine unless the row existed at the
			// start or the source sees every change.
			tr.sat[id] = caps.Coalesce && !h[0].exists
		}
	}
	clear(tr.dirty)
	for id := range tr.m.hist {
		if !tr.sat[id] {
			return false
		}
	}
	return true
}
