package dataprepper

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/sink/opensearch"
	"github.com/sluice-dev/sluice/source/mongodb"
	"github.com/sluice-dev/sluice/topology"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func noEnv(string) (string, bool) { return "", false }

// load translates and loads like `sluice run`, with no environment.
func load(t *testing.T, file string, data []byte, server *ServerConfig) (*topology.Graph, *Translation) {
	t.Helper()
	tr, err := Translate(file, data, server)
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	g, err := config.LoadNode(file, tr.Doc, registry.Default(), noEnv)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return g, tr
}

// TestSeed000 translates seed 000's pipeline.yaml verbatim (trailing
// spaces included) and checks the explained pipeline and the graph's
// component configurations, field by field.
func TestSeed000(t *testing.T) {
	const file = "testdata/seed000/pipeline.yaml"
	data := read(t, file)
	if !Detect(data) {
		t.Fatal("Detect: seed 000's pipeline is not recognised")
	}
	g, tr := load(t, file, data, nil)
	want := `# sluice pipeline translated from the Data Prepper file pipeline.yaml
# secret: export PIPELINE_PASSWORD (the value at pipeline.yaml:20)
# secret: export PIPELINE_OPENSEARCH_PASSWORD (the value at pipeline.yaml:38)
# pipeline.yaml:2: pipeline.workers: accepted without effect: sluice's sources and sinks run concurrently on their own and write as soon as a batch is there
# pipeline.yaml:3: pipeline.delay: accepted without effect: sluice's sources and sinks run concurrently on their own and write as soon as a batch is there
# pipeline.yaml:4: pipeline.buffer: accepted without effect: sluice bounds memory by engine.max_inflight batches per source and each sink's batch (max_events, max_bytes), with back-pressure to the source
# pipeline.yaml:13: pipeline.source.mongodb.s3_bucket: accepted: sluice needs no S3 hop; the export and the change stream go straight to the sinks (s3_region and s3_prefix are accepted with it)
# pipeline.yaml:25: pipeline.source.mongodb.aws: accepted without effect: Data Prepper uses it for S3 and DynamoDB, which sluice does not need
sources:
  pipeline:
    type: mongodb
    host: localhost
    port: 27017
    authentication:
      username: dbuser
      password: ${PIPELINE_PASSWORD}
    collections:
      - collection: demo.demo_collection
        export: true
        stream: true
sinks:
  pipeline-opensearch:
    type: opensearch
    inputs:
      - pipeline
    hosts:
      - http://localhost:9200
    index: mongodb-index
    document_id: ${key}
    document_version: ${version}
    document_version_type: external
    username: admin
    password: ${PIPELINE_OPENSEARCH_PASSWORD}
`
	if got := string(tr.Explain(file)); got != want {
		t.Fatalf("explain:\n%s\nwant:\n%s", got, want)
	}

	if len(g.Sources) != 1 || len(g.Processors) != 0 || len(g.Sinks) != 1 {
		t.Fatalf("graph: %d sources, %d processors, %d sinks", len(g.Sources), len(g.Processors), len(g.Sinks))
	}
	src, snk := g.Sources[0], g.Sinks[0]
	if src.Name != "pipeline" || src.Type != "mongodb" || src.Pos.Line != 9 {
		t.Fatalf("source %s %s at line %d", src.Name, src.Type, src.Pos.Line)
	}
	mc := *src.Config.(*mongodb.Config)
	wantM := *mongodb.DefaultConfig()
	wantM.Host, wantM.Port = "localhost", 27017
	wantM.Authentication = mongodb.Authentication{Username: "dbuser", Password: "admin1234"}
	// insecure: "true" turns TLS off, so ssl_insecure_disable_verification
	// has nothing to do.
	wantM.TLS, wantM.TLSInsecure = false, false
	if len(mc.Collections) != 1 || mc.Collections[0].Name != "demo.demo_collection" || !mc.Collections[0].Export || !mc.Collections[0].Stream {
		t.Fatalf("collections: %+v", mc.Collections)
	}
	mc.Collections = nil
	if !reflect.DeepEqual(mc, wantM) {
		t.Fatalf("mongodb config:\n%+v\nwant\n%+v", mc, wantM)
	}
	if snk.Name != "pipeline-opensearch" || snk.Type != "opensearch" || !reflect.DeepEqual(snk.Inputs, []string{"pipeline"}) || snk.Batch != (topology.Batch{}) {
		t.Fatalf("sink %s %s inputs %v batch %+v", snk.Name, snk.Type, snk.Inputs, snk.Batch)
	}
	sc := snk.Config.(*opensearch.Config)
	wantS := opensearch.Factory.Config().(*opensearch.Config)
	wantS.Hosts = []string{"http://localhost:9200"}
	wantS.Index = "mongodb-index"
	wantS.Username, wantS.Password = "admin", "OpenSearchMongoDB1#"
	if !reflect.DeepEqual(sc, wantS) {
		t.Fatalf("opensearch config:\n%+v\nwant\n%+v", sc, wantS)
	}
	if g.StateDir != ".sluice" || g.Name != "pipeline" {
		t.Fatalf("state dir %q, name %q", g.StateDir, g.Name)
	}
}

// TestSeed000ServerConfig: seed 000's data-prepper-config.yaml verbatim
// names DynamoDB, which sluice does not use.
func TestSeed000ServerConfig(t *testing.T) {
	const file = "testdata/seed000/pipeline.yaml"
	if got := FindServerConfig(file); got != "testdata/seed000/data-prepper-config.yaml" {
		t.Fatalf("FindServerConfig: %q", got)
	}
	_, err := TranslateFile(file)
	want := "testdata/seed000/data-prepper-config.yaml:5: source_coordination.store.dynamodb: sluice does not use DynamoDB as a coordination store; to share the pipeline between several nodes, run its translation (sluice validate --explain prints it) with coordination: {type: postgres, dsn: …} (docs/coordination.md) (hint: remove source_coordination to run the pipeline on one node, with its partitions and checkpoints in sluice's embedded store in the state directory)"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestInMemoryCoordination: the in_memory store runs on one node; the
// partition prefix picks the state directory (a soft reset by bumping it).
func TestInMemoryCoordination(t *testing.T) {
	const file = "testdata/seed000/pipeline.yaml"
	server := &ServerConfig{File: "data-prepper-config.yaml", Data: []byte("ssl: false\nsource_coordination:\n  partition_prefix: \"test-mongodb-2\"\n  store:\n    in_memory:\n")}
	g, tr := load(t, file, read(t, file), server)
	if g.StateDir != ".sluice/test-mongodb-2" {
		t.Fatalf("state dir %q", g.StateDir)
	}
	var notes []string
	for _, n := range tr.Notes {
		if n.File == "data-prepper-config.yaml" {
			notes = append(notes, n.String())
		}
	}
	want := []string{
		"data-prepper-config.yaml:1: note: ssl: accepted without effect: it configures Data Prepper's own server; `sluice run --http ADDR` serves metrics and health",
		"data-prepper-config.yaml:5: note: source_coordination.store.in_memory: one node: sluice keeps the pipeline's partitions and checkpoints in its embedded store in the state directory, which survives restarts",
	}
	if !reflect.DeepEqual(notes, want) {
		t.Fatalf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
}

// TestDocumentDB: seed 002's sync in Data Prepper's documentdb shape.
func TestDocumentDB(t *testing.T) {
	const file = "testdata/documentdb/pipeline.yaml"
	g, tr := load(t, file, read(t, file), nil)
	want := `# sluice pipeline translated from the Data Prepper file pipeline.yaml
# secret: export DOCUMENTDB_PIPELINE_PASSWORD (the value at pipeline.yaml:13)
# pipeline.yaml:14: documentdb-pipeline.source.documentdb.aws: accepted without effect: Data Prepper uses it for S3 and DynamoDB, which sluice does not need
# pipeline.yaml:16: documentdb-pipeline.source.documentdb.s3_bucket: accepted: sluice needs no S3 hop; the export and the change stream go straight to the sinks (s3_region and s3_prefix are accepted with it)
sources:
  documentdb-pipeline:
    type: mongodb
    host: docdb-mycluster.cluster-random.us-west-2.docdb.amazonaws.com
    port: 27017
    authentication:
      username: docdbuser
      password: ${DOCUMENTDB_PIPELINE_PASSWORD}
    collections:
      - collection: demo.demo-collection
        export: true
        stream: true
    tls: true
sinks:
  documentdb-pipeline-opensearch:
    type: opensearch
    inputs:
      - documentdb-pipeline
    hosts:
      - https://search-demo.us-west-2.es.amazonaws.com
    index: demo-index
    document_id: ${key}
    document_version: ${version}
    document_version_type: external
`
	if got := string(tr.Explain(file)); got != want {
		t.Fatalf("explain:\n%s\nwant:\n%s", got, want)
	}
	mc := g.Sources[0].Config.(*mongodb.Config)
	if !mc.TLS || mc.TLSInsecure || mc.Authentication.Password != "docdb-secret-1" {
		t.Fatalf("tls %v insecure %v", mc.TLS, mc.TLSInsecure)
	}
	// Explain put the password back after printing.
	if strings.Contains(string(tr.Explain(file)), "docdb-secret-1") {
		t.Fatal("explain printed the password")
	}
}

// TestExplainedPipelineLoads: the explained text is a sluice pipeline that
// loads to the same graph once its secrets are in the environment.
func TestExplainedPipelineLoads(t *testing.T) {
	const file = "testdata/seed000/pipeline.yaml"
	g, tr := load(t, file, read(t, file), nil)
	env := map[string]string{"PIPELINE_PASSWORD": "admin1234", "PIPELINE_OPENSEARCH_PASSWORD": "OpenSearchMongoDB1#"}
	dir := t.TempDir()
	p := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(p, tr.Explain(file), 0o644); err != nil {
		t.Fatal(err)
	}
	g2, err := config.LoadFile(p, registry.Default(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Sources[0].Config, g2.Sources[0].Config) || !reflect.DeepEqual(g.Sinks[0].Config, g2.Sinks[0].Config) {
		t.Fatalf("explained pipeline differs:\n%+v\n%+v", g2.Sources[0].Config, g2.Sinks[0].Config)
	}
}

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"p:\n  source:\n    mongodb: {}\n  sink: []\n", true},
		{"version: 2\np:\n  sink: []\n", true},
		{"sources:\n  a: {type: generator}\nsinks: {}\n", false},
		{"name: x\np:\n  source: {}\n", false},
		{"ssl: false\nsource_coordination: {}\n", false},
		{"- a\n", false},
		{"", false},
		{"p: [", false},
	} {
		if got := Detect([]byte(c.in)); got != c.want {
			t.Errorf("Detect(%q) = %v", c.in, got)
		}
	}
}

// TestNoAuthentication: without authentication the source connects without
// credentials; with an aws block (Data Prepper's role) a note says sluice
// does not authenticate with it.
func TestNoAuthentication(t *testing.T) {
	in := strings.Replace(base, "      authentication:\n        username: \"u\"\n        password: \"s3cret-canary\"\n", "      aws:\n        sts_role_arn: arn\n", 1)
	g, tr := load(t, "p.yaml", []byte(in), nil)
	if mc := g.Sources[0].Config.(*mongodb.Config); mc.Authentication != (mongodb.Authentication{}) {
		t.Fatalf("authentication %+v", mc.Authentication)
	}
	var notes []string
	for _, n := range tr.Notes {
		notes = append(notes, n.String())
	}
	want := []string{
		"p.yaml:5: note: p.source.mongodb.aws: accepted without effect: Data Prepper uses it for S3 and DynamoDB, which sluice does not need",
		"p.yaml:3: note: p.source.mongodb.authentication: not set: sluice connects without credentials; it does not authenticate with an AWS role (add authentication: {username, password} for a server that needs it)",
	}
	if !reflect.DeepEqual(notes, want) {
		t.Fatalf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
	}
}

// TestExplainKeepsVariables: loading interpolates ${VAR} in a copy, so the
// explained pipeline still shows the variables, never their values.
func TestExplainKeepsVariables(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pipeline.yaml")
	in := strings.Replace(strings.Replace(base, `"localhost"`, `"${MONGO_HOST}"`, 1), `"s3cret-canary"`, `"${MONGO_PW}"`, 1)
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MONGO_HOST": "db.example", "MONGO_PW": "pw-canary"}
	g, tr, err := LoadFile(p, registry.Default(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if mc := g.Sources[0].Config.(*mongodb.Config); mc.Host != "db.example" || mc.Authentication.Password != "pw-canary" {
		t.Fatalf("host %q", mc.Host)
	}
	out := string(tr.Explain(p))
	if !strings.Contains(out, "    host: ${MONGO_HOST}\n") || !strings.Contains(out, "      password: ${P_PASSWORD}\n") || strings.Contains(out, "canary") {
		t.Fatalf("explain:\n%s", out)
	}
}
