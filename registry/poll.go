package registry

import "github.com/sluice-dev/sluice/component"

// addPollSource registers the polling SQL source.
func addPollSource(m map[string]component.SourceFactory) {}
