package elasticsearch_test

import (
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/internal/search/searchtest"
)

// TestConformance runs the sink suite (internal/sinktest) against the
// Elasticsearch sink on the clusters of scripts/elasticsearch.sh: 8 and 7.
func TestConformance(t *testing.T) {
	build := func(cfg search.Config, env component.Env) (component.Sink, error) {
		return elasticsearch.Factory.New(&elasticsearch.Config{Config: cfg}, env)
	}
	for _, v := range []struct {
		name string
		svc  svctest.Service
	}{{"8", svctest.Elasticsearch}, {"7", svctest.Elasticsearch7}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			sinktest.Run(t, searchtest.Harness(svctest.Need(t, v.svc), build))
		})
	}
}
