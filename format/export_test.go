package format

import "github.com/sluice-dev/sluice/event"

// MongoFixture is one MongoDB fixture event, for tests outside the package
// (processor/unwrap's against Debezium's recorded ExtractNewDocumentState).
type MongoFixture struct {
	Name  string
	Event *event.Event
}

// MongoFixtures returns the MongoDB fixture events in MongoCheck.java's
// order.
func MongoFixtures() []MongoFixture {
	var out []MongoFixture
	for _, ne := range mongoEvents() {
		out = append(out, MongoFixture{ne.name, ne.e})
	}
	return out
}
