package opensearch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// TestThroughputVsPlainBulk is a report, not a check (SLUICE_BENCH_SEARCH=N
// rows): it indexes N product rows through the sink, in writes of 4096
// events, and the same documents as pre-built bulk bodies POSTed one after
// another (a plain bulk loader, run first so that it pays the cluster's
// warm-up), and logs both rates and their ratio. The sink's operations
// carry external versions, which the cluster checks per document.
func TestThroughputVsPlainBulk(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SLUICE_BENCH_SEARCH"))
	if n == 0 {
		t.Skip("set SLUICE_BENCH_SEARCH=<rows> to run")
	}
	base := svctest.Need(t, svctest.OpenSearch)
	sc := &event.Schema{Stream: "pg.public.product", Table: "product", Namespace: "public", Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "name", Type: event.TypeString},
		{Name: "price", Type: event.TypeDecimal, Scale: 2}, {Name: "color", Type: event.TypeString},
		{Name: "category", Type: event.TypeString}, {Name: "quantity", Type: event.TypeInt32},
		{Name: "description", Type: event.TypeString}, {Name: "created", Type: event.TypeTimestampTZ},
	}, KeyIdx: []int{0}}
	rows := make([]event.Event, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rows {
		rows[i] = event.Event{Op: event.OpRead, Schema: sc, Source: event.Source{Snapshot: event.SnapshotTrue}, After: []event.Value{
			event.Int(int64(i)), event.String(fmt.Sprintf("Incredible Iron Pants %d", i)), event.Decimal(fmt.Sprintf("%d.%02d", rng.IntN(1000), rng.IntN(100))),
			event.String("violet"), event.String("Tools"), event.Int(int64(rng.IntN(100))),
			event.String("A product description of moderate length, as catalogues have."), event.Int(1704067200000000 + int64(i)*1e6),
		}}
	}
	const batch = 4096
	settings := map[string]any{"number_of_shards": 1, "number_of_replicas": 0}
	del := func(index string) {
		req, _ := http.NewRequest("DELETE", base+"/"+index, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}

	// The sink.
	sinkIndex := fmt.Sprintf("sluice-test-bench-sink-%d", rand.Uint32())
	t.Cleanup(func() { del(sinkIndex) })
	cfg := search.Defaults()
	cfg.Hosts, cfg.Index, cfg.IndexSettings = []string{base}, sinkIndex, settings
	s, err := opensearch.New(opensearch.Config{Config: cfg}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	runSink := func() float64 {
		start := time.Now()
		for i := 0; i < n; i += batch {
			if err := s.Write(context.Background(), rows[i:min(i+batch, n)]); err != nil {
				t.Fatal(err)
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}

	// A plain loader: the same documents, pre-built, same batch size.
	plainIndex := fmt.Sprintf("sluice-test-bench-plain-%d", rand.Uint32())
	t.Cleanup(func() { del(plainIndex) })
	req, _ := http.NewRequest("PUT", base+"/"+plainIndex, bytes.NewReader([]byte(`{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	var bodies [][]byte
	for i := 0; i < n; i += batch {
		var b bytes.Buffer
		for _, e := range rows[i:min(i+batch, n)] {
			fmt.Fprintf(&b, `{"index":{"_index":%q,"_id":"%d"}}`+"\n", plainIndex, e.After[0].AsInt())
			fmt.Fprintf(&b, `{"id":%d,"name":%q,"price":%s,"color":"violet","category":"Tools","quantity":%d,"description":%q,"created":"%s"}`+"\n",
				e.After[0].AsInt(), e.After[1].Str, e.After[2].Str, e.After[5].AsInt(), e.After[6].Str,
				time.UnixMicro(e.After[7].AsInt()).UTC().Format(time.RFC3339))
		}
		bodies = append(bodies, b.Bytes())
	}
	start := time.Now()
	for _, b := range bodies {
		resp, err := http.Post(base+"/_bulk", "application/x-ndjson", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("plain bulk: %d", resp.StatusCode)
		}
	}
	plainRate := float64(n) / time.Since(start).Seconds()
	sinkRate := runSink() // second, so that the plain loader pays the cluster's warm-up
	t.Logf("%d rows, writes of %d: sink %.0f docs/s, plain bulk loader %.0f docs/s, ratio %.2f", n, batch, sinkRate, plainRate, sinkRate/plainRate)
}
