package kafka

import (
	"bytes"
	"os"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// The fixtures live in internal/eventtest, shared with other packages'
// tests; these names keep this package's tests short.
var (
	allTypes = eventtest.AllTypes
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

// encoder is a format encoder that also writes truncates (the decoder reads
// what Debezium writes with skipped.operations=none).
func encoder(t testing.TB, f string) format.Encoder {
	t.Helper()
	o := format.DefaultOptions()
	o.Format = f
	o.SkippedOperations = new("none")
	enc, err := format.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// readFile reads a captured Debezium message from package format's test
// data (the decoder's home).
func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../format/testdata/connect/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}
