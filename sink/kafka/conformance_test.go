package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/kafka"
)

// TestConformance runs the sink suite (internal/sinktest) against the
// Kafka sink on the broker of scripts/kafka.sh: a history destination that
// writes a replay again (at least once), in order per key over three
// partitions; a record over max_message_bytes is rejected alone.
//
// Writes are produced in chunks of 3 events here, so that the suite's small
// Writes span several chunks: records of one chunk are in flight while the
// next is produced, and a Write still returns only when all are durable.
func TestConformance(t *testing.T) {
	brokers := strings.Split(svctest.Need(t, svctest.Kafka), ",")
	t.Cleanup(kafka.SetChunkEvents(3)) // after the parallel cases, not when this function returns
	sinktest.Run(t, sinktest.Harness{
		Caps: sinktest.Caps{History: true, Duplicates: true, RecordErrors: true, Secret: true},
		Setup: func(t *testing.T) sinktest.Target {
			var b [4]byte
			_, _ = rand.Read(b[:])
			return &kafkaTarget{brokers: brokers, topic: "sinktest-" + hex.EncodeToString(b[:])}
		},
		// Larger than the harness's max_message_bytes (4096).
		Poison: func(e *event.Event) { e.After[1] = event.String(strings.Repeat("x", 8192)) },
	})
}

type kafkaTarget struct {
	brokers []string
	topic   string
}

func (k *kafkaTarget) Addr() string { return k.brokers[0] }

func (k *kafkaTarget) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := kafka.DefaultConfig()
	cfg.Brokers = k.brokers
	cfg.Topic = k.topic
	cfg.Partitions = 3
	cfg.MaxMessageBytes = 4096
	if p.Via != "" {
		// The broker advertises its own address: every connection, to the
		// seed and to the advertised broker, goes through the proxy.
		cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, p.Via)
		}
	}
	if p.Secret != "" {
		cfg.SASLMechanism, cfg.Username, cfg.Password = "PLAIN", "sluice", p.Secret
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	return kafka.Factory.New(cfg, component.Env{Name: p.Name, Logger: p.Logger})
}

// Read consumes the topic from the start to its end offsets, partition by
// partition; tombstones are not records.
func (k *kafkaTarget) Read(t *testing.T) []sinktest.Record {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, k.topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", k.topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", k.topic, o.Partition, o.Err)
		}
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	offsets := map[string]map[int32]kgo.Offset{k.topic: {}}
	for p := range want {
		offsets[k.topic][p] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(offsets)
	got := map[int32][]*kgo.Record{}
	for done := 0; done < len(want); {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", k.topic, ctx.Err())
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", k.topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				got[r.Partition] = append(got[r.Partition], r)
				if r.Offset == want[r.Partition]-1 {
					done++
				}
			}
		})
	}
	var out []sinktest.Record
	for p := range want {
		for _, r := range got[p] {
			if r.Value == nil {
				continue // a tombstone
			}
			recs, err := sinktest.DecodeDebezium(r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", k.topic, p, r.Offset, err)
			}
			out = append(out, recs...)
		}
	}
	return out
}
