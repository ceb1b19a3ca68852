package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/releasetest"
)

// TestReleasedBatchesKafkaRecords: batches released by the engine once the
// Kafka sink acknowledged them are poisoned by their source at once
// (internal/releasetest), and the topic holds exactly the records of the
// rows as emitted — keys, values and headers byte for byte, in order — as
// written by a sink of its own from clean copies of the events: nothing
// read an event after the release. The sink opts in (KeepsNoEvents), so
// every batch is released.
func TestReleasedBatchesKafkaRecords(t *testing.T) {
	for _, c := range []struct{ batches, rows int }{{60, 3}, {4, 3000}} { // small batches coalesce; large ones span chunks
		t.Run(fmt.Sprintf("%dx%d", c.batches, c.rows), func(t *testing.T) {
			src := uniq(t)
			one := func(cfg *Config) { cfg.Partitions = 1; cfg.Headers = true }
			sink := newSink(t, one)
			rs := releasetest.Run(t, sink, testSchema(src), c.batches, c.rows)
			// The same rows, in memory nobody poisons, through a sink of
			// their own into a topic of their own.
			clean := uniq(t)
			cs := newSink(t, func(cfg *Config) { one(cfg); cfg.Topic = clean })
			for b := range c.batches {
				if err := cs.Write(context.Background(), rs.Events(b)); err != nil {
					t.Fatal(err)
				}
			}
			n := c.batches * c.rows
			got, want := consume(t, src+".public.items", n), consume(t, clean, n)
			if len(got) != n || len(want) != n {
				t.Fatalf("%d records, and %d written from clean copies; want %d", len(got), len(want), n)
			}
			for i := range got {
				g, w := got[i], want[i]
				same := string(g.Key) == string(w.Key) && string(g.Value) == string(w.Value) && len(g.Headers) == len(w.Headers)
				for j := 0; same && j < len(g.Headers); j++ {
					same = g.Headers[j].Key == w.Headers[j].Key && string(g.Headers[j].Value) == string(w.Headers[j].Value)
				}
				if !same {
					t.Fatalf("record %d differs from the row as emitted:\n got %s %s %v\nwant %s %s %v", i, g.Key, g.Value, g.Headers, w.Key, w.Value, w.Headers)
				}
			}
		})
	}
}
