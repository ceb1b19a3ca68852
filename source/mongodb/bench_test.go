package mongodb

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// benchDocs: a flat document of common scalars, and one with a nested
// object and an array (relaxed Extended JSON per row).
func benchDocs(b *testing.B) (flat, nested bson.Raw) {
	var err error
	flat, err = bson.Marshal(bson.D{
		{Key: "_id", Value: bson.ObjectID{0x65, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{Key: "name", Value: "customer 1234"},
		{Key: "email", Value: "c1234@example.com"},
		{Key: "age", Value: int32(42)},
		{Key: "visits", Value: int64(123456)},
		{Key: "balance", Value: 1234.5},
		{Key: "active", Value: true},
		{Key: "created", Value: bson.DateTime(1700000000123)},
		{Key: "city", Value: "Lisbon"},
		{Key: "score", Value: 0.75},
	})
	if err != nil {
		b.Fatal(err)
	}
	nested, err = bson.Marshal(bson.D{
		{Key: "_id", Value: bson.ObjectID{0x65, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{Key: "name", Value: "order 1234"},
		{Key: "total", Value: 99.5},
		{Key: "address", Value: bson.D{{Key: "street", Value: "Rua A 1"}, {Key: "zip", Value: "1000-001"}, {Key: "geo", Value: bson.A{-9.14, 38.72}}}},
		{Key: "items", Value: bson.A{bson.D{{Key: "sku", Value: "A-1"}, {Key: "qty", Value: int32(2)}}, bson.D{{Key: "sku", Value: "B-2"}, {Key: "qty", Value: int32(1)}}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return flat, nested
}

// BenchmarkDocument is the export's per-document cost: BSON to a schema
// (cached) and a row of event.Values.
func BenchmarkDocument(b *testing.B) {
	flat, nested := benchDocs(b)
	for _, c := range []struct {
		name string
		doc  bson.Raw
	}{{"flat", flat}, {"nested", nested}} {
		b.Run(c.name, func(b *testing.B) {
			cs := newRegistry("bench").collection("db", "c")
			conv := newConverter()
			b.SetBytes(int64(len(c.doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := conv.document(cs, c.doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChangeEvent is the stream's per-change cost: parse a change
// event and decode it into an event.
func BenchmarkChangeEvent(b *testing.B) {
	evs := loadEvents(b, "update_lookup.json")
	upd := evs[1]
	d := &decoder{reg: newRegistry("bench"), conv: newConverter(), fullDoc: UpdateLookup,
		captured: newMatcher([]Collection{{Stream: true, db: "demo", coll: "demo_collection"}})}
	b.SetBytes(int64(len(upd)))
	b.ReportAllocs()
	for b.Loop() {
		ch, err := parseChange(upd)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := d.decode(context.Background(), &ch, 1); err != nil {
			b.Fatal(err)
		}
	}
}
