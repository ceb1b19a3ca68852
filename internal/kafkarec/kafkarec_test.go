package kafkarec

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

func testBuilder(t *testing.T, arena *Arena, skipped string) *Builder {
	t.Helper()
	opts := format.DefaultOptions()
	if skipped != "" {
		opts.SkippedOperations = &skipped
	}
	enc, err := format.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tmpl.Parse("${stream}-${op}")
	if err != nil {
		t.Fatal(err)
	}
	return &Builder{Topic: tp, TopicText: "${stream}-${op}", Enc: enc, Options: &opts, TombstonesOnDelete: true, Headers: true, Arena: arena}
}

// events returns a mix: creates, updates, deletes (tombstones), a key
// change (two records and the key-change headers), a keyless table, a
// truncate, values larger than an arena chunk and values that end a chunk.
func events(seed int) []event.Event {
	keyed := &event.Schema{Stream: "pg.public.items", Source: "pg", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "items",
		Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "name", Type: event.TypeString, Optional: true}}, KeyIdx: []int{0}}
	keyless := &event.Schema{Stream: "pg.public.log", Source: "pg", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "log",
		Columns: []event.Column{{Name: "line", Type: event.TypeString, Optional: true}}}
	var out []event.Event
	for i := range 400 {
		id := int64(seed*1000 + i)
		name := fmt.Sprintf("name %d-%d", seed, i)
		switch i % 50 {
		case 7:
			name = strings.Repeat("x", arenaChunk+100) // larger than a chunk
		case 8, 9:
			name = strings.Repeat("y", arenaChunk/3) // ends chunks early
		}
		src := event.Source{TsUs: 1700000000000000 + id, LSN: 0x1_0000_0000 + uint64(id), HasLSN: true, TxID: id, HasTxID: true}
		if i%3 == 0 {
			src.CommitLSN = uint64(id) * 7
		}
		e := event.Event{Schema: keyed, TsMs: 1700000000500, Source: src}
		row := []event.Value{event.Int(id), event.String(name)}
		switch i % 6 {
		case 0, 1:
			e.Op, e.After = event.OpCreate, row
		case 2:
			e.Op, e.Before, e.After = event.OpUpdate, row, row
		case 3:
			e.Op, e.Before = event.OpDelete, row
		case 4: // a key change
			e.Op, e.Before, e.After = event.OpUpdate, []event.Value{event.Int(id + 1), event.String(name)}, row
		case 5:
			e = event.Event{Schema: keyless, Op: event.OpCreate, TsMs: 1700000000500, Source: src, After: []event.Value{event.String(name)}}
			if i%12 == 11 {
				e.Op, e.After = event.OpTruncate, nil
			}
		}
		out = append(out, e)
	}
	return out
}

func build(t *testing.T, b *Builder, evs []event.Event) []Record {
	t.Helper()
	var recs []Record
	for i := range evs {
		var err error
		if recs, err = b.Append(recs, i, &evs[i]); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	return recs
}

func same(t *testing.T, what string, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || g.Event != w.Event || !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) ||
			(g.Key == nil) != (w.Key == nil) || (g.Value == nil) != (w.Value == nil) || len(g.Headers) != len(w.Headers) {
			t.Fatalf("%s: record %d differs:\n got %s %d key %q value %.80q (%d headers)\nwant %s %d key %q value %.80q (%d headers)",
				what, i, g.Topic, g.Event, g.Key, g.Value, len(g.Headers), w.Topic, w.Event, w.Key, w.Value, len(w.Headers))
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !bytes.Equal(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("%s: record %d header %d: %s=%q, want %s=%q", what, i, j, g.Headers[j].Key, g.Headers[j].Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}

// With an arena the records are byte for byte those built without one, and
// stay so while more are built after them (chunks never move); after Reset
// the next records are right again.
func TestArenaSameRecords(t *testing.T) {
	arena := &Arena{}
	withArena := testBuilder(t, arena, "")
	for round := range 3 {
		evs := events(round)
		want := build(t, testBuilder(t, nil, ""), evs)
		got := build(t, withArena, evs)
		same(t, fmt.Sprintf("round %d", round), got, want)
		if round == 0 {
			var tombstones, keyChange, commitLSN, keyless int
			for _, r := range want {
				switch {
				case r.Value == nil:
					tombstones++
				case r.Key == nil:
					keyless++
				}
				for _, h := range r.Headers {
					switch h.Key {
					case format.HeaderNewKey, format.HeaderOldKey:
						keyChange++
					case HeaderCommitLSN:
						commitLSN++
					}
				}
			}
			if len(want) != 566 || tombstones != 133 || keyChange != 198 || keyless != 33 || commitLSN != 200 {
				t.Errorf("the fixture has %d records, %d tombstones, %d key-change headers, %d keyless, %d commit LSNs",
					len(want), tombstones, keyChange, keyless, commitLSN)
			}
		}
		arena.Reset()
	}
	if len(arena.free) == 0 || len(arena.hfree) == 0 {
		t.Errorf("Reset kept %d byte chunks and %d header chunks for reuse, want some", len(arena.free), len(arena.hfree))
	}
}

// skipped_operations is honoured from the options worked out once.
func TestBuilderSkipped(t *testing.T) {
	evs := events(0)
	for _, spec := range []string{"t", "none", "c,d", "u"} {
		b := testBuilder(t, &Arena{}, spec)
		recs := build(t, b, evs)
		opts := format.DefaultOptions()
		opts.SkippedOperations = &spec
		for _, r := range recs {
			if op := evs[r.Event].Op; opts.Skipped(op) {
				t.Errorf("skipped_operations %q: a record of a %c event", spec, op)
			}
		}
		var written int
		for i := range evs {
			if !opts.Skipped(evs[i].Op) {
				written++
			}
		}
		seen := map[int]bool{}
		for _, r := range recs {
			seen[r.Event] = true
		}
		if len(seen) != written {
			t.Errorf("skipped_operations %q: records of %d events, want %d", spec, len(seen), written)
		}
	}
}

// BenchmarkBuilderAppend builds the records of seed 001-sized product rows
// (Debezium envelope, headers on) into an arena, as the Kafka sink does.
func BenchmarkBuilderAppend(b *testing.B) {
	sc := &event.Schema{
		Stream: "src.public.product", Source: "src", Connector: "postgresql", Database: "product_db", Namespace: "public", Table: "product",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "name", Type: event.TypeString}, {Name: "price", Type: event.TypeFloat64},
			{Name: "color", Type: event.TypeString, Optional: true}, {Name: "category", Type: event.TypeString}, {Name: "quantity", Type: event.TypeInt32},
			{Name: "description", Type: event.TypeString, Optional: true}, {Name: "internalId", Type: event.TypeString},
		},
		KeyIdx: []int{0},
	}
	evs := make([]event.Event, 4096)
	for i := range evs {
		evs[i] = event.Event{Schema: sc, Op: event.OpRead, TsMs: 1641025283552,
			After: []event.Value{event.Int(int64(i)), event.String("Incredible Iron Pants"), event.Float(0.61987811851418), event.String("violet"),
				event.String("Tools"), event.Int(41), event.String("?"), event.String("B0009PC1XA")},
			Source: event.Source{TsUs: 1641025283281000, TxID: 622, HasTxID: true, LSN: 23982504, HasLSN: true}}
	}
	opts := format.DefaultOptions()
	enc, err := format.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	tp, _ := tmpl.Parse("${stream}")
	arena := &Arena{}
	bl := &Builder{Topic: tp, TopicText: "${stream}", Enc: enc, Options: &opts, TombstonesOnDelete: true, Headers: true, Arena: arena}
	recs := make([]Record, 0, len(evs))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		arena.Reset()
		recs = recs[:0]
		for i := range evs {
			if recs, err = bl.Append(recs, i, &evs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/record")
}
