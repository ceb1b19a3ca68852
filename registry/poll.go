package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/source/sqlpoll"
)

// addPollSource registers the polling SQL source.
func addPollSource(m map[string]component.SourceFactory) {
	m["sql_poll"] = sqlpoll.Factory
}
