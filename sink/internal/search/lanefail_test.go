package search_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// rawClient is a search.Client over net/http (no engine client), so that
// a test can fail chosen requests while the others reach the cluster.
type rawClient struct {
	url  string
	hc   *http.Client           // nil: http.DefaultClient
	fail func(body []byte) bool // true: this request gets no response
	// wait, when set, is closed before a failing request fails.
	wait     chan struct{}
	answered func() // called after each answered request (lanes: concurrently)
	mu       sync.Mutex
}

func (c *rawClient) do(ctx context.Context, method, path, ctype string, body []byte) (search.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return search.Response{}, err
	}
	req.Header.Set("Content-Type", ctype)
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return search.Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return search.Response{Status: resp.StatusCode, Body: b}, err
}

func (c *rawClient) Bulk(ctx context.Context, body []byte, fp string) (search.Response, error) {
	if c.fail != nil && c.fail(body) {
		if c.wait != nil {
			select {
			case <-c.wait:
			case <-time.After(30 * time.Second):
			}
		}
		return search.Response{}, errors.New("connection reset by peer")
	}
	r, err := c.do(ctx, "POST", "/_bulk?filter_path="+fp, "application/x-ndjson", body)
	if err == nil && c.answered != nil {
		c.mu.Lock()
		c.answered()
		c.mu.Unlock()
	}
	return r, err
}

func (c *rawClient) MGet(ctx context.Context, body []byte) (search.Response, error) {
	return c.do(ctx, "POST", "/_mget", "application/json", body)
}

func (c *rawClient) CreateIndex(ctx context.Context, index string, body []byte) (search.Response, error) {
	return c.do(ctx, "PUT", "/"+index, "application/json", body)
}

func (c *rawClient) DeleteIndex(ctx context.Context, index string) (search.Response, error) {
	return c.do(ctx, "DELETE", "/"+index, "application/json", nil)
}

func (c *rawClient) Close() error { return nil }

// TestLaneFailsThenWriteRetried is the worst moment for lanes on a real
// cluster: one lane's request of a Write fails while the other lanes'
// requests are applied. The Write fails (the engine keeps the checkpoint
// and retries the same events), and the retried Write — which writes the
// applied lanes again — leaves every document as its last event left it,
// at its last LSN with versions; without versions too, since each lane is
// written again in order.
func TestLaneFailsThenWriteRetried(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		for _, vt := range []string{search.VersionExternal, search.VersionNone} {
			idx := c.index() + "-" + vt
			// The request carrying document 7 fails once the three other
			// lanes' requests were answered (the first Write's 300 events
			// of about 130 bytes make four lanes of 1 KiB or more, one
			// request each).
			var failing atomic.Bool
			failing.Store(true)
			others := make(chan struct{})
			answered := 0
			rc := &rawClient{url: c.url, wait: others}
			rc.fail = func(body []byte) bool {
				return failing.Load() && bytes.Contains(body, []byte(`"_id":"7"`))
			}
			rc.answered = func() {
				if answered++; answered == 3 {
					close(others)
				}
			}
			cfg := search.Defaults()
			cfg.Hosts, cfg.Index, cfg.DocumentVersionType = []string{c.url}, idx, vt
			s, err := search.New(cfg, rc, search.Options{Product: "test", Lanes: 4, LaneBytes: 1 << 10, RetryBase: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var evs []event.Event
			lsn := uint64(1000)
			want := map[string]string{}
			for round := range 3 {
				for id := range 100 {
					lsn++
					evs = append(evs, change(event.OpUpdate, lsn, nil, row(id, fmt.Sprint("r", round), "1.00", event.Null)))
					want[fmt.Sprint(id)] = rowJSON(id, fmt.Sprint("r", round), "1.00", "")
				}
			}
			err = s.Write(context.Background(), evs)
			if err == nil || err.Error() != "test: bulk request: connection reset by peer" {
				t.Fatalf("%s: first Write: got %v, want the failed lane's error", vt, err)
			}
			// Some lanes were applied, the failed one not.
			got := c.docs(idx)
			if _, ok := got["7"]; ok || len(got) == 0 || len(got) == 100 {
				t.Fatalf("%s: after the failed Write %d documents, document 7 present: %v; want the other lanes' documents only", vt, len(got), ok)
			}
			failing.Store(false)
			if err := s.Write(context.Background(), evs); err != nil {
				t.Fatalf("%s: retried Write: %v", vt, err)
			}
			wantDocs(t, c.docs(idx), want)
			if _, v, _ := c.doc(idx, "99", ""); vt == search.VersionExternal && v != int64(lsn) {
				t.Errorf("%s: document 99 has version %d, want its last LSN %d", vt, v, lsn)
			}
		}
	})
}
