package benchsql

import (
	"os"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/plan"
)

func col(name string, t event.Type) event.Column {
	return event.Column{Name: name, Type: t, Optional: true}
}

// catalog is the input README.md documents, as a PostgreSQL source gives
// it (each table's primary key is the stream's key).
func catalog() plan.MapCatalog {
	return plan.MapCatalog{
		"bench.public.orders": {Schema: &event.Schema{Stream: "bench.public.orders", Columns: []event.Column{
			{Name: "id", Type: event.TypeInt64, Key: true}, col("customer_id", event.TypeString),
			col("price", event.TypeFloat64), col("currency", event.TypeString), col("ts", event.TypeInt64)}, KeyIdx: []int{0}}},
		"bench.public.customers": {Schema: &event.Schema{Stream: "bench.public.customers", Columns: []event.Column{
			{Name: "id", Type: event.TypeString, Key: true}, col("name", event.TypeString), col("age", event.TypeInt32)}, KeyIdx: []int{0}}},
		"bench.public.shipments": {Schema: &event.Schema{Stream: "bench.public.shipments", Columns: []event.Column{
			{Name: "id", Type: event.TypeString, Key: true}, col("order_id", event.TypeInt64),
			col("origin", event.TypeString), col("ts", event.TypeInt64)}, KeyIdx: []int{0}}},
	}
}

// TestPlans plans each benchmark file against the documented input and
// checks its one query's result: the stream it writes and its columns,
// which are what Bench.java's twin topology writes.
func TestPlans(t *testing.T) {
	for _, tc := range []struct {
		file, id string
		cols     []string
	}{
		{"a_filter_project.sql", "CSAS_EXPENSIVE_ORDERS_1", []string{"ID", "CUSTOMER_ID", "PRICE", "CURRENCY"}},
		{"b_stream_table_join.sql", "CSAS_ENRICHED_ORDERS_2", []string{"CUSTOMER_ID", "ORDER_ID", "PRICE", "CURRENCY", "CUSTOMER_NAME", "CUSTOMER_AGE"}},
		{"c_stream_stream_join.sql", "CSAS_SHIPPED_ORDERS_2", []string{"ORDER_ID", "SHIPMENT_ID", "CUSTOMER_ID", "PRICE", "ORIGIN"}},
		{"d_latest_by_key.sql", "CTAS_LATEST_BY_CUSTOMER_1", []string{"CUSTOMER_ID", "PRICE", "LAST_ORDER_ID"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := parse.Parse(string(src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Build(stmts, catalog(), plan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Queries) != 1 {
				t.Fatalf("%d queries, want 1", len(p.Queries))
			}
			q := p.Queries[0]
			var got []string
			for _, f := range q.Root.Schema().Columns {
				got = append(got, f.Name)
			}
			if q.ID != tc.id || q.Topic != "bench_out" || strings.Join(got, ",") != strings.Join(tc.cols, ",") {
				t.Errorf("query %s to %q with columns %v, want %s to \"bench_out\" with %v", q.ID, q.Topic, got, tc.id, tc.cols)
			}
		})
	}
}
