package kafka

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// BenchmarkSinkWrite produces seed 001-sized product rows (Debezium
// envelope without schema, ~560-byte values) in Writes of 4096 events, each
// Write waiting for acks=all like the engine's. Compare its msgs/s with the
// broker's own tool at the same record size and acks:
//
//	java -cp "$HOME/.cache/sluice/kafka/3.9.2/lib/*" org.apache.kafka.tools.ProducerPerformance \
//	  --topic perf --num-records 500000 --record-size 560 --throughput -1 \
//	  --producer-props bootstrap.servers=$SLUICE_KAFKA_BROKERS acks=all enable.idempotence=true linger.ms=5
func BenchmarkSinkWrite(b *testing.B) {
	src := "bench" + strings.ReplaceAll(uniq(b), "t", "")
	s := newSink(b, func(c *Config) { c.Partitions = 1 })
	sc := &event.Schema{
		Stream: src + ".public.product", Source: src, Connector: "postgresql", Database: "product_db", Namespace: "public", Table: "product",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "name", Type: event.TypeString},
			{Name: "price", Type: event.TypeFloat64},
			{Name: "color", Type: event.TypeString, Optional: true},
			{Name: "category", Type: event.TypeString},
			{Name: "quantity", Type: event.TypeInt32},
			{Name: "description", Type: event.TypeString, Optional: true},
			{Name: "internalId", Type: event.TypeString},
		},
		KeyIdx: []int{0},
	}
	const batch = 4096
	events := make([]event.Event, batch)
	for i := range events {
		events[i] = event.Event{Schema: sc, Op: event.OpCreate, TsMs: 1641025283552,
			After: []event.Value{event.Int(int64(i)), event.String("Incredible Iron Pants"), event.Float(0.61987811851418), event.String("violet"),
				event.String("Tools"), event.Int(41), event.String("?"), event.String("B0009PC1XA")},
			Source: event.Source{TsUs: 1641025283281000, TxID: 622, HasTxID: true, LSN: 23982504, HasLSN: true}}
	}
	val, _, _ := s.builder.Enc.AppendValue(nil, &events[0])
	b.Logf("value size %d bytes", len(val))
	ctx := context.Background()
	if err := s.Write(ctx, events[:1]); err != nil { // create the topic
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Write(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}
