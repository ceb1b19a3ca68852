package search

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestMongoIDIsNotInTheBody: a MongoDB document's _id is the bulk action's
// _id (the key) and is left out of the document, which OpenSearch and
// Elasticsearch would reject ("Field [_id] is a metadata field and cannot be
// added inside a document"); nested values are natural JSON.
func TestMongoIDIsNotInTheBody(t *testing.T) {
	s := &event.Schema{Stream: "mongo.shop.orders", Source: "mongo", Connector: "mongodb", Database: "shop", Table: "orders",
		Columns: []event.Column{
			{Name: "_id", Type: event.TypeString, TypeName: "objectId", Key: true},
			{Name: "name", Type: event.TypeString, TypeName: "string", Optional: true},
			{Name: "when", Type: event.TypeTimestampTZ, TypeName: "date", Optional: true},
			{Name: "tags", Type: event.TypeJSON, TypeName: "array", Optional: true},
			{Name: "addr", Type: event.TypeJSON, TypeName: "object", Optional: true},
		},
		KeyIdx: []int{0},
	}
	e := event.Event{Op: event.OpCreate, Schema: s, After: []event.Value{
		event.String("65a1b2c3d4e5f60718293a4b"), event.String("Anne"), event.Int(1700000000123000),
		event.String(`["a","b"]`), event.String(`{"city":"Oslo","since":{"$date":"2020-01-02T03:04:05.006Z"},"n":{"$numberDecimal":"1.50"}}`),
	}}
	e.Source.LSN, e.Source.HasLSN = uint64(1700000000)<<32|1, true
	fc := &fakeClient{}
	sk := newTest(t, fc, nil)
	if err := sk.Write(context.Background(), []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"orders","_id":"65a1b2c3d4e5f60718293a4b","version":7301444403200000001,"version_type":"external"}}
{"name":"Anne","when":"2023-11-14T22:13:20.123Z","tags":["a","b"],"addr":{"city":"Oslo","since":"2020-01-02T03:04:05.006Z","n":1.50}}
`
	if len(fc.bodies) != 1 || fc.bodies[0] != want {
		t.Fatalf("bulk body:\n%q\nwant\n%q", fc.bodies, want)
	}
}
