package exec

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var (
	shipmentsEv   = evSchema("pg.public.shipments", "id", "order_id", "origin")
	shipmentCols  = []types.Field{f("ID", tStr), f("ORDER_ID", tStr), f("ORIGIN", tStr)}
	sec           = time.Second
	orderOf       = func(id string, ts int64) *event.Event { return ins(ordersEv, ts, id, "c", 1) }
	shipmentOf    = func(id, order string, ts int64) *event.Event { return ins(shipmentsEv, ts, id, order, "x") }
	ssJoinQueryID = "CSAS_SHIPPED_1"
)

// ssJoinQuery is SELECT o.id, s.id FROM orders o <typ> JOIN shipments s
// WITHIN (before, after) GRACE PERIOD grace ON o.id = s.order_id.
func ssJoinQuery(typ ir.JoinType, before, after, grace time.Duration) ir.Query {
	o := source("O", "pg.public.orders", ir.Stream, orderCols)
	s := source("S", "pg.public.shipments", ir.Stream, shipmentCols)
	j := &ir.Join{Left: o, Right: s, Type: typ, LeftKey: col(0, tStr), RightKey: col(1, tStr),
		Before: before, After: after, Grace: grace, S: joinSchema(o, s), K: ir.Stream}
	return ir.Query{ID: ssJoinQueryID, Topic: "SHIPPED", Root: project(j, []string{"OID", "SID"}, []int{0, 6})}
}

func TestStreamStreamInnerJoin(t *testing.T) {
	h := newHarness(t, nil, Options{}, ssJoinQuery(ir.Inner, 10*sec, 10*sec, 5*sec))
	got := h.feed(
		orderOf("o1", 10),
		shipmentOf("s1", "o1", 15), // order first
		shipmentOf("s2", "o1", 5),  // out of order, within grace: joins
		orderOf("o2", 30),
		shipmentOf("s3", "o2", 19), // 11 s before o2: outside the window
		shipmentOf("s4", "o1", 14), // its window closed at 14 + 10 + 5 < 30: late
		orderOf("o1", 25),          // shipment first: s1 is 10 s before
		&event.Event{Schema: ordersEv, Op: event.OpCreate, After: vals(nil, "c", 1), Source: event.Source{TsUs: 26e6}},
	)
	wantRows(t, got,
		"SHIPPED insert (o1,s1) @15",
		"SHIPPED insert (o1,s2) @10",
		"SHIPPED insert (o1,s1) @25",
	)
	if s := h.x.Stats(); s.Late != 1 || s.NullKeys != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestStreamStreamLeftJoin(t *testing.T) {
	h := newHarness(t, nil, Options{}, ssJoinQuery(ir.LeftOuter, 10*sec, 10*sec, 5*sec))
	got := h.feed(
		orderOf("o1", 10),          // waits for its window to close
		shipmentOf("s1", "o1", 15), // matches: o1 needs no outer result
		orderOf("o2", 30),          // waits
		orderOf("o3", 12),          // 12 + 10 + 5 < 30: late
		orderOf("o4", 18),          // not late, but 18 + 10 < 30: its outer result at once
		shipmentOf("s2", "o4", 20), // and it still joins (Kafka Streams does the same)
		orderOf("o5", 46),          // closes o2's window (30 + 10 + 5 < 46)
	)
	wantRows(t, got,
		"SHIPPED insert (o1,s1) @15",
		"SHIPPED insert (o4,NULL) @18",
		"SHIPPED insert (o4,s2) @20",
		"SHIPPED insert (o2,NULL) @30",
	)
	if s := h.x.Stats(); s.Late != 1 {
		t.Errorf("Late = %d", s.Late)
	}
}

func TestStreamStreamOuterJoins(t *testing.T) {
	for _, tc := range []struct {
		typ  ir.JoinType
		want []string
	}{
		{ir.FullOuter, []string{
			"SHIPPED insert (NULL,s1) @10",
			"SHIPPED insert (o1,NULL) @12",
			"SHIPPED insert (NULL,s3) @20",
			"SHIPPED insert (o9,NULL) @20",
		}},
		{ir.RightOuter, []string{
			"SHIPPED insert (NULL,s1) @10",
			"SHIPPED insert (NULL,s3) @20",
		}},
		{ir.LeftOuter, []string{
			"SHIPPED insert (o1,NULL) @12",
			"SHIPPED insert (o9,NULL) @20",
		}},
	} {
		h := newHarness(t, nil, Options{}, ssJoinQuery(tc.typ, 10*sec, 10*sec, 0))
		got := h.feed(
			shipmentOf("s1", "oX", 10),
			orderOf("o1", 12),
			orderOf("o9", 20),          // the same time on both sides:
			shipmentOf("s3", "oY", 20), // the right side's comes out first
			orderOf("o2", 25),          // closes s1 (10 + 10 < 25) and o1 (22 < 25)
			orderOf("o3", 31),          // closes o9 and s3
		)
		wantRows(t, got, tc.want...)
	}
}

func TestStreamStreamAsymmetricWindow(t *testing.T) {
	// WITHIN (2 SECONDS, 5 SECONDS): a shipment may come 2 s before its
	// order up to 5 s after it.
	h := newHarness(t, nil, Options{}, ssJoinQuery(ir.Inner, 2*sec, 5*sec, 100*sec))
	got := h.feed(
		orderOf("o1", 10),
		shipmentOf("s1", "o1", 7),
		shipmentOf("s2", "o1", 8),
		shipmentOf("s3", "o1", 15),
		shipmentOf("s4", "o1", 16),
		orderOf("o1", 20), // s3 (5 s before) is too early, s4 is 4 s before: no
		orderOf("o1", 14), // s2 is 6 s before: no; s3 and s4 are 1 and 2 s after
	)
	wantRows(t, got,
		"SHIPPED insert (o1,s2) @10",
		"SHIPPED insert (o1,s3) @15",
		"SHIPPED insert (o1,s3) @15",
		"SHIPPED insert (o1,s4) @16",
	)
}

func TestStreamStreamJoinExpiresRows(t *testing.T) {
	st := exectest.NewState()
	h := newHarness(t, st, Options{}, ssJoinQuery(ir.Inner, 10*sec, 10*sec, 0))
	for i := int64(0); i < 50; i++ {
		h.feed(orderOf("o", i), shipmentOf("s", "z", i))
	}
	// Retention is before + after + grace = 20 s and a bucket covers
	// 20 s: at stream time 49 the bucket [0,20) is gone.
	buf := append(opPrefix(ssJoinQueryID, 0), 'b')
	if n := countKeys(st, buf); n != 2*30 {
		t.Errorf("%d buffered rows, want %d", n, 2*30)
	}
	if n := countKeys(st, append(bytes.Clone(opPrefix(ssJoinQueryID, 0)), 'o')); n != 0 {
		t.Errorf("%d rows in the outer store of an inner join", n)
	}
}
