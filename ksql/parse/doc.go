// Package parse reads the statements of sluice's streaming SQL, ksqlDB
// 0.28's dialect, into an AST: a hand-written lexer and recursive-descent
// parser. No Go library parses ksqlDB's dialect (its grammar is an ANTLR
// grammar for Java; the Go SQL parsers in reach — vitess, TiDB's,
// pg_query — read MySQL or PostgreSQL, which differ in the parts that
// matter here: EMIT CHANGES, WINDOW, WITHIN, ->, :=, backquoted
// identifiers, the WITH properties), so the grammar is written out here
// after ksqlDB's SqlBase.g4, rule by rule.
//
// # What it reads
//
// Statements separated by ';' (the last may omit it), with -- and /* */
// comments: CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name
// [(columns)] [WITH (…)]; CREATE STREAM|TABLE … [WITH (…)] AS SELECT …;
// INSERT INTO name [WITH (query_id = …)] SELECT …; DROP STREAM|TABLE|
// CONNECTOR [IF EXISTS] name [DELETE TOPIC]; SET 'p' = 'v'; UNSET 'p';
// CREATE SOURCE|SINK CONNECTOR [IF NOT EXISTS] name WITH ('k' = 'v', …);
// SHOW|LIST STREAMS|TABLES|QUERIES|CONNECTORS|TOPICS|PROPERTIES|FUNCTIONS
// [EXTENDED]; DESCRIBE name [EXTENDED]; TERMINATE id|ALL; and SELECT
// queries (pull, or push with EMIT CHANGES). The connector, SHOW,
// DESCRIBE and TERMINATE statements are kept in the AST for the control
// plane; the planner handles the others.
//
// A query is SELECT items FROM source [[AS] alias] {[INNER|LEFT [OUTER]|
// RIGHT [OUTER]|FULL [OUTER]] JOIN source [[AS] alias] [WITHIN n unit |
// WITHIN (n unit, m unit)] [GRACE PERIOD n unit] ON condition} [WINDOW
// TUMBLING (SIZE …[, RETENTION …][, GRACE PERIOD …]) | HOPPING (SIZE …,
// ADVANCE BY …[, …]) | SESSION (gap[, …])] [WHERE …] [GROUP BY …]
// [PARTITION BY …] [HAVING …] [EMIT CHANGES|FINAL] [LIMIT n], the clauses
// in that order (ksqlDB's). Time units are MILLISECOND(S), SECOND(S),
// MINUTE(S), HOUR(S) and DAY(S); ksqlDB has no WEEK.
//
// Expressions, loosest first: OR; AND; NOT; one predicate (=, <>, !=, <,
// <=, >, >=, [NOT] BETWEEN … AND …, [NOT] IN (…), [NOT] LIKE … [ESCAPE
// 'c'], IS [NOT] NULL — predicates do not chain, a = b = c is an error as
// in ksqlDB); ||; + -; * / %; unary - +; x[i] and x->field; literals
// (12 is an INTEGER, 1.5 a DECIMAL, 1.5e3 a DOUBLE, 'text' with a quote doubled inside, TRUE,
// FALSE, NULL, ARRAY[…], MAP(k := v, …), STRUCT(f := v, …)), names
// (`col`, `alias.col`), calls (f(x), COUNT(*), f(DISTINCT x);
// DATEADD(DAYS, 3, d) and its kin take a time unit first, read as the
// string 'DAYS'), CASE
// (simple and searched) and CAST(x AS type). Types: BOOLEAN, INT/INTEGER,
// BIGINT, DOUBLE, DECIMAL(p, s), STRING/VARCHAR, BYTES, DATE, TIME,
// TIMESTAMP, ARRAY<T>, MAP<K, V>, STRUCT<name T, …>.
//
// # Names
//
// An unquoted name is upper-cased; a `backquoted` or "double-quoted" one
// is kept as written (ksqlDB's rule). ksqlDB's reserved words (its
// keywords outside its nonReserved rule: SELECT, FROM, SIZE, DAYS, …)
// cannot be unquoted names; its other keywords can (KEY, DATE, SESSION).
// WITH property names of CREATE statements are case-insensitive and kept
// upper-case; a connector's property keys are kept as written.
//
// # Properties
//
// CREATE statements take ksqlDB's properties (kafka_topic, value_format,
// key_format, format, timestamp, timestamp_format, partitions, replicas,
// wrap_single_value, key/value_schema_id, the schema full names,
// delimiters, window_type, window_size); properties sluice does not use are
// kept so that statements written for ksqlDB parse unchanged. An unknown
// property, one given twice, a value of the wrong kind or an unknown
// format is a syntax error naming the near properties.
//
// # Errors
//
// Every AST node keeps the position (line, column in characters) of its
// first token. A syntax error reads "line L:C: expected …, found …",
// with a hint where one is likely ("did you mean EMIT CHANGES?", a
// reserved word to quote). Parse reports one error per broken statement
// and resumes after the next ';', so one run lists them all.
//
// Print writes an AST back as canonical SQL (upper-case keywords and
// names, explicit AS, minimal parentheses); parsing the printed text gives
// the same AST. The parser never panics on any input and its memory is
// bounded by the input's length; nesting is limited to 200 levels.
package parse
