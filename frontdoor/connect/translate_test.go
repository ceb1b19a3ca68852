package connect

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

// The seeds' request bodies, verbatim (seed 001: the Debezium connector;
// seed 003: the JDBC source, the JDBC sink and the S3 sink).
const (
	seed001Debezium = `{
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.hostname": "product_db",
    "database.port": "5432",
    "database.user": "postgres",
    "database.password": "secret",
    "database.dbname" : "product_db",
    "database.server.name": "fulfillment"
  }`
	seed003Source = `{
            "connector.class":"io.confluent.connect.jdbc.JdbcSourceConnector",
            "connection.url":"jdbc:postgresql://postgres:5432/TEST",
            "connection.user":"TEST",
            "connection.password":"password",
            "poll.interval.ms":"1000",
            "mode":"incrementing",
            "incrementing.column.name":"index",
            "topic.prefix":"P_",
            "table.whitelist":"USERS",
            "validate.non.null":"false"
        }`
	seed003MySQL = `{
               "connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector",
               "tasks.max":1,
               "topics":"P_USERS",
           "insert.mode":"insert",
               "connection.url":"jdbc:mysql://mysql:3306/TEST",
               "connection.user":"TEST",
               "connection.password":"password",
               "auto.create":true
         }`
	seed003S3 = `
{
    "connector.class": "io.confluent.connect.s3.S3SinkConnector",
    "s3.region": "ap-southeast-1",
    "s3.bucket.name": "bucket-name",
    "topics": "P_USERS",
    "flush.size": "5",
    "timezone": "UTC",
    "tasks.max": "1",
    "value.converter.value.subject.name.strategy": "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "locale": "US",
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "internal.value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "rotate.schedule.interval.ms": "6000"
}`
)

var testTopics = KafkaTopics{Brokers: []string{"127.0.0.1:9092"}}

func translateJSON(t *testing.T, name, body string, env Env) (*Plan, error) {
	t.Helper()
	cfg, err := ParseConfig(json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	cfg["name"] = name
	return Translate(name, cfg, env)
}

// mustLoad translates and loads the plan as the server does.
func mustLoad(t *testing.T, name, body string, env Env) *Plan {
	t.Helper()
	p, err := translateJSON(t, name, body, env)
	if err != nil {
		t.Fatalf("translate %s: %v", name, err)
	}
	if _, err := config.LoadValue("connector "+name, p.Doc(pipelineName(name), t.TempDir()), registry.Default()); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

func TestSeedBodiesTranslate(t *testing.T) {
	env := Env{Topics: testTopics, FlatTopic: func(topic string) bool { return topic == "P_USERS" }}
	p := mustLoad(t, "connector-debezium-product-001", seed001Debezium, env)
	want := Node{"type": "postgres", "dsn": "postgres://postgres:secret@product_db:5432/product_db", "tables": []string{"*.*"}}
	if p.Type != "source" || !reflect.DeepEqual(p.Sources["fulfillment"], want) {
		t.Errorf("seed 001: %s %#v, want source %#v", p.Type, p.Sources, want)
	}
	if w := p.Sinks["topics"]; w["topic"] != "fulfillment.${schema}.${table}" || w["format"] != "debezium+schema" || !reflect.DeepEqual(w["inputs"], []string{"fulfillment"}) {
		t.Errorf("seed 001 writer: %#v", w)
	}

	p = mustLoad(t, "SOURCE_POSTGRES", seed003Source, env)
	want = Node{"type": "sql_poll", "driver": "postgres", "dsn": "postgres://TEST:password@postgres:5432/TEST", "mode": "incrementing",
		"incrementing_column": "index", "tables": []string{"USERS"}, "poll_interval": "1s"}
	if !reflect.DeepEqual(p.Sources["source"], want) || p.Topic != "P_${table}" || !p.Flat {
		t.Errorf("seed 003 source: %#v topic %q", p.Sources["source"], p.Topic)
	}

	p = mustLoad(t, "SINK_MYSQL", seed003MySQL, env)
	want = Node{"type": "mysql", "dsn": "TEST:password@tcp(mysql:3306)/TEST", "inputs": []string{"topics"}, "mode": "insert", "table": "${stream}", "delete_mode": "none", "auto_create": true}
	if p.Type != "sink" || !reflect.DeepEqual(p.Sinks["sink"], want) {
		t.Errorf("seed 003 mysql sink: %#v\nwant %#v", p.Sinks["sink"], want)
	}
	if r := p.Sources["topics"]; !reflect.DeepEqual(r["topics"], []string{"P_USERS"}) || r["group_id"] != "connect-SINK_MYSQL" || r["start_offset"] != "earliest" {
		t.Errorf("seed 003 reader: %#v", r)
	}

	p = mustLoad(t, "SINK_S3", seed003S3, env)
	want = Node{"type": "s3", "inputs": []string{"topics"}, "bucket": "bucket-name", "region": "ap-southeast-1", "prefix": "topics",
		"partition": "${stream}/partition=0", "flush_size": int64(5), "rotate_schedule_interval": "6s", "format": "row"}
	if !reflect.DeepEqual(p.Sinks["sink"], want) {
		t.Errorf("seed 003 s3 sink: %#v\nwant %#v", p.Sinks["sink"], want)
	}
}

func TestTranslateErrors(t *testing.T) {
	env := Env{Topics: testTopics}
	for _, tc := range []struct{ body, want string }{
		{`{"connector.class":"FileStreamSink","topics":"x","file":"o"}`, "file: this server has no directory for FileStream files"},
		{`{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"x","connection.url":"jdbc:mysql://h/db","colour":"red"}`,
			"colour: sluice does not support this key for io.confluent.connect.jdbc.JdbcSinkConnector"},
		{`{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"x","connection.url":"jdbc:mysql://h/db","value.converter":"io.confluent.connect.avro.AvroConverter"}`,
			"value.converter: io.confluent.connect.avro.AvroConverter needs a schema registry"},
		{`{"connector.class":"FileStreamSink","file":"o"}`, "topics: Must configure one of topics or topics.regex"},
		{`{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"h","database.user":"u","database.dbname":"d","database.server.name":"p","table.include.list":"public\\.(a|b)"}`,
			`table.include.list: the pattern "public\\.(a|b)" uses regular expression syntax`},
		{`{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"h","database.user":"u","database.dbname":"d","database.server.name":"p","transforms":"unwrap","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"}`,
			"transforms: single message transforms are not translated yet"},
	} {
		_, err := translateJSON(t, "c", tc.body, env)
		var ce ConfigError
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.body, err, tc.want)
		} else if !asConfigError(err, &ce) {
			t.Errorf("%s: %T is not a ConfigError", tc.body, err)
		}
	}
	if _, err := translateJSON(t, "c", `{"connector.class":"com.example.Nope"}`, env); err == nil || !strings.HasPrefix(err.Error(), "Failed to find any class that implements Connector and which name matches com.example.Nope") {
		t.Errorf("unknown class: %v", err)
	}
}

func asConfigError(err error, ce *ConfigError) bool {
	c, ok := err.(ConfigError)
	*ce = c
	return ok
}

func TestParseConfigValues(t *testing.T) {
	cfg, err := ParseConfig(json.RawMessage(`{"a":1,"b":true,"c":"x","d":1.50}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{"a": "1", "b": "true", "c": "x", "d": "1.50"}); !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %v, want %v", cfg, want)
	}
	for _, bad := range []string{`{"a":null}`, `{"a":{}}`, `{"a":[1]}`, `[]`, `null`} {
		if _, err := ParseConfig(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
