package format

import (
	"testing"
)

// BenchmarkDecode decodes the all-types snapshot row, with and without the
// schema part (the schema is parsed once and cached by its bytes).
func BenchmarkDecode(b *testing.B) {
	for _, f := range []string{Debezium, DebeziumSchema} {
		b.Run(f, func(b *testing.B) {
			enc := encoder(b, f)
			e := allTypesEvents()[0].e
			val, _, _ := enc.AppendValue(nil, e)
			key := enc.AppendKey(nil, e)
			dec := NewDecoder()
			b.SetBytes(int64(len(val)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := dec.Decode("t", key, val); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
