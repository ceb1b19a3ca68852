package elasticsearch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/source/generator"
)

var reg = component.Registry{
	Sources: map[string]component.SourceFactory{"generator": generator.Factory},
	Sinks:   map[string]component.SinkFactory{"elasticsearch": elasticsearch.Factory},
}

// TestConfigLoads: the keys users know from Kafka Connect and Data Prepper
// decode into the typed config; templates come through (plain, and $$-escaped); bad
// values are reported with their line.
func TestConfigLoads(t *testing.T) {
	p, err := config.Load("p.yaml", []byte(`
sources:
  gen: {type: generator, tables: [product]}
sinks:
  es:
    type: elasticsearch
    inputs: [gen]
    hosts: ["https://es.example.com:9200"]
    api_key: ${ES_KEY}
    index: orders-$${table}
    document_id: ${/id}
    routing: $${/id}
    document_version_type: external_gte
    max_request_bytes: 1048576
    request_timeout: 30s
    on_truncate: ignore
    mapping: {dynamic: strict, properties: {id: {type: long}}}
`), reg, func(k string) (string, bool) { return map[string]string{"ES_KEY": "aWQ6a2V5"}[k], true })
	if err != nil {
		t.Fatal(err)
	}
	c := p.Sinks[0].Config.(*elasticsearch.Config)
	if c.APIKey != "aWQ6a2V5" || c.Index != "orders-${table}" || c.DocumentID != "${/id}" || c.RequestTimeout != 30*time.Second ||
		c.DocumentVersion != "${version}" || c.MaxRequestBytes != 1<<20 {
		t.Fatalf("decoded %+v", c)
	}
	s, err := elasticsearch.New(*c, component.Env{}) // builds the client; connects lazily
	if err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())

	_, err = config.Load("p.yaml", []byte(`
sources:
  gen: {type: generator, tables: [product]}
sinks:
  es:
    type: elasticsearch
    inputs: [gen]
    hosts: [localhost:9200]
    document_version_type: sometimes
`), reg, nil)
	if err == nil || !strings.Contains(err.Error(), "hosts[0]") || !strings.Contains(err.Error(), "document_version_type") {
		t.Fatalf("want hosts and document_version_type errors, got %v", err)
	}
}

// TestNoVersionIsARecordError: a generator stream has no per-key order, so
// external versioning cannot work; every event says so (the hint names
// document_version_type: none).
func TestNoVersionIsARecordError(t *testing.T) {
	cfg := elasticsearch.Config{}
	cfg.Config = elasticsearch.Factory.Config().(*elasticsearch.Config).Config
	cfg.Hosts = []string{"http://127.0.0.1:1"}
	s, err := elasticsearch.New(cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	sc := &event.Schema{Stream: "gen.product", Table: "product", Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}}, KeyIdx: []int{0}}
	err = s.Write(context.Background(), []event.Event{{Op: event.OpCreate, Schema: sc, After: []event.Value{event.Int(1)}}})
	if err == nil || !strings.Contains(err.Error(), "document_version_type: none") {
		t.Fatalf("got %v", err)
	}
}
