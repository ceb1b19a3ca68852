package generator

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// Determinism. Every random draw comes from a math/rand/v2 PCG whose 128-bit
// state is set explicitly (Seed) from the configured seed and a counter:
//
//   - the control stream of event n, seeded from (seed, n), picks the
//     operation and, for updates and deletes, the target row;
//   - a row's columns come from streams seeded from (seed, table, id) and
//     (seed, table, id, version), see shape.
//
// So no PRNG state is carried from one event to the next, and the
// generator's whole state is n plus, per table, the next id and (only when
// the mix has updates or deletes) which ids are live and their versions.

// mix64 is SplitMix64's finaliser: it spreads counters over all 64 bits
// before they seed a PCG.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Salts that separate the kinds of stream.
const (
	controlSalt = 0x9e3779b97f4a7c15
	fixedSalt   = 0xc2b2ae3d27d4eb4f
	mutSalt     = 0x165667b19e3779f9
)

// intn returns a uniform integer in [0, n), n > 0 (Lemire's method, no
// modulo bias).
func intn(p *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(p.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(p.Uint64(), n)
		}
	}
	return hi
}

func pick(p *rand.PCG, list []string) string { return list[intn(p, uint64(len(list)))] }

// step is one planned event: which row of which table, and how it changes.
type step struct {
	table int
	op    event.Op
	id    int32
	ver   uint32 // the row's version before this step (updates, deletes)
}

// table is the generator's view of one table.
type table struct {
	shape    *shape
	schema   *event.Schema
	fixedKey uint64 // seeds the for-life columns' stream
	mutKey   uint64 // seeds the versioned columns' stream
	nextID   int64  // id of the next insert; ids start at 1

	// Tracked only when the mix has updates or deletes: 8 bytes per id ever
	// inserted and 4 per live row.
	live []int32  // ids of the live rows, in no meaningful order
	pos  []int32  // pos[id-1]: index of id in live, -1 once deleted
	ver  []uint32 // ver[id-1]: number of updates the row has had
}

// state generates the event sequence. It is owned by Run's goroutine.
type state struct {
	ops    Operations
	mixed  bool
	total  uint64 // sum of the operation weights
	ctlKey uint64
	ctl    rand.PCG
	n      uint64 // events generated so far; event n has TxID n
	tables []table
}

func newState(cfg *Config, source string) *state {
	seed := uint64(cfg.Seed)
	g := &state{
		ops:    cfg.Operations,
		mixed:  cfg.Operations.mixed(),
		total:  uint64(cfg.Operations.Insert + cfg.Operations.Update + cfg.Operations.Delete),
		ctlKey: mix64(seed ^ controlSalt),
	}
	for _, name := range cfg.Tables {
		s := lookupShape(name)
		salt := tableSalt(name)
		g.tables = append(g.tables, table{
			shape:    s,
			schema:   schemaFor(s, source),
			fixedKey: mix64(seed ^ salt ^ fixedSalt),
			mutKey:   mix64(seed ^ salt ^ mutSalt),
			nextID:   1,
		})
	}
	return g
}

// advance plans the next event and applies it to the table state.
func (g *state) advance() (step, error) {
	g.n++
	ti := int((g.n - 1) % uint64(len(g.tables)))
	t := &g.tables[ti]
	s := step{table: ti, op: event.OpCreate}
	if g.mixed {
		g.ctl.Seed(g.ctlKey, mix64(g.n))
		u := intn(&g.ctl, g.total)
		switch {
		case len(t.live) == 0 || u < uint64(g.ops.Insert):
		case u < uint64(g.ops.Insert+g.ops.Update):
			s.op = event.OpUpdate
		default:
			s.op = event.OpDelete
		}
	}
	if s.op == event.OpCreate {
		if t.nextID > math.MaxInt32 {
			return s, fmt.Errorf("generator: table %s: all %d int4 ids are used; set count, or use fewer updates per insert",
				t.shape.name, math.MaxInt32)
		}
		s.id = int32(t.nextID)
		t.nextID++
		if g.mixed {
			t.pos = append(t.pos, int32(len(t.live)))
			t.live = append(t.live, s.id)
			t.ver = append(t.ver, 0)
		}
		return s, nil
	}
	i := int(intn(&g.ctl, uint64(len(t.live))))
	s.id = t.live[i]
	s.ver = t.ver[s.id-1]
	if s.op == event.OpUpdate {
		t.ver[s.id-1]++
		return s, nil
	}
	last := len(t.live) - 1
	moved := t.live[last]
	t.live[i] = moved
	t.pos[moved-1] = int32(i)
	t.live = t.live[:last]
	t.pos[s.id-1] = -1
	return s, nil
}

// resume moves a fresh state to just after the checkpoint's last event:
// O(tables) for an insert-only mix, whose state is only the next ids; a
// replay of the control streams (no rows are generated) when updates or
// deletes need the live rows.
func (g *state) resume(ctx context.Context, cp checkpoint) error {
	if g.mixed {
		for g.n < cp.Events {
			if g.n&(1<<20-1) == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := g.advance(); err != nil {
				return err
			}
		}
	} else {
		g.n = cp.Events
		nt := uint64(len(g.tables))
		for i := range g.tables {
			c := cp.Events / nt
			if uint64(i) < cp.Events%nt {
				c++
			}
			g.tables[i].nextID = int64(c) + 1
		}
	}
	// After a configuration change (another table list or seed) the derived
	// ids may lag the ids already emitted; never insert an id twice.
	for i := range g.tables {
		t := &g.tables[i]
		if id := cp.NextID[t.shape.name]; id > t.nextID {
			t.nextID = id
			if g.mixed {
				for int64(len(t.pos)) < id-1 {
					t.pos = append(t.pos, -1)
					t.ver = append(t.ver, 0)
				}
			}
		}
	}
	return nil
}

// builder collects one batch. Text columns and positions are appended to one
// buffer that becomes a single string at the end of the batch, so a batch
// costs a handful of allocations however many rows it holds.
type builder struct {
	vals  []event.Value // this batch's slab; never grows past its capacity
	text  []byte        // reused across batches
	spans []span        // text values awaiting the batch's string
	posns []span        // event positions awaiting the batch's string
	steps []step        // this batch's plan; reused
	fixed rand.PCG
	mut   rand.PCG
}

type span struct{ idx, start, end int32 }

// textValue marks b.vals[idx] as the text appended since start.
func (b *builder) textValue(idx, start int) {
	b.vals[idx] = event.Value{Kind: event.KindString}
	b.spans = append(b.spans, span{int32(idx), int32(start), int32(len(b.text))})
}

// row generates the row id of t at version ver.
func (b *builder) row(t *table, id int32, ver uint32) []event.Value {
	n := len(t.shape.columns)
	at := len(b.vals)
	b.vals = b.vals[:at+n]
	b.fixed.Seed(t.fixedKey, mix64(uint64(uint32(id))))
	b.mut.Seed(t.mutKey, mix64(uint64(uint32(id))<<32|uint64(ver)))
	t.shape.fill(b, at, id, &b.fixed, &b.mut)
	return b.vals[at : at+n : at+n]
}

// batch generates the next k events, stamped with the wall clock nowMs. It
// plans all k steps first, so that the value slab is allocated at its exact
// size.
func (g *state) batch(b *builder, k int, nowMs int64) ([]event.Event, error) {
	b.steps = b.steps[:0]
	nvals := 0
	for range k {
		s, err := g.advance()
		if err != nil {
			return nil, err
		}
		b.steps = append(b.steps, s)
		n := len(g.tables[s.table].shape.columns)
		if s.op == event.OpUpdate {
			n *= 2
		}
		nvals += n
	}
	first := g.n - uint64(k) + 1
	evs := make([]event.Event, k)
	b.vals = make([]event.Value, 0, nvals)
	b.text, b.spans, b.posns = b.text[:0], b.spans[:0], b.posns[:0]
	for i, s := range b.steps {
		t := &g.tables[s.table]
		e := &evs[i]
		e.Op = s.op
		e.Schema = t.schema
		switch s.op {
		case event.OpCreate:
			e.After = b.row(t, s.id, 0)
		case event.OpUpdate:
			e.Before = b.row(t, s.id, s.ver)
			e.After = b.row(t, s.id, s.ver+1)
		case event.OpDelete:
			e.Before = b.row(t, s.id, s.ver)
		}
		seq := first + uint64(i)
		e.Source = event.Source{TsUs: event.UsFromMs(nowMs), TxID: int64(seq), HasTxID: true}
		e.TsMs = nowMs
		start := len(b.text)
		b.text = append(b.text, "gen "...)
		b.text = strconv.AppendUint(b.text, seq, 10)
		b.posns = append(b.posns, span{int32(i), int32(start), int32(len(b.text))})
	}
	text := string(b.text)
	for _, sp := range b.spans {
		b.vals[sp.idx].Str = text[sp.start:sp.end]
	}
	for _, sp := range b.posns {
		evs[sp.idx].Position = text[sp.start:sp.end]
	}
	b.vals = nil
	return evs, nil
}
