package exec

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// windowAgg is a TUMBLING or HOPPING windowed GROUP BY over a stream,
// Kafka Streams' KStreamWindowAggregate: a record updates each window
// containing it whose end is after the stream time minus the grace, and
// is dropped (counted as late) for the others. Windows are kept under
// 'w' + start + group, so that those past retention go with one range
// deletion.
type windowAgg struct {
	*aggCore
	space                     []byte
	size, advance, grace, ret int64 // µs
	m                         *meta
	out                       link
	// The windows up to the start expiredTo (in advances) are deleted (in
	// memory: after a restart the first expiry deletes from the start of
	// the space, which holds nothing older).
	expiredTo    int64
	expiredKnown bool
}

func newWindowAgg(a *aggCore, w *ir.Window, pfx []byte, m *meta, out link) (*windowAgg, error) {
	g := &windowAgg{aggCore: a, space: append(pfx, 'w'), m: m, out: out,
		size: w.Size.Microseconds(), grace: w.Grace.Microseconds(), ret: w.Retention.Microseconds()}
	g.advance = g.size
	if w.Kind == ir.Hopping {
		g.advance = w.Advance.Microseconds()
	}
	if g.size <= 0 || g.advance <= 0 || g.advance > g.size || g.grace < 0 {
		return nil, fmt.Errorf("a window of size %v, advance %v and grace %v", w.Size, w.Advance, w.Grace)
	}
	// A window is kept at least until it closes (ksqlDB refuses a shorter
	// retention; sluice keeps it longer instead).
	g.ret = max(g.ret, g.size+g.grace)
	return g, nil
}

// windowStarts returns the starts of the windows containing ts, in
// increasing order (TimeWindows.windowsFor: like Kafka Streams, no window
// starts before 0 for a time at or after 0).
func (g *windowAgg) windowStarts(ts int64) []int64 {
	first := civil.FloorDiv(ts-g.size+g.advance, g.advance) * g.advance
	if ts >= 0 && first < 0 {
		first = 0
	}
	var out []int64
	for s := first; s <= ts; s += g.advance {
		out = append(out, s)
	}
	return out
}

// millis is an event time (microseconds) as the ROWTIME, WINDOWSTART and
// WINDOWEND columns hold it: BIGINT epoch milliseconds, ksqlDB's type
// (package ir), rounded down.
func millis(us int64) int64 { return civil.FloorDiv(us, 1000) }

func (g *windowAgg) push(r *run, _ int, c *change) error {
	group, ok, err := g.group(r, c.row)
	if err != nil || !ok {
		return err
	}
	st := g.m.advance(c.ts)
	closeTime := st - g.grace
	var args [][]event.Value
	for _, start := range g.windowStarts(c.ts) {
		end := start + g.size
		if end <= closeTime {
			r.x.stats.late.Add(1)
			continue
		}
		if args == nil {
			if args, err = g.argVals(c.row); err != nil {
				return err
			}
		}
		k, err := stateKey(appendInt64Key(append([]byte(nil), g.space...), start), group)
		if err != nil {
			return err
		}
		cur, found, err := g.load(k)
		if err != nil {
			return err
		}
		nw, err := g.add(cur, args, c.seq)
		if err != nil {
			return err
		}
		nw.ts = c.ts
		if found {
			nw.ts = max(c.ts, cur.ts)
		}
		if err := g.store(k, cur, found, nw); err != nil {
			return err
		}
		win := &window{start, end}
		row, err := g.result(group, nw, win)
		if err != nil {
			return err
		}
		var old []event.Value
		if found && g.wantOld {
			if old, err = g.result(group, cur, win); err != nil {
				return err
			}
		}
		if err := g.out.emit(r, &change{row: row, old: old, ts: nw.ts, seq: c.seq, win: win}); err != nil {
			return err
		}
	}
	return g.expire(st)
}

// expire deletes the windows that start before the stream time minus the
// retention: one range deletion each time that passes a window start.
func (g *windowAgg) expire(st int64) error {
	cutoff := st - g.ret
	last := civil.FloorDiv(cutoff-1, g.advance) // the last window start below cutoff, in advances
	if g.expiredKnown && last <= g.expiredTo {
		return nil
	}
	end := appendInt64Key(append([]byte(nil), g.space...), cutoff)
	if err := g.st.DeleteRange(g.space, end); err != nil {
		return err
	}
	g.expiredTo, g.expiredKnown = last, true
	return nil
}
