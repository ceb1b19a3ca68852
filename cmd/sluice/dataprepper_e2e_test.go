package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestSeed000DataPrepperFile runs seed 000's Data Prepper pipeline.yaml
// through `sluice run`: the file verbatim but for the servers (FerretDB's
// host and port, the test cluster's URL, a fresh database and index name)
// and stream: false (FerretDB has no change streams). The seed's three
// documents, inserted as the seed inserts them, end up in the index with
// the document ids and bodies Data Prepper gives them: id = the ObjectId's
// hex (getMetadata("primary_key")), body without _id. `sluice validate
// --explain` prints the translation, and the seed's
// data-prepper-config.yaml (DynamoDB) is refused.
func TestSeed000DataPrepperFile(t *testing.T) {
	m := mongotest.New(t, "demo")
	uri, db := m.URI, m.Name
	osURL := svctest.Need(t, svctest.OpenSearch)
	ctx := context.Background()
	coll := m.Database.Collection("demo_collection")
	want := map[string]string{}
	for _, kv := range [][2]string{{"key-one", "value-one"}, {"key-two", "value-two"}, {"key-three", "value-three"}} {
		res, err := coll.InsertOne(ctx, bson.D{{Key: kv[0], Value: kv[1]}})
		if err != nil {
			t.Fatal(err)
		}
		want[res.InsertedID.(bson.ObjectID).Hex()] = `{"` + kv[0] + `":"` + kv[1] + `"}`
	}
	idx := newSearchIndex(t, osURL, "mongodb-index")

	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("../../frontdoor/dataprepper/testdata/seed000/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(seed)
	for _, r := range [][2]string{
		{`host: "localhost"`, `host: "` + host + `"`},
		{`port: 27017`, `port: ` + port},
		{`"demo.demo_collection"`, `"` + db + `.demo_collection"`},
		{`stream: true`, `stream: false`},
		{`"http://localhost:9200"`, `"` + osURL + `"`},
		{`"mongodb-index"`, `"` + idx.name + `"`},
	} {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("seed 000's pipeline has no %s", r[0])
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	// The test FerretDB runs without authentication and refuses any SCRAM
	// mechanism ("Unsupported authentication mechanism"): the seed's user
	// and password are left out.
	text = strings.Replace(text, "      authentication:\n        username: \"dbuser\"\n        password: \"admin1234\"\n", "", 1)
	if strings.Contains(text, "admin1234") {
		t.Fatal("the authentication block was not removed")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	// validate --explain prints the sluice pipeline.
	out, errOut, code := runCmd(t, dir, "validate", "--explain", p)
	if code != 0 {
		t.Fatalf("validate --explain: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "    type: mongodb\n    host: "+host+"\n    port: "+port+"\n    collections:\n      - collection: "+db+".demo_collection\n        export: true\n        stream: false\n") ||
		!strings.Contains(out, "    index: "+idx.name+"\n    document_id: ${key}\n    document_version: ${version}\n    document_version_type: external\n    username: admin\n    password: ${PIPELINE_OPENSEARCH_PASSWORD}\n") {
		t.Fatalf("explained pipeline:\n%s", out)
	}
	if strings.Contains(out, "OpenSearchMongoDB1#") || strings.Contains(errOut, "OpenSearchMongoDB1#") {
		t.Fatal("validate --explain printed the password")
	}

	// run exports and exits (no streamed collection).
	_, errOut, code = runCmd(t, dir, "run", "--state-dir", filepath.Join(dir, "state"), p)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "pipeline.yaml:13: note: pipeline.source.mongodb.s3_bucket: accepted: sluice needs no S3 hop") {
		t.Fatalf("the s3_bucket note is missing:\n%s", errOut)
	}
	if got := idx.docs(idx.name); !reflect.DeepEqual(got, want) {
		t.Fatalf("index %s:\n%v\nwant\n%v", idx.name, got, want)
	}

	// The seed's data-prepper-config.yaml next to it: DynamoDB is refused
	// before anything runs.
	cfg, err := os.ReadFile("../../frontdoor/dataprepper/testdata/seed000/data-prepper-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data-prepper-config.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCmd(t, dir, "run", "--state-dir", filepath.Join(dir, "state"), p)
	wantErr := filepath.Join(dir, "data-prepper-config.yaml") + ":5: source_coordination.store.dynamodb: sluice does not use DynamoDB as a coordination store; to share the pipeline between several nodes, run its translation (sluice validate --explain prints it) with coordination: {type: postgres, dsn: …} (docs/coordination.md) (hint: remove source_coordination to run the pipeline on one node, with its partitions and checkpoints in sluice's embedded store in the state directory)\n"
	if code != exitUsage || errOut != wantErr {
		t.Fatalf("run with DynamoDB coordination: exit %d\n%s\nwant\n%s", code, errOut, wantErr)
	}
}

// runCmd runs the sluice binary in dir and returns stdout, stderr and the
// exit code; it is killed after two minutes.
func runCmd(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sluice %s did not finish in 2 minutes:\n%s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}
