package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// ssJoin is a stream-stream join WITHIN (before, after) GRACE PERIOD g:
// Kafka Streams' KStreamKStreamJoin with the outer-join store of its
// spurious-results fix. A left row at tl matches right rows at tr with
// tl - before ≤ tr ≤ tl + after, in either arrival order; see the package
// doc for the rules on stream time, late rows and outer results.
//
// State:
//
//	'b' side bucket joinkey time seq → flag, row   both sides' rows (bucket = time / bucketSize)
//	'o' time side joinkey seq        → row         rows waiting for their outer result (side: 0 right, 1 left)
//
// The buckets make expiry a range deletion per bucket; a lookup reads the
// one to three buckets its time range covers.
type ssJoin struct {
	typ                  ir.JoinType
	keys                 [2]ir.Evaluator
	widths               [2]int
	before, after, grace int64 // µs
	ret                  int64 // before + after + grace: how long a row can still match
	bucketSize           int64
	outer                [2]bool // whether the side's unmatched rows produce outer results
	buf, ob              []byte  // 'b' and 'o' prefixes
	m                    *meta   // the stream time, shared by both sides
	st                   stateStore
	out                  link
	// minOuter is a lower bound of the times in the outer store (in
	// memory; unknown after a restart, when the first pass finds it).
	minOuter      int64
	minOuterKnown bool
	expiredBelow  int64 // buckets below this are deleted
	expiredKnown  bool
}

func newSSJoin(n *ir.Join, keys [2]ir.Evaluator, widths [2]int, pfx []byte, m *meta, st stateStore, out link) (*ssJoin, error) {
	j := &ssJoin{typ: n.Type, keys: keys, widths: widths, before: n.Before.Microseconds(), after: n.After.Microseconds(),
		grace: n.Grace.Microseconds(), m: m, st: st, out: out,
		buf: append(append([]byte(nil), pfx...), 'b'), ob: append(append([]byte(nil), pfx...), 'o')}
	if j.before < 0 || j.after < 0 || j.grace < 0 {
		return nil, fmt.Errorf("a join window WITHIN (%v, %v) GRACE PERIOD %v", n.Before, n.After, n.Grace)
	}
	j.ret = j.before + j.after + j.grace
	// A lookup spans before + after, so it reads two buckets at most.
	// (Buckets twice as wide, read once half the time, measured no faster:
	// a Scan of an empty range is cheap next to one that finds rows.)
	j.bucketSize = max(j.before+j.after, time.Second.Microseconds())
	switch n.Type {
	case ir.LeftOuter:
		j.outer[0] = true
	case ir.RightOuter:
		j.outer[1] = true
	case ir.FullOuter:
		j.outer = [2]bool{true, true}
	}
	return j, nil
}

// reach returns, for a row of side at t, the times of the other side's
// rows it matches.
func (j *ssJoin) reach(side int, t int64) (from, to int64) {
	if side == 0 {
		return t - j.before, t + j.after
	}
	return t - j.after, t + j.before
}

// lookback is how far after its own time a side's row can still be
// matched by the other side: its window closes at t + lookback + grace.
func (j *ssJoin) lookback(side int) int64 {
	if side == 0 {
		return j.after
	}
	return j.before
}

func (j *ssJoin) push(r *run, side int, c *change) error {
	k, err := j.keys[side].Eval(c.row)
	if err != nil {
		return &RecordError{Err: err}
	}
	if k.IsNull() {
		r.x.stats.nullKeys.Add(1)
		return nil
	}
	jk, err := stateKey(nil, []event.Value{k})
	if err != nil {
		return err
	}
	t := c.ts
	st := j.m.advance(t)
	if t+j.lookback(side)+j.grace < st {
		// Its window has closed: every outer result it could have
		// changed is out already.
		r.x.stats.late.Add(1)
		return nil
	}
	if t == st {
		if err := j.emitClosed(r, st); err != nil {
			return err
		}
	}
	other := 1 - side
	from, to := j.reach(side, t)
	matches, err := j.fetch(other, jk, from, to)
	if err != nil {
		return err
	}
	for _, m := range matches {
		if m.inOuter {
			// The partner no longer needs its outer result.
			p := j.outerKey(m.ts, other, jk)
			if err := j.st.DeleteRange(p, prefixEnd(p)); err != nil {
				return err
			}
		}
		var row []event.Value
		if side == 0 {
			row = joinRows(c.row, m.row, j.widths[0], j.widths[1])
		} else {
			row = joinRows(m.row, c.row, j.widths[0], j.widths[1])
		}
		if err := j.out.emit(r, &change{row: row, ts: max(t, m.ts), seq: c.seq}); err != nil {
			return err
		}
	}
	inOuter := false
	if len(matches) == 0 && j.outer[side] {
		if to < st {
			// Out of order and unmatched: Kafka Streams emits its outer
			// result at once.
			if err := j.emitOuter(r, side, c.row, t, c.seq); err != nil {
				return err
			}
		} else {
			inOuter = true
			k := binary.BigEndian.AppendUint64(j.outerKey(t, side, jk), c.seq)
			if err := j.st.Set(k, appendRow(nil, c.row)); err != nil {
				return err
			}
			// An unknown bound (after a restart) stays unknown until a
			// pass reads the store: older rows may wait there.
			if j.minOuterKnown && t < j.minOuter {
				j.minOuter = t
			}
		}
	}
	bk := j.bufKey(side, t, jk)
	bk = binary.BigEndian.AppendUint64(appendInt64Key(bk, t), c.seq)
	flag := byte(0)
	if inOuter {
		flag = 1
	}
	if err := j.st.Set(bk, appendRow([]byte{flag}, c.row)); err != nil {
		return err
	}
	return j.expire(st)
}

func (j *ssJoin) bucket(t int64) int64 { return civil.FloorDiv(t, j.bucketSize) }

// bufKey is the prefix of side's rows of key jk in t's bucket.
func (j *ssJoin) bufKey(side int, t int64, jk []byte) []byte {
	k := append(append([]byte(nil), j.buf...), byte(side))
	return append(appendInt64Key(k, j.bucket(t)), jk...)
}

func (j *ssJoin) outerKey(t int64, side int, jk []byte) []byte {
	k := appendInt64Key(append([]byte(nil), j.ob...), t)
	return append(append(k, 1-byte(side)), jk...) // right (0) sorts before left (1), as in Kafka Streams
}

type ssMatch struct {
	row     []event.Value
	ts      int64
	inOuter bool
}

// fetch returns side's rows of key jk with times in [from, to], by time
// then arrival.
func (j *ssJoin) fetch(side int, jk []byte, from, to int64) ([]ssMatch, error) {
	var out []ssMatch
	var derr error
	for b := j.bucket(from); b <= j.bucket(to); b++ {
		p := j.bufKey(side, b*j.bucketSize, jk)
		lo := appendInt64Key(bytes.Clone(p), from)
		hi := appendInt64Key(bytes.Clone(p), to)
		hi = binary.BigEndian.AppendUint64(hi, ^uint64(0))
		hi = append(hi, 0)
		err := j.st.Scan(lo, hi, func(k, v []byte) bool {
			if len(k) != len(p)+16 || len(v) < 1 {
				derr = fmt.Errorf("exec: a buffered join row does not decode: %w", errBadRow)
				return false
			}
			ts := int64(binary.BigEndian.Uint64(k[len(p):]) ^ (1 << 63))
			row, err := decodeRow(v[1:])
			if err != nil {
				derr = fmt.Errorf("exec: a buffered join row does not decode: %w", err)
				return false
			}
			out = append(out, ssMatch{row: row, ts: ts, inOuter: v[0] == 1})
			return true
		})
		if err != nil {
			return nil, err
		}
		if derr != nil {
			return nil, derr
		}
	}
	return out, nil
}

func (j *ssJoin) emitOuter(r *run, side int, row []event.Value, t int64, seq uint64) error {
	var out []event.Value
	if side == 0 {
		out = joinRows(row, nil, j.widths[0], j.widths[1])
	} else {
		out = joinRows(nil, row, j.widths[0], j.widths[1])
	}
	return j.out.emit(r, &change{row: out, ts: t, seq: seq})
}

// emitClosed emits the outer results of the waiting rows whose window has
// closed (t + lookback + grace < stream time), in the outer store's order
// (time, right before left, key, arrival), and deletes them.
func (j *ssJoin) emitClosed(r *run, st int64) error {
	minLook := min(j.before, j.after)
	if j.minOuterKnown && j.minOuter+minLook+j.grace >= st {
		return nil
	}
	type closed struct {
		key  []byte
		side int
		t    int64
		seq  uint64
		row  []event.Value
	}
	const batch = 512
	from := j.ob
	end := prefixEnd(j.ob)
	// Closed rows are deleted, so the first row left (still open) is the
	// new lower bound.
	j.minOuterKnown = false
	seen := func(t int64) {
		if !j.minOuterKnown {
			j.minOuter, j.minOuterKnown = t, true
		}
	}
	for {
		var out []closed
		var derr error
		full, stopped := false, false
		var next []byte
		err := j.st.Scan(from, end, func(k, v []byte) bool {
			rest := k[len(j.ob):]
			if len(rest) < 8+1+8 {
				derr = fmt.Errorf("exec: an outer-join entry does not decode: %w", errBadRow)
				return false
			}
			t := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
			if t+minLook+j.grace >= st {
				seen(t)
				stopped = true
				return false
			}
			side := 1 - int(rest[8])
			if t+j.lookback(side)+j.grace >= st {
				seen(t)
				return true // still open; a later row of the other side may be closed
			}
			row, err := decodeRow(v)
			if err != nil {
				derr = fmt.Errorf("exec: an outer-join entry does not decode: %w", err)
				return false
			}
			out = append(out, closed{key: bytes.Clone(k), side: side, t: t, seq: binary.BigEndian.Uint64(k[len(k)-8:]), row: row})
			if len(out) == batch {
				full = true
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
		for _, c := range out {
			if err := j.st.Delete(c.key); err != nil {
				return err
			}
			if err := j.emitOuter(r, c.side, c.row, c.t, c.seq); err != nil {
				return err
			}
		}
		if !full || stopped {
			// Nothing left: any later row sets the bound.
			seen(noOuter)
			return nil
		}
		from = next
	}
}

// noOuter is the lower bound of an empty outer store: far in the future,
// with room for adding a window and grace.
const noOuter = math.MaxInt64 / 4

// expire deletes the buckets whose rows are all older than the stream
// time minus before + after + grace: no row that is not late can match
// them.
func (j *ssJoin) expire(st int64) error {
	below := j.bucket(st - j.ret) // buckets below this hold only expired rows
	if j.expiredKnown && below <= j.expiredBelow {
		return nil
	}
	for side := 0; side < 2; side++ {
		p := append(append([]byte(nil), j.buf...), byte(side))
		if err := j.st.DeleteRange(p, appendInt64Key(bytes.Clone(p), below)); err != nil {
			return err
		}
	}
	j.expiredBelow, j.expiredKnown = below, true
	return nil
}
