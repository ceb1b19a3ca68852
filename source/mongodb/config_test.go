package mongodb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/sink/file"
)

func testRegistry() component.Registry {
	return component.Registry{
		Sources: map[string]component.SourceFactory{"mongodb": Factory},
		Sinks:   map[string]component.SinkFactory{"file": file.Factory},
	}
}

func load(t *testing.T, source string, env map[string]string) (*Config, error) {
	t.Helper()
	yaml := "sources:\n  mongo:\n    type: mongodb\n" + source + `sinks:
  out:
    type: file
    inputs: [mongo]
    path: out.jsonl
`
	p, err := config.Load("p.yaml", []byte(yaml), testRegistry(), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		return nil, err
	}
	return p.Sources[0].Config.(*Config), nil
}

// TestSeed000Config loads Data Prepper's mongodb source shape from seed
// 000 (host, port, authentication, collections with export/stream).
func TestSeed000Config(t *testing.T) {
	cfg, err := load(t, `    host: "localhost"
    port: 27017
    authentication:
      username: "dbuser"
      password: "${MONGO_PASSWORD}"
    collections:
      - collection: "demo.demo_collection"
        export: true
        stream: true
`, map[string]string{"MONGO_PASSWORD": "admin1234"})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Collections[0]
	if c.db != "demo" || c.coll != "demo_collection" || !c.Export || !c.Stream {
		t.Errorf("collection %+v", c)
	}
	o := cfg.clientOptions()
	if len(o.Hosts) != 1 || o.Hosts[0] != "localhost:27017" || o.Auth == nil || o.Auth.Username != "dbuser" || o.Auth.Password != "admin1234" || o.Auth.AuthSource != "admin" {
		t.Errorf("client options: hosts %v auth %+v", o.Hosts, o.Auth)
	}
	if cfg.FullDocument != UpdateLookup || cfg.FullDocumentBeforeChange != Off || cfg.OnHistoryLost != LostFail ||
		cfg.Export.PartitionSize != 100000 || cfg.Export.Workers != 4 || cfg.BatchSize != 2048 || cfg.HeartbeatInterval != 10*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigURIAndModes(t *testing.T) {
	cfg, err := load(t, `    uri: ${MONGODB_URI}
    collections:
      - {collection: "shop.*", stream: true}
      - {collection: "shop.orders", export: true}
    full_document: required
    full_document_before_change: off
    on_history_lost: reexport
    export: {partition_size: 500, workers: 2}
`, map[string]string{"MONGODB_URI": "mongodb://u:s3cret@db1:27017,db2:27017/?replicaSet=rs0"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FullDocumentBeforeChange != Off || cfg.FullDocument != Required || cfg.OnHistoryLost != LostReexport || cfg.Export.PartitionSize != 500 {
		t.Errorf("config %+v", cfg)
	}
	if o := cfg.clientOptions(); len(o.Hosts) != 2 || o.ReplicaSet == nil || *o.ReplicaSet != "rs0" || o.Auth.Password != "s3cret" {
		t.Errorf("uri options: %v %v", o.Hosts, o.ReplicaSet)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		source string
		want   string
	}{
		{"    uri: mongodb://u:s3cret@h:27017/?replicaSet=rs0&w=banana&tls=maybe\n    collections: [{collection: a.b, export: true}]\n",
			"uri: is not a valid MongoDB connection string"},
		{"    uri: postgres://u:s3cret@h/\n    collections: [{collection: a.b, export: true}]\n",
			"uri: is not a valid MongoDB connection string"},
		{"    host: h\n    collections: [{collection: a.b, export: true, stream: true, s3_bucket: x}]\n",
			`unknown key "s3_bucket"`},
		{"    host: h\n    collections: [{collection: ab, export: true}]\n",
			`"ab" is not db.collection`},
		{"    host: h\n    collections: [{collection: a.system.users, export: true}]\n",
			"is a system collection"},
		{"    host: h\n    collections: [{collection: a.b}]\n",
			"has neither export nor stream"},
		{"    host: h\n", "collections: is required"},
		{"    collections: [{collection: a.b, export: true}]\n", "uri: is required"},
		{"    host: h\n    uri: mongodb://h/\n    collections: [{collection: a.b, export: true}]\n", "host: is set together with uri"},
		{"    host: h\n    full_document: default\n    collections: [{collection: a.b, stream: true}]\n", `full_document: "default" is not a mode`},
		{"    host: h\n    on_history_lost: skip\n    collections: [{collection: a.b, stream: true}]\n", `on_history_lost: "skip" is not a policy`},
		{"    host: h\n    export: {workers: 0}\n    collections: [{collection: a.b, export: true}]\n", "export.workers: must be between 1 and 64"},
		{"    host: h\n    authentication: {password: s3cret}\n    collections: [{collection: a.b, export: true}]\n", "authentication.username: is required"},
	} {
		_, err := load(t, c.source, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.source, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	lost := mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "Resume of change stream was not possible"}
	fatal := mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError", Message: "cannot resume stream; the resume token was not found"}
	if !historyLost(lost) || !historyLost(fmt.Errorf("watch: %w", fatal)) || historyLost(io.EOF) {
		t.Error("historyLost")
	}
	if !noChangeStreams(mongo.CommandError{Code: 238, Name: "NotImplemented"}) || !noChangeStreams(mongo.CommandError{Code: 40573}) || noChangeStreams(lost) {
		t.Error("noChangeStreams")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{mongo.CommandError{Code: 11600, Labels: []string{"ResumableChangeStreamError"}}, true},
		{mongo.CommandError{Code: 43, Name: "CursorNotFound"}, true},
		{mongo.CommandError{Code: 18, Name: "AuthenticationFailed"}, false},
		{mongo.CommandError{Code: 13, Name: "Unauthorized"}, false},
		{lost, false},
		{fatal, false},
		{fmt.Errorf("%w: x", ErrHistoryLost), false},
		{fmt.Errorf("%w: x", ErrStreamEnded), false},
		{errStreamClosed, true},
		{component.Permanent(io.EOF), false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v", c.err, got)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrNoChangeStreams), ErrNoChangeStreams) {
		t.Error("sentinel")
	}
}

func TestWatchSpec(t *testing.T) {
	for _, c := range []struct {
		colls []Collection
		scope string
		match string
	}{
		{[]Collection{{Name: "demo.c", Stream: true}, {Name: "demo.x", Export: true}}, "collection demo.c",
			`{"$match":{"$or":[{"ns.db":"demo","ns.coll":{"$in":["c"]}},{"to.db":"demo","to.coll":{"$in":["c"]}},{"operationType":"dropDatabase","ns.db":{"$in":["demo"]}},{"operationType":"invalidate"}]}}`},
		{[]Collection{{Name: "demo.c", Stream: true}, {Name: "demo.b", Stream: true}}, "database demo",
			`{"$match":{"$or":[{"ns.db":"demo","ns.coll":{"$in":["b","c"]}},{"to.db":"demo","to.coll":{"$in":["b","c"]}},{"operationType":"dropDatabase","ns.db":{"$in":["demo"]}},{"operationType":"invalidate"}]}}`},
		{[]Collection{{Name: "shop.*", Stream: true}, {Name: "demo.c", Stream: true}}, "cluster",
			`{"$match":{"$or":[{"ns.db":"demo","ns.coll":{"$in":["c"]}},{"to.db":"demo","to.coll":{"$in":["c"]}},{"ns.db":"shop"},{"to.db":"shop"},{"operationType":"dropDatabase","ns.db":{"$in":["demo","shop"]}},{"operationType":"invalidate"}]}}`},
	} {
		cfg := DefaultConfig()
		cfg.Host = "h"
		cfg.Collections = c.colls
		if errs := cfg.Validate(); errs != nil {
			t.Fatal(errs)
		}
		w := newWatchSpec(cfg)
		got := fmt.Sprint(w.match)
		if b, err := bsonJSON(w.match); err == nil {
			got = b
		}
		if w.scope() != c.scope || got != c.match {
			t.Errorf("%v: scope %s, match %s", c.colls, w.scope(), got)
		}
		m := newMatcher(cfg.Collections)
		if m.coll("demo", "x") || !m.coll("demo", "c") {
			t.Errorf("%v: matcher", c.colls)
		}
	}
	m := newMatcher([]Collection{{Name: "shop.ord*", Stream: true, db: "shop", coll: "ord*"}})
	if !m.coll("shop", "orders") || m.coll("shop", "inventory") || m.coll("shop", "system.orders") || !m.db("shop") || m.db("demo") {
		t.Error("glob matcher")
	}
}

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
		ok   bool
	}{
		{"", 3, "", true},
		{"0-2", 3, "0-2", true},
		{"0,2", 3, "0,2", true},
		{"1-1,3", 5, "1,3", true},
		{"3", 3, "", false},
		{"2-1", 3, "", false},
		{"a", 3, "", false},
		{"-1", 3, "", false},
	} {
		done, err := parseRanges(c.in, c.n)
		if (err == nil) != c.ok {
			t.Errorf("parseRanges(%q, %d): %v", c.in, c.n, err)
			continue
		}
		if err == nil && formatRanges(done) != c.want {
			t.Errorf("formatRanges(parseRanges(%q)) = %q, want %q", c.in, formatRanges(done), c.want)
		}
	}
}

func bsonJSON(v any) (string, error) {
	b, err := bson.MarshalExtJSON(v, false, false)
	return string(b), err
}

// TestAuthFailure: the server refusing the credentials (AuthenticationFailed,
// code 18, which the driver reports from the connection handshake) stops
// Run with an error naming the user, the server and the keys to fix, never
// the password. FerretDB, the test server, accepts any credentials, so the
// refusal is the driver's error value, handed to Run by its dial hook.
func TestAuthFailure(t *testing.T) {
	refusal := mongo.CommandError{Code: 18, Name: "AuthenticationFailed", Message: "Authentication failed."}
	for _, tc := range []struct {
		cfg  string
		want string
	}{
		{"    uri: mongodb://app:canary-Pw-7731@db1:27017,db2:27018/shop?replicaSet=rs0\n",
			`mongodb source "mongo": db1:27017,db2:27018 refused user "app": AuthenticationFailed: Authentication failed.; ` +
				"check the user and password in sources.mongo.uri (a ${VAR} there is read from the environment), " +
				`and that the user is defined in the authentication database "shop" (auth_source, or authSource in the uri)`},
		{"    host: db1\n    authentication: {username: app, password: canary-Pw-7731}\n",
			`mongodb source "mongo": db1:27017 refused user "app": AuthenticationFailed: Authentication failed.; ` +
				"check the user and password in sources.mongo.authentication.username and sources.mongo.authentication.password (a ${VAR} there is read from the environment), " +
				`and that the user is defined in the authentication database "admin" (auth_source, or authSource in the uri)`},
	} {
		cfg, err := load(t, tc.cfg+"    collections: [{collection: shop.a, export: true}]\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(cfg, component.Env{Name: "mongo", Path: "sources.mongo"})
		if err != nil {
			t.Fatal(err)
		}
		s.dial = func(context.Context) (server, *mongo.Client, error) {
			return nil, nil, fmt.Errorf("connect: the server does not answer: %w", refusal)
		}
		err = s.Run(context.Background(), nil, nil)
		if !component.IsPermanent(err) || err.Error() != tc.want || strings.Contains(err.Error(), "canary") {
			t.Errorf("Run = %v\nwant the permanent error %s", err, tc.want)
		}
	}
}
