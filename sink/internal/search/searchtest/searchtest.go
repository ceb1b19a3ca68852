// Package searchtest adapts the OpenSearch and Elasticsearch sinks to the
// sink conformance suite (internal/sinktest): each index is a last-state
// destination, one document per key, that rejects single documents (a
// keyword value longer than Lucene's 32766-byte term limit).
package searchtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// New builds a sink of the product under test from a search.Config.
type New func(cfg search.Config, env component.Env) (component.Sink, error)

// Harness is the suite's harness for the cluster at base (a URL): every
// case gets a fresh index, created with a mapping in which v is a keyword.
func Harness(base string, build New) sinktest.Harness {
	return sinktest.Harness{
		Caps: sinktest.Caps{RecordErrors: true, Secret: true},
		Setup: func(t *testing.T) sinktest.Target {
			u, err := url.Parse(base)
			if err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			var b [4]byte
			_, _ = rand.Read(b[:])
			tg := &target{base: base, host: u.Host, index: "sinktest-" + hex.EncodeToString(b[:]), build: build}
			t.Cleanup(func() { tg.do(t, http.MethodDelete, "/"+tg.index, false) })
			return tg
		},
		// A keyword term longer than 32766 bytes: the cluster rejects the
		// document alone (illegal_argument_exception).
		Poison: func(e *event.Event) { e.After[1] = event.String(strings.Repeat("x", 40000)) },
	}
}

type target struct {
	base, host, index string
	build             New
}

func (tg *target) Addr() string { return tg.host }

func (tg *target) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := search.Defaults()
	cfg.Hosts = []string{tg.base}
	if p.Via != "" {
		cfg.Hosts = []string{"http://" + p.Via}
	}
	cfg.Index = tg.index
	cfg.RequestTimeout = 10 * time.Second
	cfg.Mapping = map[string]any{"properties": map[string]any{
		"id": map[string]any{"type": "long"}, "v": map[string]any{"type": "keyword"},
	}}
	cfg.IndexSettings = map[string]any{"number_of_shards": 1, "number_of_replicas": 0}
	if p.Secret != "" {
		cfg.Username, cfg.Password = "sluice", p.Secret
	}
	return tg.build(cfg, component.Env{Name: p.Name, Logger: p.Logger})
}

// Read returns every document of the index (refreshed first), one record
// per document.
func (tg *target) Read(t *testing.T) []sinktest.Record {
	if st, _ := tg.do(t, http.MethodPost, "/"+tg.index+"/_refresh", true); st == http.StatusNotFound {
		return nil
	}
	_, b := tg.do(t, http.MethodGet, "/"+tg.index+"/_search?size=10000", false)
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string `json:"_id"`
				Source struct {
					ID int64  `json:"id"`
					V  string `json:"v"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("search %s: %v: %.300s", tg.index, err, b)
	}
	var out []sinktest.Record
	for _, h := range r.Hits.Hits {
		if h.ID != strconv.FormatInt(h.Source.ID, 10) {
			t.Errorf("document %s holds id %d", h.ID, h.Source.ID)
		}
		out = append(out, sinktest.Record{ID: h.Source.ID, V: h.Source.V})
	}
	return out
}

// do sends a request; a status other than 2xx fails the test unless
// tolerant.
func (tg *target) do(t *testing.T, method, path string, tolerant bool) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, tg.base+path, bytes.NewReader(nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 && !tolerant && method != http.MethodDelete {
		t.Fatalf("%s %s: %d %.300s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, b
}
