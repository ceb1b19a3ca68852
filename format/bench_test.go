package format

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// The benchmarks encode seed 001's product row into a reused buffer, the
// steady state of a sink.

func benchEncode(b *testing.B, o Options, e *event.Event) {
	enc, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 16<<10)
	out, _, _ := enc.AppendValue(buf, e)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		out, _, err = enc.AppendValue(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
		out = enc.AppendKey(out, e)
	}
	_ = out
}

func BenchmarkDebezium(b *testing.B) {
	benchEncode(b, Options{Format: Debezium}, productEvent())
}

func BenchmarkDebeziumSchema(b *testing.B) {
	benchEncode(b, Options{Format: DebeziumSchema}, productEvent())
}

func BenchmarkRow(b *testing.B) {
	benchEncode(b, Options{Format: Row}, productEvent())
}

func BenchmarkRowAddFields(b *testing.B) {
	benchEncode(b, Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "rewrite",
		AddFields: []string{"op", "table", "lsn", "source.ts_ms"}}}, productEvent())
}

// BenchmarkDebeziumAllTypes encodes the wide all-types row (decimals,
// timestamps, arrays).
func BenchmarkDebeziumAllTypes(b *testing.B) {
	e := allTypesEvents()[0].e
	benchEncode(b, Options{Format: Debezium}, e)
}

// BenchmarkDebeziumSnapshotBatch encodes 2,048 snapshot rows shaped like
// the benchmark's product table (one source block and processing time per
// batch) as a file sink does, through a LineEncoder of one worker.
func BenchmarkDebeziumSnapshotBatch(b *testing.B) {
	base := eventtest.ProductEvent()
	evs := make([]event.Event, 2048)
	for i := range evs {
		e := &evs[i]
		*e = *base
		e.Op = event.OpRead
		e.Source = event.Source{TsUs: 1765000000123456, Snapshot: event.SnapshotTrue, LSN: 23982504, HasLSN: true, TxID: 771, HasTxID: true}
		e.TsMs = 1765000000125
		e.After = []event.Value{event.Int(int64(i + 1)), event.String("Ergonomic Steel Chair"), event.Float(float64(i%100000) / 100),
			event.String("violet"), event.String("Tools"), event.Int(int64(i % 500)),
			event.String("The sturdy design for everyday use, batch 512; ref 0f3ad1c2b4e5968778695a4b3c2d1e0f, checked in hall 17 and packed"),
			event.String("INT-000000001")}
	}
	lines, err := NewLineEncoder(Options{Format: Debezium}, 1)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	write := func(p []byte) error { n += int64(len(p)); return nil }
	if err := lines.Encode(evs, write); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		if err := lines.Encode(evs, write); err != nil {
			b.Fatal(err)
		}
	}
}
