package search_test

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

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// TestLanesThroughput is a report, not a check (SLUICE_BENCH_LANES=N
// rows): on the OpenSearch of scripts/opensearch.sh it writes N product
// rows in Writes of 5,000 events with one lane (requests one after
// another, as before lanes), two and four lanes, and POSTs the
// same documents as pre-built bulk bodies one after another (a plain
// loader), alternating them for three rounds so that they share the
// machine's load, and logs the rates. Each run gets a fresh index of one
// shard and no replica.
func TestLanesThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SLUICE_BENCH_LANES"))
	if n == 0 {
		t.Skip("set SLUICE_BENCH_LANES=<rows> to run")
	}
	base := svctest.Need(t, svctest.OpenSearch)
	const batch = 5000
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]event.Event, n)
	for i := range rows {
		rows[i] = snap(row(i, fmt.Sprintf("Incredible Iron Pants %d", i), fmt.Sprintf("%d.%02d", rng.IntN(1000), rng.IntN(100)),
			event.String("A product description of moderate length, as catalogues have.")))
	}
	cfg := search.Defaults()
	cfg.Hosts = []string{base}
	tr, err := search.HTTPTransport(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: tr}
	req := func(method, path string, body []byte) {
		r, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 || bytes.Contains(b[:min(len(b), 64)], []byte(`"errors":true`)) {
			t.Fatalf("%s %s: %d %.300s", method, path, resp.StatusCode, b)
		}
	}
	index := func(name string) string {
		idx := fmt.Sprintf("sluice-test-lanes-%s-%d", name, rand.Uint32())
		req("PUT", "/"+idx, []byte(`{"settings":{"number_of_shards":1,"number_of_replicas":0}}`))
		t.Cleanup(func() { req("DELETE", "/"+idx, nil) })
		return idx
	}
	sinkRun := func(lanes int) float64 {
		c := cfg
		c.Index = index(fmt.Sprint("sink", lanes))
		s, err := search.New(c, &rawClient{url: base, hc: hc}, search.Options{Product: "bench", Lanes: lanes})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < n; i += batch {
			if err := s.Write(context.Background(), rows[i:min(i+batch, n)]); err != nil {
				t.Fatal(err)
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}
	plainRun := func() float64 {
		idx := index("plain")
		var bodies [][]byte
		for i := 0; i < n; i += batch {
			var b bytes.Buffer
			for _, e := range rows[i:min(i+batch, n)] {
				fmt.Fprintf(&b, `{"index":{"_index":%q,"_id":"%d"}}`+"\n", idx, e.After[0].AsInt())
				fmt.Fprintf(&b, `{"id":%d,"name":%q,"price":%s,"tags":["t%s"],"big":%q}`+"\n",
					e.After[0].AsInt(), e.After[1].Str, e.After[2].Str, e.After[1].Str, e.After[4].Str)
			}
			bodies = append(bodies, b.Bytes())
		}
		start := time.Now()
		for _, b := range bodies {
			req("POST", "/_bulk", b)
		}
		return float64(n) / time.Since(start).Seconds()
	}
	sinkRun(1) // warm-up
	for round := 1; round <= 3; round++ {
		plain := plainRun()
		msg := fmt.Sprintf("round %d: plain loader %.0f docs/s", round, plain)
		for _, lanes := range []int{1, 2, 4} {
			r := sinkRun(lanes)
			msg += fmt.Sprintf("; %d lanes %.0f docs/s (%.2f×)", lanes, r, r/plain)
		}
		t.Log(msg)
	}
}
