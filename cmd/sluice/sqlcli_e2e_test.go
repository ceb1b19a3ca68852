package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// sluiceSQL runs `sluice sql --server URL -f FILE` and returns its exit
// code, standard output and standard error.
func sluiceSQL(t *testing.T, server, file string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, "sql", "--server", server, "-f", file)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// seed004Script is examples/seed004-ksql.sql pointed at the test servers:
// only connection values change (hosts, ports, the database, the
// PostgreSQL credentials, FerretDB's none), plus the one deviation
// FerretDB needs: it has no change streams, so the MongoDB connector
// exports only ('snapshot.mode' = 'initial_only', a mode of Debezium
// 2.x's MongoDB connector), and the test inserts the logistics documents
// before the script runs.
func seed004Script(t *testing.T, dsn, mongoURI, esURL string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/seed004-ksql.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := pg.User.Password()
	mg, err := url.Parse(mongoURI)
	if err != nil {
		t.Fatal(err)
	}
	if mg.User != nil {
		t.Fatalf("the test's FerretDB URI has credentials; the test passes none")
	}
	script := string(b)
	for _, r := range [][2]string{
		{`'database.hostname' = 'postgres'`, `'database.hostname' = '` + pg.Hostname() + `'`},
		{`'database.port' = '5432'`, `'database.port' = '` + pg.Port() + `'`},
		{`'database.user' = 'postgres-user'`, `'database.user' = '` + pg.User.Username() + `'`},
		{`'database.password' = 'postgres-pw'`, `'database.password' = '` + pass + `'`},
		{`'database.dbname' = 'customers'`, `'database.dbname' = '` + strings.TrimPrefix(pg.Path, "/") + `'`},
		{`'mongodb.hosts' = 'mongo:27017'`, `'mongodb.hosts' = '` + mg.Host + `'`},
		{`'mongodb.user' = 'dbz-user'`, `'mongodb.user' = ''`},
		{`'mongodb.password' = 'dbz-pw'`, `'mongodb.password' = ''`},
		{`'collection.whitelist' = 'logistics.*',`, `'collection.whitelist' = 'logistics.*',` + "\n    'snapshot.mode' = 'initial_only',"},
		{`'connection.url' = 'http://elastic:9200'`, `'connection.url' = '` + esURL + `'`},
	} {
		if n := strings.Count(script, r[0]); n != 1 {
			t.Fatalf("examples/seed004-ksql.sql holds %q %d times, want once", r[0], n)
		}
		script = strings.Replace(script, r[0], r[1], 1)
	}
	return script
}

// TestServeSeed004 is seed 004 through `sluice serve` and `sluice sql`:
// the seed's statement script (examples/seed004-ksql.sql: SET, the two
// source connectors, the three streams, the table, the two joins, the
// Elasticsearch sink connector) runs as one file against the server, with
// the customers in PostgreSQL and the logistics documents in FerretDB
// standing in for MongoDB. Elasticsearch 8's shipped_orders index ends
// with exactly the seed's five documents; the queries carry ksqlDB's IDs;
// a pull query answers from the table; after a restart of the server the
// catalogue and the documents are the same.
func TestServeSeed004(t *testing.T) {
	esURL := svctest.Need(t, svctest.Elasticsearch)
	mongoURI := svctest.Need(t, svctest.FerretDB)
	dsn := pgtest.NewDatabase(t)
	pg := pgtest.Connect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, age INT)`,
		`INSERT INTO customers (id, name, age) VALUES ('5', 'fred', 34)`,
		`INSERT INTO customers (id, name, age) VALUES ('7', 'sue', 25)`,
		`INSERT INTO customers (id, name, age) VALUES ('2', 'bill', 51)`,
	} {
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The seed's database is logistics: the stream names
	// (my-replica-set.logistics.orders) hold it, so one test at a time
	// uses it.
	client, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	ldb := client.Database("logistics")
	_ = ldb.Drop(ctx)
	t.Cleanup(func() {
		_ = ldb.Drop(context.Background())
		_ = client.Disconnect(context.Background())
	})
	// The seed's db.orders.insert and db.shipments.insert, in its order
	// (the driver makes the ObjectIds, as the shell does).
	for _, d := range []bson.D{
		{{Key: "customer_id", Value: "2"}, {Key: "order_id", Value: "13"}, {Key: "price", Value: 50.50}, {Key: "currency", Value: "usd"}, {Key: "ts", Value: "2020-04-03T11:20:00"}},
		{{Key: "customer_id", Value: "7"}, {Key: "order_id", Value: "29"}, {Key: "price", Value: 15.00}, {Key: "currency", Value: "aud"}, {Key: "ts", Value: "2020-04-02T12:36:00"}},
		{{Key: "customer_id", Value: "5"}, {Key: "order_id", Value: "17"}, {Key: "price", Value: 25.25}, {Key: "currency", Value: "eur"}, {Key: "ts", Value: "2020-04-02T17:22:00"}},
		{{Key: "customer_id", Value: "5"}, {Key: "order_id", Value: "15"}, {Key: "price", Value: 13.75}, {Key: "currency", Value: "usd"}, {Key: "ts", Value: "2020-04-03T02:55:00"}},
		{{Key: "customer_id", Value: "7"}, {Key: "order_id", Value: "22"}, {Key: "price", Value: 29.71}, {Key: "currency", Value: "aud"}, {Key: "ts", Value: "2020-04-04T00:12:00"}},
	} {
		if _, err := ldb.Collection("orders").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []bson.D{
		{{Key: "order_id", Value: "17"}, {Key: "shipment_id", Value: "75"}, {Key: "origin", Value: "texas"}, {Key: "ts", Value: "2020-04-04T19:20:00"}},
		{{Key: "order_id", Value: "22"}, {Key: "shipment_id", Value: "71"}, {Key: "origin", Value: "iowa"}, {Key: "ts", Value: "2020-04-04T12:25:00"}},
		{{Key: "order_id", Value: "29"}, {Key: "shipment_id", Value: "89"}, {Key: "origin", Value: "california"}, {Key: "ts", Value: "2020-04-05T13:21:00"}},
		{{Key: "order_id", Value: "13"}, {Key: "shipment_id", Value: "92"}, {Key: "origin", Value: "maine"}, {Key: "ts", Value: "2020-04-04T06:13:00"}},
		{{Key: "order_id", Value: "15"}, {Key: "shipment_id", Value: "95"}, {Key: "origin", Value: "florida"}, {Key: "ts", Value: "2020-04-04T01:13:00"}},
	} {
		if _, err := ldb.Collection("shipments").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	es := newSearchIndex(t, esURL, "shipped_orders")
	es.name = "shipped_orders" // the seed's index: the sink connector's topic
	es.do("DELETE", "/shipped_orders")
	t.Cleanup(func() { es.do("DELETE", "/shipped_orders") })

	dir := t.TempDir()
	script := filepath.Join(dir, "seed004-ksql.sql")
	if err := os.WriteFile(script, []byte(seed004Script(t, dsn, mongoURI, esURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	s := startServe(t, dir, nil, "--state-dir", state)
	code, out, errOut := sluiceSQL(t, s.url, script)
	if code != 0 {
		t.Fatalf("sluice sql -f: exit %d\n%s\n%s\nserver log:\n%s", code, out, errOut, stderrTail(dir))
	}
	for _, want := range []string{
		"Successfully changed local property 'auto.offset.reset' to 'earliest'.",
		"Created connector CUSTOMERS_READER", "Created connector LOGISTICS_READER", "Stream created",
		"Created query with ID CTAS_CUSTOMERS_BY_KEY_3", "Created query with ID CSAS_ENRICHED_ORDERS_4",
		"Created query with ID CSAS_SHIPPED_ORDERS_5", "Created connector ENRICHED_WRITER",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sluice sql's output lacks %q:\n%s", want, out)
		}
	}
	waitFor(t, 2*time.Minute, "five documents in "+es.base, dir, func() bool { return es.count("shipped_orders") >= 5 })
	sameDocs(t, "seed 004's documents in "+es.base, seed004Docs, smallDocs(t, es, "shipped_orders"))

	pull := filepath.Join(dir, "pull.sql")
	os.WriteFile(pull, []byte("SELECT * FROM customers_by_key WHERE id = '5';\nSHOW QUERIES;\n"), 0o600)
	code, out, errOut = sluiceSQL(t, s.url, pull)
	if code != 0 || !strings.Contains(out, "|5                  |fred               |34                 |") {
		t.Fatalf("pull query: exit %d\n%s\n%s", code, out, errOut)
	}
	queries := out[strings.Index(out, " Query ID"):]
	s.stop(t)

	s = startServe(t, dir, nil, "--state-dir", state)
	code, out, errOut = sluiceSQL(t, s.url, pull)
	if code != 0 || !strings.Contains(out, queries) {
		t.Fatalf("after the restart: exit %d\n%s\n%s\nwant the queries:\n%s", code, out, errOut, queries)
	}
	sameDocs(t, "seed 004's documents after the restart", seed004Docs, smallDocs(t, es, "shipped_orders"))

	// A failing statement stops `sluice sql -f` with the statement and
	// the server's message.
	bad := filepath.Join(dir, "bad.sql")
	os.WriteFile(bad, []byte("SHOW STREAMS;\nDROP STREAM customers;\nSHOW TABLES;\n"), 0o600)
	code, out, errOut = sluiceSQL(t, s.url, bad)
	if want := bad + ":2: the statement failed:\nDROP STREAM customers;\nCannot drop CUSTOMERS.\nThe following queries read from this source: [CTAS_CUSTOMERS_BY_KEY_3].\nThe following queries write into this source: [].\nYou need to terminate them before dropping CUSTOMERS.\n"; code != 1 || errOut != "sluice sql: "+want || strings.Contains(out, "Table Name") {
		t.Fatalf("a failing statement: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\nsluice sql: %s", code, out, errOut, want)
	}
	s.stop(t)
}
