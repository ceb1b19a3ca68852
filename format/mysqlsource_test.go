package format

import (
	"bytes"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestMySQLSourceRowsCache: the source block of an event is the same
// whether the block's cache holds the previous event's parts or not, over
// sequences that change one coordinate at a time.
func TestMySQLSourceRowsCache(t *testing.T) {
	s := &event.Schema{Connector: "mysql", Source: "my", Database: "inventory", Table: "t\"q"}
	bl := event.Binlog{File: "binlog.000003", Pos: 1234, GTID: "0-1-42", ServerID: 1, Thread: 7}
	var seq []event.Event
	add := func(f func(e *event.Event)) {
		e := event.Event{Schema: s, Op: event.OpCreate, Source: event.Source{TsUs: 1700000001000000, Binlog: &bl}}
		if len(seq) > 0 {
			e = seq[len(seq)-1]
			if e.Source.Binlog != nil {
				b := *e.Source.Binlog
				e.Source.Binlog = &b
			}
		}
		f(&e)
		seq = append(seq, e)
	}
	add(func(e *event.Event) {})
	add(func(e *event.Event) { e.Source.Row = 1 })
	add(func(e *event.Event) { e.Source.Row = 65535 })
	add(func(e *event.Event) { e.Source.Binlog.Pos = 99999 })
	add(func(e *event.Event) { e.Source.Binlog.Thread = 0 })
	add(func(e *event.Event) { e.Source.Binlog.GTID = "" })
	add(func(e *event.Event) { e.Source.Binlog.File = "binlog.000004\u2028" })
	add(func(e *event.Event) { e.Source.Binlog.ServerID = 4294967295 })
	add(func(e *event.Event) { e.Source.TsUs = 0 })
	add(func(e *event.Event) { e.Source.Snapshot = event.SnapshotLast })
	add(func(e *event.Event) { e.Source.Binlog = nil })
	add(func(e *event.Event) { e.Source.Row = 2 })
	add(func(e *event.Event) { e.Source.Binlog = &event.Binlog{File: "binlog.000004\u2028"} })

	cached := newMySQLSource(s)
	for i := range seq {
		e := &seq[i]
		got := cached.appendPayload(nil, e)
		want := newMySQLSource(s).appendPayload(nil, e)
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		again := cached.appendPayload([]byte("x"), e)
		if !bytes.Equal(again[1:], want) {
			t.Fatalf("event %d again:\n got %s\nwant %s", i, again[1:], want)
		}
	}
	// One encoder over the sequence (it leaves the block's caching to
	// mysqlSource) writes what a fresh encoder writes for each event.
	enc, err := New(Options{Format: Debezium})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seq {
		fresh, err := New(Options{Format: Debezium})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err1 := enc.AppendValue(nil, &seq[i])
		want, _, err2 := fresh.AppendValue(nil, &seq[i])
		if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Fatalf("event %d encoded:\n got %s (%v)\nwant %s (%v)", i, got, err1, want, err2)
		}
	}
}

// BenchmarkDebeziumMySQLRows encodes the rows of one binlog rows event one
// after another (source blocks that differ in "row" only).
func BenchmarkDebeziumMySQLRows(b *testing.B) {
	enc, err := New(Options{Format: Debezium})
	if err != nil {
		b.Fatal(err)
	}
	s := &event.Schema{Connector: "mysql", Source: "my", Database: "inventory", Table: "bench", Stream: "my.inventory.bench",
		Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString, Optional: true}},
		KeyIdx:  []int{0}}
	bl := &event.Binlog{File: "binlog.000003", Pos: 1234, GTID: "0-1-42", ServerID: 1, Thread: 7}
	evs := make([]event.Event, 40)
	for i := range evs {
		evs[i] = event.Event{Schema: s, Op: event.OpCreate, After: []event.Value{event.Int(int64(i)), event.String("customer name number 1")},
			Source: event.Source{TsUs: 1700000001000000, Binlog: bl, Row: int32(i)}, TsMs: 1700000001123}
	}
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		for i := range evs {
			if _, _, err := enc.AppendValue(buf[:0], &evs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}
