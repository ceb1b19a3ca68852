package exec

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// The models below restate the package doc's rules as naively as
// possible (every row in memory, every pass a full scan), so that the
// operators' state layouts, bucketing, expiry, bounds and batching are
// checked against the rules on random inputs.

// ssModel is the stream-stream join.
type ssModel struct {
	typ                  ir.JoinType
	before, after, grace int64
	st                   int64
	known                bool
	rows                 []*mRow
	out                  []string
}

type mRow struct {
	side    int
	key     string
	ts      int64
	seq     int
	id      string
	waiting bool // waiting for its outer result
}

func (m *ssModel) lookback(side int) int64 {
	if side == 0 {
		return m.after
	}
	return m.before
}

func (m *ssModel) preserved(side int) bool {
	return m.typ == ir.FullOuter || m.typ == ir.LeftOuter && side == 0 || m.typ == ir.RightOuter && side == 1
}

func (m *ssModel) emit(l, r string, ts int64) {
	if l == "" {
		l = "NULL"
	}
	if r == "" {
		r = "NULL"
	}
	m.out = append(m.out, fmt.Sprintf("SHIPPED insert (%s,%s) @%s", l, r, secs(ts)))
}

func (m *ssModel) emitRow(w *mRow) {
	if w.side == 0 {
		m.emit(w.id, "", w.ts)
	} else {
		m.emit("", w.id, w.ts)
	}
}

func (m *ssModel) push(side int, key *string, id string, ts int64, seq int) {
	if key == nil {
		return
	}
	if !m.known || ts > m.st {
		m.st, m.known = ts, true
	}
	if ts+m.lookback(side)+m.grace < m.st {
		return
	}
	if ts == m.st {
		var closed []*mRow
		for _, w := range m.rows {
			if w.waiting && w.ts+m.lookback(w.side)+m.grace < m.st {
				closed = append(closed, w)
			}
		}
		sort.Slice(closed, func(i, j int) bool {
			a, b := closed[i], closed[j]
			if a.ts != b.ts {
				return a.ts < b.ts
			}
			if a.side != b.side {
				return a.side == 1 // right first
			}
			if a.key != b.key {
				return a.key < b.key
			}
			return a.seq < b.seq
		})
		for _, w := range closed {
			w.waiting = false
			m.emitRow(w)
		}
	}
	other := 1 - side
	from, to := ts-m.before, ts+m.after
	if side == 1 {
		from, to = ts-m.after, ts+m.before
	}
	var matches []*mRow
	for _, w := range m.rows {
		if w.side == other && w.key == *key && w.ts >= from && w.ts <= to {
			matches = append(matches, w)
		}
	}
	sort.SliceStable(matches, func(i, j int) bool {
		if matches[i].ts != matches[j].ts {
			return matches[i].ts < matches[j].ts
		}
		return matches[i].seq < matches[j].seq
	})
	for _, w := range matches {
		for _, v := range m.rows {
			if v.side == other && v.key == w.key && v.ts == w.ts {
				v.waiting = false
			}
		}
		if side == 0 {
			m.emit(id, w.id, max(ts, w.ts))
		} else {
			m.emit(w.id, id, max(ts, w.ts))
		}
	}
	row := &mRow{side: side, key: *key, ts: ts, seq: seq, id: id}
	if len(matches) == 0 && m.preserved(side) {
		if to < m.st {
			m.emitRow(row)
		} else {
			row.waiting = true
		}
	}
	m.rows = append(m.rows, row)
}

func TestStreamStreamJoinModel(t *testing.T) {
	types := []ir.JoinType{ir.Inner, ir.LeftOuter, ir.RightOuter, ir.FullOuter}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		typ := types[rng.IntN(len(types))]
		before, after, grace := time.Duration(rng.IntN(6))*sec, time.Duration(rng.IntN(6))*sec, time.Duration(rng.IntN(5))*sec
		q := ssJoinQuery(typ, before, after, grace)
		// Join on the order's CUSTOMER column, so that the printed ID is
		// unique.
		q.Root.(*ir.Project).Input.(*ir.Join).LeftKey = col(1, tStr)
		h := newHarness(t, nil, Options{}, q)
		m := &ssModel{typ: typ, before: before.Microseconds(), after: after.Microseconds(), grace: grace.Microseconds()}
		keys := []string{"k1", "k2", "k3"}
		base := int64(1000)
		var got []string
		for i := 0; i < 200; i++ {
			base += rng.Int64N(2)
			ts := base - rng.Int64N(10)
			var key *string
			if rng.IntN(15) > 0 {
				key = &keys[rng.IntN(len(keys))]
			}
			kv := any(nil)
			if key != nil {
				kv = *key
			}
			id := fmt.Sprint("r", i)
			var ev *event.Event
			side := rng.IntN(2)
			if side == 0 {
				ev = ins(ordersEv, ts, id, kv, 1)
			} else {
				ev = ins(shipmentsEv, ts, id, kv, "x")
			}
			m.push(side, key, id, ts*1e6, i)
			got = append(got, h.feed(ev)...)
		}
		if fmt.Sprint(got) != fmt.Sprint(m.out) {
			t.Fatalf("seed %d, join %d WITHIN (%v, %v) GRACE %v:\n%s", seed, typ, before, after, grace, diff(m.out, got))
		}
	}
}

// windowModel is the windowed COUNT(*) GROUP BY of windowQuery.
type windowModel struct {
	w        ir.Window
	st       int64
	known    bool
	counts   map[string]int // "key start" → count (time windows)
	times    map[string]int64
	sessions map[string][]*mSession
	out      []string
}

type mSession struct {
	start, end int64
	n          int
}

func (m *windowModel) push(key *string, t int64) {
	if key == nil {
		return
	}
	if !m.known || t > m.st {
		m.st, m.known = t, true
	}
	size, grace := m.w.Size.Microseconds(), m.w.Grace.Microseconds()
	if m.w.Kind != ir.Session {
		adv := size
		if m.w.Kind == ir.Hopping {
			adv = m.w.Advance.Microseconds()
		}
		for start := int64(0); start <= t; start += adv {
			end := start + size
			if t >= end {
				continue
			}
			if end <= m.st-grace {
				continue
			}
			k := fmt.Sprint(*key, " ", start)
			m.counts[k]++
			m.times[k] = max(m.times[k], t)
			m.out = append(m.out, fmt.Sprintf("W upsert (%s) (%s,%d) @%s [%s,%s]", *key, *key, m.counts[k], secs(m.times[k]), secs(start), secs(end)))
		}
		return
	}
	ret := max(m.w.Retention.Microseconds(), size+grace)
	var found, rest []*mSession
	for _, s := range m.sessions[*key] {
		if s.end >= max(t-size, m.st-ret+1) && s.start <= t+size {
			found = append(found, s)
		} else {
			rest = append(rest, s)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].end < found[j].end })
	merged := &mSession{start: t, end: t, n: 1}
	for _, s := range found {
		merged.start, merged.end, merged.n = min(merged.start, s.start), max(merged.end, s.end), merged.n+s.n
	}
	if merged.end < m.st-grace-size {
		return
	}
	if merged.start != t || merged.end != t {
		for _, s := range found {
			m.out = append(m.out, fmt.Sprintf("W delete (%s) @%s [%s,%s]", *key, secs(s.end), secs(s.start), secs(s.end)))
		}
	}
	m.sessions[*key] = append(rest, merged)
	m.out = append(m.out, fmt.Sprintf("W upsert (%s) (%s,%d) @%s [%s,%s]", *key, *key, merged.n, secs(merged.end), secs(merged.start), secs(merged.end)))
}

func TestWindowModel(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		w := ir.Window{Kind: ir.WindowKind(1 + rng.IntN(3)), Size: time.Duration(1+rng.IntN(8)) * sec, Grace: time.Duration(rng.IntN(5)) * sec}
		if w.Kind == ir.Hopping {
			w.Advance = time.Duration(1+rng.Int64N(int64(w.Size/sec))) * sec
		}
		if rng.IntN(3) == 0 {
			w.Retention = time.Duration(rng.IntN(30)) * sec
		}
		h := newHarness(t, nil, Options{}, windowQuery(w))
		m := &windowModel{w: w, counts: map[string]int{}, times: map[string]int64{}, sessions: map[string][]*mSession{}}
		keys := []string{"k1", "k2"}
		base := int64(20)
		var got []string
		for i := 0; i < 150; i++ {
			base += rng.Int64N(3)
			ts := base - rng.Int64N(12)
			var key *string
			kv := any(nil)
			if rng.IntN(15) > 0 {
				key = &keys[rng.IntN(len(keys))]
				kv = *key
			}
			m.push(key, ts*1e6)
			got = append(got, h.feed(ins(ordersEv, ts, fmt.Sprint("o", i), kv, 1))...)
		}
		if fmt.Sprint(got) != fmt.Sprint(m.out) {
			t.Fatalf("seed %d, window %+v:\n%s", seed, w, diff(m.out, got))
		}
	}
}

// ttModel is a table-table join of two tables of (key, value, time) as the
// changelog of the joined table.
type ttModel struct {
	typ         ir.JoinType
	left, right map[string]mVal
	fk          bool
	out         []string
	topic       string
}

type mVal struct {
	v, fk string // fk: a left row's foreign key ("" for NULL)
	ts    int64
}

func (m *ttModel) joined(l, r *mVal) (string, bool) {
	keepL := m.typ == ir.LeftOuter || m.typ == ir.FullOuter
	keepR := m.typ == ir.RightOuter || m.typ == ir.FullOuter
	if l == nil && r == nil || l == nil && !keepR || r == nil && !keepL {
		return "", false
	}
	lv, rv := "NULL", "NULL"
	if l != nil {
		lv = l.v
	}
	if r != nil {
		rv = r.v
	}
	return lv + "," + rv, true
}

func (m *ttModel) get(side map[string]mVal, k string) *mVal {
	if v, ok := side[k]; ok {
		return &v
	}
	return nil
}

func (m *ttModel) emit(key string, before, after *string, beforeOK, afterOK bool, ts int64) {
	switch {
	case afterOK:
		m.out = append(m.out, fmt.Sprintf("%s upsert (%s) (%s,%s) @%s", m.topic, key, key, *after, secs(ts)))
	case beforeOK:
		m.out = append(m.out, fmt.Sprintf("%s delete (%s) @%s", m.topic, key, secs(ts)))
	}
}

// change applies an upsert (v != nil) or delete of key k on one side.
func (m *ttModel) change(side int, k string, v *mVal, ts int64) {
	tbl := m.left
	if side == 1 {
		tbl = m.right
	}
	if _, ok := tbl[k]; v == nil && !ok {
		return // a delete of an absent key
	}
	if !m.fk {
		ob, obOK := m.joined(m.get(m.left, k), m.get(m.right, k))
		m.apply(tbl, k, v)
		nb, nbOK := m.joined(m.get(m.left, k), m.get(m.right, k))
		other := m.get(m.right, k)
		if side == 1 {
			other = m.get(m.left, k)
		}
		if other != nil {
			ts = max(ts, other.ts)
		}
		m.emit(k, &ob, &nb, obOK, nbOK, ts)
		return
	}
	if side == 0 {
		old := m.get(m.left, k)
		var ob string
		var obOK bool
		if old != nil {
			ob, obOK = m.joined(old, m.rightOf(old))
		}
		m.apply(tbl, k, v)
		var nb string
		var nbOK bool
		if v != nil {
			r := m.rightOf(v)
			nb, nbOK = m.joined(v, r)
			if r != nil {
				ts = max(ts, r.ts)
			}
		}
		m.emit(k, &ob, &nb, obOK, nbOK, ts)
		return
	}
	oldR := m.get(m.right, k)
	m.apply(tbl, k, v)
	var lks []string
	for lk, l := range m.left {
		if l.fk == k {
			lks = append(lks, lk)
		}
	}
	sort.Strings(lks)
	for _, lk := range lks {
		l := m.left[lk]
		ob, obOK := m.joined(&l, oldR)
		nb, nbOK := m.joined(&l, v)
		m.emit(lk, &ob, &nb, obOK, nbOK, max(ts, l.ts))
	}
}

func (m *ttModel) rightOf(l *mVal) *mVal {
	if l.fk == "" {
		return nil
	}
	return m.get(m.right, l.fk)
}

func (m *ttModel) apply(tbl map[string]mVal, k string, v *mVal) {
	if v == nil {
		delete(tbl, k)
	} else {
		tbl[k] = *v
	}
}

func TestTableTableJoinModel(t *testing.T) {
	rows, deletes := 0, 0
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 17))
		fk := rng.IntN(2) == 0
		typ := []ir.JoinType{ir.Inner, ir.LeftOuter, ir.RightOuter, ir.FullOuter}[rng.IntN(4)]
		var q ir.Query
		m := &ttModel{typ: typ, fk: fk, left: map[string]mVal{}, right: map[string]mVal{}}
		var leftEv, rightEv = customersEv, accountsEv
		if fk {
			typ = []ir.JoinType{ir.Inner, ir.LeftOuter}[rng.IntN(2)]
			m.typ = typ
			q, m.topic = fkJoinQuery(typ), "FK"
			// FK output: (ID, AMOUNT, NAME): the model's left value is the
			// amount, the right value the name.
			leftEv, rightEv = ordersEv, customersEv
		} else {
			q, m.topic = ttJoinQuery(typ), "J"
		}
		h := newHarness(t, nil, Options{}, q)
		var got []string
		for i := 0; i < 120; i++ {
			ts := int64(rng.IntN(50))
			side := rng.IntN(2)
			del := rng.IntN(5) == 0
			var ev *event.Event
			var k string
			var v *mVal
			switch {
			case side == 0 && fk:
				k = []string{"o1", "o2", "o3", "o4"}[rng.IntN(4)]
				c := []any{"c1", "c2", "c3", nil}[rng.IntN(4)]
				amount := 1 + rng.IntN(3)
				ev = ins(leftEv, ts, k, c, amount)
				v = &mVal{v: fmt.Sprint(amount), ts: ts * 1e6}
				if c != nil {
					v.fk = c.(string)
				}
			case side == 0:
				k = []string{"c1", "c2", "c3"}[rng.IntN(3)]
				name := []string{"ann", "bob"}[rng.IntN(2)]
				ev = ins(leftEv, ts, k, name, 30)
				v = &mVal{v: name, ts: ts * 1e6}
			case fk:
				k = []string{"c1", "c2", "c3"}[rng.IntN(3)]
				name := []string{"ann", "bob"}[rng.IntN(2)]
				ev = ins(rightEv, ts, k, name, 30)
				v = &mVal{v: name, ts: ts * 1e6}
			default:
				k = []string{"c1", "c2", "c3"}[rng.IntN(3)]
				bal := 10 * (1 + rng.IntN(3))
				ev = ins(rightEv, ts, k, bal)
				v = &mVal{v: fmt.Sprint(bal), ts: ts * 1e6}
			}
			if del {
				ev.Op, ev.Before, ev.After = event.OpDelete, ev.After, nil
				v = nil
			}
			m.change(side, k, v, ts*1e6)
			got = append(got, h.feed(ev)...)
		}
		if fmt.Sprint(got) != fmt.Sprint(m.out) {
			t.Fatalf("seed %d, fk %v, join %d:\n%s", seed, fk, typ, diff(m.out, got))
		}
		rows += len(got)
		for _, r := range got {
			if strings.Contains(r, " delete ") {
				deletes++
			}
		}
	}
	if rows < 10000 || deletes < 1000 {
		t.Errorf("the random inputs gave only %d rows, %d deletes", rows, deletes)
	}
}
