package search

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/releasetest"
)

// opsCluster is a fake cluster that keeps every operation it was sent (an
// action line, with its document line for index and update), each a copy.
type opsCluster struct {
	fakeClient
	opsMu sync.Mutex
	ops   []string
}

func (c *opsCluster) Bulk(ctx context.Context, body []byte, fp string) (Response, error) {
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	c.opsMu.Lock()
	for i := 0; i < len(lines); i++ {
		op := lines[i]
		if !strings.HasPrefix(op, `{"delete"`) {
			i++
			op += "\n" + lines[i]
		}
		c.ops = append(c.ops, op)
	}
	c.opsMu.Unlock()
	return c.fakeClient.Bulk(ctx, body, fp)
}

// sorted returns the operations in a fixed order: the lanes send theirs
// concurrently, and the engine may coalesce batches differently.
func (c *opsCluster) sorted() []string {
	c.opsMu.Lock()
	defer c.opsMu.Unlock()
	return slices.Sorted(slices.Values(c.ops))
}

var relSchema = &event.Schema{
	Stream: "s.public.t", Source: "s", Connector: "postgresql", Database: "db", Namespace: "public", Table: "t",
	Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString, Optional: true}},
	KeyIdx:  []int{0},
}

// TestReleasedBatchesSearchOperations: batches released by the engine once
// the search sink acknowledged them are poisoned by their source at once
// (internal/releasetest), and the cluster received exactly the operations
// a sink of its own sends for clean copies of the same rows: creates,
// updates and deletes of keys that repeat, in four lanes, with the index
// and the routing rendered from the row. It fails if the sink read an
// event after its release.
func TestReleasedBatchesSearchOperations(t *testing.T) {
	mut := func(c *Config) {
		c.Index = "items-${table}"
		c.Routing = "${/name}"
		c.DocumentVersionType = VersionNone
	}
	for _, c := range []struct{ batches, rows, keys int }{{200, 3, 0}, {20, 2000, 0}, {30, 500, 700}} {
		t.Run(fmt.Sprintf("%dx%d,%d keys", c.batches, c.rows, c.keys), func(t *testing.T) {
			got := &opsCluster{}
			src := &releasetest.Source{Schema: relSchema, Batches: c.batches, Rows: c.rows, Keys: c.keys}
			releasetest.RunSource(t, newLanes(t, got, 4, mut), src)

			want := &opsCluster{}
			ref := newLanes(t, want, 4, mut)
			for b := range c.batches {
				if err := ref.Write(context.Background(), src.Events(b)); err != nil {
					t.Fatal(err)
				}
			}
			g, w := got.sorted(), want.sorted()
			if len(w) != c.batches*c.rows {
				t.Fatalf("the reference sent %d operations for %d rows", len(w), c.batches*c.rows)
			}
			if !slices.Equal(g, w) {
				for i := range min(len(g), len(w)) {
					if g[i] != w[i] {
						t.Fatalf("%d operations, want %d; first difference:\n%s\nwant:\n%s", len(g), len(w), g[i], w[i])
					}
				}
				t.Fatalf("%d operations, want %d", len(g), len(w))
			}
		})
	}
}
