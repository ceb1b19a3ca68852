package releasetest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/releasetest"
	"github.com/sluice-dev/sluice/processor/filter"
	"github.com/sluice-dev/sluice/processor/mapper"
	"github.com/sluice-dev/sluice/processor/route"
	"github.com/sluice-dev/sluice/processor/tsconvert"
	"github.com/sluice-dev/sluice/processor/unwrap"
	"github.com/sluice-dev/sluice/sink/file"
)

var schema = &event.Schema{
	Stream: "s.public.t", Source: "s", Connector: "postgresql", Database: "db", Namespace: "public", Table: "t",
	Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString, Optional: true}},
	KeyIdx:  []int{0},
}

// chain returns new instances of every stateless processor sluice has, in
// a row: a filter, a map whose expressions copy, cut and search the text
// (regex_replace with the row's own text as the pattern), a route, unwrap
// with added fields and a timestamp conversion.
func chain(t *testing.T) []engine.ProcessorNode {
	t.Helper()
	f, err := filter.New(&filter.Config{Condition: `id % 7 != 3 && name != 'none'`, OnDelete: filter.DeleteEvaluate})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapper.New(&mapper.Config{Set: mapper.Assignments{
		{Column: "shout", Expr: `upper(name)`},
		{Column: "head", Expr: `name[0:9]`},
		{Column: "again", Expr: `regex_replace(name, '^' + name[0:5], 'B')`},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := route.New(&route.Config{Template: "${database}.${table}"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := unwrap.New(&unwrap.Config{DeleteHandling: unwrap.Rewrite, AddFields: []string{"op", "source.table"}, AddFieldsPrefix: "__"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tsconvert.New(&tsconvert.Config{Field: "id", TargetType: "string", Format: "yyyy-MM-dd HH:mm:ss.SSS", UnixPrecision: "milliseconds"})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []engine.ProcessorNode
	for i, p := range []component.Processor{f, m, r, u, c} {
		nodes = append(nodes, engine.ProcessorNode{Name: string(rune('a' + i)), Processor: p})
	}
	return nodes
}

// TestReleasedBatchesThroughProcessors: batches that passed through every
// stateless processor (whose outputs share the inputs' text) are released
// by the engine once the file sink acknowledged them, and poisoned by
// their source at once; the file holds exactly the bytes the same chain
// gives for clean copies of the rows. It fails if a processor, or the
// engine, let anything read an event after its release.
func TestReleasedBatchesThroughProcessors(t *testing.T) {
	for _, c := range []struct{ batches, rows, keys int }{{200, 3, 0}, {10, 1000, 0}, {30, 200, 300}} {
		path := filepath.Join(t.TempDir(), "out.jsonl")
		cfg := file.Config{Path: path, Fsync: true, Options: format.DefaultOptions()}
		sink, err := file.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		src := &releasetest.Source{Schema: schema, Batches: c.batches, Rows: c.rows, Keys: c.keys}
		releasetest.RunThrough(t, sink, src, chain(t))

		ref := chain(t)
		enc, err := format.NewLineEncoder(cfg.Options, 1)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for b := range c.batches {
			evs := src.Events(b)
			for _, n := range ref {
				if evs, err = n.Processor.Process(context.Background(), evs, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Encode(evs, func(p []byte) error { want = append(want, p...); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatal("the chain kept nothing: the test would prove nothing")
		}
		if string(got) != string(want) {
			t.Fatalf("%d×%d: file (%d bytes) differs from the chain's output for the rows as emitted (%d bytes); first lines:\n%.600s\nwant:\n%.600s", c.batches, c.rows, len(got), len(want), got, want)
		}
	}
}
