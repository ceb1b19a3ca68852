// Package plan analyses parsed statements (package parse) against a
// catalog of sluice streams and produces what package exec runs: the
// streams and tables the statements declare, and each persistent query
// as a tree of ir nodes whose expressions are resolved to column indexes
// and typed. It follows ksqlDB 0.28's rules; each is stated below with the
// ksqlDB rule it follows, and where sluice deliberately differs it says so
// and why.
//
// # Statements
//
// CREATE STREAM|TABLE name [(columns)] WITH (kafka_topic = …) declares a
// relation over a sluice stream; CREATE STREAM|TABLE name [WITH (…)] AS
// SELECT and INSERT INTO name SELECT are persistent queries; DROP removes
// a relation (and terminates the query writing it, as ksqlDB does since
// 0.13) unless another query reads it; TERMINATE removes a query; SET and
// UNSET set the properties later queries carry (Query.Props, e.g.
// auto.offset.reset, which must be earliest or latest); a SELECT statement
// is type-checked (Plan.Transient). Connector, SHOW and DESCRIBE
// statements are kept for the control plane (Plan.Control). Statements
// apply in order, like a ksqlDB session.
//
// # Names: SQL relations and sluice streams
//
// SQL relation names and sluice stream names are two namespaces. FROM,
// JOIN, INSERT INTO and DROP name SQL relations (upper-cased unless
// quoted); kafka_topic names a sluice stream, as written: a source's stream
// (Debezium-style, customers.public.customers), a Kafka topic a kafka
// source reads, or a query's result. So seed 004's `CREATE STREAM
// customers WITH (kafka_topic = 'customers.public.customers')` declares
// the SQL stream CUSTOMERS over the PostgreSQL source's stream, and a
// stream of the pipeline is read only through a declaration, never by its
// name in FROM. A query's result is the sluice stream named by its
// kafka_topic, else by the relation's name (ksqlDB's default topic is the
// upper-cased name: seed 004's enriched_orders writes ENRICHED_ORDERS,
// shipped_orders writes 'shipped_orders', the stream its sink reads). A
// query may not write a source's stream (one the catalog knows; a name
// it only assumes, StreamInfo.Assumed, because a feeding Kafka or
// topic-log source may carry any topic, is free), nor one another query
// writes;
// CREATE STREAM … WITH (kafka_topic = 'new', partitions = n) and a
// column list declares a new stream for INSERT INTO (ksqlDB creates the
// topic). Query IDs are ksqlDB's: CSAS_NAME_n, CTAS_NAME_n,
// INSERTQUERY_n, n counting the statements before that ksqlDB writes to
// its command topic (CREATE, INSERT, DROP, TERMINATE), from 0 (seed 004's
// queries are CTAS_CUSTOMERS_BY_KEY_3, CSAS_ENRICHED_ORDERS_4,
// CSAS_SHIPPED_ORDERS_5).
//
// # Columns of a declared stream or table
//
// Without a column list the columns come from the sluice stream's schema,
// as ksqlDB infers them from the schema Debezium registered: each column
// typed by types.FromColumn, its name upper-cased (ksqlDB's default
// UPPERCASE_FIELD_NAME translation), a column with no SQL type left out
// (ksqlDB's translator skips it), and __DELETED STRING last when the
// catalog says deletes are rewritten (Debezium's unwrap with
// delete.handling.mode=rewrite adds __deleted to the value; a TABLE has the
// column too, 'false' in every row it keeps, since it treats a delete as a
// tombstone). Declaring
// only key columns infers the value columns (ksqlDB's partial schemas).
// Declared columns over a known schema must exist there (names matched
// case-insensitively) with a type they convert to — the same, another
// numeric type, anything from STRING, anything to STRING — and exec
// converts each value from types.FromColumn's type to the declared one with
// the CAST rules; ir.Source.FromColumns names each column's column in the
// event.
//
// Key columns: a TABLE's are its PRIMARY KEY columns, else the source's
// key columns (a deviation: ksqlDB needs a declared key or a key format
// with a schema; sluice knows the source's key, and a table without one is
// an error). A STREAM's are its KEY columns, else the source's key when
// key_format (or format) is AVRO, PROTOBUF, PROTOBUF_NOSR or JSON_SR, the
// formats whose key schema ksqlDB infers; with ksqlDB's default KAFKA key
// format a stream has no key columns, as seed 004's CUSTOMERS. Key columns
// come first in every schema, as in ksqlDB's.
//
// # Event time
//
// Every row carries the pseudo-columns ROWTIME (BIGINT, epoch
// milliseconds: ksqlDB's type), ROWPARTITION and ROWOFFSET after its own
// columns. The timestamp property names the column giving ROWTIME: a
// BIGINT (epoch milliseconds), a TIMESTAMP, or a STRING with a
// timestamp_format (a Java DateTimeFormatter pattern; exec reads a
// zone-less pattern as UTC); without it ROWTIME is the source's commit
// time. A query's result carries the time its query gave each row (exec's
// rule), so a stream over it has no timestamp column (TimestampCol -1).
//
// # Schemas known only at run time
//
// A MongoDB source, or a Kafka topic without a registry, knows a stream's
// schema only from its first event (StreamInfo.Schema nil). A declaration
// without a column list over such a stream cannot be planned before then:
// Build defers it and every statement that reads it, directly or through
// another relation, lists them in Plan.Deferred and the streams in
// Plan.Waiting, and plans everything else. The processor calls Build again
// with the same statements once each waiting stream's first event has
// given its schema (and again when a schema changes): planning is a pure
// function of the statements and the catalog, so the queries planned
// before come out the same (same IDs, same nodes) and only the deferred
// ones are new. A full column list never waits. `sluice validate` reports
// the deferred statements' syntax and every error that does not depend on
// the missing columns.
//
// # Queries
//
// A SELECT becomes, bottom up: a Source per FROM relation, Joins nested to
// the left, a Filter for WHERE, a Repartition for PARTITION BY (its row is
// the input row followed by the key expressions' values), an
// Aggregate for GROUP BY (then a Filter for HAVING), and a Project for the
// SELECT list — ksqlDB's logical plan order.
//
// Columns are found as ksqlDB's AstSanitizer finds them: a qualifier names
// a FROM relation or its alias; an unqualified name must be in exactly one
// FROM relation, else it is ambiguous (pseudo-columns are in all of them,
// so ROWTIME must be qualified in a join). SELECT * is every column but
// the pseudo-columns (a FULL OUTER join's ROWKEY first), named ALIAS_NAME
// in a join (ksqlDB's join schema); alias.* is that relation's columns.
// An item without an alias is named after its column — ALIAS_NAME when it
// is a qualified column of a join whose name is in more than one source,
// or a pseudo-column (why seed 004's shipped_orders has O_ORDER_ID: both
// ENRICHED_ORDERS and SHIPMENTS have ORDER_ID, while O.CUSTOMER_ID stays
// CUSTOMER_ID) —, after its field for x->f (F, then F_1 …), else
// KSQL_COL_n, skipping numbers the sources' columns use
// (ColumnNames.columnAliasGenerator). Two items with one name are an error.
//
// The result's key (ksqlDB's): a single relation's key columns; a join's
// key expression; the PARTITION BY expressions (PARTITION BY NULL: none;
// a key that is a column keeps its name, * included; another expression
// is named KSQL_COL_n — x->f: F — which * selects, as ksqlDB's
// PartitionByParamsFactory names them; * then lists the other columns in
// the source's order, where ksqlDB moves the old key columns after the
// value columns — a difference of column order only, not yet matched);
// the GROUP BY expressions, with WINDOWSTART and WINDOWEND for a windowed
// aggregation. A persistent query must select each key column exactly once
// (ksqlDB's "Key missing from projection"), and the item that does becomes
// the key column under its own name (seed 004: C.ID AS CUSTOMER_ID is
// ENRICHED_ORDERS' key; O.ORDER_ID, named O_ORDER_ID, is SHIPPED_ORDERS',
// so a search sink's document id is the order id). A windowed
// aggregation's bounds are added to the SELECT list when it has none: the
// window is part of each row's key (Kafka Streams' Windowed key).
//
// A result is a TABLE when it aggregates or reads a table without a join
// to a stream; CREATE STREAM of a table result, or CREATE TABLE of a
// stream result, is an error naming the right statement. LIMIT is refused
// in persistent queries.
//
// # Joins
//
// The condition is one equality between an expression of the left
// relations and one of the right (either order), of the same type
// (ksqlDB's "types don't match"); the Join's LeftKey and RightKey are
// over the left and right rows, and its row is the left row then the right
// one, columns named ALIAS_NAME. A row whose join key is NULL joins
// nothing (ksqlDB drops it on repartitioning), for every join type. A
// query reads each relation once (ksqlDB has no self-joins), and joins no
// windowed table (a deviation: ksqlDB joins windowed sources of the same
// window kind; sluice has no use for it yet).
//
//   - stream-stream: needs WITHIN n (Before = After = n) or WITHIN
//     (before, after); any join type; the result is a stream. Grace is the
//     GRACE PERIOD, else 24 hours: ksqlDB's documented default and the
//     issue's rule. (Kafka Streams 3.3's deprecated JoinWindows.of, which
//     ksqlDB 0.28 calls, computes max(24h − 2·before, 0); sluice keeps the
//     documented 24 h, never dropping a record ksqlDB would keep.)
//   - stream-table: INNER or LEFT only, no WITHIN, on the table's key
//     column; the result is a stream.
//   - table-stream: refused ("put the stream first"), as in ksqlDB.
//   - table-table: no WITHIN, on the right table's key; on the left's key
//     a primary-key join (any join type), else a foreign-key join
//     (ForeignKey; INNER or LEFT; not after another join); the result is a
//     table.
//
// The result's key is, as ksqlDB's JoinTree.viableKeyColumns: any column
// reference equivalent to the join key (both sides' key expressions, and
// earlier joins' when chained on them); a foreign-key join keeps its left
// table's key; a FULL OUTER join's key is synthetic, ROWKEY =
// COALESCE(left key, right key), which must be selected and may be
// aliased (and such a join must be the query's last).
//
// # Aggregation
//
// GROUP BY makes a table (a stream grouped is a table, ksqlDB's rule);
// aggregates without GROUP BY are refused (ksqlDB has no whole-stream
// aggregation). Every SELECT and HAVING expression is a GROUP BY
// expression, an aggregate call, or built from them; a column that is
// neither is an error. The Aggregate's row is the group columns, the
// distinct aggregate calls, then WINDOWSTART and WINDOWEND (BIGINT epoch
// milliseconds, ksqlDB's type) when windowed. Aggregating a table allows
// only functions that can undo a row (funcs.Func.Undo: COUNT, SUM, AVG,
// COLLECT_LIST — ksqlDB's TableUdafs), since a table update retracts the
// old row. An aggregate's literal parameters (LATEST_BY_OFFSET's n and
// ignoreNulls) must be literals.
//
// Windows (streams only): TUMBLING (SIZE), HOPPING (SIZE, ADVANCE BY ≤
// SIZE), SESSION (gap), each with RETENTION and GRACE PERIOD; grace is 24
// hours when not given (as for joins, ksqlDB's documented default),
// retention the size plus grace when not given and never less (Kafka
// Streams refuses it). WINDOWSTART and WINDOWEND exist only in windowed
// aggregations. EMIT FINAL (ir.Aggregate.Final) applies to windowed
// aggregations only.
//
// # Types
//
// Expressions are typed with package funcs' rules (its doc is the
// contract with eval): literals as ksqlDB types them (12 INTEGER, beyond
// 32 bits BIGINT, 1.5 DECIMAL(2, 1), 1.5e3 DOUBLE), implicit widening
// INTEGER → BIGINT → DECIMAL → DOUBLE only, CAST for anything else. The
// planner converts every operand and argument to the exact type an
// operator or overload takes (an ir.Cast, or a converted literal), so eval
// never guesses. Errors name both types and the CAST that would join
// them ("operator = does not apply to DOUBLE and STRING (in PRICE = 'x');
// CAST one side to the other's type: CAST('x' AS DOUBLE)"), unknown
// columns their near names (else the relation's columns), unknown
// functions their near names (else the three nearest by name), an unknown
// kafka_topic the known streams, an ambiguous column its qualified
// spellings, a wrong argument count the counts taken.
//
// # Errors
//
// Every error is a *parse.Error at the position of the offending name or
// clause ("line 3:14: …"); Build returns one per failed statement as a
// parse.ErrorList and plans the others. A statement reading a relation
// whose own statement failed is skipped silently, so one mistake is
// reported once.
package plan
