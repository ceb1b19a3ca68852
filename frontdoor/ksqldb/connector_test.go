package ksqldb

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const canary = "canary-pw-7f3a91"

var createReader = `CREATE SOURCE CONNECTOR customers_reader WITH (
    'connector.class' = 'io.debezium.connector.postgresql.PostgresConnector',
    'database.hostname' = '127.0.0.1',
    'database.port' = '1',
    'database.user' = 'postgres-user',
    'database.password' = '` + canary + `',
    'database.dbname' = 'customers',
    'database.server.name' = 'customers',
    'table.whitelist' = 'public.customers'
);`

// TestConnectorStatements: CREATE SOURCE CONNECTOR goes through the Kafka
// Connect API (the same connector GET /connectors lists), SHOW CONNECTORS
// and DROP CONNECTOR too; the password never comes back.
func TestConnectorStatements(t *testing.T) {
	ts := startServer(t, t.TempDir())
	code, body := ts.ksql(t, createReader, nil)
	masked := strings.ReplaceAll(createReader, canary, "[hidden]")
	want := `[{"@type":"connector_info","statementText":` + jsonString(masked) + `,"info":{"name":"CUSTOMERS_READER","config":{
		"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.dbname":"customers","database.hostname":"127.0.0.1",
		"database.password":"[hidden]","database.port":"1","database.server.name":"customers","database.user":"postgres-user",
		"name":"CUSTOMERS_READER","table.whitelist":"public.customers"},"tasks":[],"type":"source"},"warnings":[]}]`
	if code != 200 || body != compact(t, want) {
		t.Fatalf("got %d %s\nwant %s", code, body, want)
	}
	resp, err := http.Get(ts.url + "/connectors")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "[\"CUSTOMERS_READER\"]\n" {
		t.Fatalf("GET /connectors: %s", b)
	}
	code, body = ts.ksql(t, "SHOW CONNECTORS;", nil)
	var list []struct {
		Type       string `json:"@type"`
		Connectors []struct {
			Name, Type, ClassName, State string
		} `json:"connectors"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 || len(list) != 1 || len(list[0].Connectors) != 1 {
		t.Fatalf("SHOW CONNECTORS: %d %s", code, body)
	}
	if c := list[0].Connectors[0]; list[0].Type != "connector_list" || c.Name != "CUSTOMERS_READER" || c.Type != "SOURCE" || c.ClassName != "io.debezium.connector.postgresql.PostgresConnector" || !strings.HasPrefix(c.State, "RUNNING (") {
		t.Fatalf("SHOW CONNECTORS: %s", body)
	}
	code, body = ts.ksql(t, createReader, nil)
	if want := `{"@type":"statement_error","error_code":40001,"message":"Failed to create connector: Connector CUSTOMERS_READER already exists","statementText":` + jsonString(masked) + `,"entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("duplicate: %d %s", code, body)
	}
	code, body = ts.ksql(t, "CREATE SINK CONNECTOR w WITH ('connector.class' = 'io.confluent.connect.elasticsearch.ElasticsearchSinkConnector', 'topics' = 't', 'connection.url' = 'http://127.0.0.1:1', 'no.such.key' = 'x');", nil)
	if code != 400 || !strings.Contains(body, `"message":"Failed to create connector: `) || !strings.Contains(body, "no.such.key: sluice does not support this key") {
		t.Fatalf("bad key: %d %s", code, body)
	}
	code, body = ts.ksql(t, "DROP CONNECTOR customers_reader;", nil)
	if want := `[{"@type":"drop_connector","statementText":"DROP CONNECTOR customers_reader;","connectorName":"CUSTOMERS_READER","warnings":[]}]`; code != 200 || body != compact(t, want) {
		t.Fatalf("drop: %d %s", code, body)
	}
	code, body = ts.ksql(t, "DROP CONNECTOR customers_reader;", nil)
	if want := `{"@type":"statement_error","error_code":40001,"message":"Connector CUSTOMERS_READER does not exist.","statementText":"DROP CONNECTOR customers_reader;","entities":[]}`; code != 400 || body != compact(t, want) {
		t.Fatalf("drop again: %d %s", code, body)
	}
	if strings.Contains(ts.logs.String(), canary) {
		t.Fatalf("the password is in the log")
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
