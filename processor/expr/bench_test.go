package expr

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// BenchmarkEval measures one evaluation on seed 001's product row: the
// per-event cost of a filter condition or a map expression.
func BenchmarkEval(b *testing.B) {
	numeric := &event.Event{Op: event.OpCreate, Schema: eventtest.AllTypes, After: eventtest.TypicalRow(1)}
	for _, bc := range []struct {
		name, src string
		ev        *event.Event
	}{
		{"float_compare", "price > 0.5", eventtest.ProductEvent()},
		{"two_columns", "quantity > 10 && category == 'Tools'", eventtest.ProductEvent()},
		{"metadata", "op != 'd' && table == 'product'", eventtest.ProductEvent()},
		{"string_func", "upper(name)", eventtest.ProductEvent()},
		{"data_prepper", `col("quantity") != nil && col("quantity") > 10`, eventtest.ProductEvent()},
		{"decimal_compare", "num > 10.5", numeric},
		{"decimal_mul", "num * 2", numeric},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := Compile("x", bc.src, false)
			if err != nil {
				b.Fatal(err)
			}
			p, err := e.For(bc.ev.Schema)
			if err != nil {
				b.Fatal(err)
			}
			env := NewEnv()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Eval(env, bc.ev, bc.ev.After); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
