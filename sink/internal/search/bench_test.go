package search

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// BenchmarkWrite measures building and parsing bulk requests (the client
// answers at once): the sink's own cost per event.
func BenchmarkWrite(b *testing.B) {
	fc := &fakeClient{}
	cfg := Defaults()
	cfg.Hosts = []string{"http://x:9200"}
	s, err := New(cfg, fc, Options{Product: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, 4096)
	for i := range evs {
		evs[i] = ev(event.OpUpdate, uint64(1000+i), nil, r(int64(i), "Incredible Iron Pants", event.String("a longer description of the product")))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fc.bodies = fc.bodies[:0]
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
