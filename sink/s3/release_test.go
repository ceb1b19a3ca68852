package s3

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/releasetest"
)

// TestReleasedBatchesS3Objects: batches released by the engine once the
// S3 sink acknowledged them are poisoned by their source at once
// (internal/releasetest), and the objects hold exactly what a sink of its
// own writes from clean copies of the same rows — same keys, same bytes,
// JSON lines and Parquet: nothing read an event after the release. The
// sink opts in (KeepsNoEvents), so every batch is released. (The object
// store is the in-memory one of the spool tests: what is checked is what
// the sink hands it.)
func TestReleasedBatchesS3Objects(t *testing.T) {
	for _, c := range []struct {
		name          string
		cfg           Config
		batches, rows int
	}{
		{"row", rowConfig(), 60, 3},
		{"row", rowConfig(), 4, 3000},
		{"parquet", parquetConfig(), 60, 3},
		{"parquet", parquetConfig(), 4, 3000},
	} {
		t.Run(fmt.Sprintf("%s/%dx%d", c.name, c.batches, c.rows), func(t *testing.T) {
			c.cfg.FlushSize = 100 // several objects, sealed mid-batch
			c.cfg.RotateBytes = 0
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			sink := func() (*Sink, *memStore) {
				store := newMemStore()
				s := newTestSink(t, c.cfg, t.TempDir(), store)
				s.now = func() time.Time { return at }
				return s, store
			}
			s, store := sink()
			rs := releasetest.Run(t, s, usersSchema, c.batches, c.rows)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			cs, clean := sink()
			for b := range c.batches {
				write(t, cs, rs.Events(b))
			}
			if err := cs.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, want := store.keys(), clean.keys()
			if len(want) < 2 || !slices.Equal(got, want) {
				t.Fatalf("objects %q, from clean copies %q", got, want)
			}
			for _, k := range want {
				if g, w := store.get(k), clean.get(k); string(g) != string(w) {
					t.Fatalf("object %s (%d bytes) differs from the one written from clean copies (%d bytes); begins:\n%.300s", k, len(g), len(w), g)
				}
			}
		})
	}
}
