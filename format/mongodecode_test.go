package format

import (
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestMongoDecodeRoundTrip: the MongoDB fixtures encoded as Debezium's
// MongoDB envelope (with and without schema) decode back into the events
// the MongoDB source made — columns with their $type aliases, values,
// cluster time, wall clock, transaction number and ordinal — except what
// the envelope does not carry: a snapshot row's wall clock and "last" mark,
// and a DBPointer, which STRICT writes as a DBRef document.
func TestMongoDecodeRoundTrip(t *testing.T) {
	for _, f := range []string{Debezium, DebeziumSchema} {
		t.Run(f, func(t *testing.T) {
			enc, err := New(Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			dec := NewDecoder()
			for _, ne := range mongoEvents() {
				want := *ne.e
				val, ok, err := enc.AppendValue(nil, &want)
				if err != nil || !ok {
					t.Fatalf("%s: encode: %v %v", ne.name, ok, err)
				}
				key := enc.AppendKey(nil, &want)
				got, err := dec.Decode("mongo.shop.orders", key, val)
				if err != nil {
					t.Fatalf("%s: decode: %v\n%s", ne.name, err, val)
				}
				if i := want.Schema.ColumnIndex("dbp"); i >= 0 {
					// STRICT writes a DBPointer as a DBRef document
					// {"$ref", "$id"}: it comes back as the document.
					s := *want.Schema
					s.Columns = append([]event.Column(nil), s.Columns...)
					s.Columns[i].TypeName = "object"
					want.Schema = &s
					want.After = append([]event.Value(nil), want.After...)
					want.After[i] = event.String(`{"$ref":"shop.other","$id":{"$oid":"65a1b2c3d4e5f60718293a4f"}}`)
				}
				if want.Source.Snapshot != event.SnapshotFalse {
					want.Source.Snapshot, want.Source.TsUs = event.SnapshotTrue, 0
				}
				if diff := eventDiff(&want, &got); diff != "" {
					t.Errorf("%s: %s", ne.name, diff)
				}
			}
		})
	}
}

func eventDiff(want, got *event.Event) string {
	if want.Op != got.Op || want.TsMs != got.TsMs {
		return fmt.Sprintf("op/ts_ms %c %d, want %c %d", got.Op, got.TsMs, want.Op, want.TsMs)
	}
	ws, gs := want.Schema, got.Schema
	if ws.Stream != gs.Stream || ws.Source != gs.Source || ws.Connector != gs.Connector || ws.Database != gs.Database || ws.Table != gs.Table || !gs.SeqByRow {
		return fmt.Sprintf("schema identity %+v, want %+v", *gs, *ws)
	}
	if len(ws.Columns) != len(gs.Columns) || fmt.Sprint(ws.KeyIdx) != fmt.Sprint(gs.KeyIdx) {
		return fmt.Sprintf("columns %+v key %v, want %+v key %v", gs.Columns, gs.KeyIdx, ws.Columns, ws.KeyIdx)
	}
	for i := range ws.Columns {
		w, g := ws.Columns[i], gs.Columns[i]
		if w.Name != g.Name || w.Type != g.Type || w.TypeName != g.TypeName || w.Key != g.Key || w.Optional != g.Optional || w.Scale != g.Scale {
			return fmt.Sprintf("column %d %+v, want %+v", i, g, w)
		}
	}
	for _, img := range []struct {
		name      string
		want, got []event.Value
	}{{"before", want.Before, got.Before}, {"after", want.After, got.After}} {
		if (img.want == nil) != (img.got == nil) || len(img.want) != len(img.got) {
			return fmt.Sprintf("%s %v, want %v", img.name, img.got, img.want)
		}
		for i := range img.want {
			if !img.want[i].Equal(img.got[i]) {
				return fmt.Sprintf("%s[%s] %#v, want %#v", img.name, ws.Columns[i].Name, img.got[i], img.want[i])
			}
		}
	}
	if want.Source != got.Source {
		return fmt.Sprintf("source %+v, want %+v", got.Source, want.Source)
	}
	return ""
}
