package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/processor/filter"
	"github.com/sluice-dev/sluice/processor/mapper"
	"github.com/sluice-dev/sluice/processor/route"
)

// addProcessors registers the expression processors: filter, map, route.
func addProcessors(m map[string]component.ProcessorFactory) {
	m["filter"] = filter.Factory
	m["map"] = mapper.Factory
	m["route"] = route.Factory
}
