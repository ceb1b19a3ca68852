package eval

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// aggOf compiles an aggregate call over column 0 of type t (extra are
// constant arguments).
func aggOf(t *testing.T, name string, argT types.Type, extra ...ir.Expr) ir.Aggregator {
	t.Helper()
	args := []ir.Expr{col(0, argT)}
	if name == "COUNT(*)" {
		name, args = "COUNT", nil
	}
	args = append(args, extra...)
	ts := make([]types.Type, len(args))
	lits := make([]*event.Value, len(args))
	for i, a := range args {
		ts[i] = a.Type()
		if l, ok := a.(*ir.Literal); ok {
			lits[i] = &l.Value
		}
	}
	ret, err := ResolveAggregate(name, ts, lits)
	if err != nil {
		t.Fatalf("ResolveAggregate(%s): %v", name, err)
	}
	a, err := CompileAggregate(ir.AggCall{Func: name, Args: args, T: ret})
	if err != nil {
		t.Fatalf("CompileAggregate(%s): %v", name, err)
	}
	return a
}

// addAll adds values in order (seq 1, 2, …) and returns the accumulator,
// checking that no call writes into the accumulator it is given.
func addAll(t *testing.T, a ir.Aggregator, vals ...event.Value) []byte {
	t.Helper()
	acc := a.Init()
	for i, v := range vals {
		before := bytes.Clone(acc)
		next, err := a.Add(acc, []event.Value{v}, uint64(i+1))
		if err != nil {
			t.Fatalf("Add(%s): %v", v.Text(), err)
		}
		if !bytes.Equal(acc, before) {
			t.Fatalf("Add(%s) wrote into its accumulator", v.Text())
		}
		acc = next
	}
	return acc
}

func result(t *testing.T, a ir.Aggregator, acc []byte) event.Value {
	t.Helper()
	v, err := a.Result(acc)
	if err != nil {
		t.Fatalf("Result: %v", err)
	}
	return v
}

func TestAggregates(t *testing.T) {
	d := types.DecimalOf(4, 2)
	cases := []struct {
		name  string
		fn    string
		t     types.Type
		extra []ir.Expr
		vals  []event.Value
		want  event.Value
	}{
		{"COUNT(*)", "COUNT(*)", tInt, nil, []event.Value{i64(1), vN, i64(2)}, i64(3)},
		{"COUNT(x)", "COUNT", tInt, nil, []event.Value{i64(1), vN, i64(2)}, i64(2)},
		{"COUNT none", "COUNT", tInt, nil, nil, i64(0)},
		{"SUM int", "SUM", tInt, nil, []event.Value{i64(1), vN, i64(2)}, i64(3)},
		{"SUM none is 0", "SUM", tInt, nil, []event.Value{vN}, i64(0)},
		{"SUM double", "SUM", tDbl, nil, []event.Value{f64(0.1), f64(0.2)}, f64(pointOne + pointTwo)},
		{"SUM decimal", "SUM", d, nil, []event.Value{decv("10.01"), decv("5.10"), vN}, decv("15.11")},
		{"SUM decimal none", "SUM", d, nil, nil, decv("0.00")},
		{"AVG int", "AVG", tInt, nil, []event.Value{i64(1), i64(2), vN}, f64(1.5)},
		{"AVG none", "AVG", tBig, nil, nil, f64(0)},
		{"AVG double", "AVG", tDbl, nil, []event.Value{f64(1), f64(2), f64(4)}, f64(7.0 / 3)},
		{"MIN", "MIN", tInt, nil, []event.Value{i64(3), vN, i64(-1), i64(2)}, i64(-1)},
		{"MAX string", "MAX", tStr, nil, []event.Value{str("b"), str("c"), str("a")}, str("c")},
		{"MAX double NaN", "MAX", tDbl, nil, []event.Value{f64(1), f64(negNaN())}, f64(negNaN())},
		{"MIN none", "MIN", tInt, nil, []event.Value{vN}, vN},
		{"MAX decimal", "MAX", d, nil, []event.Value{decv("9.50"), decv("10.01")}, decv("10.01")},
		{"LATEST", "LATEST_BY_OFFSET", tInt, nil, []event.Value{i64(12), vN, i64(13), vN}, i64(13)},
		{"LATEST all NULL", "LATEST_BY_OFFSET", tInt, nil, []event.Value{vN, vN}, vN},
		{"LATEST with NULLs", "LATEST_BY_OFFSET", tInt, []ir.Expr{tLit(false)}, []event.Value{i64(12), vN}, vN},
		{"LATEST 2", "LATEST_BY_OFFSET", tInt, []ir.Expr{iLit(2)}, []event.Value{i64(12), vN, i64(13), i64(14)}, arr(i64(13), i64(14))},
		{"LATEST 2 NULLs", "LATEST_BY_OFFSET", tInt, []ir.Expr{iLit(2), tLit(false)}, []event.Value{i64(12), vN, i64(13)}, arr(vN, i64(13))},
		{"LATEST 2 none", "LATEST_BY_OFFSET", tInt, []ir.Expr{iLit(2)}, []event.Value{vN}, arr()},
		{"EARLIEST", "EARLIEST_BY_OFFSET", tInt, nil, []event.Value{vN, i64(13), i64(14)}, i64(13)},
		{"EARLIEST with NULLs", "EARLIEST_BY_OFFSET", tInt, []ir.Expr{tLit(false)}, []event.Value{vN, i64(13)}, vN},
		{"EARLIEST 2", "EARLIEST_BY_OFFSET", tStr, []ir.Expr{iLit(2)}, []event.Value{str("a"), str("b"), str("c")}, arr(str("a"), str("b"))},
		{"COLLECT_LIST", "COLLECT_LIST", tStr, nil, []event.Value{str("baz"), str("baz"), vN, str("foo")}, arr(str("baz"), str("baz"), vN, str("foo"))},
		{"COLLECT_LIST none", "COLLECT_LIST", tStr, nil, nil, arr()},
		{"COLLECT_SET", "COLLECT_SET", tStr, nil, []event.Value{str("baz"), str("baz"), vN, str("foo"), vN}, arr(str("baz"), vN, str("foo"))},
		{"COLLECT_LIST structs", "COLLECT_LIST", types.StructOf(types.Field{Name: "A", Type: tStr}), nil,
			[]event.Value{arr(str("x")), arr(vN)}, arr(arr(str("x")), arr(vN))},
	}
	for _, c := range cases {
		a := aggOf(t, c.fn, c.t, c.extra...)
		if got := result(t, a, addAll(t, a, c.vals...)); !got.Equal(c.want) {
			t.Errorf("%s: got %s, want %s", c.name, got.Text(), c.want.Text())
		}
	}
}

// Runtime values: Go folds constant float arithmetic exactly.
var pointOne, pointTwo = 0.1, 0.2

func negNaN() float64 { return -(negOne * negOne * 0) / 0 }

// TestAggregateUndo: Undo reverses Add for the undoable functions and
// says so (ok false) for the others.
func TestAggregateUndo(t *testing.T) {
	d := types.DecimalOf(6, 2)
	for _, c := range []struct {
		fn   string
		t    types.Type
		vals []event.Value
		undo event.Value
		want event.Value
	}{
		{"COUNT(*)", tInt, []event.Value{i64(1), i64(2)}, i64(2), i64(1)},
		{"COUNT", tInt, []event.Value{i64(1), vN}, vN, i64(1)},
		{"SUM", tBig, []event.Value{i64(5), i64(7)}, i64(5), i64(7)},
		{"SUM", d, []event.Value{decv("1.25"), decv("2.50")}, decv("1.25"), decv("2.50")},
		{"SUM", tDbl, []event.Value{f64(1.5), f64(2)}, f64(2), f64(1.5)},
		{"AVG", tInt, []event.Value{i64(1), i64(2), i64(6)}, i64(6), f64(1.5)},
		{"COLLECT_LIST", tStr, []event.Value{str("a"), str("b"), str("a")}, str("a"), arr(str("a"), str("b"))},
		{"COLLECT_LIST", tStr, []event.Value{str("a"), vN}, vN, arr(str("a"))},
		{"COLLECT_LIST", tStr, []event.Value{str("a")}, str("z"), arr(str("a"))},
	} {
		a := aggOf(t, c.fn, c.t)
		acc := addAll(t, a, c.vals...)
		before := bytes.Clone(acc)
		out, ok, err := a.Undo(acc, []event.Value{c.undo})
		if err != nil || !ok {
			t.Fatalf("%s Undo(%s): %v, %v", c.fn, c.undo.Text(), ok, err)
		}
		if !bytes.Equal(acc, before) {
			t.Fatalf("%s Undo wrote into its accumulator", c.fn)
		}
		if got := result(t, a, out); !got.Equal(c.want) {
			t.Errorf("%s after Undo(%s): got %s, want %s", c.fn, c.undo.Text(), got.Text(), c.want.Text())
		}
	}
	for _, fn := range []string{"MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "COLLECT_SET"} {
		a := aggOf(t, fn, tInt)
		if _, ok, err := a.Undo(addAll(t, a, i64(1)), []event.Value{i64(1)}); ok || err != nil {
			t.Errorf("%s Undo: ok %v, err %v; want not undoable", fn, ok, err)
		}
	}
	a := aggOf(t, "COUNT(*)", tInt)
	if _, _, err := a.Undo(a.Init(), nil); err == nil || err.Error() != "COUNT: undoing a row that was not counted" {
		t.Errorf("COUNT undo below zero: %v", err)
	}
}

func TestAggregateErrors(t *testing.T) {
	a := aggOf(t, "SUM", tInt)
	acc := addAll(t, a, i64(2147483647))
	if _, err := a.Add(acc, []event.Value{i64(1)}, 2); err == nil || err.Error() != "SUM overflow: 2147483647 + 1 does not fit INTEGER" {
		t.Errorf("SUM overflow: %v", err)
	}
	d := aggOf(t, "SUM", types.DecimalOf(4, 2))
	acc = addAll(t, d, decv("99.99"))
	if _, err := d.Add(acc, []event.Value{decv("0.01")}, 2); err == nil ||
		err.Error() != "SUM: numeric overflow: 100.00 does not fit DECIMAL(4, 2), which holds absolute values below 10^2" {
		t.Errorf("SUM decimal overflow: %v", err)
	}
	for _, c := range []struct {
		name string
		args []types.Type
		lits []*event.Value
		err  string
	}{
		{"SUM", []types.Type{tStr}, nil, "SUM does not take STRING"},
		{"MIN", []types.Type{tBool}, nil, "MIN does not take BOOLEAN"},
		{"LATEST_BY_OFFSET", []types.Type{tInt, tInt}, []*event.Value{nil, nil}, "LATEST_BY_OFFSET: argument 2 must be a constant"},
		{"LATEST_BY_OFFSET", []types.Type{tInt, tInt}, []*event.Value{nil, ptr(i64(0))}, "LATEST_BY_OFFSET: the number of values must be 1 or greater, not 0"},
		{"EARLIEST_BY_OFFSET", []types.Type{tInt, tInt}, []*event.Value{nil, ptr(i64(5000))}, "EARLIEST_BY_OFFSET: the number of values must be at most 1000, not 5000"},
		{"LATEST_BY_OFFSET", []types.Type{tInt, tStr}, []*event.Value{nil, ptr(str("x"))}, "LATEST_BY_OFFSET takes (value[, INTEGER count][, BOOLEAN ignoreNulls]), not argument 2 of type STRING"},
		{"FOO", []types.Type{tInt}, nil, "unknown aggregate function FOO"},
	} {
		_, err := ResolveAggregate(c.name, c.args, c.lits)
		if err == nil || err.Error() != c.err {
			t.Errorf("ResolveAggregate(%s, %v): %v; want %q", c.name, c.args, err, c.err)
		}
	}
	// A damaged accumulator is an error, never a panic.
	for _, fn := range []string{"COUNT", "SUM", "AVG", "MIN", "LATEST_BY_OFFSET", "COLLECT_LIST"} {
		a := aggOf(t, fn, tInt)
		for _, bad := range [][]byte{nil, {}, {2}, {accV1}, {accV1, 0xff}, {accV1, 5, tagString, 100}} {
			if _, err := a.Result(bad); err == nil {
				t.Errorf("%s Result(%v) succeeded", fn, bad)
			}
			if _, err := a.Add(bad, []event.Value{i64(1)}, 1); err == nil {
				t.Errorf("%s Add(%v) succeeded", fn, bad)
			}
		}
	}
}

func ptr(v event.Value) *event.Value { return &v }

// TestLatestBySeq: the highest seq wins whatever the arrival order, and
// Merge (session windows) combines as if all rows came to one accumulator.
func TestLatestBySeq(t *testing.T) {
	a := aggOf(t, "LATEST_BY_OFFSET", tStr)
	acc := a.Init()
	for _, r := range []struct {
		v   string
		seq uint64
	}{{"b", 5}, {"a", 3}, {"c", 9}, {"x", 1}} {
		var err error
		if acc, err = a.Add(acc, []event.Value{str(r.v)}, r.seq); err != nil {
			t.Fatal(err)
		}
	}
	if got := result(t, a, acc); got.Str != "c" {
		t.Fatalf("latest = %s, want c", got.Text())
	}
	for _, fn := range []string{"LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "COLLECT_LIST", "COLLECT_SET", "COUNT", "SUM", "AVG", "MAX"} {
		extra := []ir.Expr{}
		if strings.HasSuffix(fn, "OFFSET") {
			extra = append(extra, iLit(3))
		}
		agg := aggOf(t, fn, tInt, extra...)
		all := agg.Init()
		x, y := agg.Init(), agg.Init()
		for i := 1; i <= 8; i++ {
			v := []event.Value{i64(int64(i % 5))}
			all, _ = agg.Add(all, v, uint64(i))
			if i <= 4 {
				x, _ = agg.Add(x, v, uint64(i))
			} else {
				y, _ = agg.Add(y, v, uint64(i))
			}
		}
		m, err := agg.(ir.Merger).Merge(x, y)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := result(t, agg, m), result(t, agg, all); !got.Equal(want) {
			t.Errorf("%s: merged %s, all %s", fn, got.Text(), want.Text())
		}
	}
}

func TestCollectLimit(t *testing.T) {
	a := aggOf(t, "COLLECT_LIST", tInt)
	acc := a.Init()
	for i := 0; i < CollectLimit+10; i++ {
		acc, _ = a.Add(acc, []event.Value{i64(int64(i))}, uint64(i))
	}
	if n := len(result(t, a, acc).Elems()); n != CollectLimit {
		t.Fatalf("COLLECT_LIST kept %d values, want %d", n, CollectLimit)
	}
}
