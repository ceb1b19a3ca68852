package format

import (
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// The fixtures live in internal/eventtest, shared with other packages'
// tests; these names keep this package's tests short.
var (
	allTypes = eventtest.AllTypes
	product  = eventtest.Product
)

func typicalRow(id int64) []event.Value { return eventtest.TypicalRow(id) }
func nullRow(id int64) []event.Value    { return eventtest.NullRow(id) }
func edgeRow(id int64) []event.Value    { return eventtest.EdgeRow(id) }

func src(snap event.SnapshotMark, lsn uint64, tx int64) event.Source {
	return eventtest.Src(snap, lsn, tx)
}

type namedEvent struct {
	name string
	e    *event.Event
}

func allTypesEvents() []namedEvent {
	var out []namedEvent
	for _, ne := range eventtest.AllTypesEvents() {
		out = append(out, namedEvent{ne.Name, ne.Event})
	}
	return out
}

func productEvent() *event.Event { return eventtest.ProductEvent() }
