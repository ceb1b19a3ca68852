package exec

import (
	"bytes"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var accountsEv = evSchema("pg.public.accounts", "id", "balance")

func coalesce(a, b ir.Expr) ir.Expr {
	return &ir.Call{Func: "COALESCE", Args: []ir.Expr{a, b}, T: a.Type()}
}

// ttJoinQuery is SELECT COALESCE(c.id, a.id), c.name, a.balance FROM
// customers c <typ> JOIN accounts a ON c.id = a.id.
func ttJoinQuery(typ ir.JoinType) ir.Query {
	c := source("C", "pg.public.customers", ir.Table, customerCols, 0)
	a := source("A", "pg.public.accounts", ir.Table, []types.Field{f("ID", tStr), f("BALANCE", tInt)}, 0)
	j := &ir.Join{Left: c, Right: a, Type: typ, LeftKey: col(0, tStr), RightKey: col(0, tStr), S: joinSchema(c, a), K: ir.Table}
	j.S.Key = []int{0}
	p := &ir.Project{Input: j, Exprs: []ir.Expr{coalesce(col(0, tStr), col(6, tStr)), col(1, tStr), col(7, tInt)}}
	p.S.Columns = []types.Field{f("ID", tStr), f("NAME", tStr), f("BALANCE", tInt)}
	p.S.Key = []int{0}
	return ir.Query{ID: "CTAS_J_1", Topic: "J", Root: p}
}

func TestTableTableJoin(t *testing.T) {
	events := []*event.Event{
		ins(customersEv, 1, "c1", "ann", 30),
		ins(accountsEv, 2, "c1", 100),
		upd(customersEv, 3, "c1", "anne", 30),
		ins(accountsEv, 4, "c2", 50),
		del(accountsEv, 5, "c1", 100),
		del(customersEv, 6, "c1", "anne", 30),
		upd(accountsEv, 7, "c2", 60),
		ins(customersEv, 8, "c2", "bob", 40),
	}
	for _, tc := range []struct {
		typ  ir.JoinType
		want []string
	}{
		{ir.Inner, []string{
			"J upsert (c1) (c1,ann,100) @2",
			"J upsert (c1) (c1,anne,100) @3",
			"J delete (c1) @5",
			"J upsert (c2) (c2,bob,60) @8",
		}},
		{ir.LeftOuter, []string{
			"J upsert (c1) (c1,ann,NULL) @1",
			"J upsert (c1) (c1,ann,100) @2",
			"J upsert (c1) (c1,anne,100) @3",
			"J upsert (c1) (c1,anne,NULL) @5",
			"J delete (c1) @6",
			"J upsert (c2) (c2,bob,60) @8",
		}},
		{ir.RightOuter, []string{
			"J upsert (c1) (c1,ann,100) @2",
			"J upsert (c1) (c1,anne,100) @3",
			"J upsert (c2) (c2,NULL,50) @4",
			"J delete (c1) @5",
			"J upsert (c2) (c2,NULL,60) @7",
			"J upsert (c2) (c2,bob,60) @8",
		}},
		{ir.FullOuter, []string{
			"J upsert (c1) (c1,ann,NULL) @1",
			"J upsert (c1) (c1,ann,100) @2",
			"J upsert (c1) (c1,anne,100) @3",
			"J upsert (c2) (c2,NULL,50) @4",
			"J upsert (c1) (c1,anne,NULL) @5",
			"J delete (c1) @6",
			"J upsert (c2) (c2,NULL,60) @7",
			"J upsert (c2) (c2,bob,60) @8",
		}},
	} {
		h := newHarness(t, nil, Options{}, ttJoinQuery(tc.typ))
		wantRows(t, h.feed(events...), tc.want...)
	}
}

// fkJoinQuery is SELECT o.id, o.amount, c.name FROM orders o <typ> JOIN
// customers c ON o.customer = c.id, both tables: a foreign-key join.
func fkJoinQuery(typ ir.JoinType) ir.Query {
	o := source("O", "pg.public.orders", ir.Table, orderCols, 0)
	c := source("C", "pg.public.customers", ir.Table, customerCols, 0)
	j := &ir.Join{Left: o, Right: c, Type: typ, LeftKey: col(1, tStr), RightKey: col(0, tStr), S: joinSchema(o, c), K: ir.Table, ForeignKey: true}
	j.S.Key = []int{0}
	return ir.Query{ID: "CTAS_FK_1", Topic: "FK", Root: project(j, []string{"ID", "AMOUNT", "NAME"}, []int{0, 2, 7}, 0)}
}

func TestForeignKeyJoin(t *testing.T) {
	events := []*event.Event{
		ins(ordersEv, 1, "o1", "c1", 5),
		ins(ordersEv, 2, "o2", "c1", 6),
		ins(customersEv, 3, "c1", "ann", 30),
		upd(customersEv, 4, "c1", "anne", 30), // renamed: every joined order follows
		upd(ordersEv, 5, "o1", "c2", 7),       // now references an absent customer
		ins(customersEv, 6, "c2", "bob", 40),
		del(customersEv, 7, "c1", "anne", 30),
		del(ordersEv, 8, "o2", "c1", 6),
		ins(customersEv, 9, "c1", "carl", 50), // nobody references c1 any more
		ins(ordersEv, 10, "o3", nil, 8),       // a NULL foreign key
	}
	for _, tc := range []struct {
		typ  ir.JoinType
		want []string
	}{
		{ir.Inner, []string{
			"FK upsert (o1) (o1,5,ann) @3",
			"FK upsert (o2) (o2,6,ann) @3",
			"FK upsert (o1) (o1,5,anne) @4",
			"FK upsert (o2) (o2,6,anne) @4",
			"FK delete (o1) @5",
			"FK upsert (o1) (o1,7,bob) @6",
			"FK delete (o2) @7",
		}},
		{ir.LeftOuter, []string{
			"FK upsert (o1) (o1,5,NULL) @1",
			"FK upsert (o2) (o2,6,NULL) @2",
			"FK upsert (o1) (o1,5,ann) @3",
			"FK upsert (o2) (o2,6,ann) @3",
			"FK upsert (o1) (o1,5,anne) @4",
			"FK upsert (o2) (o2,6,anne) @4",
			"FK upsert (o1) (o1,7,NULL) @5",
			"FK upsert (o1) (o1,7,bob) @6",
			"FK upsert (o2) (o2,6,NULL) @7",
			"FK delete (o2) @8",
			"FK upsert (o3) (o3,8,NULL) @10",
		}},
	} {
		st := exectest.NewState()
		h := newHarness(t, st, Options{}, fkJoinQuery(tc.typ))
		wantRows(t, h.feed(events...), tc.want...)
		// One reference is left: o1 → c2.
		if n := countKeys(st, append(bytes.Clone(opPrefix("CTAS_FK_1", 0)), 'f')); n != 1 {
			t.Errorf("join type %d: %d references in state, want 1", tc.typ, n)
		}
	}
}

// TestForeignKeyJoinChain joins orders to customers to regions (two
// foreign keys): renaming a region updates the orders of every customer
// in it, and moving a customer moves its orders.
func TestForeignKeyJoinChain(t *testing.T) {
	regionsEv := evSchema("pg.public.regions", "id", "rname")
	o := source("O", "pg.public.orders", ir.Table, orderCols, 0)
	c := source("C", "pg.public.customers", ir.Table, customerCols, 0) // AGE stands for the region id
	r := source("R", "pg.public.regions", ir.Table, []types.Field{f("ID", tInt), f("RNAME", tStr)}, 0)
	j1 := &ir.Join{Left: o, Right: c, Type: ir.Inner, LeftKey: col(1, tStr), RightKey: col(0, tStr), S: joinSchema(o, c), K: ir.Table, ForeignKey: true}
	j1.S.Key = []int{0}
	j2 := &ir.Join{Left: j1, Right: r, Type: ir.LeftOuter, LeftKey: col(8, tInt), RightKey: col(0, tInt), S: joinSchema(j1, r), K: ir.Table, ForeignKey: true}
	j2.S.Key = []int{0}
	// j1: o (6) + c (6); r starts at 12.
	q := ir.Query{ID: "Q", Topic: "OUT", Root: project(j2, []string{"ID", "NAME", "RNAME"}, []int{0, 7, 13}, 0)}
	h := newHarness(t, nil, Options{}, q)
	got := h.feed(
		ins(regionsEv, 1, 30, "north"),
		ins(customersEv, 2, "c1", "ann", 30),
		ins(ordersEv, 3, "o1", "c1", 5),
		ins(ordersEv, 4, "o2", "c1", 6),
		upd(regionsEv, 5, 30, "south"),
		upd(customersEv, 6, "c1", "ann", 40), // moves to a region not there yet
		ins(regionsEv, 7, 40, "east"),
		upd(regionsEv, 8, 30, "west"), // nobody there any more
	)
	wantRows(t, got,
		"OUT upsert (o1) (o1,ann,north) @3",
		"OUT upsert (o2) (o2,ann,north) @4",
		"OUT upsert (o1) (o1,ann,south) @5",
		"OUT upsert (o2) (o2,ann,south) @5",
		"OUT upsert (o1) (o1,ann,NULL) @6",
		"OUT upsert (o2) (o2,ann,NULL) @6",
		"OUT upsert (o1) (o1,ann,east) @7",
		"OUT upsert (o2) (o2,ann,east) @7",
	)
}
