package opensearch_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// TestConnect: GET / against the cluster: up, and unreachable (a plain
// error, retried at start).
func TestConnect(t *testing.T) {
	u, err := url.Parse(svctest.Need(t, svctest.OpenSearch))
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, u.Host)
	connect := func(host string) error {
		cfg := opensearch.Config{Config: search.Defaults()}
		cfg.Hosts = []string{host}
		s, err := opensearch.New(cfg, component.Env{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		return s.Connect(context.Background())
	}
	if err := connect("http://" + proxy.Addr()); err != nil {
		t.Fatalf("up: %v", err)
	}
	proxy.Cut()
	if err := connect("http://" + proxy.Addr()); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "opensearch sink: connect: the cluster does not answer: ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
