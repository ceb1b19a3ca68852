package exec

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var (
	ordersEv   = evSchema("pg.public.orders", "id", "customer", "amount")
	orderCols  = []types.Field{f("ID", tStr), f("CUSTOMER", tStr), f("AMOUNT", tInt)}
	aggOutCols = []types.Field{f("CUSTOMER", tStr), f("N", tInt), f("TOTAL", tInt), f("LAST", tStr)}
)

// groupQuery is SELECT customer, COUNT(*), SUM(amount), LATEST_BY_OFFSET(id)
// FROM orders GROUP BY customer [HAVING …], over a stream or a table.
func groupQuery(k ir.Kind, having ir.Expr, aggs ...ir.AggCall) ir.Query {
	src := source("ORDERS", "pg.public.orders", k, orderCols, 0)
	if aggs == nil {
		aggs = []ir.AggCall{{Func: "COUNT", T: tInt}, {Func: "SUM", Args: []ir.Expr{col(2, tInt)}, T: tInt}, {Func: "LATEST_BY_OFFSET", Args: []ir.Expr{col(0, tStr)}, T: tStr}}
	}
	agg := &ir.Aggregate{Input: src, GroupBy: []ir.Expr{col(1, tStr)}, Aggs: aggs}
	agg.S.Columns = aggOutCols[:1+len(aggs)]
	agg.S.Key = []int{0}
	var n ir.Node = agg
	if having != nil {
		n = &ir.Filter{Input: agg, Pred: having}
	}
	names := []string{"CUSTOMER", "N", "TOTAL", "LAST"}[:1+len(aggs)]
	idx := []int{0, 1, 2, 3}[:1+len(aggs)]
	return ir.Query{ID: "CTAS_BY_CUSTOMER_1", Topic: "BY_CUSTOMER", Root: project(n, names, idx, 0)}
}

func TestGroupByStream(t *testing.T) {
	h := newHarness(t, nil, Options{}, groupQuery(ir.Stream, nil))
	got := h.feed(
		ins(ordersEv, 10, "o1", "ann", 5),
		ins(ordersEv, 12, "o2", "bob", 7),
		ins(ordersEv, 11, "o3", "ann", nil), // SUM ignores NULL; time stays the group's latest
		ins(ordersEv, 13, "o4", nil, 1),     // NULL group: dropped, counted
		upd(ordersEv, 14, "o1", "ann", 6),   // a stream: every change is a new row
		del(ordersEv, 15, "o2", "bob", 7),   // dropped (delete handling "drop")
	)
	wantRows(t, got,
		"BY_CUSTOMER upsert (ann) (ann,1,5,o1) @10",
		"BY_CUSTOMER upsert (bob) (bob,1,7,o2) @12",
		"BY_CUSTOMER upsert (ann) (ann,2,5,o3) @11",
		"BY_CUSTOMER upsert (ann) (ann,3,11,o1) @14",
	)
	if s := h.x.Stats(); s.NullKeys != 1 {
		t.Errorf("NullKeys = %d", s.NullKeys)
	}
}

func TestGroupByTableRetractsOldRows(t *testing.T) {
	h := newHarness(t, nil, Options{}, groupQuery(ir.Table, nil, ir.AggCall{Func: "COUNT", T: tInt}, ir.AggCall{Func: "SUM", Args: []ir.Expr{col(2, tInt)}, T: tInt}))
	got := h.feed(
		ins(ordersEv, 10, "o1", "ann", 5),
		ins(ordersEv, 11, "o2", "ann", 7),
		upd(ordersEv, 12, "o1", "ann", 6), // same group: one update
		upd(ordersEv, 13, "o2", "bob", 7), // moves: ann loses it, bob gets it
		upd(ordersEv, 14, "o1", nil, 6),   // to a NULL group: retracted only
		del(ordersEv, 15, "o2", "bob", 7),
		ins(ordersEv, 9, "o3", "ann", 1), // an earlier time: the group keeps its latest
	)
	wantRows(t, got,
		"BY_CUSTOMER upsert (ann) (ann,1,5) @10",
		"BY_CUSTOMER upsert (ann) (ann,2,12) @11",
		"BY_CUSTOMER upsert (ann) (ann,2,13) @12",
		"BY_CUSTOMER upsert (ann) (ann,1,6) @13",
		"BY_CUSTOMER upsert (bob) (bob,1,7) @13",
		"BY_CUSTOMER upsert (ann) (ann,0,0) @14",
		"BY_CUSTOMER upsert (bob) (bob,0,0) @15",
		"BY_CUSTOMER upsert (ann) (ann,1,1) @14",
	)
}

func TestGroupByTableRefusesFunctionsWithoutUndo(t *testing.T) {
	h := newHarness(t, nil, Options{}, groupQuery(ir.Table, nil, ir.AggCall{Func: "MAX", Args: []ir.Expr{col(2, tInt)}, T: tInt}))
	h.feed(ins(ordersEv, 10, "o1", "ann", 5))
	_, err := h.x.Process("pg.public.orders", upd(ordersEv, 11, "o1", "ann", 6), nil)
	if err == nil || err.Error() != "exec: aggregate 0 cannot undo a row, so it cannot aggregate a table (the planner should refuse it)" || isRecord(err) {
		t.Errorf("error %v", err)
	}
}

func TestHaving(t *testing.T) {
	// HAVING COUNT(*) > 1: a group appears once it passes and is deleted
	// when it stops passing (over a table, where counts go down).
	h := newHarness(t, nil, Options{}, groupQuery(ir.Table, bin(ir.Gt, col(1, tInt), lit(event.Int(1), tInt)), ir.AggCall{Func: "COUNT", T: tInt}))
	got := h.feed(
		ins(ordersEv, 10, "o1", "ann", 5), // count 1: nothing (never passed)
		ins(ordersEv, 11, "o2", "ann", 5), // 2
		ins(ordersEv, 12, "o3", "ann", 5), // 3
		del(ordersEv, 13, "o3", "ann", 5), // 2
		del(ordersEv, 14, "o2", "ann", 5), // 1: delete
		del(ordersEv, 15, "o1", "ann", 5), // 0: nothing more
	)
	wantRows(t, got,
		"BY_CUSTOMER upsert (ann) (ann,2) @11",
		"BY_CUSTOMER upsert (ann) (ann,3) @12",
		"BY_CUSTOMER upsert (ann) (ann,2) @13",
		"BY_CUSTOMER delete (ann) @14",
	)
}

func TestUnchangedAccumulatorsAreNotRewritten(t *testing.T) {
	st := exectest.NewState()
	h := newHarness(t, st, Options{}, groupQuery(ir.Stream, nil, ir.AggCall{Func: "MAX", Args: []ir.Expr{col(2, tInt)}, T: tInt}))
	h.feed(ins(ordersEv, 10, "o1", "ann", 5))
	sets := st.Sets
	rows, err := h.x.Process("pg.public.orders", ins(ordersEv, 9, "o2", "ann", 3), nil) // MAX and the time stay
	if err != nil || len(rows) != 1 || rowText(rows[0]) != "BY_CUSTOMER upsert (ann) (ann,5) @10" {
		t.Fatalf("%v %v", rows, err)
	}
	if st.Sets != sets {
		t.Errorf("%d state writes for an unchanged aggregate", st.Sets-sets)
	}
	h.feed(ins(ordersEv, 11, "o3", "ann", 3)) // the time moves: written
	if st.Sets == sets {
		t.Error("a changed time was not written")
	}
}

func TestAggregateRecordErrorLeavesGroup(t *testing.T) {
	h := newHarness(t, nil, Options{}, groupQuery(ir.Stream, nil, ir.AggCall{Func: "SUM", Args: []ir.Expr{col(2, tInt)}, T: tInt}))
	h.feed(ins(ordersEv, 10, "o1", "ann", 5))
	_, err := h.x.Process("pg.public.orders", ins(ordersEv, 11, "o2", "ann", 666), nil)
	if !isRecord(err) || err.Error() != "query CTAS_BY_CUSTOMER_1: aggregate: sum of the beast" {
		t.Fatalf("error %v", err)
	}
	wantRows(t, h.feed(ins(ordersEv, 12, "o3", "ann", 1)), "BY_CUSTOMER upsert (ann) (ann,6) @12")
}
