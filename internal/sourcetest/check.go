package sourcetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// maxErrs bounds the problems one check reports: the first few tell.
const maxErrs = 12

// obs is one observed event, decoded.
type obs struct {
	i      int // index in the checked sequence
	op     event.Op
	row    Row // of After, or of Before for deletes
	before *Row
	snap   event.SnapshotMark
	seq    event.Seq
	ver    int64
	verOK  bool
	j      int // index of the matched state in the row's history; -1 none
}

func (o obs) String() string {
	if o.op == event.OpDelete {
		return fmt.Sprintf("%s %d", o.op, o.row.ID)
	}
	if !o.row.HasV {
		return fmt.Sprintf("%s %d v=NULL", o.op, o.row.ID)
	}
	return fmt.Sprintf("%s %d %s", o.op, o.row.ID, short(o.row.V))
}

// checker reports problems of one check, prefixed with what is checked.
type checker struct {
	t    *testing.T
	h    *Harness
	what string
	nerr int
}

func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.nerr++
	switch {
	case c.nerr <= maxErrs:
		c.t.Errorf("%s: %s", c.what, fmt.Sprintf(format, args...))
	case c.nerr == maxErrs+1:
		c.t.Errorf("%s: more problems not shown", c.what)
	}
}

func (c *checker) row(sch *event.Schema, img []event.Value) (Row, error) {
	if c.h.Row != nil {
		return c.h.Row(sch, img)
	}
	return defaultRow(sch, img)
}

// decode turns events into observations and checks each event against the
// event model: images present as the op requires and as long as the
// schema, snapshot marks, key, times and a position.
func (c *checker) decode(evs []event.Event) []obs {
	c.t.Helper()
	out := make([]obs, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		if e.Schema == nil {
			c.errorf("event %d (%s) has no schema", i, e.Op)
			continue
		}
		o := obs{i: i, op: e.Op, snap: e.Source.Snapshot, seq: e.Seq(), j: -1}
		o.ver, o.verOK = e.Version()
		img := e.After
		switch e.Op {
		case event.OpRead, event.OpCreate, event.OpUpdate:
			if len(e.After) != len(e.Schema.Columns) {
				c.errorf("event %d (%s): After has %d values for %d columns", i, e.Op, len(e.After), len(e.Schema.Columns))
				continue
			}
			if e.Op != event.OpUpdate && e.Before != nil {
				c.errorf("event %d (%s) has a before image", i, e.Op)
			}
			if e.Op == event.OpUpdate && e.Before != nil {
				if len(e.Before) != len(e.Schema.Columns) {
					c.errorf("event %d (u): Before has %d values for %d columns", i, len(e.Before), len(e.Schema.Columns))
				} else if b, err := c.row(e.Schema, e.Before); err != nil {
					c.errorf("event %d (u): before image: %v", i, err)
				} else {
					o.before = &b
				}
			}
		case event.OpDelete:
			if e.After != nil || len(e.Before) != len(e.Schema.Columns) {
				c.errorf("event %d (d): After has %d values, Before %d, want none and %d", i, len(e.After), len(e.Before), len(e.Schema.Columns))
				continue
			}
			img = e.Before
		default:
			c.errorf("event %d has op %q; the suite makes no such change", i, e.Op)
			continue
		}
		r, err := c.row(e.Schema, img)
		if err != nil {
			c.errorf("event %d (%s): %v", i, e.Op, err)
			continue
		}
		o.row = r
		if e.Op == event.OpDelete {
			b := r
			o.before = &b
		}
		if c.h.Row == nil || c.h.Key != "" {
			if k := e.Key(); len(k) != 1 || !k[0].Equal(event.Int(r.ID)) {
				c.errorf("event %d (%s %d): Key() is %v", i, e.Op, r.ID, k)
			}
		}
		if (e.Op == event.OpRead) != (e.Source.Snapshot != event.SnapshotFalse) {
			c.errorf("event %d (%s %d): source.snapshot is %q; snapshot rows (op r) and only they carry a snapshot mark", i, e.Op, r.ID, e.Source.Snapshot)
		}
		if e.TsMs <= 0 || e.Source.TsUs <= 0 {
			c.errorf("event %d (%s %d): ts_ms %d, source.ts_ms %d; want both set", i, e.Op, r.ID, e.TsMs, e.Source.TsMs())
		}
		if e.Where() == "unknown position" {
			c.errorf("event %d (%s %d) carries no source position (Event.Where)", i, e.Op, r.ID)
		}
		out = append(out, o)
	}
	return out
}

// verify checks that evs, everything a sink received, is exactly what the
// model says the source must deliver: per row every state in order (or,
// for Coalesce sources, a subsequence of them ending with the newest), the
// snapshot consistent and marked, changes in commit order with growing
// Seqs (when the source has them). relaxed accepts what a snapshot resumed
// after a crash documents: it reads at a new snapshot, so a row it had not
// read yet may come in a newer state, whose changes the stream then
// delivers again after it; each row is still read at most once and every
// change still arrives exactly once, in order.
func (c *checker) verify(evs []event.Event, m *model, relaxed bool) {
	c.t.Helper()
	os := c.decode(evs)
	caps := c.h.Caps
	byKey := map[int64][]*obs{}
	for k := range os {
		byKey[os[k].row.ID] = append(byKey[os[k].row.ID], &os[k])
	}
	ids := m.ids()
	for id := range byKey {
		if _, ok := m.hist[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.checkRow(id, m.hist[id], byKey[id], relaxed)
	}
	c.checkSnapshot(os)
	if caps.CommitOrder && !caps.Coalesce {
		c.checkCommitOrder(os, m)
	}
	if caps.Seq {
		c.checkSeq(os)
	}
}

// checkRow matches a row's events to its states and checks them.
func (c *checker) checkRow(id int64, h []state, os []*obs, relaxed bool) {
	c.t.Helper()
	caps := c.h.Caps
	if len(h) == 0 {
		c.errorf("row %d: %d events for a row the test never wrote, the first %s (event %d)", id, len(os), os[0], os[0].i)
		return
	}
	last := 0 // the newest change matched: deletes match the next delete after it
	for _, o := range os {
		j := -1
		if o.op == event.OpDelete {
			for x := last + 1; x < len(h); x++ {
				if !h[x].exists {
					j = x
					break
				}
			}
		} else if o.row.HasV {
			for x := range h {
				if h[x].exists && h[x].is(id, o.row.V) {
					j = x
					break
				}
			}
		}
		if j < 0 {
			c.errorf("row %d: event %d (%s) matches no state the row had after the last matched one; its states: %s", id, o.i, o, renderStates(h))
			continue
		}
		o.j = j
		if o.op != event.OpRead && j > last {
			last = j
		}
		// The op must be the one that made the state.
		want := h[j].op
		switch {
		case o.op == event.OpRead:
		case j == 0:
			want = event.OpCreate // a row that existed at the start, seen by a source without a snapshot
			if caps.Snapshot {
				c.errorf("row %d: event %d (%s) delivers the row's state at the start as a change; a snapshot source reads it (op r)", id, o.i, o)
			}
		case want == event.OpUpdate && !caps.Ops:
			want = event.OpCreate
		}
		if o.op != event.OpRead && o.op != want {
			c.errorf("row %d: event %d is %s, the change that made this state is %s", id, o.i, o, want)
		}
		if caps.BeforeImages && o.op == event.OpUpdate || caps.BeforeImages && o.op == event.OpDelete {
			if o.before == nil || j == 0 || !h[j-1].exists || !o.before.HasV || !h[j-1].is(id, o.before.V) {
				got := "none"
				if o.before != nil && o.before.HasV {
					got = short(o.before.V)
				}
				prev := "?"
				if j > 0 {
					prev = h[j-1].String()
				}
				c.errorf("row %d: event %d (%s): before image v=%s, want the previous state %s", id, o.i, o, got, prev)
			}
		}
	}
	n := len(h) - 1
	var got []int
	for _, o := range os {
		if o.j >= 0 {
			got = append(got, o.j)
		}
	}
	if caps.Coalesce {
		ok := true
		for k := 1; k < len(got); k++ {
			if got[k] <= got[k-1] {
				ok = false
			}
		}
		switch {
		case len(got) == 0:
			// A row that was created and deleted between two reads leaves no trace.
			ok = ok && !h[n].exists && !h[0].exists
		default:
			ok = ok && got[len(got)-1] == n
		}
		if !ok {
			c.errorf("row %d: observed %s; want a subsequence of its states %s, in order, without repeats, ending with the newest", id, renderObs(os), renderStates(h))
		}
		return
	}
	var reads, changes []int
	for _, o := range os {
		if o.j < 0 {
			continue
		}
		if o.op == event.OpRead {
			reads = append(reads, o.j)
		} else {
			changes = append(changes, o.j)
		}
	}
	var wantChanges []int
	if !caps.Snapshot && h[0].exists {
		wantChanges = append(wantChanges, 0)
	}
	for x := 1; x <= n; x++ {
		wantChanges = append(wantChanges, x)
	}
	if !slices.Equal(changes, wantChanges) {
		c.errorf("row %d: changes observed %s; want every change exactly once, in order: %s", id, renderObs(filter(os, false)), renderChanges(h, wantChanges))
	}
	if !caps.Snapshot {
		if len(reads) > 0 {
			c.errorf("row %d: %d snapshot reads (op r) from a source without a snapshot", id, len(reads))
		}
		return
	}
	switch {
	case !relaxed && h[0].exists && !slices.Equal(reads, []int{0}):
		c.errorf("row %d: snapshot reads %s; want exactly one, of its state at the snapshot %s", id, renderObs(filter(os, true)), h[0])
	case !relaxed && !h[0].exists && len(reads) > 0:
		c.errorf("row %d: snapshot reads %s of a row that did not exist at the snapshot", id, renderObs(filter(os, true)))
	case relaxed && len(reads) > 1:
		c.errorf("row %d: read %d times by the snapshot: %s; a resumed snapshot reads each row at most once", id, len(reads), renderObs(filter(os, true)))
	case relaxed && n == 0 && h[0].exists && !slices.Equal(reads, []int{0}):
		c.errorf("row %d: snapshot reads %s of a row that never changed; want exactly one, of %s", id, renderObs(filter(os, true)), h[0])
	}
}

// checkSnapshot checks that snapshot rows come before every change and that
// exactly the last one is marked last.
func (c *checker) checkSnapshot(os []obs) {
	c.t.Helper()
	if !c.h.Caps.Snapshot {
		return
	}
	lastRead, firstChange := -1, -1
	for k, o := range os {
		if o.op == event.OpRead {
			lastRead = k
		} else if firstChange < 0 {
			firstChange = k
		}
	}
	if lastRead < 0 {
		return
	}
	if firstChange >= 0 && firstChange < lastRead {
		c.errorf("event %d (%s) is a change that arrived before the snapshot ended (snapshot row at event %d)", os[firstChange].i, os[firstChange], os[lastRead].i)
	}
	for k, o := range os {
		if o.op == event.OpRead && o.snap == event.SnapshotLast && k != lastRead {
			c.errorf("event %d (%s) is marked as the snapshot's last row, but event %d is a later snapshot row", o.i, o, os[lastRead].i)
		}
	}
	if o := os[lastRead]; o.snap != event.SnapshotLast {
		c.errorf("the snapshot's last row, event %d (%s), has source.snapshot %q; want %q", o.i, o, o.snap, event.SnapshotLast)
	}
}

// checkCommitOrder compares the sequence of changes across rows with the
// model's commit order and reports the first difference.
func (c *checker) checkCommitOrder(os []obs, m *model) {
	c.t.Helper()
	var got []obs
	for _, o := range os {
		if o.op != event.OpRead && o.j != 0 { // j 0: a row's state at the start, not a change
			got = append(got, o)
		}
	}
	for k := range max(len(got), len(m.changes)) {
		if k < len(got) && k < len(m.changes) && got[k].row.ID == m.changes[k].id && got[k].j == m.changes[k].idx {
			continue
		}
		var g, w []string
		for x := max(k-2, 0); x < k+3; x++ {
			if x < len(got) {
				g = append(g, got[x].String())
			}
			if x < len(m.changes) {
				ch := m.changes[x]
				s := m.hist[ch.id][ch.idx]
				w = append(w, fmt.Sprintf("%s %d %s", ch.op, ch.id, s))
			}
		}
		c.errorf("changes leave commit order at change %d of %d (observed %d): observed [%s], want [%s]",
			k, len(m.changes), len(got), strings.Join(g, ", "), strings.Join(w, ", "))
		return
	}
}

// checkSeq checks event.Seq and event.Version: zero and 1 for snapshot rows;
// for changes non-zero, growing across the sequence, and growing per row.
func (c *checker) checkSeq(os []obs) {
	c.t.Helper()
	var prev event.Seq
	prevAt := -1
	ver := map[int64]int64{}
	for _, o := range os {
		if o.op == event.OpRead {
			if !o.seq.IsZero() || !o.verOK || o.ver != 1 {
				c.errorf("event %d (%s): snapshot row has Seq %v and Version %d (ok %v); want the zero Seq and Version 1", o.i, o, o.seq, o.ver, o.verOK)
			}
			continue
		}
		if o.seq.IsZero() {
			c.errorf("event %d (%s): a change with the zero Seq", o.i, o)
			continue
		}
		if prevAt >= 0 && o.seq.Compare(prev) <= 0 {
			c.errorf("event %d (%s): Seq %v is not after event %d's %v: changes are repeated or out of order", o.i, o, o.seq, prevAt, prev)
		}
		prev, prevAt = o.seq, o.i
		if !o.verOK {
			c.errorf("event %d (%s): Version() is not ok", o.i, o)
		} else if v, ok := ver[o.row.ID]; ok && o.ver <= v {
			c.errorf("event %d (%s): Version %d is not above the row's previous %d", o.i, o, o.ver, v)
		}
		ver[o.row.ID] = o.ver
	}
}

// sinkView is what a sink that absorbs replays holds after receiving evs,
// in order: with Seqs, a change whose Seq is not after the newest one
// already written is skipped (as the SQL sinks do), and a row is read by
// the snapshot once (later reads would only overwrite it); without Seqs,
// an event equal to one already written (same row, op and value) is
// skipped, as an upsert makes it harmless.
func (c *checker) sinkView(evs []event.Event) []event.Event {
	var out []event.Event
	var newest event.Seq
	read := map[int64]bool{}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Schema == nil {
			out = append(out, e)
			continue
		}
		img := e.After
		if img == nil {
			img = e.Before
		}
		r, err := c.row(e.Schema, img)
		if err != nil {
			out = append(out, e) // verify reports it
			continue
		}
		switch {
		case c.h.Caps.Seq && e.Op == event.OpRead:
			if read[r.ID] {
				continue
			}
			read[r.ID] = true
		case c.h.Caps.Seq:
			s := e.Seq()
			if !s.IsZero() && s.Compare(newest) <= 0 {
				continue
			}
			newest = s
		default:
			k := fmt.Sprintf("%d %s %v %s", r.ID, e.Op, r.HasV, r.V)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, e)
	}
	return out
}

// dropRepeatedPrefix removes from evs a first, partial delivery of the
// transaction that wrote rows first..last (Target.Fill) when that
// transaction comes again from its first row later: a source may deliver a
// transaction it emitted in part again from its beginning after a
// reconnect. It returns the events left and how many it removed.
func (c *checker) dropRepeatedPrefix(evs []event.Event, first, last int64) ([]event.Event, int) {
	var at []int // indices of the transaction's first delivery
	next := first
	for i, e := range evs {
		if e.Schema == nil || e.Op != event.OpCreate {
			continue
		}
		r, err := c.row(e.Schema, e.After)
		if err != nil || r.ID < first || r.ID > last {
			continue
		}
		switch {
		case r.ID == next:
			at = append(at, i)
			next++
		case r.ID == first && len(at) > 0:
			// Again from the first row: the first delivery was partial.
			out := make([]event.Event, 0, len(evs)-len(at))
			k := 0
			for j, e := range evs {
				if k < len(at) && at[k] == j {
					k++
					continue
				}
				out = append(out, e)
			}
			return out, len(at)
		default:
			return evs, 0 // verify reports it
		}
	}
	return evs, 0
}

func filter(os []*obs, reads bool) []*obs {
	var out []*obs
	for _, o := range os {
		if (o.op == event.OpRead) == reads {
			out = append(out, o)
		}
	}
	return out
}

func renderObs(os []*obs) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = fmt.Sprintf("#%d %s", o.i, o)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func renderStates(h []state) string {
	parts := make([]string, len(h))
	for i, s := range h {
		if i == 0 {
			parts[i] = "start:" + s.String()
		} else {
			parts[i] = fmt.Sprintf("%s:%s", s.op, s)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func renderChanges(h []state, idx []int) string {
	parts := make([]string, len(idx))
	for i, j := range idx {
		op := h[j].op
		if j == 0 {
			op = event.OpCreate
		}
		parts[i] = fmt.Sprintf("%s %s", op, h[j])
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
