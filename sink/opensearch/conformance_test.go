package opensearch_test

import (
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/internal/search/searchtest"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// TestConformance runs the sink suite (internal/sinktest) against the
// OpenSearch sink on the cluster of scripts/opensearch.sh.
func TestConformance(t *testing.T) {
	base := svctest.Need(t, svctest.OpenSearch)
	sinktest.Run(t, searchtest.Harness(base, func(cfg search.Config, env component.Env) (component.Sink, error) {
		return opensearch.Factory.New(&opensearch.Config{Config: cfg}, env)
	}))
}
