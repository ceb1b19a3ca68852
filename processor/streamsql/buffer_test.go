package streamsql

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
)

// FuzzDecodeBuffered: a damaged buffered input in state is an error, never
// a panic; what buffer writes decodes to the same event.
func FuzzDecodeBuffered(f *testing.F) {
	s := &event.Schema{Stream: "db.shop.orders", Version: 3, Columns: []event.Column{{Name: "id"}, {Name: "v"}}}
	schemas := map[schemaID]*event.Schema{{s.Stream, s.Version}: s}
	p := &Processor{st: exectest.NewState(), bufSchemas: map[schemaID]bool{}}
	ev := event.Event{Schema: s, Op: event.OpUpdate, Before: []event.Value{event.Int(1), event.Null},
		After: []event.Value{event.Int(1), event.String("x")}, TsMs: 7, Source: event.Source{TsUs: -5, Snapshot: event.SnapshotLast}}
	if err := p.buffer(&ev); err != nil {
		f.Fatal(err)
	}
	rec, ok, err := p.st.Get(bufKey(1))
	if err != nil || !ok {
		f.Fatal(ok, err)
	}
	got, err := decodeBuffered(rec, schemas)
	if err != nil {
		f.Fatal(err)
	}
	if got.Op != ev.Op || got.TsMs != 7 || got.Source.TsUs != -5 || got.Source.Snapshot != event.SnapshotLast ||
		got.Before[0].AsInt() != 1 || !got.Before[1].IsNull() || got.After[1].Str != "x" || got.Schema != s {
		f.Fatalf("round trip: %+v", got)
	}
	f.Add(append([]byte(nil), rec...))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBuffered(b, schemas) //nolint:errcheck // must not panic
	})
}
