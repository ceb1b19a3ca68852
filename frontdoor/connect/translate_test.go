package connect

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

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
		{pgWith(`"transforms":"t","transforms.t.type":"org.apache.kafka.connect.transforms.TimestampConverter$Key","transforms.t.field":"ts","transforms.t.target.type":"Timestamp"`),
			"transforms.t.type: the transform org.apache.kafka.connect.transforms.TimestampConverter$Key is not supported by sluice (hint: key columns cannot be converted through sluice serve)"},
		{pgWith(`"transforms":"t","transforms.t.type":"org.apache.kafka.connect.transforms.TimestampConverter$Value","transforms.t.target.type":"Timestamp"`),
			"transforms.t.field: converting the whole record value is not supported (hint: name the column in field)"},
		{pgWith(`"transforms":"t","transforms.t.type":"org.apache.kafka.connect.transforms.TimestampConverter$Value","transforms.t.field":"ts","transforms.t.target.type":"Instant"`),
			"transforms.t.target.type: Unknown timestamp type in TimestampConverter: Instant. Valid values are string, unix, Date, Time, Timestamp."},
		{pgWith(`"transforms":"t","transforms.t.type":"org.apache.kafka.connect.transforms.TimestampConverter$Value","transforms.t.field":"ts","transforms.t.target.type":"string","transforms.t.format":"yyyy-MM-dd G"`),
			`transforms.t.format: pattern "yyyy-MM-dd G": G is not supported (hint: the letters y M d H h m s S a E Z X z and 'quoted text')`},
		{pgWith(`"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.route.by.field":"x"`),
			"transforms.u.route.by.field: routing by a field's value is not supported (hint: RegexRouter)"},
		{pgWith(`"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.colour":"red"`),
			"transforms.u.colour: the option colour of io.debezium.transforms.ExtractNewRecordState is not supported by sluice (hint: remove it)"},
		{pgWith(`"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.handling.mode":"keep"`),
			"transforms.u.delete.handling.mode: Invalid value keep for configuration delete.handling.mode: Value must be one of drop, rewrite, none"},
		{pgWith(`"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.tombstone.handling.mode":"keep"`),
			"transforms.u.delete.tombstone.handling.mode: Invalid value keep for configuration delete.tombstone.handling.mode: Value must be one of drop, tombstone, rewrite, rewrite-with-tombstone"},
		{pgWith(`"transforms":"u","transforms.v.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.type":"RegexRouter","transforms.u.regex":"(.*)","transforms.u.replacement":"x$1"`),
			`transforms.v.type: the transform "v" is not listed in transforms (hint: add it to transforms, or remove its keys)`},
		{pgWith(`"transforms":"f","transforms.f.type":"org.apache.kafka.connect.transforms.Filter"`),
			"transforms.f.predicate: a Filter without a predicate drops every record (hint: give it a predicate)"},
		{pgWith(`"transforms":"f","transforms.f.type":"Filter","transforms.f.predicate":"h","predicates":"h","predicates.h.type":"org.apache.kafka.connect.transforms.predicates.HasHeaderKey","predicates.h.name":"x"`),
			"predicates.h.type: HasHeaderKey is not supported"},
		{pgWith(`"transforms":"f","transforms.f.type":"Filter","transforms.f.predicate":"nope"`),
			`transforms.f.predicate: the predicate "nope" is not defined`},
		{pgWith(`"transforms":"i","transforms.i.type":"InsertField$Value","transforms.i.offset.field":"off"`),
			"transforms.i.offset.field: offset.field is not supported: sluice's events have no Kafka offset (hint: remove it)"},
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

func pgWith(extra string) string {
	return `{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"h","database.user":"u","database.dbname":"d","database.server.name":"p",` + extra + `}`
}

// seed004Customers is seed 004's CREATE SOURCE CONNECTOR customers_reader,
// its WITH clause as JSON.
const seed004Customers = `{
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.hostname": "postgres",
    "database.port": "5432",
    "database.user": "postgres-user",
    "database.password": "postgres-pw",
    "database.dbname": "customers",
    "database.server.name": "customers",
    "table.whitelist": "public.customers",
    "transforms": "unwrap",
    "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    "transforms.unwrap.drop.tombstones": "false",
    "transforms.unwrap.delete.handling.mode": "rewrite"
}`

// TestTransformsTranslate: seed 004's unwrap becomes an unwrap processor
// between the source and the topic writer (the legacy options mapped to
// rewrite-with-tombstone, with the deprecation warned), and a chain of
// transforms keeps its order, topics named before the transforms see them.
func TestTransformsTranslate(t *testing.T) {
	env := Env{Topics: testTopics}
	p := mustLoad(t, "customers_reader", seed004Customers, env)
	if want := (Node{"type": "unwrap", "delete_handling": "rewrite_with_tombstone", "inputs": []string{"customers"}}); !reflect.DeepEqual(p.Processors["transform1"], want) {
		t.Errorf("unwrap: %#v\nwant %#v", p.Processors["transform1"], want)
	}
	if w := p.Sinks["topics"]; !reflect.DeepEqual(w["inputs"], []string{"transform1"}) || w["topic"] != "customers.${schema}.${table}" {
		t.Errorf("writer: %#v", w)
	}
	if !p.Unwrapped || !p.Flat {
		t.Errorf("Unwrapped %v Flat %v", p.Unwrapped, p.Flat)
	}
	if want := []string{"transforms.unwrap.delete.handling.mode and transforms.unwrap.drop.tombstones are deprecated (removed in Debezium 3.0): this configuration is transforms.unwrap.delete.tombstone.handling.mode=rewrite-with-tombstone"}; !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings: %q", p.Warnings)
	}

	// Legacy options against delete.tombstone.handling.mode, and
	// tombstones.on.delete=false (no tombstone to keep).
	for _, tc := range []struct{ extra, want string }{
		{``, "drop"},
		{`,"transforms.u.drop.tombstones":"false"`, "tombstone"},
		{`,"transforms.u.delete.handling.mode":"none"`, "tombstone"},
		{`,"transforms.u.delete.handling.mode":"rewrite"`, "rewrite"},
		{`,"transforms.u.delete.handling.mode":"rewrite","transforms.u.drop.tombstones":"false","tombstones.on.delete":"false"`, "rewrite"},
		{`,"transforms.u.delete.tombstone.handling.mode":"tombstone"`, "tombstone"},
		{`,"transforms.u.delete.tombstone.handling.mode":"rewrite-with-tombstone"`, "rewrite_with_tombstone"},
		{`,"transforms.u.delete.tombstone.handling.mode":"drop","transforms.u.delete.handling.mode":"rewrite"`, "drop"},
	} {
		p := mustLoad(t, "c", pgWith(`"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState"`+tc.extra), env)
		if got := p.Processors["transform1"]["delete_handling"]; got != tc.want {
			t.Errorf("%s: delete_handling %v, want %s", tc.extra, got, tc.want)
		}
	}

	p = mustLoad(t, "c", pgWith(`"transforms":"unwrap,route,drop,keep,stamp",
		"transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState","transforms.unwrap.add.fields":"op,table,source.ts_ms","transforms.unwrap.add.fields.prefix":"_",
		"transforms.route.type":"org.apache.kafka.connect.transforms.RegexRouter","transforms.route.regex":"([^.]+)\\.([^.]+)\\.([^.]+)","transforms.route.replacement":"$3",
		"transforms.drop.type":"org.apache.kafka.connect.transforms.Filter","transforms.drop.predicate":"isAudit",
		"transforms.keep.type":"org.apache.kafka.connect.transforms.ReplaceField$Value","transforms.keep.blacklist":"secret","transforms.keep.renames":"a:b",
		"transforms.stamp.type":"InsertField$Value","transforms.stamp.static.field":"origin","transforms.stamp.static.value":"pg \"1\"","transforms.stamp.topic.field":"topic",
		"predicates":"isAudit","predicates.isAudit.type":"org.apache.kafka.connect.transforms.predicates.TopicNameMatches","predicates.isAudit.pattern":"audit.*"`), env)
	want := map[string]Node{
		"topic_names": {"type": "route", "template": "p.${schema}.${table}", "inputs": []string{"p"}},
		"transform1":  {"type": "unwrap", "delete_handling": "drop", "add_fields": []string{"op", "table", "source.ts_ms"}, "add_fields_prefix": "_", "inputs": []string{"topic_names"}},
		"transform2":  {"type": "route", "regex": `([^.]+)\.([^.]+)\.([^.]+)`, "replacement": "$3", "inputs": []string{"transform1"}},
		"transform3":  {"type": "filter", "condition": `!(meta.stream matches "^(?:audit.*)$")`, "on_delete": "evaluate", "inputs": []string{"transform2"}},
		"transform4":  {"type": "map", "drop": []string{"secret"}, "rename": map[string]any{"a": "b"}, "inputs": []string{"transform3"}},
	}
	set, _ := yaml.Marshal(p.Processors["transform5"]["set"])
	if got, want := string(set), `topic: "meta.stream"`+"\n"+`origin: "\"pg \\\"1\\\"\""`+"\n"; got != want {
		t.Errorf("InsertField's set:\n%s\nwant\n%s", got, want)
	}
	delete(p.Processors["transform5"], "set")
	want["transform5"] = Node{"type": "map", "inputs": []string{"transform4"}}
	if !reflect.DeepEqual(p.Processors, want) {
		t.Errorf("chain:\n%#v\nwant\n%#v", p.Processors, want)
	}
	if w := p.Sinks["topics"]; !reflect.DeepEqual(w["inputs"], []string{"transform5"}) || w["topic"] != "${stream}" {
		t.Errorf("writer: %#v", w)
	}
}

// TestConverters: JsonConverter's settings take effect or are refused;
// other converters' settings are ignored as JsonConverter ignores them;
// StringConverter only where records are strings; registry converters are
// a 400 saying why.
func TestConverters(t *testing.T) {
	env := Env{Topics: testTopics, FilesRoot: t.TempDir()}
	p := mustLoad(t, "c", pgWith(`"key.converter":"org.apache.kafka.connect.json.JsonConverter","key.converter.schemas.enable":"false",
		"value.converter":"org.apache.kafka.connect.json.JsonConverter","value.converter.schemas.enable":false,"value.converter.replace.null.with.default":"false",
		"value.converter.schema.registry.url":"http://registry:8081","value.converter.schemas.cache.size":"100","value.converter.decimal.format":"base64"`), env)
	if w := p.Sinks["topics"]; w["format"] != "debezium" || w["replace_null_with_default"] != false {
		t.Errorf("writer: %#v", w)
	}
	// Only the value converter's schemas.enable, as configs often say: the
	// writer follows it; a key setting that differs is a warning.
	p = mustLoad(t, "c", pgWith(`"value.converter.schemas.enable":"false"`), env)
	if w := p.Sinks["topics"]; w["format"] != "debezium" || len(p.Warnings) != 0 {
		t.Errorf("writer %#v, warnings %q", w, p.Warnings)
	}
	p = mustLoad(t, "c", pgWith(`"value.converter.schemas.enable":"false","key.converter.schemas.enable":"true"`), env)
	if want := []string{"key.converter.schemas.enable=true: sluice writes keys with the value converter's schemas.enable (false)"}; !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings %q", p.Warnings)
	}
	p = mustLoad(t, "f", `{"connector.class":"FileStreamSource","file":"in.txt","topic":"lines","value.converter":"org.apache.kafka.connect.storage.StringConverter","key.converter":"org.apache.kafka.connect.storage.StringConverter"}`, env)
	if p.Type != "source" {
		t.Errorf("FileStreamSource with StringConverter: %#v", p)
	}
	for _, tc := range []struct{ body, want string }{
		{pgWith(`"value.converter":"io.confluent.connect.avro.AvroConverter","value.converter.schema.registry.url":"http://r:8081"`),
			"value.converter: io.confluent.connect.avro.AvroConverter needs a schema registry, which sluice does not talk to (hint: org.apache.kafka.connect.json.JsonConverter)"},
		{pgWith(`"key.converter":"io.confluent.connect.protobuf.ProtobufConverter"`), "key.converter: io.confluent.connect.protobuf.ProtobufConverter needs a schema registry"},
		{pgWith(`"value.converter":"org.apache.kafka.connect.storage.StringConverter"`),
			"value.converter: org.apache.kafka.connect.storage.StringConverter turns io.debezium.connector.postgresql.PostgresConnector's structured records into Struct{…} text (hint: org.apache.kafka.connect.json.JsonConverter)"},
		{pgWith(`"value.converter.decimal.format":"NUMERIC"`), "value.converter.decimal.format: only BASE64 (the default) is supported"},
		{pgWith(`"value.converter.colour":"red"`), "value.converter.colour: colour is not a setting sluice supports for org.apache.kafka.connect.json.JsonConverter (hint: remove it)"},
		{`{"connector.class":"FileStreamSink","topics":"x","file":"o","value.converter.replace.null.with.default":"false"}`,
			"value.converter.replace.null.with.default: false is not supported on sink connectors"},
	} {
		_, err := translateJSON(t, "c", tc.body, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

// TestSearchIndexNames: Confluent's Elasticsearch sink names an index
// after its topic lower-cased, without a leading - or _, cut to 255
// characters, "." and ".." as "dot" and "dotdot" (the sink lower-cases
// itself; the rest is a route per topic); Aiven's OpenSearch sink
// lower-cases only.
func TestSearchIndexNames(t *testing.T) {
	for topic, want := range map[string]string{"Orders": "orders", "_Audit": "audit", "-x": "x", ".": "dot", "..": "dotdot", strings.Repeat("A", 300): strings.Repeat("a", 255), "__x": "_x"} {
		if got := confluentIndexName(topic); got != want {
			t.Errorf("%q: %q, want %q", topic, got, want)
		}
	}
	env := Env{Topics: testTopics}
	p := mustLoad(t, "es", `{"connector.class":"ElasticsearchSinkConnector","connection.url":"http://es:9200","topics":"Orders,_Audit,a$b"}`, env)
	want := map[string]Node{"index_name2": {"type": "route", "inputs": []string{"topics"}, "regex": "_Audit", "replacement": "audit"}}
	if !reflect.DeepEqual(p.Processors, want) || !reflect.DeepEqual(p.Sinks["sink"]["inputs"], []string{"index_name2"}) {
		t.Errorf("routes %#v, sink inputs %v", p.Processors, p.Sinks["sink"]["inputs"])
	}
	// Transforms come first: Connect names the index after the
	// transformed topic.
	p = mustLoad(t, "es", `{"connector.class":"ElasticsearchSinkConnector","connection.url":"http://es:9200","topics":"_Audit","transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState"}`, env)
	if !reflect.DeepEqual(p.Processors["index_name1"]["inputs"], []string{"transform1"}) || !reflect.DeepEqual(p.Processors["transform1"]["inputs"], []string{"topics"}) || !reflect.DeepEqual(p.Sinks["sink"]["inputs"], []string{"index_name1"}) {
		t.Errorf("chain: %#v, sink inputs %v", p.Processors, p.Sinks["sink"]["inputs"])
	}
	p = mustLoad(t, "os", `{"connector.class":"OpensearchSinkConnector","connection.url":"http://os:9200","topics":"Orders,_Audit"}`, env)
	if len(p.Processors) != 0 {
		t.Errorf("OpenSearch routes: %#v", p.Processors)
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

// TestDebeziumSignalKeys: Debezium's signal.data.collection becomes the
// postgres source's signal_data_collection; a signal channel sluice does
// not read is a warning.
func TestDebeziumSignalKeys(t *testing.T) {
	body := strings.Replace(seed001Debezium, `"database.server.name": "fulfillment"`,
		`"database.server.name": "fulfillment", "signal.data.collection": "public.debezium_signal", "signal.enabled.channels": "source,kafka"`, 1)
	p := mustLoad(t, "signals", body, Env{Topics: testTopics})
	if got := p.Sources["fulfillment"]["signal_data_collection"]; got != "public.debezium_signal" {
		t.Errorf("signal_data_collection = %v", got)
	}
	want := []string{`signal.enabled.channels: channel "kafka" is not read; signals come from the signal table (source) and from sluice snapshot / POST /pipelines/{name}/snapshot`}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings %q, want %q", p.Warnings, want)
	}
}

// TestDebeziumMySQLSignalKeys: the MySQL connector's signal table too.
func TestDebeziumMySQLSignalKeys(t *testing.T) {
	p := mustLoad(t, "mysignals", `{"connector.class": "io.debezium.connector.mysql.MySqlConnector", "database.hostname": "db",
		"database.user": "u", "topic.prefix": "shop", "database.include.list": "inventory",
		"signal.data.collection": "inventory.debezium_signal"}`, Env{Topics: testTopics})
	if got := p.Sources["shop"]["signal_data_collection"]; got != "inventory.debezium_signal" {
		t.Errorf("signal_data_collection = %v (sources %v)", got, p.Sources)
	}
}
