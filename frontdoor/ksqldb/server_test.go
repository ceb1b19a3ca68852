package ksqldb

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	createCustomers = "CREATE STREAM customers WITH (kafka_topic = 'customers.public.customers', value_format = 'avro');"
	createByKey     = "CREATE TABLE customers_by_key AS SELECT id, latest_by_offset(name) AS name, latest_by_offset(age) AS age FROM customers GROUP BY id EMIT CHANGES;"
)

var earliest = map[string]string{"auto.offset.reset": "earliest"}

// TestStatementShapes runs statements one request each and compares each
// answer with ksqlDB 0.28's shape, byte for byte (after re-indenting).
func TestStatementShapes(t *testing.T) {
	ts := startServer(t, t.TempDir())
	feed(t, ts.state, customer("5", "fred", 34), customer("7", "sue", 25), customer("2", "bill", 51))
	steps := []struct {
		stmt string
		code int
		want string
	}{
		{createCustomers, 200, `[{"@type":"currentStatus","statementText":"` + createCustomers + `","commandId":"stream/` + "`CUSTOMERS`" + `/create",
			"commandStatus":{"status":"SUCCESS","message":"Stream created","queryId":null},"commandSequenceNumber":0,"warnings":[]}]`},
		{createCustomers, 400, `{"@type":"statement_error","error_code":40001,"message":"Cannot add stream 'CUSTOMERS': A stream with the same name already exists",
			"statementText":"` + createCustomers + `","entities":[]}`},
		{"SHOW STREAMS;", 200, `[{"@type":"streams","statementText":"SHOW STREAMS;","streams":[{"type":"STREAM","name":"CUSTOMERS","topic":"customers.public.customers",
			"keyFormat":"KAFKA","valueFormat":"AVRO","isWindowed":false}],"warnings":[]}]`},
		{createByKey, 200, `[{"@type":"currentStatus","statementText":"` + createByKey + `","commandId":"table/` + "`CUSTOMERS_BY_KEY`" + `/create",
			"commandStatus":{"status":"SUCCESS","message":"Created query with ID CTAS_CUSTOMERS_BY_KEY_1","queryId":"CTAS_CUSTOMERS_BY_KEY_1"},"commandSequenceNumber":1,"warnings":[]}]`},
		{"SHOW TABLES;", 200, `[{"@type":"tables","statementText":"SHOW TABLES;","tables":[{"type":"TABLE","name":"CUSTOMERS_BY_KEY","topic":"CUSTOMERS_BY_KEY",
			"keyFormat":"KAFKA","valueFormat":"JSON","isWindowed":false}],"warnings":[]}]`},
		{"SHOW QUERIES;", 200, `[{"@type":"queries","statementText":"SHOW QUERIES;","queries":[{"queryString":"` + createByKey + `","sinks":["CUSTOMERS_BY_KEY"],
			"sinkKafkaTopics":["CUSTOMERS_BY_KEY"],"id":"CTAS_CUSTOMERS_BY_KEY_1","statusCount":{"RUNNING":1},"queryType":"PERSISTENT","state":"RUNNING"}],"warnings":[]}]`},
		{"DESCRIBE customers;", 200, `[{"@type":"sourceDescription","statementText":"DESCRIBE customers;","sourceDescription":{"name":"CUSTOMERS","windowType":null,
			"readQueries":[{"queryString":"` + createByKey + `","sinks":["CUSTOMERS_BY_KEY"],"sinkKafkaTopics":["CUSTOMERS_BY_KEY"],"id":"CTAS_CUSTOMERS_BY_KEY_1",
			"statusCount":{"RUNNING":1},"queryType":"PERSISTENT","state":"RUNNING"}],"writeQueries":[],
			"fields":[{"name":"ID","schema":{"type":"STRING","fields":null,"memberSchema":null},"type":"KEY"},
			{"name":"NAME","schema":{"type":"STRING","fields":null,"memberSchema":null}},{"name":"AGE","schema":{"type":"INTEGER","fields":null,"memberSchema":null}}],
			"type":"STREAM","timestamp":"","statistics":"","errorStats":"","extended":false,"keyFormat":"KAFKA","valueFormat":"AVRO","topic":"customers.public.customers",
			"partitions":1,"replication":1,"statement":"` + createCustomers + `","queryOffsetSummaries":[],"sourceConstraints":[],"clusterStatistics":[],"clusterErrorStats":[]},"warnings":[]}]`},
		{"DROP STREAM customers;", 400, `{"@type":"statement_error","error_code":40001,"message":"Cannot drop CUSTOMERS.\nThe following queries read from this source: [CTAS_CUSTOMERS_BY_KEY_1].\nThe following queries write into this source: [].\nYou need to terminate them before dropping CUSTOMERS.",
			"statementText":"DROP STREAM customers;","entities":[]}`},
		{"DROP TABLE customers;", 400, `{"@type":"statement_error","error_code":40001,"message":"Incompatible data source type is STREAM, but statement was DROP TABLE","statementText":"DROP TABLE customers;","entities":[]}`},
		{"DESCRIBE nothing;", 400, `{"@type":"statement_error","error_code":40001,"message":"Could not find STREAM/TABLE 'NOTHING' in the Metastore","statementText":"DESCRIBE nothing;","entities":[]}`},
		{"CREATE STREAM x AS SELECT * FROM nothing EMIT CHANGES;", 400, `{"@type":"statement_error","error_code":40001,"message":"NOTHING does not exist.","statementText":"CREATE STREAM x AS SELECT * FROM nothing EMIT CHANGES;","entities":[]}`},
		{"TERMINATE CSAS_NOTHING_9;", 400, `{"@type":"statement_error","error_code":40001,"message":"Unknown queryId: CSAS_NOTHING_9","statementText":"TERMINATE CSAS_NOTHING_9;","entities":[]}`},
		{"SELECT * FROM customers_by_key;", 400, `{"@type":"statement_error","error_code":40001,"message":"The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT\n(hint: POST the SELECT to /query-stream or /query; ` + "`sluice sql`" + ` does)","statementText":"SELECT * FROM customers_by_key;","entities":[]}`},
		{"CREATE STREAMS oops;", 400, `{"@type":"statement_error","error_code":40001,"message":"line 1:8: expected STREAM, TABLE, SOURCE CONNECTOR or SINK CONNECTOR after CREATE, found STREAMS (did you mean STREAM?)","statementText":"CREATE STREAMS oops;","entities":[]}`},
		{"TERMINATE CTAS_CUSTOMERS_BY_KEY_1;", 200, `[{"@type":"currentStatus","statementText":"TERMINATE CTAS_CUSTOMERS_BY_KEY_1;","commandId":"terminate/CTAS_CUSTOMERS_BY_KEY_1/execute",
			"commandStatus":{"status":"SUCCESS","message":"Query terminated.","queryId":null},"commandSequenceNumber":2,"warnings":[]}]`},
		{"SHOW QUERIES;", 200, `[{"@type":"queries","statementText":"SHOW QUERIES;","queries":[],"warnings":[]}]`},
		{"DROP TABLE customers_by_key DELETE TOPIC;", 200, `[{"@type":"currentStatus","statementText":"DROP TABLE customers_by_key DELETE TOPIC;","commandId":"table/` + "`CUSTOMERS_BY_KEY`" + `/drop",
			"commandStatus":{"status":"SUCCESS","message":"Source ` + "`CUSTOMERS_BY_KEY`" + ` (topic: CUSTOMERS_BY_KEY) was dropped.","queryId":null},"commandSequenceNumber":3,
			"warnings":[{"message":"DELETE TOPIC: sluice keeps the topic CUSTOMERS_BY_KEY (its retention deletes the records)"}]}]`},
		{"DROP TABLE IF EXISTS customers_by_key;", 200, `[]`},
		{"SHOW TABLES;", 200, `[{"@type":"tables","statementText":"SHOW TABLES;","tables":[],"warnings":[]}]`},
		{"SHOW PROPERTIES;", 200, `[{"@type":"properties","statementText":"SHOW PROPERTIES;","properties":[{"name":"auto.offset.reset","scope":"KSQL","value":"earliest"}],
			"overwrittenProperties":["auto.offset.reset"],"defaultProperties":[],"warnings":[]}]`},
		{"SHOW FUNCTIONS;", 400, `{"@type":"statement_error","error_code":40001,"message":"SHOW FUNCTIONS is not supported by sluice (hint: SHOW STREAMS, TABLES, QUERIES, CONNECTORS, TOPICS or PROPERTIES)","statementText":"SHOW FUNCTIONS;","entities":[]}`},
	}
	for _, s := range steps {
		// Byte for byte: the fields in ksqlDB's order.
		code, body := ts.ksql(t, s.stmt, earliest)
		if want := compact(t, s.want); code != s.code || body != want {
			t.Fatalf("%s\n got %d %s\nwant %d %s", s.stmt, code, body, s.code, want)
		}
	}
}

// TestRequestErrors: bodies that are not ksqlDB requests, and a statement
// failing in the middle of a request (the entities before it are kept).
func TestRequestErrors(t *testing.T) {
	ts := startServer(t, t.TempDir())
	for _, c := range []struct{ body, want string }{
		{`{"ksql": `, `{"@type":"generic_error","error_code":40000,"message":"the request body is not valid JSON at byte 9 (hint: {\"ksql\": \"SHOW STREAMS;\", \"streamsProperties\": {}})"}`},
		{`{"ksql": 5}`, `{"@type":"generic_error","error_code":40000,"message":"the request body has a number where string is expected (field \"ksql\") (hint: {\"ksql\": \"SHOW STREAMS;\", \"streamsProperties\": {}})"}`},
		{`{"ksql": " -- nothing\n"}`, `{"@type":"generic_error","error_code":40000,"message":"the request holds no statement (hint: {\"ksql\": \"SHOW STREAMS;\"})"}`},
	} {
		code, body := ts.post(t, "/ksql", c.body)
		if code != 400 || body != compact(t, c.want) {
			t.Errorf("%s: got %d %s\nwant 400 %s", c.body, code, body, c.want)
		}
	}
	code, body := ts.ksql(t, "SET 'auto.offset.reset' = 'earliest';\n"+createCustomers+"\nDROP STREAM nothing;\nSHOW STREAMS;", nil)
	want := `{"@type":"statement_error","error_code":40001,"message":"Source NOTHING does not exist.","statementText":"DROP STREAM nothing;","entities":[
		{"@type":"currentStatus","statementText":"` + createCustomers + `","commandId":"stream/` + "`CUSTOMERS`" + `/create",
		"commandStatus":{"status":"SUCCESS","message":"Stream created","queryId":null},"commandSequenceNumber":0,"warnings":[]}]}`
	if code != 400 || body != compact(t, want) {
		t.Fatalf("got %d %s\nwant 400 %s", code, body, want)
	}
	code, body = ts.ksql(t, "SET 'auto.offset.reset' = 'sometimes';", nil)
	if want := `{"@type":"statement_error","error_code":40001,"message":"'auto.offset.reset' is 'earliest' or 'latest', got 'sometimes'","statementText":"SET 'auto.offset.reset' = 'sometimes';","entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("got %d %s\nwant 400 %s", code, body, want)
	}
}

// pull runs a query through /query-stream and returns the answer's lines.
func (ts *testServer) pull(t *testing.T, sql string, props map[string]string) []string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"sql": sql, "properties": props})
	code, body := ts.post(t, "/query-stream", string(b))
	if code != 200 {
		t.Fatalf("%s: %d %s", sql, code, body)
	}
	return strings.Split(strings.TrimSuffix(body, "\n"), "\n")
}

// TestPullAndPushQueries: a pull query reads the table's changelog topic
// (the newest row per key), a push query streams a stream's rows, and
// /query answers in ksqlDB's older array shape.
func TestPullAndPushQueries(t *testing.T) {
	ts := startServer(t, t.TempDir())
	feed(t, ts.state, customer("5", "fred", 34), customer("7", "sue", 25), customer("2", "bill", 51))
	ts.mustKsql(t, createCustomers+createByKey, earliest)
	all := func() []string { return ts.pull(t, "SELECT * FROM customers_by_key;", nil) }
	waitFor(t, 30*time.Second, "three customers in the table", func() bool { return len(all()) == 4 })
	feed(t, ts.state, customer("5", "fred", 35))
	waitFor(t, 30*time.Second, "fred's new age", func() bool {
		return strings.Join(ts.pull(t, "SELECT * FROM customers_by_key WHERE id = '5';", nil), "\n") ==
			`{"queryId":"","columnNames":["ID","NAME","AGE"],"columnTypes":["STRING","STRING","INTEGER"]}`+"\n"+`["5","fred",35]`
	})
	if got, want := strings.Join(all(), "\n"), `{"queryId":"","columnNames":["ID","NAME","AGE"],"columnTypes":["STRING","STRING","INTEGER"]}
["5","fred",35]
["7","sue",25]
["2","bill",51]`; got != want {
		t.Fatalf("pull:\n%s\nwant\n%s", got, want)
	}
	if got, want := strings.Join(ts.pull(t, "SELECT name, age AS yrs FROM customers EMIT CHANGES LIMIT 2;", earliest), "\n"),
		`{"queryId":"transient_CUSTOMERS_1","columnNames":["NAME","YRS"],"columnTypes":["STRING","INTEGER"]}
["fred",34]
["sue",25]`; got != want {
		t.Fatalf("push:\n%s\nwant\n%s", got, want)
	}
	code, body := ts.post(t, "/query", `{"ksql":"SELECT * FROM customers_by_key WHERE id = '7';","streamsProperties":{}}`)
	if want := "[{\"header\":{\"queryId\":\"query_CUSTOMERS_BY_KEY\",\"schema\":\"`ID` STRING, `NAME` STRING, `AGE` INTEGER\"}},\n{\"row\":{\"columns\":[\"7\",\"sue\",25]}}]\n"; code != 200 || body != want {
		t.Fatalf("/query: %d %q\nwant %q", code, body, want)
	}
	code, body = ts.post(t, "/query-stream", `{"sql":"SELECT * FROM customers WHERE id = '5';"}`)
	if want := `{"@type":"statement_error","error_code":40001,"message":"Pull queries don't support STREAMs in sluice: CUSTOMERS is a stream (hint: add EMIT CHANGES for a push query)","statementText":"SELECT * FROM customers WHERE id = '5';","entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("got %d %s", code, body)
	}
	code, body = ts.post(t, "/query-stream", `{"sql":"SELECT id, COUNT(*) FROM customers GROUP BY id EMIT CHANGES;"}`)
	if !strings.Contains(body, selectShape) || code != 400 {
		t.Fatalf("got %d %s", code, body)
	}
}

// TestCatalogSurvivesRestart: the streams, tables and queries come back
// after a restart of the server, the query resumes from its checkpoint
// and the command sequence goes on.
func TestCatalogSurvivesRestart(t *testing.T) {
	state := t.TempDir()
	ts := startServer(t, state)
	feed(t, state, customer("5", "fred", 34))
	ts.mustKsql(t, createCustomers+createByKey, earliest)
	waitFor(t, 30*time.Second, "fred in the table", func() bool { return len(ts.pull(t, "SELECT * FROM customers_by_key;", nil)) == 2 })
	streams := ts.mustKsql(t, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;", nil)
	ts.close()

	ts = startServer(t, state)
	if got := ts.mustKsql(t, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;", nil); got != streams {
		t.Fatalf("after the restart:\n%s\nbefore:\n%s", got, streams)
	}
	feed(t, state, customer("7", "sue", 25))
	waitFor(t, 30*time.Second, "sue in the table", func() bool {
		return strings.Join(ts.pull(t, "SELECT * FROM customers_by_key;", nil)[1:], "\n") == "[\"5\",\"fred\",34]\n[\"7\",\"sue\",25]"
	})
	body := ts.mustKsql(t, "CREATE STREAM older AS SELECT * FROM customers WHERE age > 30 EMIT CHANGES;", earliest)
	if !strings.Contains(body, `"queryId":"CSAS_OLDER_2"`) {
		t.Fatalf("the command sequence did not go on: %s", body)
	}
}

// TestDeclaredColumns: a stream declared with its columns is planned at
// once, so the planner checks the query over it when it comes: a query
// writing a stream of its own is accepted, an unknown column is the
// planner's error.
func TestDeclaredColumns(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ts.mustKsql(t, "CREATE STREAM s (id STRING KEY, v INT) WITH (kafka_topic = 's', value_format = 'json');", nil)
	body := ts.mustKsql(t, "CREATE STREAM t AS SELECT id, v * 2 AS w FROM s EMIT CHANGES;", nil)
	if !strings.Contains(body, `"queryId":"CSAS_T_1"`) {
		t.Fatalf("got %s", body)
	}
	code, body := ts.ksql(t, "CREATE STREAM u AS SELECT id, nope FROM s EMIT CHANGES;", nil)
	if want := `{"@type":"statement_error","error_code":40001,"message":"unknown column NOPE; the columns of S are ID, V","statementText":"CREATE STREAM u AS SELECT id, nope FROM s EMIT CHANGES;","entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("got %d %s\nwant %s", code, body, want)
	}
}

// TestTerminatedStaysTerminated: a query terminated before a restart does
// not run again when the command log is replayed (it would write its
// results into the topic a second time).
func TestTerminatedStaysTerminated(t *testing.T) {
	state := t.TempDir()
	ts := startServer(t, state)
	feed(t, state, customer("5", "fred", 34), customer("7", "sue", 25))
	ts.mustKsql(t, createCustomers+createByKey, earliest)
	waitFor(t, 30*time.Second, "two customers in the table", func() bool { return len(ts.pull(t, "SELECT * FROM customers_by_key;", nil)) == 3 })
	ts.mustKsql(t, "TERMINATE CTAS_CUSTOMERS_BY_KEY_1;", nil)
	ts.close()
	ts = startServer(t, state)
	if got := ts.mustKsql(t, "SHOW QUERIES;", nil); got != `[{"@type":"queries","statementText":"SHOW QUERIES;","queries":[],"warnings":[]}]`+"\n" {
		t.Fatalf("after the restart: %s", got)
	}
	for _, st := range ts.sup.Statuses() {
		t.Fatalf("pipeline %s runs after the restart", st.Name)
	}
	if strings.Contains(ts.logs.String(), "ksql-CTAS_CUSTOMERS_BY_KEY_1") {
		t.Fatalf("the terminated query ran again:\n%s", ts.logs.String())
	}
}

// TestPushFollows: a push query from the topic's end (ksqlDB's default
// auto.offset.reset=latest) gets the header at once, then the rows that
// arrive after it, as they arrive.
func TestPushFollows(t *testing.T) {
	ts := startServer(t, t.TempDir())
	feed(t, ts.state, customer("5", "fred", 34))
	ts.mustKsql(t, createCustomers, nil)
	resp, err := http.Post(ts.url+"/query-stream", "application/json", strings.NewReader(`{"sql":"SELECT * FROM customers WHERE age = 25 EMIT CHANGES LIMIT 1;"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	head, err := rd.ReadString('\n')
	if want := `{"queryId":"transient_CUSTOMERS_1","columnNames":["ID","NAME","AGE"],"columnTypes":["STRING","STRING","INTEGER"]}` + "\n"; err != nil || head != want {
		t.Fatalf("header %q %v, want %q", head, err, want)
	}
	feed(t, ts.state, customer("2", "bill", 51), customer("7", "sue", 25), customer("9", "victor", 25))
	rest, err := io.ReadAll(rd)
	if err != nil || string(rest) != `["7","sue",25]`+"\n" {
		t.Fatalf("rows %q %v", rest, err)
	}
}

// TestInfo: GET /info, which ksql's CLI asks first.
func TestInfo(t *testing.T) {
	ts := startServer(t, t.TempDir())
	id, err := os.ReadFile(filepath.Join(ts.state, "cluster_id"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.url + "/info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"KsqlServerInfo":{"version":"0.28.2","kafkaClusterId":"` + strings.TrimSpace(string(id)) + `","ksqlServiceId":"default_","serverStatus":"RUNNING"}}` + "\n"; resp.StatusCode != 200 || string(b) != want {
		t.Fatalf("GET /info: %d %s, want %s", resp.StatusCode, b, want)
	}
}

// TestInsertInto: INSERT INTO a stream declared with its columns is a
// query of its own (INSERTQUERY_n) whose rows land in that stream's
// topic; INSERT INTO a query's result is refused.
func TestInsertInto(t *testing.T) {
	ts := startServer(t, t.TempDir())
	feed(t, ts.state, customer("5", "fred", 34), customer("7", "sue", 25))
	body := ts.mustKsql(t, createCustomers+
		"CREATE STREAM people (name STRING, age INT) WITH (kafka_topic = 'people', partitions = 1, value_format = 'json');"+
		"INSERT INTO people SELECT name, age FROM customers EMIT CHANGES;", earliest)
	if !strings.Contains(body, `"message":"Created query with ID INSERTQUERY_2","queryId":"INSERTQUERY_2"`) {
		t.Fatalf("got %s", body)
	}
	if got, want := strings.Join(ts.pull(t, "SELECT * FROM people EMIT CHANGES LIMIT 2;", earliest), "\n"),
		`{"queryId":"transient_PEOPLE_1","columnNames":["NAME","AGE"],"columnTypes":["STRING","INTEGER"]}
["fred",34]
["sue",25]`; got != want {
		t.Fatalf("push:\n%s\nwant\n%s", got, want)
	}
	ts.mustKsql(t, "CREATE STREAM older AS SELECT * FROM customers WHERE age > 30 EMIT CHANGES;", earliest)
	code, body := ts.ksql(t, "INSERT INTO older SELECT * FROM customers EMIT CHANGES;", nil)
	if want := `{"@type":"statement_error","error_code":40001,"message":"sluice runs INSERT INTO into a stream declared with its columns, not into OLDER, which a query writes (hint: CREATE STREAM name (columns) WITH (kafka_topic = '…', partitions = 1), then INSERT INTO it from each query)","statementText":"INSERT INTO older SELECT * FROM customers EMIT CHANGES;","entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("got %d %s", code, body)
	}
}
