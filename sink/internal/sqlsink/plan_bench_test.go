package sqlsink

import (
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// BenchmarkPlan plans one engine batch of snapshot rows (16,384, distinct
// keys): the planning share of a Write's CPU.
func BenchmarkPlan(b *testing.B) {
	s := &event.Schema{Source: "src", Stream: "src.public.t", KeyIdx: []int{0}, Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString}, {Name: "qty", Type: event.TypeInt32}}}
	const n = 16384
	evs := make([]event.Event, n)
	tables := make([]string, n)
	for i := range evs {
		evs[i] = event.Event{Op: event.OpRead, Schema: s, After: []event.Value{event.Int(int64(i)), event.String("name " + strconv.Itoa(i)), event.Int(int64(i % 50))}}
		tables[i] = "t"
	}
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
