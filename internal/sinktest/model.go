package sinktest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// baseMs is the commit time of the suite's first change
// (2024-01-01T10:00:00Z); every change is within the same hour, so a sink
// that partitions by commit time (S3) puts them in one directory.
const baseMs = 1704103200000

// model is what the suite has written: the changes in source order, each
// key's history and the last state. It builds the events, giving each
// change a unique v ("<id>.<n>"), a growing LSN (its event.Version) and
// its transaction's commit LSN (so event.Seq grows too).
type model struct {
	lsn   uint64             // the last LSN handed out
	n     int                // values handed out
	state map[int64]string   // id → v of every existing row
	hist  map[int64][]Record // per key, its changes in order
	// rejected are the records of events the destination rejected (never
	// applied): finding one in the destination is an error.
	rejected map[Record]bool
}

func newModel() *model {
	return &model{lsn: 1 << 20, state: map[int64]string{}, hist: map[int64][]Record{}, rejected: map[Record]bool{}}
}

// change is one row change for tx.
type change struct {
	op event.Op // OpRead (snapshot row), OpCreate, OpUpdate or OpDelete
	id int64
	to int64 // OpUpdate: when set and not id, the key changes to it
}

func (c change) String() string {
	if c.to != 0 && c.to != c.id {
		return fmt.Sprintf("u %d→%d", c.id, c.to)
	}
	return fmt.Sprintf("%s %d", c.op, c.id)
}

// value returns a new unique v for row id.
func (m *model) value(id int64) string {
	m.n++
	return strconv.FormatInt(id, 10) + "." + strconv.Itoa(m.n)
}

// tx builds one transaction's events and applies them to the model. A
// create needs a missing row, an update or delete an existing one, a key
// change a missing target; snapshot rows (OpRead) go alone, without a
// transaction.
func (m *model) tx(cs ...change) []event.Event {
	evs := m.build(cs, true)
	return evs
}

// rejectedTx builds events like tx but applies none of them: the
// destination will reject them. Their records are remembered as rejected.
func (m *model) rejectedTx(cs ...change) []event.Event {
	return m.build(cs, false)
}

func (m *model) build(cs []change, apply bool) []event.Event {
	evs := make([]event.Event, 0, len(cs))
	commit := m.lsn + uint64(len(cs))*16 + 8 // after every change of the transaction
	state := m.state
	if !apply {
		state = maps(m.state)
	}
	for _, c := range cs {
		e := event.Event{Op: c.op, Schema: Schema}
		prev, exists := state[c.id]
		var recs []Record
		switch c.op {
		case event.OpRead, event.OpCreate:
			if exists {
				panic(fmt.Sprintf("sinktest: %s of existing row %d", c, c.id))
			}
			v := m.value(c.id)
			e.After = img(c.id, v)
			state[c.id] = v
			recs = []Record{{ID: c.id, V: v}}
		case event.OpUpdate:
			to := c.to
			if to == 0 {
				to = c.id
			}
			if !exists {
				panic(fmt.Sprintf("sinktest: %s of missing row %d", c, c.id))
			}
			if _, taken := state[to]; to != c.id && taken {
				panic(fmt.Sprintf("sinktest: %s onto existing row %d", c, to))
			}
			v := m.value(to)
			e.Before, e.After = img(c.id, prev), img(to, v)
			if to != c.id {
				delete(state, c.id)
				recs = append(recs, Record{ID: c.id, V: prev, Deleted: true})
			}
			state[to] = v
			recs = append(recs, Record{ID: to, V: v})
		case event.OpDelete:
			if !exists {
				panic(fmt.Sprintf("sinktest: %s of missing row %d", c, c.id))
			}
			e.Before = img(c.id, prev)
			delete(state, c.id)
			recs = []Record{{ID: c.id, V: prev, Deleted: true}}
		default:
			panic("sinktest: op " + c.op.String())
		}
		if c.op == event.OpRead {
			e.Source = event.Source{TsUs: baseMs * 1000, Snapshot: event.SnapshotTrue}
			e.TsMs = baseMs
		} else {
			m.lsn += 16
			e.Source = event.Source{TsUs: (baseMs + int64(m.lsn>>12)) * 1000, LSN: m.lsn, CommitLSN: commit, HasLSN: true,
				TxID: int64(commit >> 4), HasTxID: true}
			e.TsMs = e.Source.TsMs() + 5
		}
		for _, r := range recs {
			if apply {
				m.hist[r.ID] = append(m.hist[r.ID], r)
			} else {
				m.rejected[r] = true
			}
		}
		evs = append(evs, e)
	}
	if apply && m.lsn < commit {
		m.lsn = commit
	}
	if !apply {
		m.lsn = max(m.lsn, commit)
	}
	return evs
}

func maps(m map[int64]string) map[int64]string {
	out := make(map[int64]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func img(id int64, v string) []event.Value {
	return []event.Value{event.Int(id), event.String(v)}
}

// random builds n transactions of up to three changes to rows 1..keys:
// updates of existing rows (most), deletes, inserts of missing ones, and
// now and then a key change to a missing row.
func (m *model) random(rng *rand.Rand, n int, keys int64) []event.Event {
	var evs []event.Event
	for range n {
		var cs []change
		touched := map[int64]bool{}
		for range 1 + rng.IntN(3) {
			id := 1 + rng.Int64N(keys)
			if touched[id] {
				continue // one change per row per transaction keeps them simple to build
			}
			touched[id] = true
			if _, ok := m.state[id]; !ok {
				cs = append(cs, change{op: event.OpCreate, id: id})
				continue
			}
			switch r := rng.IntN(10); {
			case r < 6:
				cs = append(cs, change{op: event.OpUpdate, id: id})
			case r < 9:
				cs = append(cs, change{op: event.OpDelete, id: id})
			default:
				to := 1 + rng.Int64N(keys)
				if _, taken := m.state[to]; taken || touched[to] {
					cs = append(cs, change{op: event.OpUpdate, id: id})
					continue
				}
				touched[to] = true
				cs = append(cs, change{op: event.OpUpdate, id: id, to: to})
			}
		}
		evs = append(evs, m.tx(cs...)...)
	}
	return evs
}

// records expands events into the records a history destination holds
// for them, in order: a key change is a delete of the old key then the new
// row.
func records(evs []event.Event) []Record {
	var out []Record
	for _, e := range evs {
		switch {
		case e.Op == event.OpDelete:
			out = append(out, Record{ID: e.Before[0].AsInt(), V: e.Before[1].Str, Deleted: true})
		case e.Op == event.OpUpdate && e.Before != nil && e.Before[0].AsInt() != e.After[0].AsInt():
			out = append(out, Record{ID: e.Before[0].AsInt(), V: e.Before[1].Str, Deleted: true},
				Record{ID: e.After[0].AsInt(), V: e.After[1].Str})
		case e.After != nil:
			out = append(out, Record{ID: e.After[0].AsInt(), V: e.After[1].Str})
		}
	}
	return out
}

// byKey groups records by key, keeping their order.
func byKey(recs []Record) map[int64][]Record {
	out := map[int64][]Record{}
	for _, r := range recs {
		out[r.ID] = append(out[r.ID], r)
	}
	return out
}

// keys returns the sorted keys of the maps.
func keysOf[V any](ms ...map[int64]V) []int64 {
	var ks []int64
	for _, m := range ms {
		for k := range m {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}
