// Package sourcetest is the conformance suite every sluice source passes
// against the real system it reads: the same checks for PostgreSQL, MySQL,
// sql_poll and whatever comes next, so that each emits the same event model
// under the same contract (component.Source, component.Emitter).
//
// A source's test calls Run with a Harness, which supplies what differs: a
// database per subtest (Target), a source built from a configuration and a
// checkpoint, a table with an integer key id and a text column v, changes
// committed in transactions, what the source can see (Caps), how to read
// its checkpoints as positions, and the type matrix with its exact
// expected values. The suite drives the source through a recorder that
// plays the engine: it acknowledges batches (at once or some batches late),
// reports the newest acknowledged checkpoint to Committed from another
// goroutine, can hold Emit (back-pressure) and can crash a run at a chosen
// batch (Emit returns component.ErrStopped, the context is cancelled, the
// batch is lost). Holding blocks batches of events; a checkpoint alone
// passes, so a held source is blocked with rows in hand. A new run then starts from the last committed checkpoint,
// as after a real crash.
//
// Subtests, each with exact outcomes:
//
//   - snapshot_then_stream: existing rows are read while a transaction
//     commits (a snapshot source reads each row once, in its state at the
//     snapshot's position, marks them op r and the last one
//     source.snapshot=last), then transactions of many shapes (a row
//     changed twice, deleted and inserted again, inserted and deleted)
//     arrive: every change exactly once, in commit order across rows when
//     the source is a change log, with growing Seqs and per-row Versions.
//   - crash/mid_snapshot, crash/mid_stream (twice), crash/mid_transaction:
//     what sinks hold durably (the committed prefix of each crashed run,
//     then the last run) is exactly the changes: nothing lost, nothing
//     committed delivered again; and everything emitted, replays of the
//     uncommitted suffix included, reduces to the same through a sink that
//     skips events whose Seq is not after the newest it wrote.
//   - reconnect: the source's connections are cut (svctest.Proxy, or the
//     Target's own Cutter for a source without a network connection) while
//     changes keep coming, then restored. The engine stops the pipeline on
//     any error from Run, so the source must reconnect by itself, log the
//     loss at WARN or above for each attempt, and lose nothing. Committed
//     may fail while the connection is cut (the engine logs it and tells
//     the source again with the next checkpoint), and must succeed again
//     once the source has caught up after the restore. Then they
//     are cut again while the source holds what no sink has acknowledged:
//     30 transactions of one batch each and part of a large one, read in
//     one go after Emit was held. Nothing emitted may come again after the
//     reconnect (the committed checkpoint is far behind: the source must
//     resume after what it emitted, even when it emitted a transaction in a
//     batch that carried no checkpoint), except the transaction cut in the
//     middle, which may come again from its first row.
//   - start_outage: the source starts while its server is unreachable
//     (the proxy is cut): Run must wait, logging a WARN per attempt, and
//     deliver everything once the server answers; a Run stopped while it
//     waits returns at once.
//   - backpressure: Emit is held while 24 MiB are pending, in the snapshot
//     and in one committed transaction; the live heap may grow by a few
//     batches only; nothing is lost once released; a Run blocked in Emit
//     returns when its context is cancelled.
//   - types: the type matrix, existing and inserted rows, values and NULLs:
//     exact event.Values, column types and type names. One rule holds for
//     every source whatever its matrix says: a float32 column carries the
//     stored float32 widened exactly (float64(float32(x))), so the same
//     stored value is the same event.Value from every source.
//
// On every run: batches hold at most the configured batch size, a table's
// events share one *event.Schema with the right identity and key, every
// checkpoint can be read back and never goes back, Committed never fails,
// Run returns nil once cancelled and never calls Emit after returning,
// Close returns promptly, and no log record or error holds the DSN's
// password.
//
// Sources that see less say so in Caps, and the suite asks no more: sql_poll
// sees no deletes (and, in incrementing mode, no updates nor rows inserted
// below an id already read), reports every change as op c, and may coalesce
// states between polls. An export-only source (Caps.Stream false, e.g.
// MongoDB on a server without change streams) runs the snapshot,
// mid-snapshot crash, back-pressure and type checks only; a document
// source maps its documents to the suite's rows with Harness.Row, names its
// key column with Harness.Key, and sets Caps.Shapes: each document shape
// has its schema, so a row of NULLs (fields holding null) has one of its
// own, typed Harness.NullType.
//
// # Adding a source
//
// Write a conformance_test.go in the source's package with a
// TestConformance that calls Run with a Harness (see source/postgres for a
// change log, source/sqlpoll for a poller). Do not mark that test
// parallel: the back-pressure subtest measures the process's heap and must
// not share it with other tests.
//
// # Emitter
//
// A source's own tests (beyond the suite) drive it with Emitter: it records
// every batch with its checkpoint, can hold batches as the engine's
// in-flight window does (SetWindow, Release, Acknowledge), can pace a
// snapshot's batches against a concurrent workload (PaceAgainst: a test
// that needs the two to overlap gets the overlap on any machine, not by
// timing), and waits for conditions. The source packages use it instead
// of copies of their own.
//
// # The suite can fail
//
// memdb_test.go is an in-memory database with a change log and a source of
// it that keeps the whole contract (TestMemDB, TestMemDBExportOnly).
// TestSuiteCatchesBrokenSources runs subtests against it with one property
// broken at a time (reordered changes, a lost or replayed change after a
// restart, emitted transactions delivered again after a reconnect — resumed
// from the committed checkpoint, or from the last checkpoint when batches
// cut inside a transaction carry the complete ones before it without one —,
// a checkpoint that claims a whole transaction mid-way or goes back, unbounded read-ahead (in the stream, and in a snapshot that
// checkpoints its start alone first), a missing snapshot mark, a second snapshot
// read, wrong ops, before images, Seqs, type names, float32 values, batch
// sizes, schemas) and checks that each makes the suite fail, naming it.
package sourcetest
