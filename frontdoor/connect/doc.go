// Package connect is the Kafka Connect front door: it translates connector
// configurations (the JSON that `curl -X PUT …/connectors/NAME/config`
// sends) into topology graphs, and serves Kafka Connect's REST API over a
// supervisor (`sluice serve`), so the seeds' commands run unchanged
// against sluice.
//
// # Connectors are pipelines joined by topics
//
// Each connector is one pipeline in the supervisor, named after it, with
// its state in <state>/connectors/<name>/state:
//
//	source connector: database source → topic writer   (Topics.Writer)
//	sink connector:   topic reader → sink              (Topics.Reader)
//
// The topics are carried by a Topics: the server's own topic log
// (LogTopics, package internal/topiclog, types topiclog) or a Kafka
// cluster (KafkaTopics, `sluice serve --kafka`). A source connector writes
// topics named as Debezium and the JDBC source name them (prefix.schema.table;
// topic.prefix + table), in Debezium's envelope with its schema (what
// sluice's readers decode back losslessly); a sink connector reads its
// topics (topics or topics.regex) from the earliest retained offset, like
// a new consumer group with auto.offset.reset=earliest, so a sink created
// later still gets the history. The reader names each event's stream after
// its topic (stream_from_topic), as Connect's sinks know records by topic:
// a sink's ${topic} (a JDBC table, an S3 directory, an index) is the
// topic, also when it differs from the envelope's prefix.schema.table (the
// JDBC source's topic.prefix + table). Connectors fail, pause and restart
// independently. One connector is one task (id 0): tasks.max is accepted
// and has no effect.
//
// # Translation
//
// Translate maps a class's documented keys (and the legacy names the
// seeds use: database.server.name, table.whitelist, mongodb.name,
// collection.whitelist, mongodb.hosts) onto sluice's
// component keys; values may be JSON strings, numbers or booleans. A key
// that is neither translated, one of Connect's common keys, nor listed as
// accepted without effect is a 400 naming it — never silently ignored.
// Accepted without effect: tasks.max, config.action.reload, errors.log.*,
// errors.retry.*, header.converter, the removed internal.*.converter keys,
// the schema registry converters' settings under key./value.converter.
// (JsonConverter ignores them; other unknown converter settings are a
// 400), JsonConverter's schemas.cache.size, topic.creation.*, the MySQL schema history's settings
// (sluice keeps schemas in its own state), include.schema.changes (sluice
// writes no schema change topic), and per class the JDBC and search
// connectors' retry and timeout knobs (and the MongoDB connector's
// driver timeouts, which the Go driver sets itself), the S3 sink's locale
// and timezone.
// Converters: JsonConverter with schemas.enable (true or false, alike for
// keys and values: the writer's format debezium+schema or debezium),
// replace.null.with.default (the writer's replace_null_with_default) and
// decimal.format BASE64; StringConverter for the FileStream connectors
// only (their records are strings; any other connector's would be
// Struct{…} text). Avro and Protobuf converters are a 400 (no schema
// registry).
//
// # Transforms
//
// Single message transforms become processors chained, in the order of
// transforms, before a source connector's topic writer or after a sink
// connector's topic reader (transforms.go): ExtractNewRecordState and
// ExtractNewDocumentState → unwrap (processor/unwrap: deletes dropped,
// kept or rewritten with __deleted, add.fields as columns; the legacy
// delete.handling.mode and drop.tombstones map to Debezium 2.7's
// delete.tombstone.handling.mode with a warning in the log, as 2.7 reads
// them when the new key is unset), RegexRouter → route, Filter with a
// TopicNameMatches predicate → filter, Filter with RecordIsTombstone →
// no tombstones written, ReplaceField$Value (include/exclude and the old
// whitelist/blacklist, renames) and InsertField$Value (static and topic
// fields) → map. Transforms that read topic names see the streams named
// as the topics first (a route by the topic template). Any other
// transform, option or predicate is a 400 naming the key. Headers the
// transforms would add (add.headers, operation.header) are not written —
// a warning says so — as sluice's topics carry events, whose rows the
// add.fields columns already extend. Topics keep Debezium envelopes (of
// the unwrapped events) so that sluice's readers decode them losslessly;
// a consumer outside sluice on a --kafka topic sees the envelope, not the
// bare row.
//
// # REST API
//
// The shapes and status codes are Kafka Connect 3.9's, measured against a
// real worker (scripts/connect.sh, TestConnectDifferential), including its
// odd ones: a body that is not JSON and an unknown connector class are
// 500, as the worker answers them. States map from the supervisor's: a
// failed pipeline is a FAILED task (with its error as trace) of a RUNNING
// connector, as a Connect task that throws. Pause, resume and stop are
// stored as the connector's target state and survive restarts.
//
// # Persistence
//
// A connector's configuration and target state live in
// <state>/connectors/<name>/connector.json (0600, written to a temporary
// file, fsynced, renamed), read back at start, so connectors come back
// after a restart or kill -9 and resume from their checkpoints. Deleting
// a connector removes the record and keeps its checkpoints: created again
// under the same name it resumes where it was, as Kafka Connect keeps a
// deleted connector's offsets.
//
// # Secrets
//
// Secrets (password-like keys and each class's secret keys) are stored as
// given and replaced by "[hidden]" in every response; a PUT that sends
// "[hidden]" back keeps the stored value (Kafka Connect shows them in
// clear, KAFKA-5117). Error messages and traces are scrubbed of every
// secret value, raw and URL-escaped. FileStream files are confined to the
// server's --files directory (package internal/confine): no request can
// make the server read or write an arbitrary local file.
//
// # Security
//
// Handler bounds a request body to MaxBody (413 beyond). Who may call it
// is not its business: `sluice serve` serves it through httpapi.Listen,
// which keeps it on loopback unless requests are authenticated (bearer
// token, basic credentials or client certificates) or made insecure
// explicitly, and serves TLS. FuzzConnectAPI holds the handler to its
// promises on arbitrary bodies: no panic, no 5xx but the documented ones,
// no secret in any response or log line.
package connect
