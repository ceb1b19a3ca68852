package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/parse"
)

// seedRunCatalog is seed 004's streams as a pipeline knows them before
// it runs: the PostgreSQL customers table from its catalog (the seed's
// connector rewrites deletes), the MongoDB collections orders and
// shipments not at all (nil Schema: their first document tells).
func seedRunCatalog() MapCatalog {
	return MapCatalog{
		"customers.public.customers": {
			Schema: &event.Schema{Stream: "customers.public.customers", Columns: []event.Column{
				{Name: "id", Type: event.TypeString, Key: true}, col("name", event.TypeString), col("age", event.TypeInt32)}, KeyIdx: []int{0}},
			DeleteHandling: "rewrite",
		},
		"my-replica-set.logistics.orders":    {},
		"my-replica-set.logistics.shipments": {},
	}
}

// mongoSchema is the schema the MongoDB source gives a collection's
// documents: _id (an ObjectId, as a STRING) the key, then the fields in
// document order (source/mongodb's package doc).
func mongoSchema(stream string, fields ...event.Column) *event.Schema {
	cols := append([]event.Column{{Name: "_id", Type: event.TypeString, Key: true}}, fields...)
	return &event.Schema{Stream: stream, Columns: cols, KeyIdx: []int{0}}
}

// TestSeed004Deferred plans seed 004's statements, as written, before
// the MongoDB collections' schemas are known: the statements over them
// wait, the rest plans, the connectors go to Control. Planned again with
// the schemas of the seed's documents, the three queries are there with
// the seed's output columns (the Elasticsearch documents' fields).
func TestSeed004Deferred(t *testing.T) {
	stmts := parseFile(t, "../../examples/seed004-ksql.sql")
	cat := seedRunCatalog()
	before, err := Build(stmts, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(before.Waiting, ", "); got != "my-replica-set.logistics.orders, my-replica-set.logistics.shipments" {
		t.Errorf("waiting for %s", got)
	}
	if got := stmtNames(before.Deferred); got != "CREATE STREAM ORDERS, CREATE STREAM SHIPMENTS, CREATE STREAM ENRICHED_ORDERS, CREATE STREAM SHIPPED_ORDERS" {
		t.Errorf("deferred: %s", got)
	}
	if got := stmtNames(before.Control); got != "CREATE SOURCE CONNECTOR CUSTOMERS_READER, CREATE SOURCE CONNECTOR LOGISTICS_READER, CREATE SINK CONNECTOR ENRICHED_WRITER" {
		t.Errorf("control: %s", got)
	}
	// Query IDs end with the statement's number in ksqlDB's command topic;
	// a deferred statement keeps its number, so IDs survive replanning.
	if got := queryNames(before.Queries); got != "CTAS_CUSTOMERS_BY_KEY_3 (ID STRING KEY, NAME STRING, AGE INTEGER)" {
		t.Errorf("queries before the schemas: %s", got)
	}
	if before.Props["auto.offset.reset"] != "earliest" {
		t.Errorf("props %v", before.Props)
	}

	// The first documents arrive (the seed's db.orders.insert and
	// db.shipments.insert).
	cat["my-replica-set.logistics.orders"] = StreamInfo{Schema: mongoSchema("my-replica-set.logistics.orders",
		col("customer_id", event.TypeString), col("order_id", event.TypeString), col("price", event.TypeFloat64),
		col("currency", event.TypeString), col("ts", event.TypeString))}
	cat["my-replica-set.logistics.shipments"] = StreamInfo{Schema: mongoSchema("my-replica-set.logistics.shipments",
		col("order_id", event.TypeString), col("shipment_id", event.TypeString), col("origin", event.TypeString),
		col("ts", event.TypeString))}
	after, err := Build(stmts, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Waiting) != 0 || len(after.Deferred) != 0 {
		t.Fatalf("still waiting for %v", after.Waiting)
	}
	if err := checkPlan(after); err != nil {
		t.Fatal(err)
	}
	want := "CTAS_CUSTOMERS_BY_KEY_3 (ID STRING KEY, NAME STRING, AGE INTEGER); " +
		"CSAS_ENRICHED_ORDERS_4 (CUSTOMER_ID STRING KEY, ORDER_ID STRING, PRICE DOUBLE, CURRENCY STRING, CUSTOMER_NAME STRING, CUSTOMER_AGE INTEGER); " +
		"CSAS_SHIPPED_ORDERS_5 (O_ORDER_ID STRING KEY, SHIPMENT_ID STRING, CUSTOMER_ID STRING, CUSTOMER_NAME STRING, CUSTOMER_AGE INTEGER, ORIGIN STRING, PRICE DOUBLE, CURRENCY STRING)"
	if got := queryNames(after.Queries); got != want {
		t.Errorf("queries:\n got %s\nwant %s", got, want)
	}
	if q := after.Queries[0]; DumpNode(q.Root) != DumpNode(before.Queries[0].Root) {
		t.Errorf("CUSTOMERS_BY_KEY's query changed when replanned")
	}
	if q := after.Queries[2]; q.Topic != "shipped_orders" {
		t.Errorf("SHIPPED_ORDERS writes %q", q.Topic)
	}
	if got := stmtNames(after.Control); got != stmtNames(before.Control) {
		t.Errorf("control after: %s", got)
	}
}

// stmtNames names statements by their first words: CREATE STREAM X,
// CREATE SOURCE CONNECTOR X.
func stmtNames(stmts []parse.Statement) string {
	var out []string
	for _, s := range stmts {
		words := strings.Fields(strings.ReplaceAll(parse.Print(s), "(", " "))
		n := 3
		if len(words) > 1 && (words[1] == "SOURCE" || words[1] == "SINK") {
			n = 4
		}
		out = append(out, strings.Join(words[:min(n, len(words))], " "))
	}
	return strings.Join(out, ", ")
}

func queryNames(qs []*Query) string {
	var out []string
	for _, q := range qs {
		out = append(out, fmt.Sprintf("%s %s", q.ID, schemaText(*q.Root.Schema())))
	}
	return strings.Join(out, "; ")
}
