package plan

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/parse"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		w, g := strings.Split(string(want), "\n"), strings.Split(got, "\n")
		for i := 0; i < len(w) || i < len(g); i++ {
			var a, b string
			if i < len(w) {
				a = w[i]
			}
			if i < len(g) {
				b = g[i]
			}
			if a != b {
				t.Fatalf("%s differs at line %d (run with -update after checking):\nwant: %s\ngot:  %s", name, i+1, a, b)
			}
		}
	}
}

func col(name string, t event.Type) event.Column {
	return event.Column{Name: name, Type: t, Optional: true}
}

// seedCatalog is seed 004's streams as sluice's sources give them: the
// PostgreSQL customers table (its connector rewrites deletes), and the
// logistics orders and shipments (a MariaDB database standing in for
// MongoDB, under the same stream names).
func seedCatalog() MapCatalog {
	return MapCatalog{
		"customers.public.customers": {
			Schema: &event.Schema{Stream: "customers.public.customers", Columns: []event.Column{
				{Name: "id", Type: event.TypeString, Key: true}, col("name", event.TypeString), col("age", event.TypeInt32)}, KeyIdx: []int{0}},
			DeleteHandling: "rewrite",
		},
		"my-replica-set.logistics.orders": {
			Schema: &event.Schema{Stream: "my-replica-set.logistics.orders", Columns: []event.Column{
				{Name: "order_id", Type: event.TypeString, Key: true}, col("customer_id", event.TypeString),
				col("price", event.TypeFloat64), col("currency", event.TypeString), col("ts", event.TypeString)}, KeyIdx: []int{0}},
		},
		"my-replica-set.logistics.shipments": {
			Schema: &event.Schema{Stream: "my-replica-set.logistics.shipments", Columns: []event.Column{
				{Name: "shipment_id", Type: event.TypeString, Key: true}, col("order_id", event.TypeString),
				col("origin", event.TypeString), col("ts", event.TypeString)}, KeyIdx: []int{0}},
		},
	}
}

func parseFile(t *testing.T, path string) []parse.Statement {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := parse.Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return stmts
}

// TestSeed004 plans seed 004's statements, as written, into the expected
// relations and queries (golden).
func TestSeed004(t *testing.T) {
	stmts := parseFile(t, "../../examples/seed004-ksql.sql")
	p, err := Build(stmts, seedCatalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "seed004.plan", Dump(p))
	if err := checkPlan(p); err != nil {
		t.Fatal(err)
	}
	q := p.Queries[len(p.Queries)-1]
	if q.ID != "CSAS_SHIPPED_ORDERS_5" || q.Topic != "shipped_orders" {
		t.Errorf("last query %s to %s", q.ID, q.Topic)
	}
	// The documents of the seed's Elasticsearch index: these columns, keyed
	// by the order id.
	s := p.Relation("SHIPPED_ORDERS").Schema
	if got := schemaText(s); got != "(O_ORDER_ID STRING KEY, SHIPMENT_ID STRING, CUSTOMER_ID STRING, CUSTOMER_NAME STRING, CUSTOMER_AGE INTEGER, ORIGIN STRING, PRICE DOUBLE, CURRENCY STRING)" {
		t.Errorf("SHIPPED_ORDERS %s", got)
	}
	if len(p.Control) != 3 || p.Props["auto.offset.reset"] != "earliest" {
		t.Errorf("control %d, props %v", len(p.Control), p.Props)
	}
}

func featureCatalog() MapCatalog {
	c := MapCatalog{
		"pg.public.pageviews": {Schema: &event.Schema{Stream: "pg.public.pageviews", Columns: []event.Column{
			{Name: "id", Type: event.TypeInt64, Key: true}, col("viewtime", event.TypeInt64), col("user_id", event.TypeString),
			col("page_id", event.TypeString), {Name: "tags", Type: event.TypeArray, Elem: &event.Column{Type: event.TypeString}},
			col("payload", event.TypeJSON)}, KeyIdx: []int{0}}},
		"pg.public.users": {Schema: &event.Schema{Stream: "pg.public.users", Columns: []event.Column{
			{Name: "id", Type: event.TypeString, Key: true}, col("gender", event.TypeString), col("region", event.TypeString),
			{Name: "balance", Type: event.TypeDecimal, Precision: 10, Scale: 2}, col("born", event.TypeDate), col("seen", event.TypeTimestampTZ),
			col("ip", event.TypeInet)}, KeyIdx: []int{0}}},
		"pg.public.regions": {Schema: &event.Schema{Stream: "pg.public.regions", Columns: []event.Column{
			{Name: "code", Type: event.TypeString, Key: true}, col("name", event.TypeString)}, KeyIdx: []int{0}}},
		"pg.public.clicks": {},
		"mongo.db.events":  {},
	}
	return c
}

// TestFeatures plans statements that use every feature (golden), with a
// stream whose schema is known only at run time.
func TestFeatures(t *testing.T) {
	stmts := parseFile(t, "testdata/features.sql")
	p, err := Build(stmts, featureCatalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "features.plan", Dump(p))
	if err := checkPlan(p); err != nil {
		t.Fatal(err)
	}
}

// TestReplanWhenSchemaArrives: statements over a stream whose schema is
// unknown are deferred; planning again once it is known keeps every query
// planned before exactly as it was and adds the deferred ones.
func TestReplanWhenSchemaArrives(t *testing.T) {
	stmts := parseFile(t, "testdata/features.sql")
	before, err := Build(stmts, featureCatalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Waiting) != 1 || before.Waiting[0] != "mongo.db.events" || len(before.Deferred) != 2 {
		t.Fatalf("waiting %v, %d deferred", before.Waiting, len(before.Deferred))
	}
	cat := featureCatalog()
	cat["mongo.db.events"] = StreamInfo{Schema: &event.Schema{Stream: "mongo.db.events", Columns: []event.Column{
		{Name: "_id", Type: event.TypeString, Key: true}, col("type", event.TypeString), col("at", event.TypeTimestamp)}, KeyIdx: []int{0}}}
	after, err := Build(stmts, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Waiting) != 0 || len(after.Deferred) != 0 {
		t.Fatalf("still waiting %v", after.Waiting)
	}
	if len(after.Queries) != len(before.Queries)+1 {
		t.Fatalf("%d queries after, %d before", len(after.Queries), len(before.Queries))
	}
	for i, q := range before.Queries {
		a := after.Queries[i]
		if a.ID != q.ID || DumpNode(a.Root) != DumpNode(q.Root) {
			t.Errorf("query %s changed when replanned:\n%s\n%s", q.ID, DumpNode(q.Root), DumpNode(a.Root))
		}
	}
	last := after.Queries[len(after.Queries)-1]
	if last.ID != "CSAS_EVENT_TYPES_20" || schemaText(*last.Root.Schema()) != "(TYPE STRING)" {
		t.Errorf("deferred query planned as %s %s", last.ID, schemaText(*last.Root.Schema()))
	}
}

// TestTableOverRewrittenDeletes: a table over a stream whose deletes are
// rewritten has the __DELETED column, keyed by the source's key; a stream
// over it reads deletes as rows.
func TestTableOverRewrittenDeletes(t *testing.T) {
	stmts, err := parse.Parse(`CREATE TABLE t WITH (kafka_topic = 'customers.public.customers');
CREATE STREAM s WITH (kafka_topic = 'customers.public.customers');`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(stmts, seedCatalog(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tab, st := p.Relation("T"), p.Relation("S")
	if got := schemaText(tab.Schema); got != "(ID STRING KEY, NAME STRING, AGE INTEGER, __DELETED STRING)" || tab.Source.DeleteHandling != "" {
		t.Errorf("table %s, deletes %q", got, tab.Source.DeleteHandling)
	}
	if got := schemaText(st.Schema); got != "(ID STRING, NAME STRING, AGE INTEGER, __DELETED STRING)" || st.Source.DeleteHandling != "rewrite" {
		t.Errorf("stream %s, deletes %q", got, st.Source.DeleteHandling)
	}
}
