package file

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/releasetest"
)

// TestReleasedBatchesFileBytes: batches released by the engine once the
// file sink acknowledged them are poisoned by their source at once
// (internal/releasetest), and the file holds exactly the bytes of the rows
// as emitted: nothing read an event after the release. The file sink opts
// in (KeepsNoEvents), so every batch is released.
func TestReleasedBatchesFileBytes(t *testing.T) {
	for _, c := range []struct{ batches, rows int }{{200, 3}, {20, 5000}} { // small batches coalesce; large ones encode in parallel
		t.Run(fmt.Sprintf("%dx%d", c.batches, c.rows), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			cfg := Config{Path: path, Fsync: true, Options: format.DefaultOptions()}
			sink, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			src := releasetest.Run(t, sink, testSchema, c.batches, c.rows)
			enc, err := format.NewLineEncoder(cfg.Options, 1)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for b := range c.batches {
				if err := enc.Encode(src.Events(b), func(p []byte) error { want = append(want, p...); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("file (%d bytes) differs from the rows as emitted (%d bytes); first lines:\n%.300s", len(got), len(want), got)
			}
		})
	}
}
