// Package sqlpoll is the sql_poll source: it polls tables, or one custom
// query, of PostgreSQL, MySQL/MariaDB or SQLite through database/sql, for
// databases that offer no change log sluice can read. Its modes follow
// Kafka Connect's JDBC source connector (seed 003), so its configurations
// carry over:
//
//	sources:
//	  jdbc:
//	    type: sql_poll
//	    driver: postgres            # postgres | mysql | sqlite
//	    dsn: ${SOURCE_DSN}
//	    mode: incrementing          # bulk | incrementing | timestamp | timestamp+incrementing
//	    incrementing_column: index
//	    tables: [USERS]             # or query: SELECT ... and query_name: ...
//	    poll_interval: 1s
//	    batch_max_rows: 100
//
// # Modes
//
//   - bulk: every poll reads the whole table, as snapshot rows (op r,
//     source.snapshot true), ordered by key_columns when set. There is no
//     watermark: a restart reads the table again.
//   - incrementing: rows whose incrementing_column is greater than the
//     largest seen, in its order (WHERE id > ? ORDER BY id LIMIT n). Sees
//     new rows only; the column must grow with every insert and be unique.
//   - timestamp: rows whose timestamp — the first non-NULL of
//     timestamp_columns, COALESCE as in Kafka Connect — is after the
//     watermark and before the database's current time minus
//     timestamp_delay. Sees inserts and updates that set the timestamp.
//   - timestamp+incrementing: rows with (timestamp, id) after the watermark
//     ((ts, id) > (?, ?) as a row value on PostgreSQL and SQLite, which
//     they answer with one index range; ts > ? OR (ts = ? AND id > ?) on
//     MySQL), ordered by both; the most robust mode, as in Kafka Connect.
//
// Incrementing and timestamp modes emit every row as op c: a poll cannot
// tell an insert from an update. Deletes are never seen, in any mode; use a
// change-log source (postgres, mysql) or soft deletes when they matter.
//
// # Watermark and checkpoint
//
// The checkpoint holds, per table, the timestamp and id of the last emitted
// row, in the Go type the driver returned, so the value goes back to the
// database unchanged on the next query and after a restart:
//
//	{"v":1,"mode":"incrementing","tables":{"users":{"id":{"int":"42"}}}}
//
// Event positions spell it: "id 42", "ts 2024-05-01T10:00:00Z,id 42",
// "ts 2024-05-01 10:00:00" (the driver's own text for MySQL and SQLite).
// Nothing is held upstream, so Committed does nothing. A checkpoint written
// in another mode is refused at start.
//
// # Positions for the sinks
//
// After a crash the pipeline replays what its checkpoint does not cover, so
// sinks receive rows they already wrote. They recognise them by
// event.Event.Seq — the row's watermark as two uint64 words, growing in the
// order the source emits (see event.Seq) — and skip them: a SQL sink in
// mode insert does not stop on a duplicate key, and an S3 object is not
// written twice. Each table has its own watermark and the tables are
// polled in turn, so Seqs grow per stream (event.Schema.SeqPerStream), not
// across the source.
//
//   - incrementing: (1, id).
//   - timestamp+incrementing: (timestamp, id).
//   - timestamp with one key column (key_columns, or a custom query's):
//     (timestamp, key). Rows sharing a timestamp are read in key order
//     (ORDER BY ts, key), so the key orders them.
//   - timestamp without key_columns, or with several: the zero Seq. Rows
//     sharing a timestamp have no stable order, nothing tells them apart,
//     and sinks write them at least once (idempotently where they have a
//     key); use timestamp+incrementing for exactly once.
//   - bulk: snapshot rows, the zero Seq: every poll writes the table again.
//
// Each value becomes a word with the database's order: integer columns (and
// decimals holding integers within int64) with the sign bit flipped, so -7
// comes before 1; dates, times and timestamps as days or microseconds,
// typed by the result's column type, so MySQL's text and its parsed form
// give the same word. Other values — text ids, fractions, unsigned BIGINTs
// past int64, SQLite's timestamps (text, which SQLite compares as text:
// "10:00:00" and "10:00:00.000" are one instant and two values) — give the
// row the zero Seq. A row whose Seq would not be after the previous one of
// its table (a database that orders the values otherwise, e.g. a MySQL
// session time_zone with daylight saving) gets the zero Seq too, with a
// warning: a sink never skips a row it did not write.
//
// A row the source reads again after a restart gets the same Seq, as it
// has the same values. A row updated since gets its new timestamp and a
// newer Seq. What the Seqs cannot fix is what an uninterrupted run misses
// too: a row that commits after rows with higher positions were read (see
// timestamp_delay below) is below the sinks' position when it is read
// after a restart, and skipped.
//
// event.Event.Version has nothing to offer (ok is false): a poll reads a
// row's current state, so a replay never brings an older state after a
// newer one; the OpenSearch/Elasticsearch sinks need
// document_version_type: none for sql_poll streams.
//
// # Rows that share a timestamp
//
// In timestamp+incrementing mode the id orders rows within one timestamp,
// so pages of batch_max_rows always end on an exact position. In pure
// timestamp mode the watermark is exclusive (ts > last), and pages never
// end inside a group of rows sharing a timestamp: a full page is emitted up
// to the start of its last group only, and a page that is one group
// entirely is followed by a read of the whole group (WHERE ts = ?), in
// batches of batch_max_rows, the watermark moving past the group only with
// its last batch. With key_columns the group is read in key order, page by
// page, and every batch's checkpoint records the last key emitted
// ("group":{"ts":…,"after":[…]}), so a restart continues inside the group:
// no row is lost and none is read twice. Without key_columns only the
// group's last batch carries a checkpoint, and a crash in the middle of a
// group re-reads the whole group: those duplicates are the only ones the
// source produces beyond the pipeline's unacknowledged window.
//
// What timestamp mode cannot see, as in Kafka Connect, is a row that
// commits later with a timestamp equal to or before a watermark already
// passed; timestamp_delay exists for that: rows are read only once their
// timestamp is older than the database's clock minus the delay, so set it
// above your longest write transaction (and the clock skew between the
// writers and the database, when the application sets the timestamps).
//
// # Time zones and types
//
// The upper bound uses the database's clock: PostgreSQL CURRENT_TIMESTAMP
// (timestamp columns without zone compare in the session's TimeZone);
// MySQL CURRENT_TIMESTAMP(6) in the session zone, which sluice sets to UTC
// unless the DSN sets time_zone (so TIMESTAMP columns read as UTC and
// DATETIME columns are taken to hold UTC); SQLite strftime('now') in UTC,
// compared as text, so SQLite timestamps must be stored as UTC text in
// SQLite's format "YYYY-MM-DD HH:MM:SS[.SSS]".
//
// Event types come from the result set's column types (database/sql
// ColumnTypes): integers, floats, decimals as exact text (MySQL BIGINT
// UNSIGNED too), strings, bytes, bool, uuid, json as text, date (days),
// time (µs), timestamps (µs; with zone: PostgreSQL timestamptz and MySQL
// TIMESTAMP, as UTC instants; without: the wall clock as written). Other
// types are carried as the driver's text, type "unknown" with the database's
// type name. A value that does not fit its column's type (SQLite's dynamic
// typing allows that) stops the source with an error naming the column.
//
// Rows are read without database/sql's copy of every value: on PostgreSQL
// straight from pgx's wire values (integers, floats, booleans, dates and
// timestamps in binary; text, varchar, bpchar and numeric as their text),
// on MySQL and SQLite from the driver's own rows (database/sql's
// Conn.Raw, the query or prepared statement database/sql would run,
// without database/sql's lock and Scan per row) into scan destinations
// that convert the driver's value at once (int64, float64 and text values
// of columns the watermark does not need go straight into the row, without
// one); text is
// cut from chunks of 32 kB shared by the rows read (one allocation per
// chunk, not per row or value), and a row's values are written field by
// field into zeroed memory, so a number costs no write barrier while the
// GC marks. The values are
// exactly those of a database/sql scan into any, converted as above:
// TestFastReadIsReference compares the two on every type of the three
// databases, edge values included (±infinity, NaN, extreme dates).
//
// # Custom query
//
// query is read as a derived table, SELECT s.* FROM (query) AS s, with the
// watermark condition, ORDER BY and LIMIT added outside. Unlike Kafka
// Connect, which appends WHERE to the query's text, the query may have its
// own WHERE, joins and GROUP BY; the mode's columns name its output columns.
// Its stream is <source>.<schema or database>.<query_name>.
//
// # Memory and load
//
// Every incrementing and timestamp query has LIMIT batch_max_rows, so a
// poll holds at most two pages (one being read, one being handed over) and
// no query holds locks or a snapshot for long. A page's Emit runs on a
// goroutine of its own while the next page is read, so the database's work
// for page N+1 (an index range scan) overlaps the pipeline's for page N,
// including the engine's back-pressure: the events and the checkpoint are
// built before the next read starts, Emits stay one at a time and in
// order, and a poll ends by waiting for its last Emit. A page goes to the
// engine in batches of at most 2,048 rows, each an allocation of its own,
// and once a page's Emit has started nothing but that Emit refers to its
// rows: a batch's rows are garbage as soon as the sinks have written it,
// not when the page's last batch is written. In the incrementing modes a
// page's memory (its text chunks, row slabs and event batches) is
// recycled instead, when the engine can release batches (stateless
// processors and sinks that keep no events: component.ReleasingEmitter):
// once every batch of the page is released it goes to a bounded free list
// (about 13 MB at most, emptied each time a poll has caught up) and the
// next pages are cut from it, so a catch-up of millions of rows leaves the garbage collector
// little to do (mem.go). When an Emit fails
// the read under way is cancelled and the Emit's error is the poll's; when
// the read fails, the poll still waits for the pending Emit, and the
// watermark goes back to the last checkpoint an Emit accepted. Bulk reads and timestamp groups with key_columns are paged the same
// way, each page continuing after the previous page's last key (keyset
// pagination, (k1, k2) > (?, ?)); at most two pages are held. Without
// key_columns they have no order to continue from and are single queries
// streamed row by row in batches: memory stays bounded, but the result stays
// open while the pipeline applies back-pressure (a MySQL server drops a
// client that stops reading for net_write_timeout), so set key_columns for
// large tables. Index the incrementing, timestamp and key columns: each
// query filters and sorts on them.
//
// Errors: a table or column that does not exist, an unreachable database or
// an unusable checkpoint stop the source at start. Query errors while
// polling (a dropped connection) are logged and the poll retried after
// poll_interval from the last checkpointed watermark, so nothing is
// skipped; a value that cannot be converted stops the source.
package sqlpoll
