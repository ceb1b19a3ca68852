package generator

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// discard is an Emitter that drops batches and stops the run after want
// events.
type discard struct {
	n, want int
	stop    context.CancelFunc
}

func (d *discard) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	if d.n += len(evs); d.n >= d.want {
		d.stop()
	}
	return nil
}

// BenchmarkRun measures rows per second at rate 0; one op is one row.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"product", nil},
		{"users", func(c *Config) { c.Tables = []string{"users"} }},
		{"mixed", func(c *Config) {
			c.Tables = []string{"product", "users"}
			c.Operations = Operations{Insert: 3, Update: 2, Delete: 1}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := config(bc.mod)
			s := testSource(b, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.Run(ctx, nil, &discard{want: b.N, stop: cancel}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkResume measures the replay that rebuilds a mix's live rows from a
// checkpoint; one op is one replayed event.
func BenchmarkResume(b *testing.B) {
	cfg := config(func(c *Config) {
		c.Tables = []string{"product", "users"}
		c.Operations = Operations{Insert: 3, Update: 2, Delete: 1}
	})
	b.ReportAllocs()
	for b.Loop() {
		g := newState(cfg, "shop")
		if err := g.resume(context.Background(), checkpoint{Events: 1_000_000}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "events/s")
}
