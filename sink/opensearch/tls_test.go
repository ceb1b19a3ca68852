package opensearch_test

import (
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/internal/search/searchtest"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// TestTLS: HTTPS with ca_file and basic auth, through a proxy that checks
// the credentials (the test distribution has no security plugin); see
// searchtest.TLS.
func TestTLS(t *testing.T) {
	searchtest.TLS(t, svctest.Need(t, svctest.OpenSearch), "opensearch", map[string]searchtest.Auth{
		"basic": func(cfg *search.Config, user, password string) searchtest.New {
			cfg.Username, cfg.Password = user, password
			return func(cfg search.Config, env component.Env) (component.Sink, error) {
				return opensearch.New(opensearch.Config{Config: cfg}, env)
			}
		},
	})
}
