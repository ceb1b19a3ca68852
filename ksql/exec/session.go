package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/sluice-dev/sluice/ksql/ir"
)

// sessionAgg is a SESSION windowed GROUP BY over a stream, Kafka Streams'
// KStreamSessionWindowAggregate: a record at t merges every session of
// its key that ends at or after t - gap and starts at or before t + gap
// into one (deleting them, each with a delete output), unless the merged
// session ends before the stream time minus grace minus gap, in which
// case the record is dropped as late.
//
// Sessions are kept under 's' + group + end + start (found by scanning
// the key's sessions from end ≥ t - gap), with an index 'x' + end +
// group + start by which the expired ones are found.
type sessionAgg struct {
	*aggCore
	prim, idx       []byte
	gap, grace, ret int64 // µs
	m               *meta
	out             link
	expiredTo       int64
	expiredKnown    bool
}

func newSessionAgg(a *aggCore, w *ir.Window, pfx []byte, m *meta, out link) (*sessionAgg, error) {
	s := &sessionAgg{aggCore: a, prim: append(append([]byte(nil), pfx...), 's'), idx: append(append([]byte(nil), pfx...), 'x'),
		gap: w.Size.Microseconds(), grace: w.Grace.Microseconds(), ret: w.Retention.Microseconds(), m: m, out: out}
	if s.gap <= 0 || s.grace < 0 {
		return nil, fmt.Errorf("a session window of gap %v and grace %v", w.Size, w.Grace)
	}
	// Kafka Streams keeps sessions for gap + grace unless told more.
	s.ret = max(s.ret, s.gap+s.grace)
	return s, nil
}

// session is a stored session.
type session struct {
	key        []byte // its primary key
	start, end int64
	acc        accs
}

func (s *sessionAgg) push(r *run, _ int, c *change) error {
	group, ok, err := s.group(r, c.row)
	if err != nil || !ok {
		return err
	}
	t := c.ts
	st := s.m.advance(t)
	closeTime := st - s.grace - s.gap
	gk, err := stateKey(nil, group)
	if err != nil {
		return err
	}
	// A session is alive while it ends after st - ret (Kafka Streams'
	// session stores: end > observed stream time - retention).
	found, err := s.find(gk, max(t-s.gap, st-s.ret+1), t+s.gap)
	if err != nil {
		return err
	}
	merged := window{t, t}
	for _, f := range found {
		merged.start, merged.end = min(merged.start, f.start), max(merged.end, f.end)
	}
	if merged.end < closeTime {
		r.x.stats.late.Add(1)
		return s.expire(st)
	}
	agg := accs{accs: make([][]byte, len(s.aggs))}
	for i, f := range s.aggs {
		agg.accs[i] = f.Init()
	}
	for _, f := range found {
		for i, fn := range s.aggs {
			m, err := fn.(ir.Merger).Merge(agg.accs[i], f.acc.accs[i])
			if err != nil {
				return &RecordError{Err: err}
			}
			agg.accs[i] = m
		}
	}
	if merged != (window{t, t}) {
		for _, f := range found {
			if err := s.st.Delete(f.key); err != nil {
				return err
			}
			if err := s.st.Delete(s.idxKey(gk, f.start, f.end)); err != nil {
				return err
			}
			win := &window{f.start, f.end}
			old, err := s.result(group, f.acc, win)
			if err != nil {
				return err
			}
			if err := s.out.emit(r, &change{old: old, ts: f.end, seq: c.seq, win: win}); err != nil {
				return err
			}
		}
	}
	args, err := s.argVals(c.row)
	if err != nil {
		return err
	}
	if agg, err = s.add(agg, args, c.seq); err != nil {
		return err
	}
	agg.ts = merged.end
	pk := s.primKey(gk, merged.start, merged.end)
	if err := s.store(pk, accs{}, false, agg); err != nil {
		return err
	}
	if err := s.st.Set(s.idxKey(gk, merged.start, merged.end), nil); err != nil {
		return err
	}
	win := &window{merged.start, merged.end}
	row, err := s.result(group, agg, win)
	if err != nil {
		return err
	}
	if err := s.out.emit(r, &change{row: row, ts: merged.end, seq: c.seq, win: win}); err != nil {
		return err
	}
	return s.expire(st)
}

func (s *sessionAgg) primKey(gk []byte, start, end int64) []byte {
	k := append(append([]byte(nil), s.prim...), gk...)
	return appendInt64Key(appendInt64Key(k, end), start)
}

func (s *sessionAgg) idxKey(gk []byte, start, end int64) []byte {
	k := appendInt64Key(append([]byte(nil), s.idx...), end)
	return appendInt64Key(append(k, gk...), start)
}

// find returns the group's sessions ending at or after endFrom and
// starting at or before startTo, by increasing end. Sessions of one key
// never overlap, so once one starts after startTo every later one does.
func (s *sessionAgg) find(gk []byte, endFrom, startTo int64) ([]session, error) {
	lo := appendInt64Key(append(append([]byte(nil), s.prim...), gk...), endFrom)
	hi := prefixEnd(append(append([]byte(nil), s.prim...), gk...))
	var out []session
	var derr error
	err := s.st.Scan(lo, hi, func(k, v []byte) bool {
		rest := k[len(s.prim)+len(gk):]
		if len(rest) != 16 {
			derr = fmt.Errorf("exec: a session key does not decode: %w", errBadRow)
			return false
		}
		end := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
		start := int64(binary.BigEndian.Uint64(rest[8:]) ^ (1 << 63))
		if start > startTo {
			return false
		}
		a, err := decodeAccs(v, len(s.aggs))
		if err != nil {
			derr = fmt.Errorf("exec: a stored session does not decode: %w", err)
			return false
		}
		out = append(out, session{key: bytes.Clone(k), start: start, end: end, acc: a})
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, derr
}

// expire deletes the sessions that ended at or before the stream time
// minus the retention, at most once per gap.
func (s *sessionAgg) expire(st int64) error {
	cutoff := st - s.ret + 1 // the first end kept
	if s.expiredKnown && cutoff < s.expiredTo+s.gap {
		return nil
	}
	end := appendInt64Key(append([]byte(nil), s.idx...), cutoff)
	const batch = 1024
	for {
		var prims [][]byte
		var derr error
		err := s.st.Scan(s.idx, end, func(k, _ []byte) bool {
			pk, err := s.primFromIdx(k)
			if err != nil {
				derr = err
				return false
			}
			prims = append(prims, pk)
			return len(prims) < batch
		})
		if err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		for _, pk := range prims {
			if err := s.st.Delete(pk); err != nil {
				return err
			}
		}
		if len(prims) < batch {
			break
		}
		// Delete the index entries of this batch before scanning again.
		last := s.idxFromPrim(prims[len(prims)-1])
		if err := s.st.DeleteRange(s.idx, append(last, 0)); err != nil {
			return err
		}
	}
	if err := s.st.DeleteRange(s.idx, end); err != nil {
		return err
	}
	s.expiredTo, s.expiredKnown = cutoff, true
	return nil
}

// primFromIdx turns an index key ('x' end group start) into the primary
// key ('s' group end start).
func (s *sessionAgg) primFromIdx(k []byte) ([]byte, error) {
	rest := k[len(s.idx):]
	if len(rest) < 16 {
		return nil, fmt.Errorf("exec: a session index key does not decode: %w", errBadRow)
	}
	end, gk, start := rest[:8], rest[8:len(rest)-8], rest[len(rest)-8:]
	pk := append(append([]byte(nil), s.prim...), gk...)
	pk = append(append(pk, end...), start...)
	return pk, nil
}

func (s *sessionAgg) idxFromPrim(pk []byte) []byte {
	rest := pk[len(s.prim):]
	gk, end, start := rest[:len(rest)-16], rest[len(rest)-16:len(rest)-8], rest[len(rest)-8:]
	k := append(append([]byte(nil), s.idx...), end...)
	return append(append(k, gk...), start...)
}

// prefixEnd returns the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	e := bytes.Clone(p)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] != 0xFF {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}
