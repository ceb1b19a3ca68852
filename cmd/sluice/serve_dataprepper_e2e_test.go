package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestServeDataPrepperFile: a Data Prepper pipeline file with processors
// and a route, in a directory given to `sluice serve`, exports FerretDB's
// documents of several shapes into two OpenSearch indexes — every document
// but the dropped one into the first, the routed ones into the second —
// with Data Prepper's processor semantics, field by field. The sink's
// password, a canary, appears in no response and no log line (debug).
func TestServeDataPrepperFile(t *testing.T) {
	m := mongotest.New(t, "dp")
	uri, db := m.URI, m.Name
	osURL := svctest.Need(t, svctest.OpenSearch)
	ctx := context.Background()
	coll := m.Database.Collection("items")
	var ids []string
	for _, d := range []bson.D{
		{{Key: "name", Value: "Apple"}, {Key: "qty", Value: int32(150)}, {Key: "secret", Value: "s"}},
		{{Key: "name", Value: "Banana"}, {Key: "qty", Value: int32(3)}, {Key: "status", Value: "deleted"}},
		{{Key: "name", Value: "Cherry"}, {Key: "qty", Value: int32(7)}},
		{{Key: "name", Value: "Date"}},
	} {
		res, err := coll.InsertOne(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.InsertedID.(bson.ObjectID).Hex())
	}
	all := newSearchIndex(t, osURL, "dp-all")
	big := newSearchIndex(t, osURL, "dp-big")
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	const canary = "dp-canary-pw-7Hq2"
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(pipes, "items.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`version: "2"
items:
  source:
    mongodb:
      host: %q
      port: %s
      insecure: true
      collections:
        - collection: "%s.items"
          export: true
          stream: false
  processor:
    - add_entries:
        entries:
          - {key: source_system, value: "mongo"}
    - rename_keys:
        entries:
          - {from_key: qty, to_key: quantity}
    - delete_entries:
        with_keys: [secret]
    - lowercase_string:
        with_keys: [name]
    - drop_events:
        drop_when: '/status == "deleted"'
  route:
    - big: '/quantity > 100'
  sink:
    - opensearch:
        hosts: [%q]
        index: %q
        username: admin
        password: %q
    - opensearch:
        hosts: [%q]
        index: %q
        username: admin
        password: %q
        routes: [big]
`, host, port, db, osURL, all.name, canary, osURL, big.name, canary)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, nil, "--state-dir", filepath.Join(dir, "state"), "--log-level", "debug", pipes)
	// Export only: the pipeline ends STOPPED when its source has finished.
	st := s.waitPipeline(t, "items", "STOPPED")
	if st.Kind != "file" || st.File != file || st.Error != "" {
		t.Fatalf("status %+v", st)
	}
	wantAll := map[string]string{
		ids[0]: `{"name":"apple","quantity":150,"source_system":"mongo"}`,
		ids[2]: `{"name":"cherry","quantity":7,"source_system":"mongo"}`,
		ids[3]: `{"name":"date","source_system":"mongo"}`,
	}
	wantBig := map[string]string{ids[0]: wantAll[ids[0]]}
	waitFor(t, 30*time.Second, "the indexes", dir, func() bool {
		return reflect.DeepEqual(all.docs(all.name), wantAll) && reflect.DeepEqual(big.docs(big.name), wantBig)
	})
	for _, p := range []string{"/pipelines", "/pipelines/items", "/pipelines/items/status", "/readyz", "/metrics"} {
		if b := s.expect(t, "GET", p, "", map[bool]int{true: 503, false: 200}[p == "/readyz"]); strings.Contains(string(b), canary) {
			t.Fatalf("GET %s shows the password:\n%s", p, b)
		}
	}
	s.stop(t)
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	if strings.Contains(string(log), canary) {
		t.Fatalf("the log shows the password:\n%s", log)
	}
}
