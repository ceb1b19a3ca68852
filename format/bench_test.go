package format

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
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
