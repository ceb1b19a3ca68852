package plan

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
)

// seedDDL declares seed 004's streams and table.
const seedDDL = `CREATE STREAM customers WITH (kafka_topic = 'customers.public.customers', value_format = 'avro');
CREATE STREAM orders WITH (kafka_topic = 'my-replica-set.logistics.orders', value_format = 'avro', timestamp = 'ts', timestamp_format = 'yyyy-MM-dd''T''HH:mm:ss');
CREATE STREAM shipments WITH (kafka_topic = 'my-replica-set.logistics.shipments', value_format = 'avro');
CREATE TABLE customers_by_key AS SELECT id, latest_by_offset(name) AS name, latest_by_offset(age) AS age FROM customers GROUP BY id;
CREATE TABLE users WITH (kafka_topic = 'customers.public.customers', value_format = 'avro');
`

// TestErrors checks the exact text of planning errors: position, the
// ksqlDB rule broken, and the hint. Each case's statements follow
// seedDDL (5 lines).
func TestErrors(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"CREATE STREAM x AS SELECT prise FROM orders;", "line 6:27: unknown column PRISE (did you mean PRICE?)"},
		{"CREATE STREAM x AS SELECT o.prise FROM orders o;", "line 6:29: unknown column O.PRISE (did you mean PRICE?)"},
		{"CREATE STREAM x AS SELECT nothing FROM orders;", "line 6:27: unknown column NOTHING; the columns of ORDERS are ORDER_ID, CUSTOMER_ID, PRICE, CURRENCY, TS"},
		{"CREATE STREAM x AS SELECT p.price FROM orders o;", "line 6:27: unknown source P in P.PRICE: the query reads O"},
		{"CREATE STREAM x AS SELECT order_id FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.order_id = s.order_id;", "line 6:27: column ORDER_ID is ambiguous: O and S both have it; qualify it: O.ORDER_ID or S.ORDER_ID"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE price = 'x';", "line 6:47: operator = does not apply to DOUBLE and STRING (in PRICE = 'x'); CAST one side to the other's type: CAST('x' AS DOUBLE)"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE price;", "line 6:47: WHERE needs a BOOLEAN condition, got DOUBLE (PRICE)"},
		{"CREATE TABLE x AS SELECT id, latest_by_ofset(name) FROM customers GROUP BY id;", "line 6:30: unknown function LATEST_BY_OFSET (did you mean LATEST_BY_OFFSET?)"},
		{"CREATE STREAM x AS SELECT DATE_FORMAT(ts, 'yyyy') FROM orders;", "line 6:27: unknown function DATE_FORMAT; the functions nearest by name are FORMAT_DATE, FORMAT_TIME and FORMAT_TIMESTAMP"},
		{"CREATE STREAM x AS SELECT ROWTIME FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.order_id = s.order_id;", "line 6:27: column ROWTIME is ambiguous: O and S both have it; qualify it: O.ROWTIME or S.ROWTIME"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE price IN (1, 'x');", "line 6:60: IN compares DOUBLE with STRING; CAST one side to the other's type: CAST('x' AS DOUBLE)"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE ts > 5;", "line 6:47: operator > does not apply to STRING and INTEGER (in TS > 5); CAST one side to the other's type: CAST(TS AS INTEGER)"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE price = ARRAY[1];", "line 6:47: operator = does not apply to DOUBLE and ARRAY<INTEGER> (in PRICE = ARRAY[1])"},
		{"CREATE STREAM x AS SELECT SUBSTRING(currency) FROM orders;", "line 6:27: SUBSTRING takes 2 or 3 arguments, got 1"},
		{"CREATE STREAM x AS SELECT UCASE(price) FROM orders;", "line 6:27: UCASE does not take (DOUBLE); it takes UCASE(STRING)"},
		{"CREATE STREAM x AS SELECT * FROM orders o JOIN shipments s ON o.order_id = s.order_id;", "line 6:43: a stream-stream join needs a WITHIN clause: … JOIN SHIPMENTS WITHIN 1 HOUR ON …"},
		{"CREATE STREAM x AS SELECT o.order_id, c.id FROM orders o JOIN customers_by_key c WITHIN 1 HOUR ON o.customer_id = c.id;", "line 6:82: WITHIN applies to stream-stream joins only; this is a stream-table join, which is not windowed: drop the WITHIN clause"},
		{"CREATE STREAM x AS SELECT o.order_id, c.id FROM orders o JOIN customers_by_key c ON o.customer_id = c.name;", "line 6:101: a stream-table join must use the table's key: CUSTOMERS_BY_KEY's key is ID, got C.NAME"},
		{"CREATE STREAM x AS SELECT o.order_id FROM orders o JOIN customers_by_key c ON o.customer_id = c.id;", "line 6:20: the SELECT list must include the join key O.CUSTOMER_ID or C.ID: it is the key of the result"},
		{"CREATE STREAM x AS SELECT o.customer_id, c.id FROM orders o JOIN customers_by_key c ON o.customer_id = c.id;", "line 6:42: the join key O.CUSTOMER_ID or C.ID is in the SELECT list twice (as CUSTOMER_ID and ID); keep one: it is the key of the result"},
		{"CREATE STREAM x AS SELECT * FROM customers_by_key c JOIN orders o ON o.customer_id = c.id;", "line 6:53: a table-stream join is not supported; put the stream first (ORDERS JOIN C)"},
		{"CREATE STREAM x AS SELECT o.order_id, s.shipment_id FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.order_id = s.ts + 1;", "line 6:114: operator + does not apply to STRING and INTEGER (in S.TS + 1); CAST one side to the other's type: CAST(S.TS AS INTEGER)"},
		{"CREATE STREAM x AS SELECT o.order_id FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.order_id = o.customer_id;", "line 6:86: the join condition must compare an expression of O with one of S: O.ORDER_ID = O.CUSTOMER_ID"},
		{"CREATE STREAM x AS SELECT o.order_id FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.price = s.order_id;", "line 6:86: the join condition compares O.PRICE (DOUBLE) with S.ORDER_ID (STRING): the types must be the same; CAST one side"},
		{"CREATE STREAM x AS SELECT o.order_id FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.order_id <> s.order_id;", "line 6:86: a join condition is one equality between the two sides (ON a.x = b.y), got O.ORDER_ID <> S.ORDER_ID"},
		{"CREATE TABLE x AS SELECT name, COUNT(*) FROM customers GROUP BY id;", "line 6:26: NAME is neither in GROUP BY nor inside an aggregate function"},
		{"CREATE TABLE x AS SELECT id, COUNT(*) FROM customers GROUP BY id, ID;", "line 6:67: GROUP BY lists ID twice (also as expression 1); a key column appears once"},
		{"CREATE TABLE x AS SELECT COUNT(*) FROM customers GROUP BY id;", "line 6:19: the SELECT list must include the GROUP BY expression ID: it is the key of the result"},
		{"CREATE TABLE x AS SELECT id, COUNT(*) FROM customers;", "line 6:19: aggregate functions and HAVING need GROUP BY (ksqlDB has no aggregation over a whole stream)"},
		{"CREATE STREAM x AS SELECT * FROM customers WHERE COUNT(*) > 1;", "line 6:50: aggregate functions are not allowed in WHERE: filter groups with HAVING"},
		{"CREATE TABLE x AS SELECT id, COUNT(name) FROM customers GROUP BY id HAVING name = 'x';", "line 6:76: NAME is neither in GROUP BY nor inside an aggregate function"},
		{"CREATE TABLE x AS SELECT id, MIN(age) FROM users GROUP BY id;", "line 6:30: MIN cannot aggregate a table: an update of a table row retracts the old row, which MIN cannot undo; over a table use COUNT, SUM, AVG or COLLECT_LIST"},
		{"CREATE TABLE x AS SELECT id, LATEST_BY_OFFSET(name, age) FROM customers GROUP BY id;", "line 6:53: argument 2 of LATEST_BY_OFFSET must be a literal (it configures the function), got AGE"},
		{"CREATE TABLE x AS SELECT id, LATEST_BY_OFFSET(name, 'x') FROM customers GROUP BY id;", "line 6:30: LATEST_BY_OFFSET does not take (STRING, STRING); it takes LATEST_BY_OFFSET(T, BOOLEAN!) or LATEST_BY_OFFSET(T, INTEGER!)"},
		{"CREATE TABLE x AS SELECT id, COUNT(COUNT(name)) FROM customers GROUP BY id;", "line 6:36: aggregate function COUNT is not allowed in an aggregate's argument"},
		{"CREATE STREAM x AS SELECT id, COUNT(*) FROM customers GROUP BY id;", "line 6:1: the SELECT gives a TABLE (it aggregates or reads tables): use CREATE TABLE X AS SELECT …"},
		{"CREATE TABLE x AS SELECT * FROM orders;", "line 6:1: the SELECT gives a STREAM: use CREATE STREAM X AS SELECT …, or GROUP BY to make a table"},
		{"CREATE STREAM x WITH (kafka_topic = 'customers.public.customer');", "line 6:37: unknown sluice stream 'customers.public.customer' (did you mean customers.public.customers?): kafka_topic names a source's stream, a Kafka topic a kafka source reads, or a query's result; the known streams are 'CUSTOMERS_BY_KEY', 'customers.public.customers', 'my-replica-set.logistics.orders', 'my-replica-set.logistics.shipments'"},
		{"CREATE STREAM x WITH (kafka_topic = 'inventory');", "line 6:37: unknown sluice stream 'inventory': kafka_topic names a source's stream, a Kafka topic a kafka source reads, or a query's result; the known streams are 'CUSTOMERS_BY_KEY', 'customers.public.customers', 'my-replica-set.logistics.orders', 'my-replica-set.logistics.shipments'"},
		{"CREATE STREAM x WITH (value_format = 'json');", "line 6:1: CREATE STREAM X needs WITH (kafka_topic = '…'): the sluice stream it reads"},
		{"CREATE STREAM x (id STRING, n INT) WITH (kafka_topic = 'customers.public.customers');", "line 6:29: column N is not in sluice stream 'customers.public.customers'; the columns are id, name, age"},
		{"CREATE STREAM x (id STRING, age BOOLEAN) WITH (kafka_topic = 'customers.public.customers');", "line 6:33: column AGE is INTEGER in sluice stream 'customers.public.customers', declared BOOLEAN"},
		{"CREATE STREAM x WITH (kafka_topic = 'customers.public.customers', timestamp = 'tss');", "line 6:79: timestamp column TSS is not a column of X; the columns are ID, NAME, AGE, __DELETED"},
		{"CREATE STREAM x WITH (kafka_topic = 'my-replica-set.logistics.orders', timestamp = 'ts');", "line 6:84: timestamp column TS is a STRING: give its timestamp_format (a Java DateTimeFormatter pattern such as 'yyyy-MM-dd''T''HH:mm:ss')"},
		{"CREATE STREAM x WITH (kafka_topic = 'customers.public.customers', timestamp = 'age');", "line 6:79: timestamp column AGE is INTEGER: it must be a BIGINT (epoch milliseconds), a TIMESTAMP, or a STRING with a timestamp_format"},
		{"CREATE STREAM orders WITH (kafka_topic = 'customers.public.customers');", "line 6:15: stream ORDERS already exists (line 2); choose another name, or CREATE OR REPLACE it"},
		{"CREATE STREAM x AS SELECT * FROM order;", "line 6:34: unknown stream or table ORDER (did you mean ORDERS?)"},
		{"CREATE STREAM x AS SELECT * FROM orders WINDOW TUMBLING (SIZE 1 HOUR);", "line 6:41: WINDOW needs GROUP BY: a window groups rows by key and time"},
		{"CREATE TABLE x AS SELECT id, COUNT(*) FROM customers GROUP BY id EMIT FINAL;", "line 6:19: EMIT FINAL applies to windowed aggregations only (add a WINDOW clause)"},
		{"CREATE TABLE x AS SELECT id, WINDOWSTART FROM customers GROUP BY id;", "line 6:30: WINDOWSTART is only defined in windowed aggregations (WINDOW TUMBLING|HOPPING|SESSION …)"},
		{"CREATE TABLE x AS SELECT id, COUNT(*) FROM customers WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 HOURS, GRACE PERIOD 2 HOURS) GROUP BY id;", "line 6:94: RETENTION 2h0m0s is less than the window size plus grace (3h0m0s): the window would be gone before it closes"},
		{"CREATE TABLE x AS SELECT id, COUNT(*) FROM customers WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 2 MINUTES) GROUP BY id;", "line 6:96: ADVANCE BY 2m0s exceeds the window SIZE 1m0s: hopping windows would leave gaps"},
		{"CREATE STREAM x AS SELECT name AS a, age AS a FROM customers;", "line 6:38: the SELECT list has two columns named A (the other at line 6:27): give one another name with AS"},
		{"CREATE STREAM x AS SELECT * FROM orders WHERE price LIKE 'a%';", "line 6:47: LIKE compares strings, got DOUBLE"},
		{"CREATE STREAM x AS SELECT CAST(price > 1 AS INT) FROM orders;", "line 6:27: cannot CAST BOOLEAN to INTEGER"},
		{"CREATE STREAM x AS SELECT name->first FROM customers;", "line 6:33: -> reads a STRUCT field, but NAME is STRING"},
		{"CREATE STREAM x AS SELECT name[1] FROM customers;", "line 6:27: [ ] reads an ARRAY element or a MAP value, but NAME is STRING"},
		{"CREATE TABLE x AS SELECT id, COUNT(DISTINCT name) FROM customers GROUP BY id;", "line 6:30: DISTINCT inside COUNT(…) is not supported (ksqlDB has none); COLLECT_SET gives the distinct values"},
		{"CREATE STREAM x WITH (kafka_topic = 'customers.public.customers') AS SELECT * FROM orders;", "line 6:37: sluice stream 'customers.public.customers' is a source's stream: a query writes a stream of its own (choose another kafka_topic)"},
		{"CREATE STREAM x WITH (kafka_topic = 'CUSTOMERS_BY_KEY') AS SELECT * FROM orders;", "line 6:37: sluice stream 'CUSTOMERS_BY_KEY' is already written by CTAS_CUSTOMERS_BY_KEY_3: choose another kafka_topic"},
		{"CREATE STREAM x AS SELECT * FROM orders LIMIT 3;", "line 6:20: LIMIT is not supported in a persistent query (CREATE … AS SELECT, INSERT INTO)"},
		{"CREATE STREAM x AS SELECT * FROM orders PARTITION BY nope;", "line 6:54: unknown column NOPE; the columns of ORDERS are ORDER_ID, CUSTOMER_ID, PRICE, CURRENCY, TS"},
		{"CREATE STREAM x AS SELECT currency FROM orders PARTITION BY order_id;", "line 6:20: the SELECT list must include the PARTITION BY expression ORDER_ID: it is the key of the result"},
		{"CREATE TABLE x AS SELECT id FROM customers_by_key PARTITION BY name;", "line 6:64: PARTITION BY re-keys a stream; a table is keyed by its PRIMARY KEY"},
		{"CREATE STREAM x AS SELECT order_id, price FROM orders PARTITION BY order_id, ORDER_ID;", "line 6:78: PARTITION BY lists ORDER_ID twice (also as expression 1); a key column appears once"},
		{"CREATE STREAM x AS SELECT order_id, price FROM orders PARTITION BY order_id, NULL;", "line 6:78: PARTITION BY NULL cannot be combined with other expressions: it removes the key"},
		{"CREATE TABLE x AS SELECT name FROM customers_by_key;", "line 6:19: the SELECT list must include the key column ID: it is the key of the result"},
		{"INSERT INTO orders SELECT * FROM orders;", "line 6:13: INSERT INTO ORDERS would write sluice stream 'my-replica-set.logistics.orders', a source's stream: insert into a stream a query creates, or one declared with partitions"},
		{"INSERT INTO customers_by_key SELECT * FROM orders;", "line 6:13: INSERT INTO writes a stream; CUSTOMERS_BY_KEY is a table"},
		{"CREATE STREAM y AS SELECT * FROM orders; INSERT INTO y SELECT order_id FROM orders;", "line 6:56: INSERT INTO Y: the SELECT gives (ORDER_ID STRING), but Y has (ORDER_ID STRING, CUSTOMER_ID STRING, PRICE DOUBLE, CURRENCY STRING, TS STRING)"},
		{"DROP STREAM customers;", "line 6:1: cannot drop CUSTOMERS: CTAS_CUSTOMERS_BY_KEY_3 reads it (TERMINATE it first)"},
		{"DROP TABLE orders;", "line 6:1: ORDERS is a stream: DROP STREAM ORDERS"},
		{"TERMINATE CTAS_CUSTOMERS_BY_KEY;", "line 6:11: unknown query CTAS_CUSTOMERS_BY_KEY (did you mean CTAS_CUSTOMERS_BY_KEY_3?)"},
		{"SET 'auto.offset.reset' = 'earlyest';", "line 6:1: 'auto.offset.reset' is 'earliest' or 'latest', got 'earlyest'"},
		{"CREATE TABLE t2 AS SELECT ROWKEY, v.name FROM users u FULL OUTER JOIN customers_by_key v ON u.id = v.id JOIN shipments s ON u.id = s.order_id;", "line 6:105: a FULL OUTER join must be the last join of a query (its key is synthetic)"},
		{"CREATE TABLE t2 AS SELECT u.id, c.name FROM users u FULL OUTER JOIN customers_by_key c ON u.name = c.id;", "line 6:53: a foreign-key join (on U.NAME, not U's key) is INNER or LEFT, not FULL OUTER"},
		{"CREATE TABLE t2 AS SELECT a.id FROM users a FULL OUTER JOIN customers_by_key b ON a.id = b.id;", "line 6:20: the SELECT list must include the join key ROWKEY: it is the key of the result (a FULL OUTER join's synthetic key, the non-NULL of both sides' keys; SELECT ROWKEY AS name, …)"},
		{"CREATE STREAM x AS SELECT * FROM orders o JOIN shipments o WITHIN 1 HOUR ON o.order_id = o.order_id;", "line 6:58: O names two sources of the query: give them different aliases"},
		{"CREATE STREAM x AS SELECT * FROM orders o JOIN orders p WITHIN 1 HOUR ON o.order_id = p.order_id;", "line 6:48: ORDERS is read twice: a query cannot join a relation with itself (ksqlDB has no self-joins); join it with a copy (CREATE TABLE ORDERS_COPY AS SELECT * FROM ORDERS)"},
		// One mistake, one error: the statement reading the failed relation
		// is skipped quietly.
		{"CREATE STREAM bad AS SELECT nope FROM orders; CREATE STREAM worse AS SELECT * FROM bad;", "line 6:29: unknown column NOPE; the columns of ORDERS are ORDER_ID, CUSTOMER_ID, PRICE, CURRENCY, TS"},
	} {
		stmts, err := parse.Parse(seedDDL + tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		_, err = Build(stmts, seedCatalog(), Options{})
		if err == nil {
			t.Errorf("%s: no error, want %q", tc.sql, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s\n got: %s\nwant: %s", tc.sql, err, tc.want)
		}
	}
}

// TestReplace: CREATE OR REPLACE of a query's result keeps its query ID
// and its readers, when the columns stay the same.
func TestReplace(t *testing.T) {
	src := seedDDL + `CREATE STREAM x AS SELECT order_id, price FROM orders;
CREATE STREAM y AS SELECT * FROM x;
CREATE OR REPLACE STREAM x AS SELECT order_id, price FROM orders WHERE price > 1;
CREATE OR REPLACE STREAM x AS SELECT order_id FROM orders;`
	stmts, err := parse.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(stmts, seedCatalog(), Options{})
	want := "line 9:26: cannot replace X with different columns: CSAS_Y_6 reads it"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	var ids []string
	for _, q := range p.Queries {
		ids = append(ids, q.ID)
	}
	if got := strings.Join(ids, " "); got != "CTAS_CUSTOMERS_BY_KEY_3 CSAS_Y_6 CSAS_X_5" {
		t.Errorf("queries %s", got)
	}
	if f, ok := p.Queries[2].Root.(*ir.Project).Input.(*ir.Filter); !ok || ExprString(f.Pred, f.Input.Schema().Columns) != "(PRICE > 1)" {
		t.Errorf("replaced query %s", DumpNode(p.Queries[2].Root))
	}
}
