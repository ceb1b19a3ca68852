// Package exec runs the streaming SQL's persistent queries (package ir's
// plans) as operators over a processor's operator state
// (component.State), driven by change events, emitting output rows.
//
// An Executor is built from the queries with New, over a State and a
// Compiler (package eval turns ir.Expr into ir.Evaluator and ir.AggCall
// into ir.Aggregator). Process takes one change event of one input stream
// and returns the output rows of every query, including queries reading
// other queries' outputs (seed 004's enriched_orders reads
// customers_by_key): a row a query emits on its Topic is at once an input
// of the queries whose sources read that Topic, in the order rows are
// produced (breadth first). Flush, after each batch, writes the little the
// operators keep in memory between inputs; SnapshotDone and Waiting serve
// Options.HoldUntilSnapshot; Stats counts dropped rows for metrics.
//
// Semantics are ksqlDB 0.28's, which runs on Kafka Streams 3.3; each rule
// below names the Kafka Streams or ksqlDB rule it follows, or says why
// sluice differs. Times are microseconds where Kafka has milliseconds
// (package types); with whole-millisecond times the results are the same.
// The columns that show a time as a number — ROWTIME, WINDOWSTART and
// WINDOWEND — hold BIGINT epoch milliseconds (rounded down), ksqlDB's
// values (package ir); Row.Time and the operators keep microseconds.
//
// # Plans
//
// What the operators expect of ir plans (the planner's side of the
// contract):
//
//   - A Source's row is its declared columns (FromColumns[i] names the
//     input column declared column i reads; input columns match by exact
//     name, else ignoring case; a missing one is NULL), then the
//     pseudo-columns among ROWTIME (event time), ROWPARTITION (0) and
//     ROWOFFSET (the input sequence number, see below), by name. A TABLE
//     source's S.Key names its PRIMARY KEY columns.
//   - Filter keeps the row; Project's row is its Exprs' values.
//   - Repartition (PARTITION BY) moves nothing: sluice streams have one
//     partition, so the key is a property of the schema. Its row is the
//     input row, followed by the Keys' values when S has len(Keys) more
//     columns than the input.
//   - Aggregate's row is the GROUP BY values, the aggregates' results,
//     then any of WINDOWSTART, WINDOWEND, ROWTIME (by name).
//   - Join's row is the left row then the right row (NULLs for a missing
//     side). A stream-table join's right side is a table read by its key
//     (LeftKey's value); a table-table join on the primary key reads each
//     side by the other's key value; a foreign-key join reads the right
//     table by LeftKey's value over the left row, and the left by its key.
//     Each ON side is one expression (a single-column key).
//   - A query's output Key is the root schema's Key columns. Output rows
//     of TABLE queries are upserts and deletes of that key; a delete
//     carries the key of the row it removes.
//
// # Inputs
//
// A STREAM over a change stream sees each change as its after image, the
// way Debezium's ExtractNewRecordState writes it (seed 004's unwrap):
// create, update and snapshot read are rows; a delete is dropped
// (DeleteHandling "drop", the transform's default) or becomes the before
// image with __DELETED = true ("rewrite"; other rows then have __DELETED =
// false, as a BOOLEAN or the strings "true"/"false" per the column's
// type, unless the input has the column itself). A STREAM over a TABLE
// query's output sees its upserts; its deletes are tombstones, which
// ksqlDB streams skip.
//
// A TABLE over a change stream upserts the row by its key and treats a
// delete as a tombstone (ksqlDB tables are changelogs; Debezium's key is
// the primary key). An update whose before image has another key deletes
// the old key first (Debezium sends a delete and a create for a key
// change). A row whose key has a NULL is dropped and counted (Kafka
// Streams' KTableSource skips null keys). A delete of a key the table
// does not hold changes nothing and emits nothing (KTableSource forwards
// a tombstone with no old value, upon which a table-table join downstream
// forwards its current row again or a tombstone for a key it does not
// hold: no change of the result).
// A column the source did not send (PostgreSQL's unchanged TOAST) keeps
// the table's stored value; in a STREAM it is NULL. A truncate changes
// nothing: Debezium skips truncates unless told otherwise, and emptying a
// table would mean reading all of it.
//
// Every row entering a source gets the next number of one sequence shared
// by the Executor's sources (kept in state by Flush): it is ROWOFFSET
// (growing with the row's order in its stream, not dense) and the seq
// LATEST_BY_OFFSET and EARLIEST_BY_OFFSET compare. ksqlDB uses the Kafka
// offset; sluice has one order per stream, which the sequence follows.
//
// # Event time
//
// ROWTIME is the source's commit time (event.Source.TsUs), or the
// `timestamp` column's value: BIGINT as milliseconds since the epoch (as
// ksqlDB reads it), TIMESTAMP as is, DATE at midnight UTC, STRING parsed
// with the `timestamp_format` (Options.ParseTime, a Java DateTimeFormatter
// pattern). A NULL or unparsable timestamp is a RecordError: the input
// goes to the dead letter or stops the pipeline, where ksqlDB would log
// and skip it (ksql.timestamp.throw.on.invalid=false). A table delete
// whose image has no timestamp takes the commit time.
//
// Stream time is per windowed operator (Kafka Streams' observed stream
// time of a processor): the highest event time it has seen, never going
// back; for a stream-stream join it is shared by both sides (Kafka
// Streams' shared time tracker). Joins without windows and plain
// aggregations have none.
//
// # Aggregation
//
// GROUP BY over a stream is KStreamAggregate: a row whose GROUP BY value
// is NULL is dropped and counted (ksqlDB's GroupByParamsFactory excludes
// it); otherwise its arguments are folded into the group's accumulators
// and the group's new row is emitted as an upsert. The row's time is the
// input's, or the later of it and the group's time once the group exists.
// Accumulators and time that did not change are not written back.
//
// GROUP BY over a table is KTableAggregate after KTableRepartitionMap: the
// old row is retracted from its group (Aggregator.Undo) and the new row
// added to its own; each group changed emits its new row. When old and new
// fall in the same group that is one update and one output, as in Kafka
// Streams 3.5 and later (KIP-904); Kafka Streams 3.3 forwarded the
// retraction and the addition separately, so a TopologyTestDriver of 3.3
// without caching shows an intermediate row first. A group whose rows are
// all retracted stays with its empty aggregate (COUNT 0), as in Kafka
// Streams. An aggregate that cannot undo fails (the planner refuses
// those over tables).
//
// HAVING is a filter over the aggregate's table: KTableFilter with old
// values. The new and the old row are each kept if the predicate is TRUE;
// a key whose row stops passing gets a delete; a change whose new and old
// rows both fail emits nothing (so a key that never passed produces no
// tombstone). The same rule holds for any WHERE over a table.
//
// # Windows
//
// TUMBLING and HOPPING windows (KStreamWindowAggregate) are aligned to the
// epoch; a row at t belongs to every window [start, start+size) with start
// a multiple of the advance, start ≤ t < start+size (and, as
// TimeWindows.windowsFor, no window starting before 0 for t ≥ 0). Each
// window whose end is after stream time − grace is updated and emitted;
// for each other window the row is dropped and counted in Stats.Late
// (Kafka Streams' dropped-records sensor counts the same way). WINDOWSTART
// and WINDOWEND are the bounds (end exclusive). A window is deleted, with
// a range deletion, once its start is before stream time − retention,
// where retention is at least size + grace (ksqlDB refuses less; sluice
// keeps them longer instead): never before it can no longer change.
//
// SESSION windows (KStreamSessionWindowAggregate): a row at t merges the
// key's sessions that end at or after t − gap and start at or before t +
// gap into one session [min start, max end] (accumulators merged with
// ir.Merger, then the row added). If the merged session ends before stream
// time − grace − gap, the row is dropped and counted; otherwise each merged
// session is deleted (a delete output, at its end) and the new session
// upserted, at its end time. WINDOWEND is inclusive, as in ksqlDB.
// Sessions that ended at or before stream time − retention (at least
// gap + grace, Kafka Streams' default) are ignored and deleted, as Kafka
// Streams 3.9's session stores hide them (end > stream time − retention
// to be seen); Kafka Streams 3.3's RocksDB store dropped them at the
// granularity of its segments, so a row bridging to a session older than
// that could merge there and not here.
//
// Windowed outputs carry their window in Row.WindowStart/WindowEnd; their
// key is the root's Key columns (the planner adds the window bounds when
// the topic needs them in the key, as ksqlDB's windowed keys do).
//
// ksqlDB 0.28's default grace, when the statement gives none, is
// max(24 h − size, 0) for windows (max(24 h − gap, 0) for sessions) and
// max(24 h − 2·before, 0) for joins (the deprecated TimeWindows.of,
// SessionWindows.with and JoinWindows.of); the planner sets ir's Grace.
//
// # Joins
//
// Stream-table [LEFT] JOIN (KStreamKTableJoin): a stream row evaluates
// its join key; NULL drops it (counted); otherwise the table's current row
// for the key is looked up, and the joined row emitted at the stream
// row's time (LEFT: with NULLs when the table has none). Table changes
// only update the table: a table row arriving after the stream row is not
// joined with it again. The table side is read through filters and
// projections on it (Kafka Streams' value getters).
//
// Stream-stream JOIN … WITHIN (before, after) GRACE PERIOD g
// (KStreamKStreamJoin, with the outer-join store of KAFKA-10847's fix):
//
//   - A left row at tl matches the right rows at tr with tl − before ≤ tr
//     ≤ tl + after, whichever arrives first; the output time is the later
//     of the two. Matches come out in the other side's time order, then
//     arrival. A NULL join key drops the row (counted; Kafka Streams 3.3).
//   - Stream time advances with every row of both sides. A row is late
//     when its window has closed: tl + after + g < stream time for a left
//     row, tr + before + g for a right one. A late row is dropped and
//     counted. (Kafka Streams 3.3 drops nothing at the join: a late row
//     still joins whatever its segmented stores have not yet expired and
//     gets its outer result at once; what is left depends on the segment
//     size, so sluice takes the window's own closing as the bound. For
//     inputs with no late rows the results are the same, but for a row
//     arriving exactly at its edge, t + lookback + g = stream time: sluice
//     joins it with all of its window, as Kafka Streams 3.3; 3.9's stores
//     no longer show the other side's row at the window's far end.)
//   - INNER emits matches only. LEFT, RIGHT and FULL OUTER also emit, for
//     each row of a preserved side that matched nothing, the row with
//     NULLs for the other side, at the row's time: not at once, but when
//     its window closes (its time + lookback + g < stream time, lookback
//     being after for left rows and before for right ones: each row's own
//     window, as later Kafka Streams versions have it; 3.3 used the window
//     of the side whose row triggered the pass, the same for symmetric
//     windows). Those closed
//     results are emitted when a row arrives whose time is the stream time
//     (not an out-of-order one), before that row's own results, in the
//     order time, right side before left side, join key, arrival — Kafka
//     Streams' outer-join store order. A row waiting there that a later
//     row matches is removed (with every waiting row of its side, key and
//     time, as Kafka Streams does). An unmatched row that arrives out of
//     order with tl + after < stream time (right: tr + before) gets its
//     outer result at once, and may still join later: Kafka Streams does
//     the same.
//   - Kafka Streams throttles the outer-result emission with wall-clock
//     time (emit.interval.ms.kstreams.outer.join.spurious.results.fix,
//     1 s by default); sluice emits at every opportunity, which equals
//     Kafka Streams with that interval set to 0 — ksql/difftest sets it
//     so. Even then Kafka Streams 3.9 may emit later: it skips a pass
//     when its estimate of the oldest waiting row (the time of the last
//     row its previous pass looked at) plus the arriving side's window
//     is not yet closed. sluice's results come at the same or an earlier
//     input; a row matched in between gets both its outer result and its
//     match here, and only the match there.
//   - ksqlDB 0.28 without a GRACE PERIOD uses the deprecated JoinWindows.of,
//     which disables that fix: its LEFT/OUTER joins emit a row's outer
//     result as soon as it arrives unmatched, then its matches too. sluice
//     always waits for the window to close (ir.Join carries no such flag).
//   - RIGHT JOIN keeps WITHIN (before, after) relative to the left row;
//     ksqlDB 0.28 builds it as right.leftJoin(left) with the same window,
//     which swaps before and after. They agree for symmetric windows.
//
// Table-table joins on the primary key (KTableKTableJoin, LeftJoin,
// OuterJoin, RightJoin): a change on either side reads the other side's
// current row for the key and forwards the joined new and old rows,
// following the join type (INNER needs both, LEFT keeps the left row, RIGHT
// the right row, FULL either); the output time is the later of the two
// rows' times. Foreign-key joins (INNER, LEFT): a change of a left row
// joins it with the right row its LeftKey value names; a change of a right
// row re-joins every left row naming it, found by a reference index kept
// in state — so a renamed customer updates every joined order, which the
// ksqlDB stream-table pattern never does. The output of a table-table join
// is the changelog of the joined table: upserts, and a delete when a key
// leaves the result; nothing for a change that leaves the key absent
// before and after. (Kafka Streams' foreign-key join also forwards some
// redundant tombstones; its final table is the same.)
//
// Several joins in one query are nested Joins, left-deep: the left side
// of each may be a join; a table-table join's left side is read through
// the joins below it.
//
// # Holding the stream side until the snapshot ends
//
// With Options.HoldUntilSnapshot, a stream-table join keeps (in state) the
// stream rows that arrive while any input stream feeding its table side
// (the streams its table source reads, or those of the query producing
// that table, recursively) has not finished its snapshot, and joins them,
// in their order, once all have: so a cold start over existing data joins
// every row, whereas ksqlDB's result depends on which topic it happened to
// read first. A stream's snapshot is over when it delivers a row marked
// last (event.SnapshotLast or SnapshotLastInTable), a change that is not
// a snapshot row, or when any stream of the same source (the source its
// events name, or before any the first part of its name) delivers a
// SnapshotLast or a streaming change; or when the pipeline calls
// SnapshotDone (an empty table sends no marked row). Held rows are released
// after the marking input reached every table derived from it; rows held
// by a run with the option on are joined before the next input of a run
// with it off. A source without snapshot marks (every row a streaming
// change) ends the hold with its first row.
//
// # State
//
// Every key an operator writes starts with its query's ID (length first)
// and the operator's number in the plan's pre-order, then a byte naming
// the space:
//
//	t key                    table source: a key's row (time, row)
//	a group                  aggregation: time, accumulators
//	w start group            time window: time, accumulators
//	s group end start        session: time, accumulators
//	x end group start        session index by end, for expiry
//	b side bucket key time seq   stream-stream join: a buffered row (flag, row)
//	o time side key seq      stream-stream join: a row waiting for its outer result
//	f fk key                 foreign-key join: the left rows referencing a right key
//	h seq                    held stream rows (time, row)
//	M                        stream time (written by Flush)
//
// The Executor's own keys start with 0x00 (the input sequence, the streams
// whose snapshot ended). Keys encode SQL values with an order-preserving,
// self-delimiting encoding (keyenc.go) so that tuples concatenate and
// range scans by key and time work; values use a compact row encoding
// (rowenc.go). Both decoders are fuzzed and never allocate more than a
// small multiple of their input.
//
// Exactly once comes from the engine: the state and the sources'
// checkpoints are committed together, and after a crash the state is
// rolled back to the last commit and the inputs after it come again. The
// operators are deterministic given their input order and keep nothing in
// memory that is not in the state or rebuilt from it: stream times and the
// input sequence are written by Flush at the end of each batch (one write
// each per batch instead of one per row); caches (per-schema column
// mappings, the lower bound of the outer-join store's times, the last
// expired window) are rebuilt from the state or start empty. An Executor
// built on the state another left continues with the same outputs.
//
// Memory is bounded by the work of one input, not by the state's size:
// tables, groups, windows and join buffers live in the state; scans that
// feed outputs (held rows, outer results, foreign-key references,
// expired sessions) read bounded batches. The rows one input produces are
// returned together (a customer referenced by a million orders produces a
// million rows at once).
//
// A RecordError is an input that failed on its own values (an expression
// error, an unparsable timestamp): Process returns it with the rows
// produced before the failure, the state changes made up to it stay, and
// the other queries still process the input. Other errors (the state
// failing) are fatal.
//
// # Tested against Kafka Streams
//
// ksql/difftest runs these operators, planned from SQL text, and the
// equivalent Kafka Streams 3.9.2 topologies on random inputs and requires
// the same outputs; its package doc lists the differences above that it
// allows for.
//
// # Figures
//
// go test -bench . ./ksql/exec/ on the project's machine (2 cores shared
// with other jobs, load average 2 to 16 during the runs), over the real
// store (an epoch per 1,000 events, a synced commit every 10 epochs), the
// test compiler, 200,000 to 300,000 events: CPU time per event, the
// process's (Pebble's compactions included), and the process's peak RSS:
//
//	filter + projection                          1.3 µs    65 MiB
//	stream-table join, 1,000,000-row table      16–17 µs  102 MiB (13 µs with a 128 MiB store cache, 137 MiB)
//	stream-stream join WITHIN 1 HOUR            25–31 µs   42 MiB (360,000 rows per side in the window)
//	GROUP BY LATEST_BY_OFFSET, 1,000,000 keys   15–19 µs  103 MiB
//
// The operators' own work is 1–3 µs of these (profiles); the rest is the
// store: a Get of a random key among 1,000,000 (10–12 µs: Pebble's levels
// and block-cache misses), a Scan's new iterator (about 8 µs each, two per
// stream-stream lookup), a Set with its undo record, and the compactions
// they cause.
package exec
