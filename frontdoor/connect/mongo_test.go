package connect

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/topiclog"
	"github.com/sluice-dev/sluice/supervisor"
)

// seed004Logistics is seed 004's CREATE SOURCE CONNECTOR logistics_reader,
// its WITH clause as JSON.
const seed004Logistics = `{
    "connector.class": "io.debezium.connector.mongodb.MongoDbConnector",
    "mongodb.hosts": "mongo:27017",
    "mongodb.name": "my-replica-set",
    "mongodb.authsource": "admin",
    "mongodb.user": "dbz-user",
    "mongodb.password": "dbz-pw",
    "collection.whitelist": "logistics.*",
    "transforms": "unwrap",
    "transforms.unwrap.type": "io.debezium.connector.mongodb.transforms.ExtractNewDocumentState",
    "transforms.unwrap.drop.tombstones": "false",
    "transforms.unwrap.delete.handling.mode": "drop",
    "transforms.unwrap.operation.header": "true"
}`

func TestMongoTranslate(t *testing.T) {
	env := Env{Topics: testTopics}
	p := mustLoad(t, "logistics_reader", seed004Logistics, env)
	want := Node{"type": "mongodb", "uri": "mongodb://dbz-user:dbz-pw@mongo:27017/?authSource=admin",
		"collections": []any{map[string]any{"collection": "logistics.*", "export": true, "stream": true}}}
	if !reflect.DeepEqual(p.Sources["my-replica-set"], want) {
		t.Errorf("source:\n%#v\nwant\n%#v", p.Sources["my-replica-set"], want)
	}
	if p.Topic != "my-replica-set.${database}.${table}" || !p.Unwrapped {
		t.Errorf("topic %q unwrapped %v", p.Topic, p.Unwrapped)
	}
	// drop.tombstones=false keeps the tombstone after a dropped delete: the
	// delete passes on as one.
	if u := p.Processors["transform1"]; u["delete_handling"] != "tombstone" || u["type"] != "unwrap" {
		t.Errorf("unwrap: %#v", u)
	}
	if len(p.Warnings) != 2 || !strings.Contains(p.Warnings[1], "operation.header is deprecated") {
		t.Errorf("warnings: %q", p.Warnings)
	}
	if !contains(p.Secrets, "mongodb.password") {
		t.Errorf("secrets: %q", p.Secrets)
	}

	for _, tc := range []struct {
		extra string
		uri   string
		colls []any
	}{
		{`"mongodb.hosts":"rs0/a:1,b","topic.prefix":"x","database.include.list":"inv","snapshot.mode":"initial_only","mongodb.ssl.enabled":true`,
			"mongodb://a:1,b:27017/?replicaSet=rs0&tls=true", []any{map[string]any{"collection": "inv.*", "export": true, "stream": false}}},
		{`"mongodb.connection.string":"mongodb://h:2/?replicaSet=r","mongodb.user":"u","mongodb.password":"p w","topic.prefix":"x","collection.include.list":"inv.orders,inv\\.ship.*","snapshot.mode":"never"`,
			"mongodb://u:p%20w@h:2/?authSource=admin&replicaSet=r", []any{map[string]any{"collection": "inv.orders", "export": false, "stream": true}, map[string]any{"collection": "inv.ship*", "export": false, "stream": true}}},
	} {
		p := mustLoad(t, "m", `{"connector.class":"MongoDbConnector",`+tc.extra+`}`, env)
		if s := p.Sources["x"]; s["uri"] != tc.uri || !reflect.DeepEqual(s["collections"], tc.colls) {
			t.Errorf("%s:\n%#v", tc.extra, s)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{`"mongodb.hosts":"a:1","topic.prefix":"x"`, "collection.include.list: sluice needs the captured databases or collections named"},
		{`"mongodb.hosts":"a:1","collection.include.list":"d.c"`, `topic.prefix: Missing required configuration "topic.prefix"`},
		{`"topic.prefix":"x","collection.include.list":"d.c"`, `mongodb.connection.string: Missing required configuration "mongodb.connection.string"`},
		{`"mongodb.hosts":"a:1","topic.prefix":"x","collection.include.list":"d.c","capture.mode":"change_streams"`, "capture.mode: sluice carries full documents"},
		{`"mongodb.hosts":"a:1","topic.prefix":"x","collection.include.list":"d.c","snapshot.mode":"when_needed"`, `snapshot.mode: value "when_needed" is not supported`},
		{`"mongodb.hosts":"a:1","topic.prefix":"x","collection.include.list":"d.c","collection.exclude.list":"d.x"`, "collection.exclude.list: is not supported"},
	} {
		_, err := translateJSON(t, "m", `{"connector.class":"io.debezium.connector.mongodb.MongoDbConnector",`+tc.body+`}`, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

// TestMongoConnectorFerretDB runs seed 004's logistics_reader (its
// transform as written, snapshot.mode initial_only: FerretDB has no change
// streams) against FerretDB through the REST API, with the topics in the
// topic log: the topic my-replica-set.<db>.orders holds the seed's five
// orders, which read back as ExtractNewDocumentState's rows.
func TestMongoConnectorFerretDB(t *testing.T) {
	m := mongotest.New(t, "logistics")
	uri, db := m.URI, m.Name
	ctx := context.Background()
	orders := []any{
		bson.D{{Key: "_id", Value: "o13"}, {Key: "customer_id", Value: "2"}, {Key: "order_id", Value: "13"}, {Key: "price", Value: 50.50}, {Key: "currency", Value: "usd"}, {Key: "ts", Value: "2020-04-03T11:20:00"}},
		bson.D{{Key: "_id", Value: "o29"}, {Key: "customer_id", Value: "7"}, {Key: "order_id", Value: "29"}, {Key: "price", Value: 15.00}, {Key: "currency", Value: "aud"}, {Key: "ts", Value: "2020-04-02T12:36:00"}},
		bson.D{{Key: "_id", Value: "o17"}, {Key: "customer_id", Value: "5"}, {Key: "order_id", Value: "17"}, {Key: "price", Value: 25.25}, {Key: "currency", Value: "eur"}, {Key: "ts", Value: "2020-04-02T17:22:00"}},
		bson.D{{Key: "_id", Value: "o15"}, {Key: "customer_id", Value: "5"}, {Key: "order_id", Value: "15"}, {Key: "price", Value: 13.75}, {Key: "currency", Value: "usd"}, {Key: "ts", Value: "2020-04-03T02:55:00"}},
		bson.D{{Key: "_id", Value: "o22"}, {Key: "customer_id", Value: "7"}, {Key: "order_id", Value: "22"}, {Key: "price", Value: 29.71}, {Key: "currency", Value: "aud"}, {Key: "ts", Value: "2020-04-04T00:12:00"}},
	}
	if _, err := m.Database.Collection("orders").InsertMany(ctx, orders); err != nil {
		t.Fatal(err)
	}

	state := t.TempDir()
	s := startLogServer(t, state, t.TempDir())
	cfg, err := ParseConfig([]byte(seed004Logistics))
	if err != nil {
		t.Fatal(err)
	}
	delete(cfg, "mongodb.hosts")
	delete(cfg, "mongodb.user")
	delete(cfg, "mongodb.password")
	cfg["mongodb.connection.string"] = uri
	cfg["collection.whitelist"] = db + ".*"
	cfg["snapshot.mode"] = "initial_only"
	body := `{`
	for k, v := range cfg {
		body += `"` + k + `":"` + v + `",`
	}
	body = strings.TrimSuffix(body, ",") + `}`
	expect(t, "PUT", s.url+"/connectors/logistics_reader/config", body, 201)

	// initial_only: the pipeline stops once the export is written.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, ok := s.sup.Status("logistics_reader")
		if ok && st.State == supervisor.Stopped {
			break
		}
		if ok && st.State == supervisor.Failed {
			t.Fatalf("connector failed: %s", st.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the export did not finish: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.close()
	if logs := string(s.logs.Bytes()); !strings.Contains(logs, "operation.header is deprecated") || strings.Contains(logs, uri[len("mongodb://"):]) && strings.Contains(uri, "@") {
		t.Errorf("logs lack the deprecation warning (or hold the URI):\n%s", logs)
	}

	l, err := topiclog.Open(filepath.Join(state, "topics"), topiclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	topic := "my-replica-set." + db + ".orders"
	tp, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	r := tp.NewReader(0)
	defer r.Close()
	recs, err := r.Read(nil, 1000, 1<<26)
	if err != nil {
		t.Fatal(err)
	}
	dec := format.NewDecoder()
	enc, err := format.New(format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: format.DeleteTombstone}})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, rec := range recs {
		e, err := dec.Decode(topic, rec.Key, rec.Value)
		if err != nil {
			t.Fatalf("offset %d: %v", rec.Offset, err)
		}
		v, _, err := enc.AppendValue(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, string(enc.AppendKey(nil, &e))+" "+string(v))
	}
	sort.Strings(rows)
	want := []string{
		`{"id":"o13"} {"_id":"o13","customer_id":"2","order_id":"13","price":50.5,"currency":"usd","ts":"2020-04-03T11:20:00"}`,
		`{"id":"o15"} {"_id":"o15","customer_id":"5","order_id":"15","price":13.75,"currency":"usd","ts":"2020-04-03T02:55:00"}`,
		`{"id":"o17"} {"_id":"o17","customer_id":"5","order_id":"17","price":25.25,"currency":"eur","ts":"2020-04-02T17:22:00"}`,
		`{"id":"o22"} {"_id":"o22","customer_id":"7","order_id":"22","price":29.71,"currency":"aud","ts":"2020-04-04T00:12:00"}`,
		`{"id":"o29"} {"_id":"o29","customer_id":"7","order_id":"29","price":15.0,"currency":"aud","ts":"2020-04-02T12:36:00"}`,
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("topic %s:\n%s\nwant\n%s", topic, strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}
