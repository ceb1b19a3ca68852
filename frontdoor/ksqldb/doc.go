// Package ksqldb is ksqlDB's statement API in `sluice serve`: POST /ksql
// runs statements (seed 004's script, as ksql's CLI sends it), POST
// /query-stream and /query run pull and push queries, GET /info answers
// ksql's CLI, all with ksqlDB 0.28's
// request and response shapes (ksqldb-rest-model's entities: @type
// currentStatus, streams, tables, queries, kafka_topics, properties,
// sourceDescription, connector_info, drop_connector, connector_list,
// warning_entity; errors statement_error / generic_error with ksqlDB's
// error codes). `sluice sql` is its client.
//
// # Streams and tables are topics; queries are pipelines
//
// A stream or table is a topic of the server's topics (the topic log, or
// Kafka with --kafka): CREATE STREAM|TABLE declares one over a topic a
// source connector writes (kafka_topic = 'customers.public.customers').
// Each persistent query (CREATE STREAM|TABLE … AS SELECT, INSERT INTO) is
// one pipeline of the supervisor, named ksql-<query id>, its state in
// <state>/ksql/queries/<pipeline>:
//
//	topics reader (its declared topics) → sql processor → topic writer (its relation's topic)
//
// The sql processor (processor/streamsql) runs the query's closure: the
// declarations of the relations it reads and, for a relation another
// query writes, that query and its own closure, recursively, over the
// same source topics. So a query reading another's result recomputes it
// rather than reading it back from its topic: the result is the same and
// no schema makes a round trip through a topic; the cost is the upstream
// work done once per reading query. Declared streams without a column
// list take their columns from their topic's records (as ksqlDB takes
// them from the schema registry); a query waits for the first record of
// each. auto.offset.reset (SET, or the request's streamsProperties;
// ksqlDB's default latest) is where the reader starts a topic it has no
// checkpoint for. A stream-table join holds its stream side until the
// table's inputs finished their snapshot (hold_until_snapshot), so a
// query started over existing topics joins every row.
//
// # The catalogue is a command log
//
// Every statement that changes the catalogue (CREATE, INSERT, DROP,
// TERMINATE) is appended, with the properties it ran with, to
// <state>/ksql/commands.json (written to a temporary file, fsynced,
// renamed, the directory fsynced) before it answers; Open replays the log
// in order, as ksqlDB replays its command topic, then starts the queries
// still alive, each resuming from its checkpoint. Query IDs are ksqlDB's:
// CSAS_<NAME>_<n>, CTAS_<NAME>_<n>, INSERTQUERY_<n>, n counting the
// logged statements before it (seed 004's are CTAS_CUSTOMERS_BY_KEY_3,
// CSAS_ENRICHED_ORDERS_4, CSAS_SHIPPED_ORDERS_5). Statements are applied
// one at a time (Server.mu). A statement that fails changes nothing.
//
// # Connectors
//
// CREATE SOURCE|SINK CONNECTOR, DROP CONNECTOR and SHOW CONNECTORS call
// the Kafka Connect API (package frontdoor/connect) in process: the same
// translation, store and pipelines as PUT /connectors/NAME/config, so a
// connector made one way is seen the other way. Connector names are SQL
// identifiers (CUSTOMERS_READER unless quoted), as in ksqlDB.
//
// # Pull and push queries
//
// sluice runs SELECT [*|columns] FROM one relation [WHERE column =
// literal [AND …]] [EMIT CHANGES] [LIMIT n] outside a pipeline, reading
// the relation's topic of the topic log: a pull query (a table, no EMIT)
// reads the table's changelog topic to its end and answers the newest row
// of each key; a push query (EMIT CHANGES) follows the topic from its end
// (or its start with auto.offset.reset=earliest) until the client goes or
// LIMIT rows went out. Anything else (joins, aggregations) is a 400 that
// says to make it a persistent query. /query-stream answers ksqlDB's
// delimited format (a header object, then one JSON array per row, a line
// each), /query ksqlDB's older JSON array.
//
// # Secrets
//
// Every statementText of an answer has the values of secret properties
// ('database.password' = '…', frontdoor/connect's IsSecretKey) replaced by
// the mask; connector configurations come back masked by the Connect API.
// Connector statements are not in the command log (the Connect API stores
// the connectors). FuzzKsqlStatements holds the handler to it: no panic,
// no 5xx, JSON answers, a canary password in no answer or log line.
package ksqldb
