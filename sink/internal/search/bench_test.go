package search

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// discardClient answers every bulk request at once and keeps nothing.
type discardClient struct{ fakeClient }

func (*discardClient) Bulk(context.Context, []byte, string) (Response, error) {
	return Response{Status: 200, Body: []byte(`{"errors":false}`)}, nil
}

// BenchmarkWrite measures building and parsing bulk requests (the client
// answers at once and keeps nothing): the sink's own cost per event.
func BenchmarkWrite(b *testing.B) {
	fc := &discardClient{}
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
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
