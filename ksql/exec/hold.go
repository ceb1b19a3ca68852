package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// holdSet tracks, for Options.HoldUntilSnapshot, which input streams have
// finished their snapshot and which stream-table joins still hold their
// stream side.
type holdSet struct {
	joins   []*stJoin
	groups  map[string]*holdGroup // by input stream
	waiting int                   // groups not done
	// orphans hold rows from a run with the option on; they are released
	// at the next input.
	orphans []*stJoin
}

// releaseOrphans joins the rows an earlier run held.
func (x *Executor) releaseOrphans(r *run) error {
	var first error
	for len(x.holds.orphans) > 0 {
		j := x.holds.orphans[0]
		x.holds.orphans = x.holds.orphans[1:]
		if err := j.release(r); err != nil {
			if !isRecord(err) {
				return err
			}
			first = cmpErr(first, err)
		}
	}
	return first
}

// holdGroup is one input stream some held join waits for.
type holdGroup struct {
	stream string
	source string // its source's name, once an event told it
	done   bool
	joins  []*stJoin
}

func doneKey(stream string) []byte { return append(bytes.Clone(doneKeyBase), stream...) }

// initHolds computes each stream-table join's table-side input streams:
// the streams its table sources read, and for a source reading another
// query's output, that query's input streams, recursively.
func (x *Executor) initHolds() error {
	x.holds.groups = map[string]*holdGroup{}
	if !x.opts.HoldUntilSnapshot {
		// Rows held by an earlier run with the option on are joined
		// before the next input.
		for _, j := range x.holds.joins {
			found := false
			if err := x.st.Scan(j.hold, prefixEnd(j.hold), func(_, _ []byte) bool { found = true; return false }); err != nil {
				return err
			}
			if found {
				x.holds.orphans = append(x.holds.orphans, j)
			}
		}
		x.holds.joins = nil
		return nil
	}
	for _, j := range x.holds.joins {
		seen := map[string]bool{}
		var streams []string
		var walk func(stream string)
		walk = func(stream string) {
			if seen[stream] {
				return
			}
			seen[stream] = true
			if q := x.produced[stream]; q != nil {
				for _, s := range q.sources {
					walk(s.n.Stream)
				}
				return
			}
			streams = append(streams, stream)
		}
		for _, s := range j.tableSources {
			walk(s.n.Stream)
		}
		for _, stream := range streams {
			g := x.holds.groups[stream]
			if g == nil {
				g = &holdGroup{stream: stream}
				_, ok, err := x.st.Get(doneKey(stream))
				if err != nil {
					return err
				}
				g.done = ok
				if !ok {
					x.holds.waiting++
				}
				x.holds.groups[stream] = g
			}
			g.joins = append(g.joins, j)
			j.deps = append(j.deps, g)
			if !g.done {
				j.holding = true
			}
		}
	}
	return nil
}

// Waiting returns the input streams whose snapshot end some held
// stream-table join still waits for.
func (x *Executor) Waiting() []string {
	var out []string
	for s, g := range x.holds.groups {
		if !g.done {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// SnapshotDone tells the Executor that stream has finished its snapshot
// (or has none), for sources whose events cannot tell it: an empty table
// sends no row marked last. Held stream rows whose table sides are all
// done are joined now; their output rows are appended to out.
func (x *Executor) SnapshotDone(stream string, out []Row) ([]Row, error) {
	r := &run{x: x, out: out}
	g := x.holds.groups[stream]
	if g == nil || g.done {
		return out, nil
	}
	if err := x.markDone(r, []*holdGroup{g}); err != nil {
		return r.out, err
	}
	if err := r.route(len(out)); err != nil {
		return r.out, err
	}
	return r.out, r.recErr
}

// noteSnapshot marks streams done after ev: the stream's own row marked
// last (of the snapshot, or of its table), or a streaming change of the
// stream — or of any stream of the same source, whose snapshot is then
// over as a whole. A stream's source is the one its events name, or
// before any event the first part of its name ("<source>.<schema>.<table>").
func (x *Executor) noteSnapshot(r *run, stream string, ev *event.Event) error {
	if x.holds.waiting == 0 {
		return nil
	}
	var done []*holdGroup
	mark := ev.Source.Snapshot
	g := x.holds.groups[stream]
	if g != nil && ev.Schema != nil && ev.Schema.Source != "" {
		g.source = ev.Schema.Source
	}
	if g != nil && !g.done && (mark == event.SnapshotLast || mark == event.SnapshotLastInTable || mark == event.SnapshotFalse) {
		done = append(done, g)
	}
	if (mark == event.SnapshotLast || mark == event.SnapshotFalse) && ev.Schema != nil && ev.Schema.Source != "" {
		for _, o := range x.holds.groups {
			if o != g && !o.done && o.sourceName() == ev.Schema.Source {
				done = append(done, o)
			}
		}
	}
	if len(done) == 0 {
		return nil
	}
	return x.markDone(r, done)
}

func (g *holdGroup) sourceName() string {
	if g.source != "" {
		return g.source
	}
	name, _, _ := strings.Cut(g.stream, ".")
	return name
}

// markDone records groups as done, in state, and releases the joins whose
// table sides are now all done, in the order the joins were built.
func (x *Executor) markDone(r *run, groups []*holdGroup) error {
	for _, g := range groups {
		if g.done {
			continue
		}
		g.done = true
		x.holds.waiting--
		if err := x.st.Set(doneKey(g.stream), nil); err != nil {
			return err
		}
	}
	var first error
	for _, j := range x.holds.joins {
		if !j.holding || !j.allDone() {
			continue
		}
		j.holding = false
		if err := j.release(r); err != nil {
			if !isRecord(err) {
				return err
			}
			first = cmpErr(first, err)
		}
	}
	return first
}

func (j *stJoin) allDone() bool {
	for _, g := range j.deps {
		if !g.done {
			return false
		}
	}
	return true
}

// keep stores a stream row until the table side is ready.
func (j *stJoin) keep(r *run, c *change) error {
	k := binary.BigEndian.AppendUint64(bytes.Clone(j.hold), c.seq)
	v := appendRow(binary.AppendVarint(nil, c.ts), c.row)
	r.x.stats.held.Add(1)
	return j.st.Set(k, v)
}

// release joins the held rows in their order, a bounded batch at a time
// (the rows cannot be joined inside the Scan: operators downstream may
// delete ranges), then deletes them.
func (j *stJoin) release(r *run) error {
	const batch = 256
	from := j.hold
	end := prefixEnd(j.hold)
	var first error
	for {
		var held []change
		var last []byte
		var derr error
		err := j.st.Scan(from, end, func(k, v []byte) bool {
			if len(k) != len(j.hold)+8 {
				derr = fmt.Errorf("exec: a held row's key does not decode: %w", errBadRow)
				return false
			}
			ts, row, err := decodeTimedRow(v)
			if err != nil {
				derr = fmt.Errorf("exec: a held row does not decode: %w", err)
				return false
			}
			held = append(held, change{row: row, ts: ts, seq: binary.BigEndian.Uint64(k[len(j.hold):])})
			last = bytes.Clone(k)
			return len(held) < batch
		})
		if err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		for i := range held {
			if err := j.join(r, &held[i]); err != nil {
				if !isRecord(err) {
					return err
				}
				first = cmpErr(first, err)
			}
		}
		if len(held) < batch {
			break
		}
		from = append(last, 0)
	}
	if err := j.st.DeleteRange(j.hold, end); err != nil {
		return err
	}
	return first
}
