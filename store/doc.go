// Package store is a pipeline's durable state behind three small
// interfaces: checkpoints (the sources' positions), operator state (the
// keyed state of stateful processors: tables, aggregates, join windows) and
// leases (partitions of work held by one node at a time, with a fencing
// epoch). The embedded implementation (DB) keeps all three in one Pebble
// database under the pipeline's state directory; package pgleases
// implements Leases on a PostgreSQL table for several nodes. Both pass the
// lease suite of package leasetest.
//
// # Commits and epochs
//
// The engine numbers the batches it processes with epochs that only grow.
// Before a stateful processor handles a batch the engine calls
// OperatorState.Begin with the batch's epoch; every change made then
// belongs to that epoch. Changes are visible to reads at once but durable
// only through Commit: Commit(c) makes every change of the named
// processors in epochs ≤ c.Epoch durable together with c.Checkpoints, in
// one atomic, synced write. After a crash, Open rolls every processor's
// state back to its last committed epoch, so that state and checkpoints
// always describe the same inputs (architecture invariant 8).
//
// Commit may run while a processor already works on a later epoch (the
// sinks write batch e while the processor handles e+1): the later epoch's
// changes stay uncommitted. Once a Commit has taken epoch e, changes in
// epochs ≤ e are refused with an error, and so is a change before any
// Begin; a Begin that does not grow makes every later change fail.
//
// # Files
//
// In the state directory: store/ (the Pebble database), store.lock (held
// by the open DB: a second process, or a second Open in this one, fails
// with "is locked by another sluice process"), and state.db.migrated (the
// bbolt file of package state once its checkpoints were imported).
//
// # Key layout
//
// The first byte of a key names its space; processor and namespace names
// are written with their length first (uvarint), so that no name's keys
// fall in another's range:
//
//	c source                          checkpoint
//	e processor                       committed epoch (8 bytes, big-endian)
//	s |processor| processor key       operator state
//	u |processor| processor epoch seq undo record (epoch, seq: 8 bytes big-endian)
//	l |ns| ns key                     lease row
//	k |ns| ns |kind| kind key         partitions of a kind not done (for Acquire)
//	m format                          layout version (1)
//
// An undo record is a kind byte (1: the key was absent, 2: present), the
// key (uvarint length, bytes) and the value it had (the rest). A lease row
// is a version byte, kind, owner, status and progress (uvarint length,
// bytes), epoch and version (uvarint) and expiry (varint Unix nanoseconds,
// 0 for none). Decoders of both are fuzzed.
//
// # Operator state: an undo log
//
// A change is written to Pebble at once, without sync (the WAL keeps it),
// in the same Pebble batch as an undo record keyed (processor, epoch,
// seq) that holds the key's value before the epoch's first change of it,
// or its absence. Reads go to Pebble (through the pending batch, indexed,
// so they see every change). Commit writes, in one synced batch, the
// checkpoints, the committed epoch of each processor and a range deletion
// of its undo records of epochs ≤ c.Epoch. Open walks the undo records
// newest first and writes back what they hold, deleting each in the same
// batch, then syncs; only then can anything read. The invariants:
//
//  1. For every key a processor changed in an epoch e above its committed
//     epoch, an undo record of e holds the key's value before e's first
//     change of it, and it reached Pebble in the same batch as that change
//     (a batch is one indexed pebble.Batch, applied whole).
//  2. No undo record of an epoch ≤ the committed epoch exists: Commit
//     deletes them in the batch that raises the committed epoch, and
//     changes in those epochs are refused from the moment Commit starts.
//  3. Applying, newest first, every undo record of the epochs above the
//     committed one gives each key the value it had at the end of the
//     committed epoch: the oldest record of a key, applied last, holds the
//     value before the first uncommitted epoch that changed it. Records
//     written twice for one key and epoch (see below) change nothing: the
//     older one is applied after the newer.
//
// Crash argument. Pebble writes batches to its WAL in commit order and a
// synced write makes every earlier batch durable (its commit pipeline,
// Pebble's docs/rocksdb.md); recovery replays the WAL in order and stops at
// the first torn record. After a crash the database is therefore the
// result of a prefix of the applied batches, each whole. By (1) that
// prefix holds, for each change it holds, the undo record of it; by (2)
// and the prefix property, the committed epoch and checkpoints it holds
// are those of the last Commit in it, with every change of the epochs it
// covers (all applied before it). Rolling back by (3) leaves exactly the
// state of that commit. A crash during the rollback leaves a prefix of its
// batches: the records left are the older ones, and the next Open finishes
// the job with the same result. The crash tests check this with a child
// process SIGKILLed at random moments, right after a Commit returned,
// between changes and their Commit, and in the middle of a rollback
// (TestCrash), and with an in-memory file system that loses what was not
// synced, as a power loss would, at random moments (TestCrashPowerLoss).
//
// Costs and bounds:
//   - The pending batch is applied (without sync) once it holds 1 MiB,
//     and before each Commit.
//   - The first change of a key in an epoch reads the key (bloom filters
//     make that cheap for new keys), except right after a Get of the same
//     key, whose result is reused (an aggregate's read-modify-write).
//   - Keys already recorded in the epoch are remembered in a set of at
//     most 65,536 keys and 4 MiB; past it, changes of keys not in the set
//     write an undo record each time (correct by (3), only larger).
//     Checking the undo log instead would need an index by key.
//   - DeleteRange reads the range and writes an undo record, with its
//     value, for each key in it not yet recorded in the epoch (in bounded
//     batches), then one Pebble range deletion: the cost of a Scan of the
//     range plus a write of all of it. Windows that expire many rows per
//     epoch pay that; the alternative, versioned keys, would make every
//     read pay instead.
//   - Rollback applies 4,096 records per batch.
//
// Concurrency: a State's methods and Begin are called by one goroutine at
// a time (the processor's); Commit and Committed by the engine's,
// concurrently with them. A per-processor mutex orders them. Scan holds it
// while it calls fn; fn may Get, Set and Delete (those see the changes, the
// scan does not) but not DeleteRange, and must not call Commit.
//
// Memory: CacheSize (default 32 MiB) is Pebble's budget, in which the
// memtables (MemTableSize, default 8 MiB, at most two) are reserved;
// Pebble counts it outside the Go heap. Per processor: the pending batch
// (≤ 1 MiB plus one change), the recorded set (≤ 4 MiB of keys), buffers
// of the largest key and value. The state's size is on disk only: see the
// figures below.
//
// # Leases
//
// One row per partition and namespace; every change is one synced batch
// under a mutex (read the row, check, write), with the semantics of the
// PostgreSQL lease table of the several-nodes issue: Create inserts missing
// rows (status open, epoch 0, version 1); Acquire takes the first
// partition of the kind, in key order, that is open or whose expiry is ≤
// now, raising epoch and version and setting owner and expiry now+ttl;
// Renew, Complete, Fail and Release require the row to be owned by the
// caller at the caller's epoch (else ErrLeaseLost), bump the version, and
// keep the stored progress when given nil. Fail sets status failed: like
// done, never handed out again, until Reopen (conditional on the version
// the caller read) opens it again. A lease past its expiry that nobody took
// can be renewed: nobody wrote under a later epoch. now is the store's
// clock: the wall clock read at Open, advanced by the monotonic clock (a
// wall-clock step while running changes no lease), injectable through
// Options.Clock. Namespaces share nothing.
//
// # Damage
//
// Any corruption Pebble reports (checksums of sstables and WAL records, a
// MANIFEST that does not match the files, an OPTIONS file that does not
// parse or names another comparer) and any record of this package that
// does not decode is an error naming the store directory and the recovery
// ("restore it from a backup, or remove it to start over (the sources then
// snapshot again)"); errors.Is(err, ErrCorrupt) holds for those that are
// known to be damage. Open never starts afresh over an existing store: the
// store is created in store.tmp and renamed, so an existing store/ without
// its MANIFEST is damaged, not new. Two cases are not errors, by nature: a
// torn WAL tail is what a crash leaves (the store opens with the commits
// before it), and OPTIONS values other than the comparer are advisory.
// Pebble stops the process (Fatalf, exit status 70) when it cannot write
// its WAL or MANIFEST; the next Open recovers the last commit.
//
// # Migration
//
// When <dir>/state.db (package state) exists, Open imports its checkpoints
// in one synced batch if the store has none yet, then renames it
// state.db.migrated (and syncs the directory). After a crash before the
// rename, the store's checkpoints equal the file's, and Open just renames;
// if they differ (an older sluice ran again after the migration), Open
// fails naming both files.
//
// # Figures
//
// go test -bench . ./store/ on this project's machine (2 cores shared with
// other jobs, load average 3 to 8 during the run, so absolute times are
// some 3 to 5 times an idle machine's): CPU time per operation, the
// process's (Pebble's background work included), median of 3, against the
// same work on Pebble directly (no undo records, same batching and syncs):
//
//	                               store     Pebble   ratio
//	Set of a new key             16.4 µs     2.8 µs    5.9   (undo: a read, a second write, their compaction)
//	Get, 100,000 keys             3.8 µs     3.5 µs    1.1
//	Get+Set, 1,000 groups         4.9 µs     3.3 µs    1.5   (one undo record per group and epoch)
//	Get+Set, 100,000 groups      14.0 µs     7.2 µs    1.9
//	Get+Set, 1,000,000 groups    16.7 µs     7.6 µs    2.2
//
// (epochs of 1,000 changes, a synced Commit every 10 epochs). So one core
// of this loaded machine updates ~200,000 hot aggregates per second, ~70,000
// spread over 100,000 groups. The undo log costs most on inserts of new
// keys (join rows), where Pebble alone only appends.
//
// Memory (TestLargeStateRSS, STORE_BIG_KEYS=10000000): writing 10,000,000
// keys (16-byte keys, 32-byte values, 183 MiB on disk at the end) the
// process's RSS is 46 MiB at 1,000,000 keys and 56 MiB at 10,000,000 (Go
// heap 5 to 7 MiB; Pebble's C memory 32 MiB throughout). With cgo, Pebble
// allocates with C malloc; glibc's default arenas let RSS grow past 130
// MiB for the same run, so the package limits glibc to one malloc arena
// when the program loads (malloc_cgo_linux.go; the whole process shares
// it). Without cgo Pebble allocates on the Go heap.
package store
