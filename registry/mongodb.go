package registry

import (
	"github.com/sluice-dev/sluice/component"
)

// addMongoDBSource registers the MongoDB export + change-stream source.
func addMongoDBSource(m map[string]component.SourceFactory) {
	// Filled in by source/mongodb: m["mongodb"] = mongodb.Factory
	_ = m
}
