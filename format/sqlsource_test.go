package format

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestSQLResultKeepsVersion: a result of the sql processor written in
// Debezium's envelope and read back keeps its version (source.lsn), so a
// search sink reading it from a topic (sluice serve's persistent queries,
// seed 004's shipped_orders) versions its documents. Before, the generic
// source block dropped it and the sink refused every result ("has no
// version").
func TestSQLResultKeepsVersion(t *testing.T) {
	s := &event.Schema{Stream: "shipped_orders", Source: "sql", Connector: "sql", Table: "shipped_orders", Version: 1,
		Columns: []event.Column{{Name: "O_ORDER_ID", Type: event.TypeString, Key: true}, {Name: "PRICE", Type: event.TypeFloat64, Optional: true}}, KeyIdx: []int{0}}
	const version = 3<<40 | 17
	e := event.Event{Schema: s, Op: event.OpCreate, After: []event.Value{event.String("22"), event.Float(29.71)},
		Source: event.Source{TsUs: 1_585_959_120_000_000, LSN: version, HasLSN: true}, TsMs: 1_585_959_120_000}
	for _, f := range []string{Debezium, DebeziumSchema} {
		opts := DefaultOptions()
		opts.Format = f
		enc, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		val, ok, err := enc.AppendValue(nil, &e)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", f, ok, err)
		}
		got, err := NewDecoder().Decode("shipped_orders", enc.AppendKey(nil, &e), val)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, val)
		}
		if v, ok := got.Version(); !ok || v != version {
			t.Fatalf("%s: version %d %v, want %d\n%s", f, v, ok, int64(version), val)
		}
	}
}
