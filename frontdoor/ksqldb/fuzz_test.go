package ksqldb

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// FuzzKsqlStatements posts arbitrary statement text, followed by a
// connector statement holding a canary password, to POST /ksql: the
// server must neither panic nor answer a 5xx, every answer is JSON, and
// the password appears in no answer and no log line.
func FuzzKsqlStatements(f *testing.F) {
	seed, _ := os.ReadFile("../../examples/seed004-ksql.sql")
	for _, s := range []string{
		string(seed), createCustomers, createByKey, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES; SHOW TOPICS; SHOW CONNECTORS;",
		"DESCRIBE customers EXTENDED;", "DROP STREAM IF EXISTS x DELETE TOPIC;", "TERMINATE ALL;", "SET 'a' = 'b'; UNSET 'a';",
		"CREATE STREAM s (id STRING KEY, v INT) WITH (kafka_topic = 's', partitions = 1, value_format = 'json');",
		"INSERT INTO s SELECT * FROM s EMIT CHANGES;", "SELECT * FROM s EMIT CHANGES;", "'", "/* ", "-- ;", "CREATE SOURCE CONNECTOR 'x'",
		"CREATE SINK CONNECTOR s WITH ('connector.class' = 'io.confluent.connect.elasticsearch.ElasticsearchSinkConnector', 'connection.password' = 'x');",
	} {
		f.Add(s)
	}
	ts := startServer(f, f.TempDir())
	tail := "\nCREATE SOURCE CONNECTOR fuzz_c WITH ('connector.class' = 'io.debezium.connector.postgresql.PostgresConnector', 'database.hostname' = '127.0.0.1', 'database.port' = '1', 'database.user' = 'u', 'database.password' = '" + canary + "', 'database.dbname' = 'd', 'topic.prefix' = 'fz');"
	f.Fuzz(func(t *testing.T, stmts string) {
		stmts = strings.ReplaceAll(stmts, canary, "")
		b, _ := json.Marshal(map[string]any{"ksql": stmts + tail})
		resp, err := http.Post(ts.url+"/ksql", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		var body json.RawMessage
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%q: %d %s", stmts, resp.StatusCode, body)
		}
		if derr != nil {
			t.Fatalf("%q: the answer is not JSON: %v", stmts, derr)
		}
		if strings.Contains(string(body), canary) {
			t.Fatalf("%q: the password is in the answer: %s", stmts, body)
		}
		if strings.Contains(ts.logs.String(), canary) {
			t.Fatalf("%q: the password is in the log", stmts)
		}
		// Leave no connector behind: the next input creates it again.
		req, _ := http.NewRequest("DELETE", ts.url+"/connectors/FUZZ_C", nil)
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
		}
	})
}
