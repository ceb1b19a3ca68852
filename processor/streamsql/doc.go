// Package streamsql is the sql processor: ksqlDB's statements (the 0.28
// dialect seed 004 uses) run inside a pipeline, over the change streams of
// its sources, with no Kafka and no JVM. Each persistent query's result
// (CREATE STREAM|TABLE … AS SELECT, INSERT INTO … SELECT) is a stream of
// sluice events that sinks take by its name.
//
//	sql: |                       # or sql_file: queries.sql
//	  CREATE STREAM orders WITH (kafka_topic = 'shop.public.orders');
//	  CREATE TABLE totals AS SELECT customer_id, SUM(amount) AS total
//	    FROM orders GROUP BY customer_id EMIT CHANGES;
//	sinks:
//	  search:
//	    type: opensearch
//	    inputs: [TOTALS]
//
// The top-level sql: and sql_file: keys declare a processor named sql fed
// by every source; a processor of type sql under processors: takes the
// same statements (statements:, file:) with explicit inputs and options.
// The layers are separate packages: ksql/parse (text to statements),
// ksql/plan (names, types, ksqlDB's rules, to plans), ksql/eval
// (expressions and the function library), ksql/exec (operators over the
// operator state). This package glues them to the pipeline.
//
// # Names
//
// A statement's kafka_topic names a sluice stream: a source's stream, named
// as Debezium names its topics (<source>.<schema>.<table>, so a source
// named customers gives customers.public.customers), a topic a kafka
// source reads, or another query's result. SQL names (CUSTOMERS, upper-
// cased unless quoted) live in the statements alone and never clash with
// the pipeline's component or stream names: seed 004's SQL stream
// CUSTOMERS over the source named customers is fine. A query's result is
// the stream named by its kafka_topic, else by its upper-cased relation
// name (ksqlDB's default topic name); in a sink's inputs a name selects a
// source or processor by its name first, then streams by name (exact or
// glob).
//
// # Schemas
//
// A stream or table declared with a column list has those columns. One
// declared without (the seed's CREATE STREAM customers WITH (kafka_topic =
// …)) takes its columns from the source, as ksqlDB takes them from Schema
// Registry, in the SQL types of ksql/types.FromColumn. Sources that know
// their schemas before running (the generator) are checked by `sluice
// validate`; PostgreSQL's, MySQL's and MongoDB's streams tell theirs with
// their first event. The first event's schema is kept in the operator
// state and used from then on, also after a restart, as ksqlDB fixes a
// stream's columns when it is created: a column added later is not seen,
// a column dropped reads NULL.
//
// Until every stream the statements read has told its schema, no query
// runs: ksqlDB starts its queries over registered topics, and a query
// started over part of the statements would join what came first against
// relations that do not exist yet. The inputs of the referenced streams
// are kept meanwhile, in arrival order, in the operator state (on disk,
// durable with the checkpoints: a crash loses none and repeats none), and
// run through the queries once the last schema is known. The gauge
// sluice_sql_waiting_inputs counts them; a stream that never sends a row
// keeps the queries waiting (its name is logged).
//
// # Results in sinks
//
// Results are ordinary events: typed columns (MAP and STRUCT as JSON
// text), the result's key as the event key (seed 004: O_ORDER_ID, the
// search document's id), ops c (a stream's row), u (a table's upsert), d
// (a table's tombstone). A result's version is the processor's epoch —
// one more at every start, kept in <state_dir>/processors/<name>/epoch —
// in the high bits and the run's output count in the low 40, so a result
// computed again after a crash always replaces the one written before it
// in an externally versioned index (as Kafka Connect's Elasticsearch sink
// versions by the topic offset). Results have no Seq: sinks write them as
// they come. After a crash the queries' state is the state of the last
// checkpoint and the inputs after it run again, so keyed results (tables,
// search documents, upserted SQL rows) end exactly as if no crash had
// happened, while an append-only sink (files, S3) may hold a result
// produced before the crash twice — at-least-once, as Kafka Streams'
// default processing guarantee. Aggregates never count an input twice.
//
// A value that fails at run time (a bad cast, an unparsable timestamp) is
// a record error of the input: its dead letter, or the pipeline stops.
package streamsql
