// Package sinktest is the conformance suite every sluice sink passes
// against the real service it writes to: the same checks for files, Kafka,
// S3, OpenSearch, Elasticsearch 8 and 7, PostgreSQL and MariaDB tables, so
// that each keeps the component.Sink contract the engine relies on.
//
// A sink's test calls Run with a Harness, which supplies what differs: a
// fresh destination per case (Target: a file, a topic, a bucket prefix
// with a state directory, an index, a database), a sink built for it (with
// a proxy address, a wrong password and a logger when the suite asks), a
// reader of what the destination durably holds, what it keeps (Caps), and
// how to make the destination reject one event (Poison).
//
// The suite writes one table, src.public.items (id int8 key, v varchar),
// with PostgreSQL-shaped events: snapshot rows, then changes in
// transactions, each with a growing LSN (event.Version) and its
// transaction's commit LSN (event.Seq), complete before images, and a
// unique v per change, so that every record in a destination names the
// change it came from. It reads destinations as Records (key, v, delete).
//
// # What a destination must hold
//
//   - Last state (an index, a table; Caps.History false): one row per
//     existing key, with the v of its newest change; nothing for a deleted
//     key.
//   - History, exactly once (S3; Caps.Duplicates false): per key, every
//     change once, in order. A key change is a delete of the old key and
//     the new row.
//   - History, at least once (a file, a topic; Caps.Duplicates): per key,
//     the records are a subsequence of what the sink was given, in the
//     order given (replays and retries included), and a reader that skips
//     every record older than one it has read gets every change once, in
//     order. So a replay may be written again, but never reordered, and no
//     change may be lost.
//
// A record of an event the destination rejected must never be there.
//
// # Cases (each in parallel, each with a destination of its own)
//
//   - order: snapshot rows, a row updated many times in one Write and in
//     one transaction, deleted and inserted again, inserted and deleted,
//     a key change (and the old key used again), then random transactions
//     over few keys; the destination is checked after every Write.
//   - replay: a Write repeated twice (the engine's retry), a Write that
//     straddles what is written (a replay from a checkpoint), and the same
//     after a restart (a new sink on the same destination).
//   - replay_older: batches older than the newest written, before and
//     after a restart: a last-state destination never goes back.
//   - record_errors: a Write of 10 events, 3 of them poisoned (the last
//     one included): component.RecordErrors names exactly those, by
//     ascending index, and every other event is durable. A sink that
//     cannot reject single events (Caps.RecordErrors false) must write a
//     batch without reporting any. On every Write of every case the suite
//     checks the RecordErrors contract: at least one entry, indexes in
//     range and strictly ascending, each with a reason.
//   - outage: the sink runs in engine.Run behind a proxy (svctest.Proxy),
//     which is cut for two seconds once everything emitted is durable (so
//     the in-flight window is empty and the source emits a whole window
//     during the outage, whatever the sink's pace): a Write must fail or
//     wait, the checkpoint must not move while the destination is away
//     (unless the sink spools, Caps.Spool), and once restored every change
//     arrives as the destination's kind says. The sinks' long outages
//     (minutes, $SLUICE_OUTAGE in CI) are their own tests.
//   - close: with the destination cut off and events to flush, a Write and
//     a Close given a context of 3 s return within 5 s of its deadline.
//   - secrets: with a wrong password (Params.Secret, a random canary),
//     against the real service (an authentication error where the server
//     checks) and through a cut proxy (a connection error): no error of
//     New, Write or Close and no log record holds the password. Every
//     error of every Write and Close is checked the same way.
//
// A sink without network (Target.Addr empty) skips the outage and the cut
// part of close; a sink without a password (Caps.Secret false) skips
// secrets. A spooling sink (Caps.Spool) is closed before each read of the
// destination and the suite writes on with a new one, as after a restart.
// The suite takes seconds per sink: its outage is the longest case.
//
// # Adding a sink
//
// Write a conformance_test.go in the sink's package with a TestConformance
// that calls Run with a Harness (see sink/file for a local history,
// sink/kafka for a topic, sink/s3 for a spool, sink/internal/search/searchtest
// and sink/internal/sqlsink/sqltest for last-state destinations). Sinks
// that write Debezium envelopes read their destination with
// DecodeDebezium.
//
// # The suite can fail
//
// memsink_test.go is a reference sink: a client of an in-memory server
// behind a TCP port (so the proxy can cut it) with a password, whose
// destinations keep the last state (skipping replays by Seq) or the
// history (writing replays again, or skipping them). TestMemSink runs the
// suite against each. TestSuiteCatchesBrokenSinks breaks one property at a
// time — deletes applied after the writes of a batch, two changes of a key
// swapped, replays written again or backwards, an older replay applied,
// RecordErrors indexes off by one or descending, a neighbour of a rejected
// event lost, a Write that reports success when its connection fails, a
// Close that ignores its context, the password in a log record or an error
// — and checks, in a child process, that the case it breaks fails, naming
// the problem.
package sinktest
