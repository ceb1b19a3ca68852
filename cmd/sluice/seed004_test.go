package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// seed004Docs are the documents seed 004 shows in shipped_orders, by _id.
var seed004Docs = map[string]string{
	"22": `{"CURRENCY":"aud","CUSTOMER_AGE":25,"CUSTOMER_ID":"7","CUSTOMER_NAME":"sue","ORIGIN":"iowa","O_ORDER_ID":"22","PRICE":29.71,"SHIPMENT_ID":"71"}`,
	"17": `{"CURRENCY":"eur","CUSTOMER_AGE":34,"CUSTOMER_ID":"5","CUSTOMER_NAME":"fred","ORIGIN":"texas","O_ORDER_ID":"17","PRICE":25.25,"SHIPMENT_ID":"75"}`,
	"29": `{"CURRENCY":"aud","CUSTOMER_AGE":25,"CUSTOMER_ID":"7","CUSTOMER_NAME":"sue","ORIGIN":"california","O_ORDER_ID":"29","PRICE":15.0,"SHIPMENT_ID":"89"}`,
	"13": `{"CURRENCY":"usd","CUSTOMER_AGE":51,"CUSTOMER_ID":"2","CUSTOMER_NAME":"bill","ORIGIN":"maine","O_ORDER_ID":"13","PRICE":50.5,"SHIPMENT_ID":"92"}`,
	"15": `{"CURRENCY":"usd","CUSTOMER_AGE":34,"CUSTOMER_ID":"5","CUSTOMER_NAME":"fred","ORIGIN":"florida","O_ORDER_ID":"15","PRICE":13.75,"SHIPMENT_ID":"95"}`,
}

// seed004Sixth is the document of the demonstration's new customer, order
// and shipment.
const seed004Sixth = `{"CURRENCY":"usd","CUSTOMER_AGE":23,"CUSTOMER_ID":"9","CUSTOMER_NAME":"victor","ORIGIN":"new jersey","O_ORDER_ID":"31","PRICE":525.5,"SHIPMENT_ID":"97"}`

// logisticsDB creates the MariaDB database `logistics` standing in for
// seed 004's MongoDB database (no MongoDB server runs here): a source
// named my-replica-set gives its collections' stream names,
// my-replica-set.logistics.orders and …shipments. The name is fixed, so
// one test at a time uses it.
func logisticsDB(t *testing.T) *sql.DB {
	t.Helper()
	base := svctest.Need(t, svctest.MariaDB)
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	for _, q := range []string{"DROP DATABASE IF EXISTS logistics", "CREATE DATABASE logistics"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE logistics") })
	mc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	mc.DBName = "logistics"
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// MongoDB documents with an ObjectId _id; here an auto-increment id.
	for _, q := range []string{
		`CREATE TABLE orders (_id INT AUTO_INCREMENT PRIMARY KEY, customer_id VARCHAR(20), order_id VARCHAR(20),
			price DOUBLE, currency VARCHAR(8), ts VARCHAR(32))`,
		`CREATE TABLE shipments (_id INT AUTO_INCREMENT PRIMARY KEY, order_id VARCHAR(20), shipment_id VARCHAR(20),
			origin VARCHAR(40), ts VARCHAR(32))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// TestSeed004 runs seed 004 through the binary: its statements verbatim
// over a PostgreSQL customers table and the logistics database, into real
// Elasticsearch 8 and OpenSearch indexes named shipped_orders, in the
// seed's order (the queries first, then the rows). Each index must hold
// exactly the seed's five documents; then the demonstration's new
// customer, order and shipment give a sixth.
func TestSeed004(t *testing.T) {
	esURL := svctest.Need(t, svctest.Elasticsearch)
	osURL := svctest.Need(t, svctest.OpenSearch)
	dsn := pgtest.NewDatabase(t)
	pg := pgtest.Connect(t, dsn)
	ctx := context.Background()
	pgExec := func(q string) {
		t.Helper()
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pgExec(`CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, age INT)`)
	mdb := logisticsDB(t)
	myExec := func(q string) {
		t.Helper()
		if _, err := mdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	es := newSearchIndex(t, esURL, "shipped_orders")
	os_ := newSearchIndex(t, osURL, "shipped_orders")
	for _, x := range []*searchIndex{es, os_} {
		x.name = "shipped_orders" // the seed's index name
		x.do("DELETE", "/shipped_orders")
	}
	myDSN, _ := mysql.ParseDSN(svctest.Need(t, svctest.MariaDB))
	myDSN.DBName = "logistics"

	dir := t.TempDir()
	// Seed 004's ksqlDB statements, verbatim (its CREATE SOURCE and SINK
	// CONNECTOR statements are the pipeline's sources and sinks).
	statements, err := os.ReadFile("../../examples/seed004.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed004.sql"), statements, 0o644); err != nil {
		t.Fatal(err)
	}
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  customers:
    type: postgres
    dsn: ${E2E_DSN}
    tables: [public.customers]
    slot: %s
  my-replica-set:
    type: mysql
    dsn: ${E2E_MYSQL}
    server_id: %d
    tables: [logistics.orders, logistics.shipments]
sql_file: seed004.sql
sinks:
  elastic:
    type: elasticsearch
    inputs: [shipped_orders]
    hosts: ["${E2E_ES}"]
    index: shipped_orders
  opensearch:
    type: opensearch
    inputs: [shipped_orders]
    hosts: ["${E2E_OS}"]
    index: shipped_orders
  customers_by_key:
    type: file
    inputs: [CUSTOMERS_BY_KEY]
    path: %s/customers_by_key.jsonl
    format: row
`, dir, uniqueSlot(), 1000+rand.IntN(1<<30), dir))
	cmd, addr := startHTTP(t, dir, p, "E2E_DSN="+dsn, "E2E_MYSQL="+myDSN.FormatDSN(), "E2E_ES="+esURL, "E2E_OS="+osURL)
	table := filepath.Join(dir, "customers_by_key.jsonl")
	// The seed types the customers first: they are in the table before
	// the first order arrives. Here the statements wait for the first row
	// of each stream they read, keeping what comes in the meantime in
	// order; the test inserts the orders once the customers are kept.
	pgExec(`INSERT INTO customers (id, name, age) VALUES ('5', 'fred', 34)`)
	pgExec(`INSERT INTO customers (id, name, age) VALUES ('7', 'sue', 25)`)
	pgExec(`INSERT INTO customers (id, name, age) VALUES ('2', 'bill', 51)`)
	waitFor(t, time.Minute, "the three customers kept until the queries start", dir, func() bool {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(body, `sluice_sql_waiting_inputs{pipeline="p",processor="sql"} 3`)
	})
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('2', '13', 50.50, 'usd', '2020-04-03T11:20:00')`)
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('7', '29', 15.00, 'aud', '2020-04-02T12:36:00')`)
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('5', '17', 25.25, 'eur', '2020-04-02T17:22:00')`)
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('5', '15', 13.75, 'usd', '2020-04-03T02:55:00')`)
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('7', '22', 29.71, 'aud', '2020-04-04T00:12:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('17', '75', 'texas', '2020-04-04T19:20:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('22', '71', 'iowa', '2020-04-04T12:25:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('29', '89', 'california', '2020-04-05T13:21:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('13', '92', 'maine', '2020-04-04T06:13:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('15', '95', 'florida', '2020-04-04T01:13:00')`)
	for _, x := range []*searchIndex{es, os_} {
		waitFor(t, time.Minute, "five documents in "+x.base, dir, func() bool { return x.count("shipped_orders") >= 5 })
	}
	for _, x := range []*searchIndex{es, os_} {
		sameDocs(t, "seed 004's documents in "+x.base, seed004Docs, smallDocs(t, x, "shipped_orders"))
	}

	// The demonstration: a new customer, then its order and shipment.
	pgExec(`INSERT INTO customers (id, name, age) VALUES ('9', 'victor', 23)`)
	waitFor(t, time.Minute, "customer 9 in the table", dir, func() bool {
		b, _ := os.ReadFile(table)
		return strings.Contains(string(b), `"victor"`)
	})
	myExec(`INSERT INTO orders (customer_id, order_id, price, currency, ts) VALUES ('9', '31', 525.50, 'usd', '2020-04-03T11:20:00')`)
	myExec(`INSERT INTO shipments (order_id, shipment_id, origin, ts) VALUES ('31', '97', 'new jersey', '2020-04-04T19:20:00')`)
	want := map[string]string{"31": seed004Sixth}
	for id, d := range seed004Docs {
		want[id] = d
	}
	for _, x := range []*searchIndex{es, os_} {
		waitFor(t, time.Minute, "the sixth document in "+x.base, dir, func() bool { return x.exists("shipped_orders", "31") })
	}
	stopRun(t, cmd, dir)
	for _, x := range []*searchIndex{es, os_} {
		sameDocs(t, "the six documents in "+x.base, want, smallDocs(t, x, "shipped_orders"))
	}
}

// smallDocs returns id → canonical source of the documents of a small
// index in one search (Elasticsearch 8 refuses the sort on _id that
// searchIndex.docs pages with).
func smallDocs(t *testing.T, x *searchIndex, index string) map[string]string {
	t.Helper()
	x.do("POST", "/"+index+"/_refresh")
	st, b := x.do("GET", "/"+index+"/_search?size=1000")
	if st != 200 {
		t.Fatalf("search %s: %d %s", index, st, b)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, h := range r.Hits.Hits {
		out[h.ID] = canonJSON(t, h.Source)
	}
	return out
}
