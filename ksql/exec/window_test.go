package exec

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// windowQuery is SELECT customer, COUNT(*), WINDOWSTART FROM orders
// WINDOW … GROUP BY customer.
func windowQuery(w ir.Window) ir.Query {
	src := source("ORDERS", "pg.public.orders", ir.Stream, orderCols, 0)
	agg := &ir.Aggregate{Input: src, GroupBy: []ir.Expr{col(1, tStr)}, Aggs: []ir.AggCall{{Func: "COUNT", T: tInt}}, Window: &w}
	agg.S.Columns = []types.Field{f("CUSTOMER", tStr), f("N", tInt), f(ir.WindowStart, types.TTimestamp), f(ir.WindowEnd, types.TTimestamp)}
	agg.S.Key = []int{0}
	return ir.Query{ID: "CTAS_W_1", Topic: "W", Root: project(agg, []string{"CUSTOMER", "N"}, []int{0, 1}, 0)}
}

// opPrefix is the state prefix of operator n of query id.
func opPrefix(id string, n int) []byte {
	p := binary.AppendUvarint(nil, uint64(len(id)))
	return append(append(p, id...), byte(n))
}

func countKeys(st *exectest.State, prefix []byte) int {
	n := 0
	for _, k := range st.Keys() {
		if bytes.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func TestTumblingWindowGraceAndRetention(t *testing.T) {
	st := exectest.NewState()
	h := newHarness(t, st, Options{}, windowQuery(ir.Window{Kind: ir.Tumbling, Size: 10 * time.Second, Grace: 5 * time.Second}))
	got := h.feed(
		ins(ordersEv, 1, "o1", "ann", 1),
		ins(ordersEv, 9, "o2", "ann", 1),
		ins(ordersEv, 12, "o3", "ann", 1),
		ins(ordersEv, 8, "o4", "ann", 1), // stream time 12, close 7 < end 10: accepted
		ins(ordersEv, 21, "o5", "ann", 1),
		ins(ordersEv, 9, "o6", "ann", 1),  // close 16 ≥ end 10: late
		ins(ordersEv, 15, "o7", "bob", 1), // close 16 < end 20
		ins(ordersEv, 10, "o8", "ann", 1), // window start is inclusive
	)
	wantRows(t, got,
		"W upsert (ann) (ann,1) @1 [0,10]",
		"W upsert (ann) (ann,2) @9 [0,10]",
		"W upsert (ann) (ann,1) @12 [10,20]",
		"W upsert (ann) (ann,3) @9 [0,10]",
		"W upsert (ann) (ann,1) @21 [20,30]",
		"W upsert (bob) (bob,1) @15 [10,20]",
		"W upsert (ann) (ann,2) @12 [10,20]",
	)
	if s := h.x.Stats(); s.Late != 1 {
		t.Errorf("Late = %d, want 1", s.Late)
	}
	// Retention is size + grace = 15 s: at stream time 21 the window
	// starting at 0 is gone, the ones at 10 (ann, bob) and 20 remain.
	if n := countKeys(st, append(opPrefix("CTAS_W_1", 0), 'w')); n != 3 {
		t.Errorf("%d windows in state, want 3", n)
	}
}

func TestHoppingWindows(t *testing.T) {
	h := newHarness(t, nil, Options{}, windowQuery(ir.Window{Kind: ir.Hopping, Size: 10 * time.Second, Advance: 5 * time.Second}))
	got := h.feed(
		ins(ordersEv, 3, "o1", "ann", 1), // only [0,10): no window starts before 0
		ins(ordersEv, 7, "o2", "ann", 1),
		ins(ordersEv, 10, "o3", "ann", 1),
		ins(ordersEv, 4, "o4", "ann", 1), // grace 0, stream time 10: [0,10) closed, late
	)
	wantRows(t, got,
		"W upsert (ann) (ann,1) @3 [0,10]",
		"W upsert (ann) (ann,2) @7 [0,10]",
		"W upsert (ann) (ann,1) @7 [5,15]",
		"W upsert (ann) (ann,2) @10 [5,15]",
		"W upsert (ann) (ann,1) @10 [10,20]",
	)
	if s := h.x.Stats(); s.Late != 1 {
		t.Errorf("Late = %d, want 1", s.Late)
	}
}

func TestSessionWindowsMerge(t *testing.T) {
	st := exectest.NewState()
	h := newHarness(t, st, Options{}, windowQuery(ir.Window{Kind: ir.Session, Size: 5 * time.Second}))
	got := h.feed(
		ins(ordersEv, 1, "o1", "ann", 1),
		ins(ordersEv, 4, "o2", "ann", 1),  // merges [1,1]
		ins(ordersEv, 20, "o3", "ann", 1), // a new session; close = 20 - 5 = 15
		ins(ordersEv, 12, "o4", "ann", 1), // alone, ends 12 < 15: late
		ins(ordersEv, 16, "o5", "ann", 1), // merges [20,20]
		ins(ordersEv, 9, "o6", "ann", 1),  // [1,4] ended before stream time - retention: alone, late
		ins(ordersEv, 10, "o7", "bob", 1), // late
		ins(ordersEv, 14, "o8", "ann", 1), // reaches [16,20]: not late
		ins(ordersEv, 9, "o9", "ann", 1),  // reaches [14,20] but [1,4] ended before the 5 s retention
	)
	wantRows(t, got,
		"W upsert (ann) (ann,1) @1 [1,1]",
		"W delete (ann) @1 [1,1]",
		"W upsert (ann) (ann,2) @4 [1,4]",
		"W upsert (ann) (ann,1) @20 [20,20]",
		"W delete (ann) @20 [20,20]",
		"W upsert (ann) (ann,2) @20 [16,20]",
		"W delete (ann) @20 [16,20]",
		"W upsert (ann) (ann,3) @20 [14,20]",
		"W delete (ann) @20 [14,20]",
		"W upsert (ann) (ann,4) @20 [9,20]",
	)
	if s := h.x.Stats(); s.Late != 3 {
		t.Errorf("Late = %d, want 3", s.Late)
	}
	// The session [1,4] ended before stream time - retention (5 s): it and
	// its index entry are gone; [9,20] remains.
	p := opPrefix("CTAS_W_1", 0)
	if n, m := countKeys(st, append(bytes.Clone(p), 's')), countKeys(st, append(bytes.Clone(p), 'x')); n != 1 || m != 1 {
		t.Errorf("%d sessions and %d index entries in state, want 1 and 1", n, m)
	}
}

// TestSessionRetentionEdge: a session that ends exactly at stream time −
// retention (gap + grace) is gone, as in Kafka Streams' session stores
// (alive while end > stream time − retention); a row there starts its own
// session (not late: it ends at the close time). Found by the
// differential test (ksql/difftest, aggregate_count_session_5_5/4).
func TestSessionRetentionEdge(t *testing.T) {
	h := newHarness(t, nil, Options{}, windowQuery(ir.Window{Kind: ir.Session, Size: 5 * time.Second, Grace: 5 * time.Second}))
	got := h.feed(
		ins(ordersEv, 21, "o1", "ann", 1),
		ins(ordersEv, 26, "o2", "ann", 1), // merges [21,21]
		ins(ordersEv, 36, "o3", "bob", 1), // stream time 36: retention reaches 26
		ins(ordersEv, 26, "o4", "ann", 1), // [21,26] is gone; close 26: not late
	)
	wantRows(t, got,
		"W upsert (ann) (ann,1) @21 [21,21]",
		"W delete (ann) @21 [21,21]",
		"W upsert (ann) (ann,2) @26 [21,26]",
		"W upsert (bob) (bob,1) @36 [36,36]",
		"W upsert (ann) (ann,1) @26 [26,26]",
	)
}

// WINDOWSTART, WINDOWEND and ROWTIME are BIGINT epoch milliseconds, as in
// ksqlDB (package ir), not the microseconds exec keeps times in: a sink
// got 1000 times ksqlDB's values, and TIMESTAMPTOSTRING(WINDOWSTART, …)
// read them as dates in the year 55,000.
func TestWindowBoundsAreMilliseconds(t *testing.T) {
	q := windowQuery(ir.Window{Kind: ir.Tumbling, Size: 10 * time.Second, Grace: 5 * time.Second})
	agg := q.Root.(*ir.Project).Input
	q.Root = project(agg, []string{"CUSTOMER", "N", ir.WindowStart, ir.WindowEnd}, []int{0, 1, 2, 3}, 0)
	h := newHarness(t, nil, Options{}, q)
	wantRows(t, h.feed(ins(ordersEv, 12, "o1", "ann", 1)), "W upsert (ann) (ann,1,10000,20000) @12 [10,20]")
}
