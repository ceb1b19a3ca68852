package eval

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// The benchmark row: seed 004's orders (customer_id, order_id, price,
// currency, ts) and a DECIMAL amount.
var benchRow = []event.Value{str("7"), str("29"), f64(15.00), str("aud"), str("2020-04-02T12:36:00"), decv("15.00"), i64(42)}

func benchEval(b *testing.B, e ir.Expr) {
	ev, err := Compile(e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ev.Eval(benchRow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilter is a WHERE clause: price > 10 AND currency IN ('usd', 'aud').
func BenchmarkFilter(b *testing.B) {
	benchEval(b, bin(ir.And,
		cmp(ir.Gt, col(2, tDbl), iLit(10)),
		&ir.In{X: col(3, tStr), List: []ir.Expr{sLit("usd"), sLit("aud")}}, tBool))
}

func BenchmarkFilterInt(b *testing.B) { benchEval(b, cmp(ir.Ge, col(6, tInt), iLit(40))) }

func BenchmarkFilterLike(b *testing.B) {
	benchEval(b, &ir.Like{X: col(4, tStr), Pattern: sLit("2020-04-%")})
}

func BenchmarkFilterDecimal(b *testing.B) {
	benchEval(b, cmp(ir.Gt, col(5, types.DecimalOf(10, 2)), dLit("10.00")))
}

// The projection's expressions, one by one.
func BenchmarkProjectColumn(b *testing.B) { benchEval(b, col(1, tStr)) }
func BenchmarkProjectArith(b *testing.B) {
	benchEval(b, bin(ir.Mul, col(2, tDbl), iLit(2), tDbl))
}
func BenchmarkProjectIntArith(b *testing.B) {
	benchEval(b, bin(ir.Add, col(6, tInt), iLit(2), tInt))
}
func BenchmarkProjectDecimalArith(b *testing.B) {
	benchEval(b, bin(ir.Add, col(5, types.DecimalOf(10, 2)), dLit("1.25"), types.DecimalOf(11, 2)))
}
func BenchmarkProjectUcase(b *testing.B) { benchEval(b, call("UCASE", col(3, tStr))) }
func BenchmarkProjectCoalesce(b *testing.B) {
	benchEval(b, call("COALESCE", col(3, tStr), sLit("none")))
}
func BenchmarkProjectSubstring(b *testing.B) {
	benchEval(b, call("SUBSTRING", col(4, tStr), iLit(1), iLit(10)))
}
func BenchmarkProjectCase(b *testing.B) {
	benchEval(b, &ir.Case{Whens: []ir.When{{Cond: cmp(ir.Gt, col(2, tDbl), iLit(100)), Then: sLit("big")}}, Else: sLit("small"), T: tStr})
}
func BenchmarkProjectParseTimestamp(b *testing.B) {
	benchEval(b, call("PARSE_TIMESTAMP", col(4, tStr), sLit("yyyy-MM-dd'T'HH:mm:ss")))
}
func BenchmarkProjectCastString(b *testing.B) { benchEval(b, cast(col(2, tDbl), tStr)) }

// BenchmarkFilterProject is the whole per-row work of a filter and a
// four-column projection.
func BenchmarkFilterProject(b *testing.B) {
	pred, err := Compile(bin(ir.And, cmp(ir.Gt, col(2, tDbl), iLit(10)),
		&ir.In{X: col(3, tStr), List: []ir.Expr{sLit("usd"), sLit("aud")}}, tBool))
	if err != nil {
		b.Fatal(err)
	}
	var proj []ir.Evaluator
	for _, e := range []ir.Expr{col(1, tStr), col(0, tStr), bin(ir.Mul, col(2, tDbl), iLit(2), tDbl), call("UCASE", col(3, tStr))} {
		ev, err := Compile(e)
		if err != nil {
			b.Fatal(err)
		}
		proj = append(proj, ev)
	}
	out := make([]event.Value, len(proj))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _ := pred.Eval(benchRow)
		if !v.AsBool() {
			continue
		}
		for j, p := range proj {
			out[j], _ = p.Eval(benchRow)
		}
	}
}

func BenchmarkAggLatestByOffset(b *testing.B) {
	a, err := CompileAggregate(ir.AggCall{Func: "LATEST_BY_OFFSET", Args: []ir.Expr{col(0, tStr)}, T: tStr})
	if err != nil {
		b.Fatal(err)
	}
	acc := a.Init()
	args := []event.Value{str("fred")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acc, _ = a.Add(acc, args, uint64(i))
	}
}

func BenchmarkAggCount(b *testing.B) {
	a, _ := CompileAggregate(ir.AggCall{Func: "COUNT", T: tBig})
	acc := a.Init()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acc, _ = a.Add(acc, nil, uint64(i))
	}
}

func BenchmarkAggSumDouble(b *testing.B) {
	a, _ := CompileAggregate(ir.AggCall{Func: "SUM", Args: []ir.Expr{col(0, tDbl)}, T: tDbl})
	acc := a.Init()
	args := []event.Value{f64(1.5)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acc, _ = a.Add(acc, args, uint64(i))
	}
}
