package exec

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// stJoinQuery is SELECT o.id, o.amount, c.name FROM orders o [LEFT] JOIN
// customers c ON o.customer = c.id.
func stJoinQuery(typ ir.JoinType) ir.Query {
	o := source("O", "pg.public.orders", ir.Stream, orderCols, 0)
	c := source("C", "pg.public.customers", ir.Table, customerCols, 0)
	j := &ir.Join{Left: o, Right: c, Type: typ, LeftKey: col(1, tStr), RightKey: col(0, tStr), S: joinSchema(o, c), K: ir.Stream}
	// o: ID CUSTOMER AMOUNT + 3 pseudo; c starts at 6.
	return ir.Query{ID: "CSAS_ENRICHED_1", Topic: "ENRICHED", Root: project(j, []string{"ID", "AMOUNT", "NAME"}, []int{0, 2, 7}, 0)}
}

func TestStreamTableJoin(t *testing.T) {
	for _, tc := range []struct {
		typ  ir.JoinType
		want []string
	}{
		{ir.LeftOuter, []string{
			"ENRICHED insert (o1) (o1,5,NULL) @1",
			"ENRICHED insert (o2) (o2,6,ann) @3",
			"ENRICHED insert (o3) (o3,7,anne) @5",
			"ENRICHED insert (o5) (o5,9,NULL) @8",
		}},
		{ir.Inner, []string{
			"ENRICHED insert (o2) (o2,6,ann) @3",
			"ENRICHED insert (o3) (o3,7,anne) @5",
		}},
	} {
		h := newHarness(t, nil, Options{}, stJoinQuery(tc.typ))
		got := h.feed(
			ins(ordersEv, 1, "o1", "c1", 5),         // no customer yet
			ins(customersEv, 2, "c1", "ann", 30),    // a table row: nothing is re-emitted
			ins(ordersEv, 3, "o2", "c1", 6),         // joins
			upd(customersEv, 4, "c1", "anne", 30),   // the join sees the latest row
			ins(ordersEv, 5, "o3", "c1", 7),         //
			ins(ordersEv, 6, "o4", nil, 8),          // NULL join key: no row, counted
			del(customersEv, 7, "c1", "anne", 30),   // tombstone
			ins(ordersEv, 8, "o5", "c1", 9),         // LEFT: NULLs
			ins(customersEv, 9, nil, "nobody", nil), // NULL table key: dropped, counted
		)
		wantRows(t, got, tc.want...)
		if s := h.x.Stats(); s.NullKeys != 2 {
			t.Errorf("NullKeys = %d, want 2", s.NullKeys)
		}
	}
}

func TestStreamTableJoinThroughTableFilter(t *testing.T) {
	// The table side filtered (a WHERE on the table's own query would be
	// a separate query; here a filter node under the join): lookups see
	// only rows that pass.
	q := stJoinQuery(ir.LeftOuter)
	j := q.Root.(*ir.Project).Input.(*ir.Join)
	j.Right = &ir.Filter{Input: j.Right, Pred: bin(ir.Gt, col(2, tInt), lit(event.Int(18), tInt))}
	h := newHarness(t, nil, Options{}, q)
	got := h.feed(
		ins(customersEv, 1, "c1", "ann", 30),
		ins(customersEv, 1, "c2", "kid", 10),
		ins(ordersEv, 2, "o1", "c1", 5),
		ins(ordersEv, 3, "o2", "c2", 6),
	)
	wantRows(t, got,
		"ENRICHED insert (o1) (o1,5,ann) @2",
		"ENRICHED insert (o2) (o2,6,NULL) @3",
	)
}

// TestSeveralJoins joins orders with customers and with products in one
// query: (orders ⋈ customers) ⋈ products.
func TestSeveralJoins(t *testing.T) {
	productsEv := evSchema("pg.public.products", "id", "title")
	o := source("O", "pg.public.orders", ir.Stream, orderCols, 0)
	c := source("C", "pg.public.customers", ir.Table, customerCols, 0)
	p := source("P", "pg.public.products", ir.Table, []types.Field{f("ID", tStr), f("TITLE", tStr)}, 0)
	j1 := &ir.Join{Left: o, Right: c, Type: ir.LeftOuter, LeftKey: col(1, tStr), RightKey: col(0, tStr), S: joinSchema(o, c), K: ir.Stream}
	// The product id is the order's ID here (o.ID = p.ID), to keep the
	// test's schemas small.
	j2 := &ir.Join{Left: j1, Right: p, Type: ir.Inner, LeftKey: col(0, tStr), RightKey: col(0, tStr), S: joinSchema(j1, p), K: ir.Stream}
	// j1: o (6) + c (6) = 12 columns; p starts at 12.
	q := ir.Query{ID: "Q", Topic: "OUT", Root: project(j2, []string{"ID", "NAME", "TITLE"}, []int{0, 7, 13})}
	h := newHarness(t, nil, Options{}, q)
	got := h.feed(
		ins(customersEv, 1, "c1", "ann", 30),
		ins(productsEv, 1, "o1", "book"),
		ins(ordersEv, 2, "o1", "c1", 5),
		ins(ordersEv, 3, "o2", "c1", 5), // no product: the inner join drops it
		ins(ordersEv, 4, "o1", "c9", 5),
	)
	wantRows(t, got,
		"OUT insert (o1,ann,book) @2",
		"OUT insert (o1,NULL,book) @4",
	)
}
