package exec

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var (
	customersEv  = evSchema("pg.public.customers", "id", "name", "age")
	customerCols = []types.Field{f("ID", tStr), f("NAME", tStr), f("AGE", tInt)}
)

func TestStreamFilterProject(t *testing.T) {
	src := source("CUSTOMERS", "pg.public.customers", ir.Stream, customerCols)
	flt := &ir.Filter{Input: src, Pred: bin(ir.Gt, col(2, tInt), lit(event.Int(30), tInt))}
	p := &ir.Project{Input: flt, Exprs: []ir.Expr{col(0, tStr), &ir.Call{Func: "UCASE", Args: []ir.Expr{col(1, tStr)}, T: tStr}, col(2, tInt), col(5, tInt)}}
	p.S.Columns = []types.Field{f("ID", tStr), f("NAME", tStr), f("AGE", tInt), f("OFF", tInt)}
	p.S.Key = []int{0}
	h := newHarness(t, nil, Options{}, ir.Query{ID: "CSAS_OUT_1", Topic: "OUT", Root: p})
	got := h.feed(
		ins(customersEv, 10, "1", "ann", 40),
		ins(customersEv, 11, "2", "bob", 20),
		upd(customersEv, 12, "2", "bob", 31),
		del(customersEv, 13, "1", "ann", 40), // dropped: delete handling "drop"
		ins(customersEv, 14, "3", nil, nil),  // AGE NULL: the predicate is NULL
		&event.Event{Schema: customersEv, Op: event.OpTruncate},
	)
	wantRows(t, got,
		"OUT insert (1) (1,ANN,40,1) @10",
		"OUT insert (2) (2,BOB,31,3) @12",
	)
	if s := h.x.Streams(); len(s) != 1 || s[0] != "pg.public.customers" {
		t.Errorf("Streams() = %v", s)
	}
}

func TestStreamDeleteRewrite(t *testing.T) {
	cols := append(append([]types.Field(nil), customerCols...), f("__DELETED", tStr))
	src := source("CUSTOMERS", "pg.public.customers", ir.Stream, cols)
	src.FromColumns[3] = "__deleted"
	src.DeleteHandling = "rewrite"
	p := project(src, []string{"ID", "NAME", "__DELETED", "ROWTIME"}, []int{0, 1, 3, 4})
	h := newHarness(t, nil, Options{}, ir.Query{ID: "Q", Topic: "OUT", Root: p})
	got := h.feed(
		ins(customersEv, 10, "1", "ann", 40),
		del(customersEv, 11, "1", "ann", 40),
		&event.Event{Schema: customersEv, Op: event.OpDelete, Before: nil, Source: event.Source{TsUs: 12e6}}, // no image: nothing to rewrite
	)
	wantRows(t, got,
		"OUT insert (1,ann,false,10000) @10",
		"OUT insert (1,ann,true,11000) @11",
	)
}

func tableQuery(pred ir.Expr) ir.Query {
	src := source("T", "pg.public.customers", ir.Table, customerCols, 0)
	var n ir.Node = src
	if pred != nil {
		n = &ir.Filter{Input: src, Pred: pred}
	}
	return ir.Query{ID: "CTAS_T2_1", Topic: "T2", Root: project(n, []string{"ID", "NAME", "AGE"}, []int{0, 1, 2}, 0)}
}

func TestTableSourceUpsertsAndTombstones(t *testing.T) {
	h := newHarness(t, nil, Options{}, tableQuery(nil))
	keyChange := upd(customersEv, 16, "5", "ann", 41)
	keyChange.Before = vals("1", "ann", 41)
	got := h.feed(
		ins(customersEv, 10, "1", "ann", 40),
		upd(customersEv, 11, "1", "ann", 41),
		del(customersEv, 12, "9", "nobody", 0),              // absent: nothing
		ins(customersEv, 13, nil, "nokey", 1),               // NULL key: dropped, counted
		upd(customersEv, 14, "2", "bob", event.Unchanged),   // unchanged TOAST, key absent: NULL
		upd(customersEv, 15, "2", "bobby", event.Unchanged), // kept from the stored row
		keyChange,
		del(customersEv, 17, "2", nil, nil),
		&event.Event{Schema: customersEv, Op: event.OpDelete, Source: event.Source{TsUs: 18e6}}, // no image, key unknown
	)
	wantRows(t, got,
		"T2 upsert (1) (1,ann,40) @10",
		"T2 upsert (1) (1,ann,41) @11",
		"T2 upsert (2) (2,bob,NULL) @14",
		"T2 upsert (2) (2,bobby,NULL) @15",
		"T2 delete (1) @16",
		"T2 upsert (5) (5,ann,41) @16",
		"T2 delete (2) @17",
	)
	if s := h.x.Stats(); s.NullKeys != 1 {
		t.Errorf("NullKeys = %d, want 1", s.NullKeys)
	}
}

func TestTableFilterDeletesRowsThatStopPassing(t *testing.T) {
	h := newHarness(t, nil, Options{}, tableQuery(bin(ir.Gt, col(2, tInt), lit(event.Int(30), tInt))))
	got := h.feed(
		ins(customersEv, 10, "1", "ann", 40),
		ins(customersEv, 11, "2", "bob", 20), // never passed: nothing
		upd(customersEv, 12, "2", "bob", 31),
		upd(customersEv, 13, "1", "ann", 25), // stops passing: delete
		upd(customersEv, 14, "1", "ann", 26), // still failing: nothing
		del(customersEv, 15, "2", "bob", 31),
		del(customersEv, 16, "1", "ann", 26), // deleted while failing: nothing
	)
	wantRows(t, got,
		"T2 upsert (1) (1,ann,40) @10",
		"T2 upsert (2) (2,bob,31) @12",
		"T2 delete (1) @13",
		"T2 delete (2) @15",
	)
}

func TestRecordErrors(t *testing.T) {
	src := source("CUSTOMERS", "pg.public.customers", ir.Stream, customerCols)
	p := &ir.Project{Input: src, Exprs: []ir.Expr{&ir.Call{Func: "FAIL_ON", Args: []ir.Expr{col(1, tStr), lit(event.String("bad"), tStr)}, T: tStr}}}
	p.S.Columns = []types.Field{f("NAME", tStr)}
	ok := project(source("C2", "pg.public.customers", ir.Stream, customerCols), []string{"ID"}, []int{0})
	h := newHarness(t, nil, Options{}, ir.Query{ID: "Q1", Topic: "A", Root: p}, ir.Query{ID: "Q2", Topic: "B", Root: ok})
	rows, err := h.x.Process("pg.public.customers", ins(customersEv, 1, "1", "bad", 1), nil)
	var re *RecordError
	if !errors.As(err, &re) || re.Query != "Q1" || err.Error() != "query Q1: cannot cast bad" {
		t.Fatalf("error %v (%T)", err, err)
	}
	// The other query still processed the input.
	if len(rows) != 1 || rowText(rows[0]) != "B insert (1) @1" {
		t.Errorf("rows %v", rows)
	}
}

func TestTimestampColumn(t *testing.T) {
	ordersEv := evSchema("mongo.logistics.orders", "order_id", "ts")
	mk := func(format string, ty types.Type) *harness {
		src := source("ORDERS", "mongo.logistics.orders", ir.Stream, []types.Field{f("ORDER_ID", tStr), f("TS", ty)})
		src.TimestampCol, src.TimestampFormat = 1, format
		return newHarness(t, nil, Options{}, ir.Query{ID: "Q", Topic: "OUT", Root: project(src, []string{"ORDER_ID", "ROWTIME"}, []int{0, 2})})
	}
	h := mk("yyyy-MM-dd''T''HH:mm:ss", tStr)
	wantRows(t, h.feed(ins(ordersEv, 99, "13", "2020-04-03T11:20:00")), "OUT insert (13,1585912800000) @1585912800")
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"2020-04-03 11:20", `query Q: source ORDERS: timestamp column TS: text "2020-04-03 11:20" does not match yyyy-MM-dd''T''HH:mm:ss`},
		{nil, "query Q: source ORDERS: the timestamp column TS is NULL"},
		{7, "query Q: source ORDERS: the timestamp column TS holds 7, not a STRING"},
	} {
		_, err := h.x.Process("mongo.logistics.orders", ins(ordersEv, 1, "1", tc.v), nil)
		var re *RecordError
		if !errors.As(err, &re) || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %s", tc.v, err, tc.want)
		}
	}
	// BIGINT timestamps are milliseconds, as in ksqlDB.
	h = mk("", tInt)
	wantRows(t, h.feed(ins(ordersEv, 99, "13", 1500)), "OUT insert (13,1500) @1.5s")

	if _, err := New([]ir.Query{{ID: "Q", Topic: "OUT", Root: func() ir.Node {
		src := source("ORDERS", "mongo.logistics.orders", ir.Stream, []types.Field{f("ORDER_ID", tStr), f("TS", tStr)})
		src.TimestampCol = 1
		return src
	}()}}, exectest.NewState(), Options{Compiler: toyCompiler{}}); err == nil || !strings.Contains(err.Error(), "needs a timestamp_format") {
		t.Errorf("a STRING timestamp without format: %v", err)
	}
}

func TestPartitionBy(t *testing.T) {
	// CREATE STREAM by_name AS SELECT UCASE(name) AS k, id FROM customers
	// PARTITION BY UCASE(name): the expression's value is appended, and
	// is the output's key.
	src := source("CUSTOMERS", "pg.public.customers", ir.Stream, customerCols)
	up := &ir.Call{Func: "UCASE", Args: []ir.Expr{col(1, tStr)}, T: tStr}
	rp := &ir.Repartition{Input: src, Keys: []ir.Expr{up}}
	rp.S.Columns = append(append([]types.Field(nil), src.S.Columns...), f("K", tStr))
	rp.S.Key = []int{len(src.S.Columns)}
	p := project(rp, []string{"K", "ID"}, []int{len(src.S.Columns), 0}, 0)
	h := newHarness(t, nil, Options{}, ir.Query{ID: "CSAS_BY_NAME_1", Topic: "BY_NAME", Root: p})
	wantRows(t, h.feed(ins(customersEv, 1, "1", "ann", 3), ins(customersEv, 2, "2", nil, 4)),
		"BY_NAME insert (ANN) (ANN,1) @1",
		"BY_NAME insert (NULL) (NULL,2) @2", // PARTITION BY a NULL gives a NULL key, as in ksqlDB
	)
	// A PARTITION BY of a column is only a new key: the row stays.
	rp2 := &ir.Repartition{Input: source("CUSTOMERS", "pg.public.customers", ir.Stream, customerCols), Keys: []ir.Expr{col(1, tStr)}}
	rp2.S = types.Schema{Columns: rp2.Input.Schema().Columns, Key: []int{1}}
	h = newHarness(t, nil, Options{}, ir.Query{ID: "Q", Topic: "OUT", Root: project(rp2, []string{"NAME", "AGE"}, []int{1, 2}, 0)})
	wantRows(t, h.feed(ins(customersEv, 1, "1", "ann", 3)), "OUT insert (ann) (ann,3) @1")
}

func TestChainedQueryRecordError(t *testing.T) {
	// A query reading another's output fails on a row: the error names it,
	// the first query's row is still returned.
	q1 := ir.Query{ID: "Q1", Topic: "MID", Root: project(source("C", "pg.public.customers", ir.Stream, customerCols), []string{"ID", "NAME", "AGE"}, []int{0, 1, 2})}
	mid := source("M", "MID", ir.Stream, customerCols)
	mid.FromColumns = []string{"ID", "NAME", "AGE"}
	p := &ir.Project{Input: mid, Exprs: []ir.Expr{&ir.Call{Func: "FAIL_ON", Args: []ir.Expr{col(1, tStr), lit(event.String("bad"), tStr)}, T: tStr}}}
	p.S.Columns = []types.Field{f("NAME", tStr)}
	h := newHarness(t, nil, Options{}, q1, ir.Query{ID: "Q2", Topic: "OUT", Root: p})
	rows, err := h.x.Process("pg.public.customers", ins(customersEv, 1, "1", "bad", 1), nil)
	if err == nil || err.Error() != "query Q2: cannot cast bad" || len(rows) != 1 || rowText(rows[0]) != "MID insert (1,bad,1) @1" {
		t.Errorf("rows %v, error %v", rows, err)
	}
	if s := h.x.Streams(); len(s) != 1 || s[0] != "pg.public.customers" {
		t.Errorf("Streams() = %v: MID is produced inside", s)
	}
}

func TestNewRefusesBadPlans(t *testing.T) {
	src := func() *ir.Source { return source("C", "pg.public.customers", ir.Stream, customerCols) }
	tbl := func() *ir.Source { return source("T", "pg.public.customers", ir.Table, customerCols, 0) }
	for _, tc := range []struct {
		q    []ir.Query
		want string
	}{
		{[]ir.Query{{ID: "", Topic: "X", Root: src()}}, `exec: query 0 has an empty or repeated ID ""`},
		{[]ir.Query{{ID: "A", Topic: "X", Root: src()}, {ID: "B", Topic: "X", Root: src()}}, `queries A and B both write "X"; a topic has one producing query`},
		{[]ir.Query{{ID: "A", Topic: "X", Root: source("T", "s", ir.Table, customerCols)}}, "query A: table T has no PRIMARY KEY"},
		{[]ir.Query{{ID: "A", Topic: "X", Root: &ir.Join{Left: tbl(), Right: src(), LeftKey: col(0, tStr), RightKey: col(0, tStr), S: joinSchema(tbl(), src()), K: ir.Stream}}},
			"query A: a table-stream join: put the stream on the left"},
		{[]ir.Query{{ID: "A", Topic: "X", Root: &ir.Join{Left: src(), Right: tbl(), Type: ir.FullOuter, LeftKey: col(0, tStr), RightKey: col(0, tStr), S: joinSchema(src(), tbl()), K: ir.Stream}}},
			"query A: a stream-table join is INNER or LEFT"},
		{[]ir.Query{{ID: "A", Topic: "X", Root: &ir.Filter{Input: src(), Pred: &ir.Call{Func: "NOPE", T: types.TBoolean}}}}, "query A: WHERE/HAVING: unknown function NOPE"},
	} {
		_, err := New(tc.q, exectest.NewState(), Options{Compiler: toyCompiler{}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("error %v, want %s", err, tc.want)
		}
	}
}
