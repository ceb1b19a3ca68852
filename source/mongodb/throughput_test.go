package mongodb

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-dev/sluice/event"
)

// counter is an Emitter that counts and drops events.
type counter struct{ n atomic.Int64 }

func (c *counter) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	c.n.Add(int64(len(evs)))
	return nil
}

// TestExportThroughput exports N documents (default 50,000;
// SLUICE_MONGODB_BENCH_DOCS) of a flat customer shape from FerretDB and
// compares the time with the driver alone draining the same _id-sorted
// cursor (no conversion) in the same run: the physical limit of this
// server and driver. Set SLUICE_MONGODB_BENCH=1 to run it; it logs the
// ratios and the peak heap.
func TestExportThroughput(t *testing.T) {
	if os.Getenv("SLUICE_MONGODB_BENCH") == "" {
		t.Skip("set SLUICE_MONGODB_BENCH=1 to compare the export with a bare driver cursor")
	}
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_MONGODB_BENCH_DOCS")); err == nil {
		n = v
	}
	f := newFerret(t)
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{
			{Key: "_id", Value: oid(i)},
			{Key: "name", Value: "customer name number " + strconv.Itoa(i)},
			{Key: "email", Value: "user" + strconv.Itoa(i) + "@example.com"},
			{Key: "amount", Value: float64(i%100000) / 100},
			{Key: "created", Value: bson.DateTime(1704067200000 + int64(i)*1000)},
			{Key: "active", Value: i%2 == 0},
			{Key: "qty", Value: int32(i % 1000)},
			{Key: "address", Value: bson.D{{Key: "city", Value: "Lisbon"}, {Key: "zip", Value: "1000-" + strconv.Itoa(i%1000)}}},
		}
	}
	f.insert(t, "bench", docs...)
	ctx := context.Background()

	start := time.Now()
	cur, err := f.client.Database(f.db).Collection("bench").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(2048))
	if err != nil {
		t.Fatal(err)
	}
	raw := 0
	for cur.Next(ctx) {
		raw++
	}
	if err := cur.Err(); err != nil || raw != n {
		t.Fatalf("driver drained %d documents: %v", raw, err)
	}
	rawTook := time.Since(start)
	t.Logf("driver cursor alone: %s", rawTook.Round(time.Millisecond))

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	measure := func(workers, partition int) time.Duration {
		cfg := f.config("bench")
		cfg.Export.Workers, cfg.Export.PartitionSize = workers, partition
		out := &counter{}
		s := newSource(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		start := time.Now()
		if err := s.Run(ctx, nil, out); err != nil {
			t.Fatal(err)
		}
		if out.n.Load() != int64(n) {
			t.Fatalf("exported %d documents, want %d", out.n.Load(), n)
		}
		return time.Since(start)
	}
	one := measure(1, n)
	par := measure(4, n/8)
	close(stop)
	t.Logf("%d documents: driver cursor alone %s; sluice export, 1 range %s (%.2f× the driver's rate, %.0f docs/s); 8 ranges on 4 workers %s (%.2f×); peak heap %d MiB",
		n, rawTook.Round(time.Millisecond), one.Round(time.Millisecond), rawTook.Seconds()/one.Seconds(), float64(n)/one.Seconds(),
		par.Round(time.Millisecond), rawTook.Seconds()/par.Seconds(), peak.Load()>>20)
}
