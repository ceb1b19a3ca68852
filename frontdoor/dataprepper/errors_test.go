package dataprepper

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

// base is a minimal pipeline; each case replaces one line.
const base = `p:
  source:
    mongodb:
      host: "localhost"
      authentication:
        username: "u"
        password: "s3cret-canary"
      collections:
        - collection: "demo.c"
  sink:
    - opensearch:
        hosts: ["http://localhost:9200"]
        index: "idx"
`

// TestErrors: every key that is not translated is an error with file:line
// and a hint; the texts are exact.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"processor", "  sink:", "  processor:\n    - grok: {}\n  sink:",
			"p.yaml:11: p.processor[0].grok: processor grok is not translated (hint: sluice translates add_entries, delete_entries, rename_keys, copy_values, drop_events, lowercase_string, uppercase_string, trim_string, substitute_string, date; for others write sluice's processors (filter, map, route, sql) in the pipeline `sluice validate --explain` prints (docs/pipeline.md))"},
		{"processor option", "  sink:", "  processor:\n    - delete_entries:\n        with_keys: [a]\n        delete_when: '/a == 1'\n  sink:",
			"p.yaml:13: p.processor[0].delete_entries.delete_when: is not translated (hint: a condition on each event is not translated for this processor: split the events with a drop_events or a route first, or write a sluice filter and map in the translated pipeline)"},
		{"add_when", "  sink:", "  processor:\n    - add_entries:\n        entries:\n          - {key: a, value: 1, add_when: '/b == 2'}\n  sink:",
			"p.yaml:13: p.processor[0].add_entries.entries[0].add_when: is not translated (hint: a condition on each event is not translated for this processor: split the events with a drop_events or a route first, or write a sluice filter and map in the translated pipeline)"},
		{"value_expression", "  sink:", "  processor:\n    - add_entries:\n        entries:\n          - key: a\n            value_expression: 'length(/b)'\n  sink:",
			"p.yaml:14: p.processor[0].add_entries.entries[0].value_expression: is not translated (hint: write value (a constant) or format (\"${/a}-${/b}\"))"},
		{"nested key", "  sink:", "  processor:\n    - delete_entries:\n        with_keys: [/a/b]\n  sink:",
			"p.yaml:12: p.processor[0].delete_entries.with_keys[0]: key \"/a/b\" is not translated: sluice translates top-level keys (hint: a MongoDB document's nested fields are one column holding JSON; reshape them in a sluice map (docs/pipeline.md))"},
		{"delete _id", "  sink:", "  processor:\n    - delete_entries:\n        with_keys: [_id]\n  sink:",
			"p.yaml:12: p.processor[0].delete_entries.with_keys[0]: _id cannot be deleted: sluice's MongoDB rows are keyed by it, and the sink's document id and deletes need it (hint: remove it from with_keys; the opensearch sink writes _id as the document id, not as a field)"},
		{"drop_when function", "  sink:", "  processor:\n    - drop_events:\n        drop_when: 'length(/a) > 3'\n  sink:",
			"p.yaml:12: p.processor[0].drop_events.drop_when: condition \"length(/a) > 3\": function length() is not translated (hint: sluice translates /key, strings, numbers, true, false, null, == != < <= > >= =~ !~, and, or, not and parentheses; write other conditions as a sluice filter (docs/pipeline.md))"},
		{"drop_when set", "  sink:", "  processor:\n    - drop_events:\n        drop_when: '/a in {1, 2}'\n  sink:",
			"p.yaml:12: p.processor[0].drop_events.drop_when: condition \"/a in {1, 2}\": set membership (in {…}) is not translated (hint: sluice translates /key, strings, numbers, true, false, null, == != < <= > >= =~ !~, and, or, not and parentheses; write other conditions as a sluice filter (docs/pipeline.md))"},
		{"drop_when lookahead", "  sink:", "  processor:\n    - drop_events:\n        drop_when: '/a =~ \"x(?=y)\"'\n  sink:",
			"p.yaml:12: p.processor[0].drop_events.drop_when: condition \"/a =~ \\\"x(?=y)\\\"\": the regular expression \"x(?=y)\" is not translated (RE2 syntax: no lookaround or backreferences): error parsing regexp: invalid or unsupported Perl syntax: `(?=` (hint: sluice translates /key, strings, numbers, true, false, null, == != < <= > >= =~ !~, and, or, not and parentheses; write other conditions as a sluice filter (docs/pipeline.md))"},
		{"route undefined", "        index: \"idx\"", "        index: \"idx\"\n        routes: [nope]",
			"p.yaml:14: p.sink[0].opensearch.routes[0]: route \"nope\" is not defined (hint: define it in the pipeline's route list)"},
		{"route condition", "  sink:", "  route:\n    - a: 'hasTags(\"x\")'\n  sink:",
			"p.yaml:11: p.route[0].a: condition \"hasTags(\\\"x\\\")\": function hasTags() is not translated (hint: sluice translates /key, strings, numbers, true, false, null, == != < <= > >= =~ !~, and, or, not and parentheses; write other conditions as a sluice filter (docs/pipeline.md))"},
		{"unknown processor key", "  sink:", "  processor:\n    - rename_keys:\n        entries: [{from_key: a, to_key: b}]\n        transform_key: lowercase\n  sink:",
			"p.yaml:13: p.processor[0].rename_keys.transform_key: is not translated (hint: name each key in entries)"},
		{"source plugin", "    mongodb:", "    dynamodb:",
			"p.yaml:3: p.source.dynamodb: source plugin dynamodb is not translated (hint: Data Prepper files translate mongodb and documentdb sources; for other sources write a sluice pipeline (sluice help types))"},
		{"sink plugin", "    - opensearch:", "    - stdout:\n    - opensearch:",
			"p.yaml:11: p.sink[0].stdout: sink plugin stdout is not translated (hint: Data Prepper files translate opensearch sinks; for other sinks write a sluice pipeline (sluice help types))"},
		{"unknown source key", `      host: "localhost"`, "      host: \"localhost\"\n      hots: x",
			"p.yaml:5: p.source.mongodb.hots: unknown key (hint: valid keys: host, port, authentication, collections, acknowledgments, insecure, ssl_insecure_disable_verification, s3_bucket, s3_region, s3_prefix, aws, direct_connection, read_preference, partition_acknowledgment_timeout, disable_s3_read_for_leader)"},
		{"trust store", `      host: "localhost"`, "      host: \"localhost\"\n      trust_store_file_path: /x.jks",
			"p.yaml:5: p.source.mongodb.trust_store_file_path: is not translated (hint: sluice's mongodb source verifies TLS against the system's CA certificates; install the CA (for DocumentDB, global-bundle.pem) there, or set ssl_insecure_disable_verification: true for a test server)"},
		{"aws secret password", `        password: "s3cret-canary"`, `        password: "${{aws_secrets:secret:password}}"`,
			"p.yaml:7: p.source.mongodb.authentication.password: holds a Data Prepper secret reference (${{...}}); sluice reads secrets from the environment (hint: write ${VAR} and export VAR)"},
		{"aws secret user", `        username: "u"`, `        username: "${{aws_secrets:secret:username}}"`,
			"p.yaml:6: p.source.mongodb.authentication.username: ${{aws_secrets:secret:username}} is a Data Prepper secret reference; sluice reads secrets from the environment (hint: write ${VAR} and export VAR)"},
		{"bad bool", `        - collection: "demo.c"`, "        - collection: \"demo.c\"\n          stream: maybe",
			"p.yaml:10: p.source.mongodb.collections[0].stream: must be true or false"},
		{"read preference", `      host: "localhost"`, "      host: \"localhost\"\n      read_preference: secondary",
			"p.yaml:5: p.source.mongodb.read_preference: read preference \"secondary\" is not translated (hint: sluice reads from the primary; write primaryPreferred or primary, or remove the key)"},
		{"action literal", `        index: "idx"`, "        index: \"idx\"\n        action: \"index\"",
			"p.yaml:14: p.sink[0].opensearch.action: action \"index\" is not translated (hint: sluice derives the action from each change (index for exported documents, inserts and updates; delete for deletes), as ${getMetadata(\"opensearch_action\")} does: write that, or leave action out)"},
		{"metadata", `        index: "idx"`, `        index: "idx-${getMetadata(\"ingestion_type\")}"`,
			"p.yaml:13: p.sink[0].opensearch.index: metadata \"ingestion_type\" is not translated: sluice events carry the operation, not EXPORT/STREAM; a snapshot row and a change are written alike"},
		{"expression", `        index: "idx"`, `        index: "idx-${getMetadata(\"a\") + 1}"`,
			"p.yaml:13: p.sink[0].opensearch.index: expression ${getMetadata(\"a\") + 1} is not translated; sluice takes ${getMetadata(\"primary_key\")}, ${getMetadata(\"document_version\")}, ${getMetadata(\"mongodb_collection\")} and ${/field}"},
		{"sink key", `        index: "idx"`, "        index: \"idx\"\n        dlq: {}",
			"p.yaml:14: p.sink[0].opensearch.dlq: is not translated (hint: the translated opensearch keys: hosts, index, document_id, document_id_field, action, document_version, document_version_type, routing, routing_field, username, password, insecure, cert, flush_timeout, bulk_size)"},
		{"version type", `        index: "idx"`, "        index: \"idx\"\n        document_version_type: latest",
			"p.yaml:14: p.sink[0].opensearch.document_version_type: document_version_type \"latest\" is not translated (hint: use external, external_gte or internal)"},
		{"no index", `        index: "idx"`, "",
			"p.yaml:11: p.sink[0].opensearch.index: is required (hint: index: \"mongodb-index\" (or a template with ${getMetadata(\"mongodb_collection\")}))"},
		{"buffer", "  sink:", "  buffer:\n    kafka: {}\n  sink:",
			"p.yaml:11: p.buffer.kafka: buffer plugin is not translated (hint: sluice's buffer is bounded in memory (engine.max_inflight batches per source); remove the buffer)"},
		{"pipeline name", "p:", "1p:",
			"p.yaml:1: 1p: pipeline name \"1p\" cannot name a sluice component (hint: use letters, digits, _ and -, starting with a letter, at most 63)"},
		{"secrets config", "p:", "pipeline_configurations: {}\np:",
			"p.yaml:1: pipeline_configurations: is not translated (AWS Secrets Manager references) (hint: sluice reads secrets from the environment: write ${VAR} and export VAR)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(base, c.old, c.new, 1)
			if in == base {
				t.Fatal("the case changes nothing")
			}
			_, err := Translate("p.yaml", []byte(in), nil)
			if err == nil || err.Error() != c.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret-canary") {
				t.Fatal("the error holds the password")
			}
		})
	}
}

// TestServerConfigErrors: data-prepper-config.yaml's keys.
func TestServerConfigErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"peer_forwarder: {}\n", "dp.yaml:1: peer_forwarder: is not translated (hint: sluice reads source_coordination from data-prepper-config.yaml; remove the other keys)"},
		{"source_coordination:\n  store:\n    s3: {}\n", "dp.yaml:3: source_coordination.store.s3: coordination store s3 is not translated (hint: remove source_coordination to run on one node with sluice's embedded store)"},
		{"source_coordination:\n  partition_prefix: ../x\n  store:\n    in_memory:\n", "dp.yaml:2: source_coordination.partition_prefix: must be a name of letters, digits, _ . and - (hint: it names the pipeline's state directory)"},
	} {
		_, err := Translate("p.yaml", []byte(base), &ServerConfig{File: "dp.yaml", Data: []byte(c.in)})
		if err == nil || err.Error() != c.want {
			t.Errorf("%q:\n%v\nwant:\n%s", c.in, err, c.want)
		}
	}
}

// TestSluiceChecksPointIntoTheFile: what sluice's own component checks
// find in translated values is reported at the Data Prepper file's line.
func TestSluiceChecksPointIntoTheFile(t *testing.T) {
	in := strings.Replace(base, `"demo.c"`, `"no_database"`, 1)
	tr, err := Translate("p.yaml", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.LoadNode("p.yaml", tr.Doc, registry.Default(), noEnv)
	want := `p.yaml:9: sources.p.collections[0]: "no_database" is not db.collection (hint: write db.collection, e.g. demo.demo_collection, or db.* for every collection of a database)`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestSinkMapping: the sink keys beyond seed 000's.
func TestSinkMapping(t *testing.T) {
	in := strings.Replace(base, `        index: "idx"`, `        index: "${getMetadata(\"mongodb_collection\")}-$x"
        document_id_field: "uid"
        routing: "${/tenant}"
        document_version_type: internal
        flush_timeout: 2000
        bulk_size: 10
        insecure: true
        cert: /etc/ca.pem`, 1)
	tr, err := Translate("p.yaml", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tr.Explain("p.yaml"))
	want := `sinks:
  p-opensearch:
    type: opensearch
    inputs:
      - p
    hosts:
      - http://localhost:9200
    index: ${database}.${table}-$$$$x
    document_id: ${/uid}
    routing: ${/tenant}
    document_version_type: none
    batch:
      linger: 2000ms
    max_request_bytes: 10485760
    insecure: true
    ca_file: /etc/ca.pem
`
	if _, after, _ := strings.Cut(got, "sinks:\n"); "sinks:\n"+after != want {
		t.Fatalf("explain:\n%s\nwant the sinks:\n%s", got, want)
	}
}
