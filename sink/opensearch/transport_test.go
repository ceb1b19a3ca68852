package opensearch_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// TestBulkAsksNoGzip: bulk requests do not ask for a gzipped response
// (a few bytes with filter_path, which the cluster would compress and the
// sink inflate for every request), and their bodies are plain NDJSON.
func TestBulkAsksNoGzip(t *testing.T) {
	var mu sync.Mutex
	var accept, encoding []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		accept = append(accept, r.Header.Get("Accept-Encoding"))
		encoding = append(encoding, r.Header.Get("Content-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"errors":false}`)
	}))
	defer srv.Close()
	cfg := search.Defaults()
	cfg.Hosts, cfg.Index = []string{srv.URL}, "t"
	s, err := opensearch.New(opensearch.Config{Config: cfg}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	err = s.Write(context.Background(), []event.Event{{Op: event.OpCreate, Schema: schema,
		Source: event.Source{LSN: 100, HasLSN: true}, After: []event.Value{event.Int(1), event.Int(100)}}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accept) != 1 || accept[0] != "" || encoding[0] != "" {
		t.Fatalf("bulk requests with Accept-Encoding %q, Content-Encoding %q; want one request with neither", accept, encoding)
	}
}
