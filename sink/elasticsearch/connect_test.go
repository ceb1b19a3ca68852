package elasticsearch_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
)

// TestConnect: GET / against the cluster: up, unreachable (a plain error,
// retried at start), and an OpenSearch cluster, which the client refuses
// (Permanent).
func TestConnect(t *testing.T) {
	u, err := url.Parse(svctest.Need(t, svctest.Elasticsearch))
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, u.Host)
	connect := func(host string) error {
		cfg := elasticsearch.Config{}
		cfg.Config = elasticsearch.Factory.Config().(*elasticsearch.Config).Config
		cfg.Hosts = []string{host}
		s, err := elasticsearch.New(cfg, component.Env{})
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
	if err := connect("http://" + proxy.Addr()); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "elasticsearch sink: connect: the cluster does not answer: ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
	if err := connect(svctest.Need(t, svctest.OpenSearch)); err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), "type: opensearch") {
		t.Fatalf("an OpenSearch cluster: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
