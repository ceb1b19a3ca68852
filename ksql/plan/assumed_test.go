package plan

import (
	"testing"

	"github.com/sluice-dev/sluice/ksql/parse"
)

// assumedCatalog knows seed 004's streams and, like the sql processor fed
// by a Kafka or topic-log source (component.InputStreams.Foreign), answers
// for any other name too, marked Assumed.
type assumedCatalog struct{ MapCatalog }

func (c assumedCatalog) Stream(name string) (StreamInfo, bool) {
	if s, ok := c.MapCatalog[name]; ok {
		return s, true
	}
	return StreamInfo{Assumed: true}, true
}

// TestQueryWritesAssumedStream: with sources that keep upstream names, a
// query's result (CUSTOMERS_BY_KEY, shipped_orders) is not a source's
// stream: the queries plan. Before Assumed, every CREATE … AS SELECT over
// such sources failed with "sluice stream 'CUSTOMERS_BY_KEY' is a source's
// stream".
func TestQueryWritesAssumedStream(t *testing.T) {
	stmts, err := parse.Parse(`
CREATE STREAM customers WITH (kafka_topic = 'customers.public.customers');
CREATE TABLE customers_by_key AS SELECT id, latest_by_offset(name) AS name FROM customers GROUP BY id EMIT CHANGES;
CREATE STREAM orders WITH (kafka_topic = 'my-replica-set.logistics.orders');
CREATE STREAM copied WITH (kafka_topic = 'copied', partitions = 1) AS SELECT * FROM orders EMIT CHANGES;
INSERT INTO copied SELECT * FROM orders EMIT CHANGES;`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(stmts, assumedCatalog{seedCatalog()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, q := range p.Queries {
		ids = append(ids, q.ID)
	}
	if got, want := len(ids), 3; got != want {
		t.Fatalf("queries %v, want %d", ids, want)
	}
	if ids[0] != "CTAS_CUSTOMERS_BY_KEY_1" || ids[1] != "CSAS_COPIED_3" || ids[2] != "INSERTQUERY_4" {
		t.Fatalf("query ids %v", ids)
	}
}
