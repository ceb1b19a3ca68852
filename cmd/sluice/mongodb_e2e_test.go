package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/internal/mongotest"
)

// TestMongoDBExportToFile is seed 000's export with the binary: the
// demo.demo_collection documents inserted as the seed inserts them
// (key-one, key-two, key-three; the driver makes their ObjectIds), plus
// typed documents, exported from FerretDB with stream: false into a file
// sink in the row format. sluice exits by itself once the export is done,
// and a second run with the same state exports nothing again.
func TestMongoDBExportToFile(t *testing.T) {
	m := mongotest.New(t, "demo")
	uri, db := m.URI, m.Name
	ctx := context.Background()
	coll := m.Database.Collection("demo_collection")
	var ids []string
	for _, doc := range []bson.D{
		{{Key: "key-one", Value: "value-one"}},
		{{Key: "key-two", Value: "value-two"}},
		{{Key: "key-three", Value: "value-three"}},
	} {
		res, err := coll.InsertOne(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.InsertedID.(bson.ObjectID).Hex())
	}
	if _, err := m.Database.Collection("typed").InsertMany(ctx, []any{
		bson.D{
			{Key: "_id", Value: int32(1)},
			{Key: "name", Value: "Ada"},
			{Key: "visits", Value: int64(1234567890123)},
			{Key: "score", Value: 2.5},
			{Key: "active", Value: true},
			{Key: "joined", Value: bson.DateTime(1700000000123)},
			{Key: "address", Value: bson.D{{Key: "city", Value: "Lisbon"}, {Key: "zip", Value: "1000-001"}}},
			{Key: "tags", Value: bson.A{"a", "b"}},
			{Key: "token", Value: bson.Binary{Subtype: 4, Data: []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x11, 0xde, 0x9b, 0xcf, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54}}},
			{Key: "blob", Value: bson.Binary{Data: []byte{0, 1, 2}}},
			{Key: "note", Value: nil},
		},
		bson.D{{Key: "_id", Value: int32(2)}, {Key: "name", Value: "Grace"}},
	}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  mongo:
    type: mongodb
    uri: ${MONGODB_URI}
    collections:
      - collection: %s.demo_collection
        export: true
        stream: false
      - collection: %s.typed
        export: true
        stream: false
    export:
      partition_size: 2
      workers: 2
sinks:
  out:
    type: file
    inputs: [mongo]
    path: %s
    format: row
`, dir, db, db, out))
	run := func() {
		t.Helper()
		cmd := startSluice(t, dir, p, "MONGODB_URI="+uri)
		done := make(chan error, 1)
		go func() { done <- waitRun(cmd) }()
		select {
		case err := <-done:
			if err != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
				t.Fatalf("sluice: %v\n%s", err, log)
			}
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
			t.Fatal("sluice did not exit after the export")
		}
	}
	run()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The ranges of both collections share the two workers, so lines come
	// in any order and are compared as a set (each exactly once). The
	// row format is ExtractNewDocumentState's: dates as epoch ms, binary
	// (UUIDs too) as base64, nested documents and arrays as JSON.
	want := []string{
		fmt.Sprintf(`{"_id":"%s","key-one":"value-one"}`, ids[0]),
		fmt.Sprintf(`{"_id":"%s","key-two":"value-two"}`, ids[1]),
		fmt.Sprintf(`{"_id":"%s","key-three":"value-three"}`, ids[2]),
		`{"_id":1,"name":"Ada","visits":1234567890123,"score":2.5,"active":true,"joined":1700000000123,"address":{"city":"Lisbon","zip":"1000-001"},"tags":["a","b"],"token":"EjRWeJq8Ed6bz/7cuph2VA==","blob":"AAEC","note":null}`,
		`{"_id":2,"name":"Grace"}`,
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if !sameSet(got, want) {
		t.Fatalf("output:\n%s\nwant (in any order):\n%s", b, strings.Join(want, "\n"))
	}

	// The state says the export is done: a second run adds nothing.
	run()
	if again, _ := os.ReadFile(out); string(again) != string(b) {
		t.Fatalf("a second run wrote more:\n%s", again)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
