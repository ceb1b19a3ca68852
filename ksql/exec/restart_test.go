package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// shapes are the query plans the randomized tests run.
func shapes() map[string][]ir.Query {
	return map[string][]ir.Query{
		"group-stream":  {groupQuery(ir.Stream, nil)},
		"group-table":   {groupQuery(ir.Table, nil, ir.AggCall{Func: "COUNT", T: tInt}, ir.AggCall{Func: "SUM", Args: []ir.Expr{col(2, tInt)}, T: tInt})},
		"having-table":  {groupQuery(ir.Table, bin(ir.Gt, col(1, tInt), lit(event.Int(1), tInt)), ir.AggCall{Func: "COUNT", T: tInt})},
		"tumbling":      {windowQuery(ir.Window{Kind: ir.Tumbling, Size: 10 * time.Second, Grace: 3 * time.Second})},
		"hopping":       {windowQuery(ir.Window{Kind: ir.Hopping, Size: 10 * time.Second, Advance: 3 * time.Second, Grace: 2 * time.Second})},
		"session":       {windowQuery(ir.Window{Kind: ir.Session, Size: 4 * time.Second, Grace: 3 * time.Second})},
		"stream-table":  {stJoinQuery(ir.LeftOuter)},
		"stream-stream": {ssJoinQuery(ir.FullOuter, 5*time.Second, 8*time.Second, 4*time.Second)},
		"ss-left":       {ssJoinQuery(ir.LeftOuter, 6*time.Second, 6*time.Second, 0)},
		"table-table":   {ttJoinQuery(ir.FullOuter)},
		"foreign-key":   {fkJoinQuery(ir.LeftOuter)},
		"seed004":       seedQueries(),
	}
}

// randomEvents are changes of orders, customers, shipments and accounts
// with few keys, NULLs, deletes, and times that jump back and forth.
func randomEvents(rng *rand.Rand, n int) []*event.Event {
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	var out []*event.Event
	base := int64(100)
	for i := 0; i < n; i++ {
		base += rng.Int64N(3)
		ts := base - rng.Int64N(12)
		var e *event.Event
		switch rng.IntN(6) {
		case 0, 1:
			e = ins(ordersEv, ts, pick("o1", "o2", "o3", "o4"), pick("c1", "c2", "c3", nil), pick(1, 2, 5, nil))
		case 2:
			e = ins(customersEv, ts, pick("c1", "c2", "c3"), pick("ann", "bob", "cy"), pick(20, 40))
		case 3:
			e = ins(shipmentsEv, ts, pick("s1", "s2"), pick("o1", "o2", "o3", nil), "x")
		case 4:
			e = ins(accountsEv, ts, pick("c1", "c2", "c4"), pick(10, 20))
		case 5:
			e = ins(pick(ordersEv, customersEv, accountsEv).(*event.Schema), ts, pick("o1", "c1", "c2"), pick("c1", "ann"), pick(1, 30))
			e.Op, e.Before, e.After = event.OpDelete, e.After, nil
		}
		if e.Op == event.OpCreate && rng.IntN(3) == 0 {
			e.Op = event.OpUpdate
		}
		out = append(out, e)
	}
	return out
}

func seedEvents(rng *rand.Rand) []*event.Event {
	var evs []*event.Event
	evs = append(append(append(evs, seedCustomers()...), seedOrders()...), seedShipments()...)
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// runAll feeds evs, restarting the executor (Flush, then New on the same
// state) before the inputs whose index is in restarts, and returns every
// output and record error as text.
func runAll(t *testing.T, queries []ir.Query, evs []*event.Event, restarts map[int]bool) []string {
	h := newHarness(t, nil, Options{HoldUntilSnapshot: true}, queries...)
	var out []string
	for i, ev := range evs {
		if restarts[i] {
			h.restart()
		}
		rows, err := h.x.Process(ev.Schema.Stream, ev, nil)
		if err != nil {
			if !isRecord(err) {
				t.Fatal(err)
			}
			out = append(out, "error: "+err.Error())
		}
		for _, r := range rows {
			out = append(out, rowText(r))
		}
		if err := h.x.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRestartContinuesIdentically rebuilds the executor on the same state
// at random points: the outputs are those of one uninterrupted run.
func TestRestartContinuesIdentically(t *testing.T) {
	for name, queries := range shapes() {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				rng := rand.New(rand.NewPCG(seed, 7))
				var evs []*event.Event
				if name == "seed004" {
					evs = seedEvents(rng)
				} else {
					evs = randomEvents(rng, 150)
				}
				want := runAll(t, queries, evs, nil)
				restarts := map[int]bool{}
				for range 6 {
					restarts[rng.IntN(len(evs))] = true
				}
				got := runAll(t, queries, evs, restarts)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seed %d: restarting at %v changed the outputs:\n%s", seed, restarts, diff(want, got))
				}
			}
		})
	}
}

func diff(want, got []string) string {
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("first difference at row %d:\n\twant %s\n\tgot  %s", i, w, g)
		}
	}
	return "same"
}
