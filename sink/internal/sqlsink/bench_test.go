package sqlsink

import (
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// snapshotBatch is n snapshot events of a product-like table.
func snapshotBatch(n int) ([]event.Event, []string) {
	s := &event.Schema{Source: "src", Stream: "src.public.product", Table: "product", Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, Key: true},
		{Name: "name", Type: event.TypeString, Optional: true},
		{Name: "price", Type: event.TypeFloat64, Optional: true},
		{Name: "color", Type: event.TypeString, Optional: true},
		{Name: "category", Type: event.TypeString, Optional: true},
		{Name: "quantity", Type: event.TypeInt32, Optional: true},
		{Name: "description", Type: event.TypeString, Optional: true},
		{Name: "internalId", Type: event.TypeString, Optional: true},
	}, KeyIdx: []int{0}}
	evs := make([]event.Event, n)
	tables := make([]string, n)
	for i := range evs {
		evs[i] = event.Event{Op: event.OpRead, Schema: s, After: []event.Value{
			event.Int(int64(i)), event.String("Product " + strconv.Itoa(i)), event.Float(float64(i) / 7),
			event.String("red"), event.String("tools"), event.Int(int64(i % 50)),
			event.String("a description of some length, with words"), event.String("ab12cd34"),
		}}
		tables[i] = "product"
	}
	return evs, tables
}

// BenchmarkPlan plans one engine batch of snapshot rows (16,384, distinct
// keys): the planning share of a Write's CPU.
func BenchmarkPlan(b *testing.B) {
	const n = 16384
	evs, tables := snapshotBatch(n)
	opt := PlanOptions{Mode: ModeUpsert, DeleteMode: DeleteHard, Keys: func(s *event.Schema) []int { return s.KeyIdx }}
	b.ReportAllocs()
	for b.Loop() {
		steps, errs := Plan(evs, tables, nil, opt)
		if len(steps) != 1 || len(steps[0].Rows) != n || len(errs) != 0 {
			b.Fatalf("%d steps, %d errors", len(steps), len(errs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

func BenchmarkAppendPGCopyText(b *testing.B) {
	c := &event.Column{Name: "description", Type: event.TypeString}
	v := event.String("a description of some length, with words and a number 12345")
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendPGCopy(buf[:0], c, v)
	}
}

// BenchmarkPlanAll is BenchmarkPlan through the full planner (planAll),
// which a batch the fast path does not cover takes.
func BenchmarkPlanAll(b *testing.B) {
	const n = 16384
	evs, tables := snapshotBatch(n)
	opt := PlanOptions{Mode: ModeUpsert, DeleteMode: DeleteHard, Keys: func(s *event.Schema) []int { return s.KeyIdx }}
	b.ReportAllocs()
	for b.Loop() {
		steps, errs := planAll(evs, tables, nil, opt)
		if len(steps) != 1 || len(steps[0].Rows) != n || len(errs) != 0 {
			b.Fatalf("%d steps, %d errors", len(steps), len(errs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
