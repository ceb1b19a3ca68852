package exec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Seed 004's three queries, planned by hand as package plan would:
//
//	CREATE TABLE customers_by_key AS SELECT id, latest_by_offset(name) AS name,
//	    latest_by_offset(age) AS age FROM customers GROUP BY id EMIT CHANGES;
//	CREATE STREAM enriched_orders AS SELECT o.order_id, o.price, o.currency,
//	    c.id AS customer_id, c.name AS customer_name, c.age AS customer_age
//	    FROM orders AS o LEFT JOIN customers_by_key c ON o.customer_id = c.id EMIT CHANGES;
//	CREATE STREAM shipped_orders WITH (kafka_topic = 'shipped_orders') AS
//	    SELECT o.order_id, s.shipment_id, o.customer_id, o.customer_name, o.customer_age,
//	    s.origin, o.price, o.currency FROM enriched_orders AS o INNER JOIN shipments s
//	    WITHIN 7 DAYS ON s.order_id = o.order_id EMIT CHANGES;
func seedQueries() []ir.Query {
	tInteger := types.TInteger
	// customers: a stream over the PostgreSQL table, unwrapped with
	// delete.handling.mode=rewrite.
	customers := source("CUSTOMERS", "customers.public.customers", ir.Stream,
		[]types.Field{f("ID", tStr), f("NAME", tStr), f("AGE", tInteger), f("__DELETED", tStr)})
	customers.DeleteHandling = "rewrite"
	byKey := &ir.Aggregate{Input: customers, GroupBy: []ir.Expr{col(0, tStr)}, Aggs: []ir.AggCall{
		{Func: "LATEST_BY_OFFSET", Args: []ir.Expr{col(1, tStr)}, T: tStr},
		{Func: "LATEST_BY_OFFSET", Args: []ir.Expr{col(2, tInteger)}, T: tInteger},
	}}
	byKey.S = types.Schema{Columns: []types.Field{f("ID", tStr), f("NAME", tStr), f("AGE", tInteger)}, Key: []int{0}}
	q1 := ir.Query{ID: "CTAS_CUSTOMERS_BY_KEY_0", Name: "CUSTOMERS_BY_KEY", Topic: "CUSTOMERS_BY_KEY",
		Root: project(byKey, []string{"ID", "NAME", "AGE"}, []int{0, 1, 2}, 0)}

	orders := source("O", "my-replica-set.logistics.orders", ir.Stream,
		[]types.Field{f("CUSTOMER_ID", tStr), f("ORDER_ID", tStr), f("PRICE", types.TDouble), f("CURRENCY", tStr), f("TS", tStr)})
	orders.TimestampCol, orders.TimestampFormat = 4, "yyyy-MM-dd''T''HH:mm:ss"
	c := source("C", "CUSTOMERS_BY_KEY", ir.Table, []types.Field{f("ID", tStr), f("NAME", tStr), f("AGE", tInteger)}, 0)
	c.FromColumns = []string{"ID", "NAME", "AGE"}
	j1 := &ir.Join{Left: orders, Right: c, Type: ir.LeftOuter, LeftKey: col(0, tStr), RightKey: col(0, tStr), S: joinSchema(orders, c), K: ir.Stream}
	// orders: 5 columns + 3 pseudo; c starts at 8.
	q2 := ir.Query{ID: "CSAS_ENRICHED_ORDERS_1", Name: "ENRICHED_ORDERS", Topic: "ENRICHED_ORDERS",
		Root: project(j1, []string{"ORDER_ID", "PRICE", "CURRENCY", "CUSTOMER_ID", "CUSTOMER_NAME", "CUSTOMER_AGE"}, []int{1, 2, 3, 8, 9, 10})}

	enriched := source("O", "ENRICHED_ORDERS", ir.Stream, []types.Field{f("ORDER_ID", tStr), f("PRICE", types.TDouble), f("CURRENCY", tStr),
		f("CUSTOMER_ID", tStr), f("CUSTOMER_NAME", tStr), f("CUSTOMER_AGE", tInteger)})
	enriched.FromColumns = []string{"ORDER_ID", "PRICE", "CURRENCY", "CUSTOMER_ID", "CUSTOMER_NAME", "CUSTOMER_AGE"}
	shipments := source("S", "my-replica-set.logistics.shipments", ir.Stream,
		[]types.Field{f("ORDER_ID", tStr), f("SHIPMENT_ID", tStr), f("ORIGIN", tStr), f("TS", tStr)})
	shipments.TimestampCol, shipments.TimestampFormat = 3, "yyyy-MM-dd''T''HH:mm:ss"
	week := 7 * 24 * time.Hour
	j2 := &ir.Join{Left: enriched, Right: shipments, Type: ir.Inner, LeftKey: col(0, tStr), RightKey: col(0, tStr),
		Before: week, After: week, Grace: 0, S: joinSchema(enriched, shipments), K: ir.Stream}
	// enriched: 6 + 3; shipments start at 9.
	q3 := ir.Query{ID: "CSAS_SHIPPED_ORDERS_2", Name: "SHIPPED_ORDERS", Topic: "shipped_orders",
		Root: project(j2, []string{"O_ORDER_ID", "SHIPMENT_ID", "CUSTOMER_ID", "CUSTOMER_NAME", "CUSTOMER_AGE", "ORIGIN", "PRICE", "CURRENCY"},
			[]int{0, 10, 3, 4, 5, 11, 1, 2}, 0)}
	return []ir.Query{q1, q2, q3}
}

var (
	seedCustomersEv = &event.Schema{Stream: "customers.public.customers", Source: "customers", Columns: []event.Column{{Name: "id"}, {Name: "name"}, {Name: "age"}}, KeyIdx: []int{0}}
	seedOrdersEv    = &event.Schema{Stream: "my-replica-set.logistics.orders", Source: "my-replica-set", Columns: []event.Column{{Name: "_id"}, {Name: "customer_id"}, {Name: "order_id"}, {Name: "price"}, {Name: "currency"}, {Name: "ts"}}, KeyIdx: []int{0}}
	seedShipmentsEv = &event.Schema{Stream: "my-replica-set.logistics.shipments", Source: "my-replica-set", Columns: []event.Column{{Name: "_id"}, {Name: "order_id"}, {Name: "shipment_id"}, {Name: "origin"}, {Name: "ts"}}, KeyIdx: []int{0}}
)

func seedCustomer(n int, id, name string, age int) *event.Event {
	return &event.Event{Schema: seedCustomersEv, Op: event.OpCreate, After: vals(id, name, age), Source: event.Source{TsUs: int64(1000+n) * 1e6}}
}

func seedOrder(n int, customer, order string, price float64, currency, ts string) *event.Event {
	return &event.Event{Schema: seedOrdersEv, Op: event.OpCreate, After: vals(fmt.Sprint("oid", n), customer, order, price, currency, ts), Source: event.Source{TsUs: int64(2000+n) * 1e6}}
}

func seedShipment(n int, order, shipment, origin, ts string) *event.Event {
	return &event.Event{Schema: seedShipmentsEv, Op: event.OpCreate, After: vals(fmt.Sprint("sid", n), order, shipment, origin, ts), Source: event.Source{TsUs: int64(3000+n) * 1e6}}
}

func seedCustomers() []*event.Event {
	return []*event.Event{
		seedCustomer(1, "5", "fred", 34),
		seedCustomer(2, "7", "sue", 25),
		seedCustomer(3, "2", "bill", 51),
	}
}

func seedOrders() []*event.Event {
	return []*event.Event{
		seedOrder(1, "2", "13", 50.50, "usd", "2020-04-03T11:20:00"),
		seedOrder(2, "7", "29", 15.00, "aud", "2020-04-02T12:36:00"),
		seedOrder(3, "5", "17", 25.25, "eur", "2020-04-02T17:22:00"),
		seedOrder(4, "5", "15", 13.75, "usd", "2020-04-03T02:55:00"),
		seedOrder(5, "7", "22", 29.71, "aud", "2020-04-04T00:12:00"),
	}
}

func seedShipments() []*event.Event {
	return []*event.Event{
		seedShipment(1, "17", "75", "texas", "2020-04-04T19:20:00"),
		seedShipment(2, "22", "71", "iowa", "2020-04-04T12:25:00"),
		seedShipment(3, "29", "89", "california", "2020-04-05T13:21:00"),
		seedShipment(4, "13", "92", "maine", "2020-04-04T06:13:00"),
		seedShipment(5, "15", "95", "florida", "2020-04-04T01:13:00"),
	}
}

func at(s string) string {
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		panic(err)
	}
	return fmt.Sprint(t.Unix())
}

// seedWant is the seed's five documents, in shipment order, each at the
// later of its order's and its shipment's time.
var seedWant = []string{
	"shipped_orders insert (17) (17,75,5,fred,34,texas,25.25,eur) @" + at("2020-04-04T19:20:00"),
	"shipped_orders insert (22) (22,71,7,sue,25,iowa,29.71,aud) @" + at("2020-04-04T12:25:00"),
	"shipped_orders insert (29) (29,89,7,sue,25,california,15.0,aud) @" + at("2020-04-05T13:21:00"),
	"shipped_orders insert (13) (13,92,2,bill,51,maine,50.5,usd) @" + at("2020-04-04T06:13:00"),
	"shipped_orders insert (15) (15,95,5,fred,34,florida,13.75,usd) @" + at("2020-04-04T01:13:00"),
}

func only(rows []string, topic string) []string {
	var out []string
	for _, r := range rows {
		if strings.HasPrefix(r, topic+" ") {
			out = append(out, r)
		}
	}
	return out
}

func TestSeed004(t *testing.T) {
	h := newHarness(t, nil, Options{}, seedQueries()...)
	var evs []*event.Event
	evs = append(append(append(evs, seedCustomers()...), seedOrders()...), seedShipments()...)
	got := h.feed(evs...)
	wantRows(t, only(got, "CUSTOMERS_BY_KEY"),
		"CUSTOMERS_BY_KEY upsert (5) (5,fred,34) @1001",
		"CUSTOMERS_BY_KEY upsert (7) (7,sue,25) @1002",
		"CUSTOMERS_BY_KEY upsert (2) (2,bill,51) @1003",
	)
	wantRows(t, only(got, "ENRICHED_ORDERS"),
		"ENRICHED_ORDERS insert (13,50.5,usd,2,bill,51) @"+at("2020-04-03T11:20:00"),
		"ENRICHED_ORDERS insert (29,15.0,aud,7,sue,25) @"+at("2020-04-02T12:36:00"),
		"ENRICHED_ORDERS insert (17,25.25,eur,5,fred,34) @"+at("2020-04-02T17:22:00"),
		"ENRICHED_ORDERS insert (15,13.75,usd,5,fred,34) @"+at("2020-04-03T02:55:00"),
		"ENRICHED_ORDERS insert (22,29.71,aud,7,sue,25) @"+at("2020-04-04T00:12:00"),
	)
	wantRows(t, only(got, "shipped_orders"), seedWant...)

	// The demonstration: a new customer, order and shipment give a sixth.
	got = h.feed(
		seedCustomer(9, "9", "victor", 23),
		seedOrder(9, "9", "31", 525.50, "usd", "2020-04-03T11:20:00"),
		seedShipment(9, "31", "97", "new jersey", "2020-04-04T19:20:00"),
	)
	wantRows(t, only(got, "shipped_orders"), "shipped_orders insert (31) (31,97,9,victor,23,new jersey,525.5,usd) @"+at("2020-04-04T19:20:00"))
}

// TestSeed004ColdStartHold reads the orders before the customers, as a
// pipeline whose MongoDB snapshot comes first would: ksqlDB (and sluice
// without the option) joins them with no customer; with
// HoldUntilSnapshot the orders wait for the customers' snapshot.
func TestSeed004ColdStartHold(t *testing.T) {
	snap := func(evs []*event.Event) []*event.Event {
		for i, e := range evs {
			e.Source.Snapshot = event.SnapshotTrue
			if i == len(evs)-1 {
				e.Source.Snapshot = event.SnapshotLast
			}
		}
		return evs
	}
	input := func() []*event.Event {
		var evs []*event.Event
		return append(append(append(evs, snap(seedOrders())...), snap(seedCustomers())...), seedShipments()...)
	}

	h := newHarness(t, nil, Options{}, seedQueries()...)
	got := only(h.feed(input()...), "shipped_orders")
	if len(got) != 5 || !strings.Contains(got[0], "(17,75,NULL,NULL,NULL,texas,25.25,eur)") {
		t.Errorf("without holding, the orders should join no customer: %v", got)
	}

	h = newHarness(t, nil, Options{HoldUntilSnapshot: true}, seedQueries()...)
	if w := h.x.Waiting(); len(w) != 1 || w[0] != "customers.public.customers" {
		t.Errorf("Waiting() = %v", w)
	}
	evs := input()
	held := h.feed(evs[:5]...)
	if len(held) != 0 || h.x.Stats().Held != 5 {
		t.Fatalf("orders were not held: %v, %+v", held, h.x.Stats())
	}
	// A restart while rows are held keeps them (they are in the state).
	h.restart()
	got = h.feed(evs[5:]...)
	wantRows(t, only(got, "shipped_orders"), seedWant...)
	if w := h.x.Waiting(); len(w) != 0 {
		t.Errorf("Waiting() = %v", w)
	}
}

// TestHoldReleasedBySnapshotDone covers an empty table side: no row
// marks its snapshot's end, the pipeline says so.
func TestHoldReleasedBySnapshotDone(t *testing.T) {
	h := newHarness(t, nil, Options{HoldUntilSnapshot: true}, stJoinQuery(ir.LeftOuter))
	o1 := ins(ordersEv, 1, "o1", "c1", 5)
	o1.Source.Snapshot = event.SnapshotTrue // a snapshot row: says nothing of the customers
	if got := h.feed(o1); len(got) != 0 {
		t.Fatalf("not held: %v", got)
	}
	rows, err := h.x.SnapshotDone("pg.public.customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rowText(rows[0]) != "ENRICHED insert (o1) (o1,5,NULL) @1" {
		t.Errorf("rows %v", rows)
	}
	// From now on rows go through.
	wantRows(t, h.feed(ins(ordersEv, 2, "o2", "c1", 5)), "ENRICHED insert (o2) (o2,5,NULL) @2")

	// A streaming change of another table of the same source ends the
	// snapshot of the whole source.
	h = newHarness(t, nil, Options{HoldUntilSnapshot: true}, stJoinQuery(ir.LeftOuter))
	h.feed(ins(ordersEv, 1, "o1", "c1", 5)) // streaming change of "pg": ends pg's snapshot
	if w := h.x.Waiting(); len(w) != 0 {
		t.Errorf("Waiting() = %v", w)
	}
}

// TestHeldRowsOutliveTheOption: rows held by a run with
// HoldUntilSnapshot are joined by a run without it, before its first
// input.
func TestHeldRowsOutliveTheOption(t *testing.T) {
	h := newHarness(t, nil, Options{HoldUntilSnapshot: true}, stJoinQuery(ir.LeftOuter))
	o1 := ins(ordersEv, 1, "o1", "c1", 5)
	o1.Source.Snapshot = event.SnapshotTrue
	if got := h.feed(o1); len(got) != 0 {
		t.Fatalf("not held: %v", got)
	}
	h.opts.HoldUntilSnapshot = false
	h.restart()
	wantRows(t, h.feed(ins(ordersEv, 2, "o2", "c1", 6)),
		"ENRICHED insert (o1) (o1,5,NULL) @1",
		"ENRICHED insert (o2) (o2,6,NULL) @2",
	)
}
