package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/opensearch"
)

// addSearchSinks registers the OpenSearch and Elasticsearch sinks.
func addSearchSinks(m map[string]component.SinkFactory) {
	m["opensearch"] = opensearch.Factory
	m["elasticsearch"] = elasticsearch.Factory
}
