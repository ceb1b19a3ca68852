package elasticsearch_test

import (
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/internal/search"
	"github.com/sluice-dev/sluice/sink/internal/search/searchtest"
)

// TestTLS: HTTPS with ca_file, basic auth and an API key, through a proxy
// that checks them (the test distribution has no security plugin); see
// searchtest.TLS.
func TestTLS(t *testing.T) {
	searchtest.TLS(t, svctest.Need(t, svctest.Elasticsearch), "elasticsearch", map[string]searchtest.Auth{
		"basic": func(cfg *search.Config, user, password string) searchtest.New {
			cfg.Username, cfg.Password = user, password
			return func(cfg search.Config, env component.Env) (component.Sink, error) {
				return elasticsearch.New(elasticsearch.Config{Config: cfg}, env)
			}
		},
		"api key": func(_ *search.Config, _, key string) searchtest.New {
			return func(cfg search.Config, env component.Env) (component.Sink, error) {
				return elasticsearch.New(elasticsearch.Config{Config: cfg, APIKey: key}, env)
			}
		},
	})
}
