package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/source/mongodb"
)

// addMongoDBSource registers the MongoDB export + change-stream source.
func addMongoDBSource(m map[string]component.SourceFactory) {
	m["mongodb"] = mongodb.Factory
}
