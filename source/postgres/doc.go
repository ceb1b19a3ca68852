// Package postgres is sluice's PostgreSQL change-data-capture source: a
// consistent snapshot of the configured tables, then every change after it
// from a logical replication slot (pgoutput), as event.Events in batches.
//
// # Flow
//
// Run resolves the configured tables (globs allowed) against the catalog,
// creates or extends the publication (never with a table the checkpoint
// captured: see Publication), and then:
//
//   - First run with snapshot: initial: CREATE_REPLICATION_SLOT ...
//     EXPORT_SNAPSHOT on the replication connection, which then stays idle
//     while snapshot_workers regular connections import that snapshot
//     (REPEATABLE READ, SET TRANSACTION SNAPSHOT) and read every table in
//     primary-key order, in chunks of snapshot_chunk_rows:
//     COPY (SELECT cols FROM t WHERE (pk) > (last) ORDER BY pk LIMIT n) TO STDOUT.
//     A chunk is emitted in batches of batch_size rows, 1 MiB of COPY
//     text (batchBytes), or 2 MiB of text and decoded rows (an event and
//     a 40-byte value a column each; batchMemBytes), whichever is reached
//     first, so that neither the engine's in-flight window nor the batches
//     the snapshot holds outside it grow with the row's width or its
//     number of columns.
//     The decoder sums each batch's event.Size while its rows are in the
//     cache and hands it to the engine (component.EmitSized), which would
//     otherwise read every value again at Emit. Each batch's COPY text,
//     events and value slabs come from a bounded free list (batchPool,
//     batchmem.go) and return to it when the engine releases the batch
//     (component.ReleasingEmitter: in a pipeline whose processors, if
//     any, are stateless, and whose processors and sinks all keep nothing
//     of an event, once every sink acknowledged it); elsewhere they are
//     the garbage collector's.
//     Streaming then starts at the slot's consistent point: the snapshot
//     and the stream neither overlap nor leave a gap.
//   - Tables without a primary key (or replica identity index) are read by
//     heap block ranges (ctid >= '(b,0)' AND ctid < '(b2,0)'; one query on
//     PostgreSQL 12 and 13, which lack TID range scans); their events have
//     no key, and updates and deletes need REPLICA IDENTITY FULL (a warning
//     is logged).
//   - Several nodes (coordination:, component.Chunker; chunks.go):
//     PlanChunks creates the slot with an exported snapshot, kept alive by
//     the idle replication connection it returns, and splits each keyed
//     table into key ranges of snapshot_chunk_rows rows (a keyless table
//     is one chunk); ReadChunk reads one range under that snapshot, or at
//     a new snapshot once it is gone (the stream from the consistent
//     point replays every change after it, so the last image per key
//     stays right). The stream then starts from the plan's checkpoint.
//   - Otherwise: START_REPLICATION from the checkpoint (or, with snapshot:
//     never, from the slot's position).
//
// # Checkpoints
//
// The checkpoint is this package's JSON (see checkpoint): slot, phase, the
// consistent point, per-table snapshot progress (done, or the key of the
// last row of the last emitted chunk), the stream LSN — the end LSN of
// the last fully emitted commit or heartbeat — and the captured tables. A
// checkpoint handed to Emit always describes a prefix of what was emitted:
// snapshot checkpoints are built under the emit lock from emitted chunks
// only, and stream checkpoints only ever sit on a batch that ends with a
// commit.
//
// A crash mid-snapshot resumes each table after its last emitted chunk
// (tables without a key start over). The exported snapshot is gone by then,
// so the remaining chunks are read at a new snapshot: rows changed after
// the consistent point may be read in their newer state and then the
// stream, which replays from the consistent point, delivers those changes
// again. Every event is still delivered at least once and the last image
// per key is correct; consumers see some changes twice.
//
// Restarted while streaming, the source asks for the stream after the
// checkpointed LSN; the server re-sends every transaction that commits after
// it. The slot's confirmed position (confirmed_flush_lsn) only moves when
// the engine calls Committed: the source reports exactly the durable
// checkpoint's LSN, never a received position or a keepalive's WAL end.
//
// # Streaming
//
// pgoutput protocol version 1 sends a transaction after its commit, row by
// row. Rows are pushed as they arrive in batches of batch_size rows or
// 1 MiB of row messages, whichever comes first, so a transaction of any
// size, and of any row width, needs memory for a few batches only. Small
// transactions share a batch: complete transactions are emitted once the
// stream has been quiet for 1 ms after the newest commit, and at the latest
// 5 ms after the first of them, so a busy stream shares one sink write and
// one checkpoint among many transactions while a lone one is not held
// back. A batch that fills up inside a transaction
// is emitted in two: the complete transactions before it with their
// checkpoint, then the transaction's first rows without one. A checkpoint
// so never waits for a pause in a busy stream, and always covers exactly
// the events emitted up to it.
//
// Schemas come from Relation messages plus a catalog lookup (nullability,
// declared length / precision / scale, enum labels, array element types,
// constant defaults). A changed Relation message (ADD/DROP COLUMN, type
// change) makes a new event.Schema with a higher Version; later events use
// it. The key is the table's primary key (not the all-columns identity of
// REPLICA IDENTITY FULL). An unchanged TOASTed column of an update is not
// sent; under REPLICA IDENTITY FULL the old tuple holds its value, and the
// new image takes it from there (as Debezium does), so every sink sees the
// whole row. Otherwise it arrives as event.Unchanged.
//
// The replication socket is read through a 64 KiB buffer (netread.go).
// The walsender flushes after every message, so a reader that keeps up
// would get a change or two per read; inside a large transaction (256 rows
// so far, or 256 KiB of WAL from its first record to its commit) the
// socket's low-water mark is raised to 16 KiB (SO_RCVLOWAT, Linux, TCP),
// so a read returns once that much has arrived or after 1 ms with what
// there is: the commit comes after the rest of the transaction's rows
// anyway, and the kernel keeps room for twice the mark, so the walsender
// never waits for the reader. Between transactions and in small ones the
// mark is one byte. The envelope's ts_ms (Debezium's processing time) is
// the clock read after the network read that brought the change, once per
// read rather than per change.
//
// Source metadata as Debezium's PostgreSQL connector writes it: the commit
// time with its microseconds (Source.TsUs); source.sequence's last commit
// LSN is null until the first commit after a fresh start (a new slot or a
// snapshot in this run) and the commit the checkpoint names after a resume.
// Snapshot rows carry the slot's consistent point as LSN, txid_current()
// of a transaction committed just before the snapshot transaction began as
// txId (Debezium takes it inside its snapshot transaction, which then holds
// the id, and with it the creation of every logical slot on the server,
// until the snapshot ends), the snapshot's read time, and
// Debezium 2.x's snapshot marks (first, first_in_data_collection, true,
// last_in_data_collection, last).
//
// A lost replication connection is re-established with exponential backoff
// (0.5 s doubling up to 1 min, each attempt logged), asking for the stream
// after the last checkpoint handed to Emit. Everything emitted is already
// in the engine and is not emitted again, whatever the server re-sends (it
// starts at the requested position or at confirmed_flush_lsn, whichever is
// later, and cannot start inside a transaction): a transaction whose commit
// lies before the end of the last transaction emitted whole is skipped
// whole, and the transaction emitted in part comes again from its first row,
// whose emitted rows are skipped. A row is named by its LSN and its ordinal
// among the rows at that LSN: pgoutput sends a transaction's changes in LSN
// order, and the rows of one WAL record (a multi-insert, a TRUNCATE of
// several tables) in a fixed order, so the name is the same each time the
// transaction is decoded. Only a restart (a crash, a stop) delivers events
// again: those after the durable checkpoint. Decoding errors, a missing
// slot and similar permanent problems stop Run with the checkpoint intact.
//
// A slot held by another walsender (SQLSTATE 55006) is retried with the
// reconnect backoff. In a coordinated run (Env.Epoch > 0: this node holds
// the pipeline's stream partition, package coordination) that walsender
// can only be a previous holder's, which has stopped writing; the source
// terminates it (pg_terminate_backend of the slot's active_pid) rather
// than wait for wal_sender_timeout (TestCoordinatedRunEndsOldReader).
//
// # Incremental snapshots
//
// While streaming, tables are re-read in key-ordered chunks between a low
// and a high watermark (DBLog, as Debezium's incremental snapshots; see
// incremental.go for the algorithm and its invariants): a chunk's row
// changed by a streamed transaction inside the window is dropped, the
// rest are emitted at the high watermark as reads with source.snapshot
// "incremental", so a sink never sees a snapshot row after a newer change
// of the same row. Watermarks, and the requests of Source.Signal, are
// logical decoding messages (PostgreSQL 14+); requests also come from a
// Debezium signal table (signal_data_collection) and, at start, from
// tables added to the configuration after the first snapshot. The
// progress is in the stream checkpoint and changes only at a commit or
// right after a chunk's rows were emitted, so a crash resumes after the
// last emitted chunk.
//
// # Publication
//
// A slot decodes each change with the catalog as it was when the change was
// made, so a table removed from the publication loses its changes from
// then on for good, and a dropped publication stops decoding at the first
// change made without it (a publication created again is invisible to
// changes made before its creation). Neither is repaired silently (see
// publication.go): the checkpoint records the captured tables, and a
// restart fails when one of them is missing from the publication, while a
// table new in the configuration is added; while streaming, a side
// connection looks the publication up every status_interval and stops the
// source, checkpoint intact, when a captured table left it, it stopped
// publishing a kind of change (publish = ...), or it is gone (a dropped
// table is only logged). A drop is never taken for a removal: the server
// reads what a publication lists with its catalog snapshot, newer than a
// statement's, so the listing is read first and what still exists after,
// in a second statement. The walsender's `publication "…" does
// not exist` is explained the same way. Each error names what is lost and
// the way on. A table removed and added back between two checks goes
// unnoticed: the catalog keeps no trace of it.
//
// # Heartbeats
//
// A slot whose tables are idle never advances while the rest of the
// database writes WAL, so the server keeps that WAL. Every
// heartbeat_interval without emitted transactions the source runs
//
//	SELECT pg_logical_emit_message(false, 'sluice_heartbeat', '')
//
// on the side connection and asks pgoutput for messages (option messages, PostgreSQL 14+; heartbeats are
// disabled with a warning on older servers). The message comes back through
// the stream and is emitted as an empty batch whose checkpoint is its LSN,
// so confirmed_flush_lsn advances through the normal durable-checkpoint path.
//
// # Gauges
//
// The source is a component.Gauger (gauges.go): when metrics are scraped
// it reports the WAL the server retains for its slot (current WAL position
// − restart_lsn: what fills the disk when sluice stops confirming), the
// WAL written since the position it confirmed (− confirmed_flush_lsn),
// safe_wal_size, whether a walsender holds the slot and its wal_status,
// each labelled slot. They are measured on a connection of their own
// (application_name "sluice metrics"), never the replication connection,
// at most once every 5 s and within a 2 s timeout, so a scrape neither
// loads the server nor hangs; while streaming, the guardian's looks refresh
// the same measurement.
//
// # Slot guardian
//
// guardian.go and slotcheck.go. Every slot_check_interval while streaming
// the side connection reads the slot's row of pg_replication_slots (as
// to_jsonb, so one query serves every server version's columns). The
// measurement feeds the gauges and component.SlotReporter (the status
// API). The decision (guard.decide) is a pure function of the previous
// look, on the WAL written since the confirmed position (the part sluice
// can free; WAL held before it for a running transaction only gets a
// warning of its own): one warning per upward crossing of warn_retained_wal; the
// max_retained_wal policy only when the slot was past it at the previous
// look too and has not shrunk since (a restarted pipeline catching up on a
// backlog frees WAL as it confirms, and is left alone). A slot found gone
// or invalidated while streaming applies on_slot_lost.
//
// At start, checkPosition compares a stored checkpoint with the slot: gone,
// invalidated (wal_status lost, restart_lsn null) or a checkpoint after the
// server's current WAL position (another server) apply on_slot_lost; a
// slot confirmed past the checkpoint is only logged (the documented way past
// undecodable changes is to advance the slot). "resnapshot" and
// drop_and_resnapshot end runOnce with errResnapshot: run closes every
// connection of that attempt, drops the slot and starts again without a
// checkpoint (new slot, exported snapshot, full snapshot). Rows deleted in
// the lost stretch stay in the sinks.
//
// slot_failover creates the slot with CREATE_REPLICATION_SLOT ... (SNAPSHOT
// ..., FAILOVER) when server_version_num is 170000 or more (slotCommand);
// older servers get the classic command and a warning.
//
// # Values
//
// Every connection, the replication one included, runs with TimeZone=UTC,
// DateStyle=ISO, IntervalStyle=iso_8601, extra_float_digits=3,
// bytea_output=hex and lc_monetary=C, so each type has one text form;
// value.go maps them (see the table there and decoder). Dates are days and
// timestamps microseconds since the epoch; 'infinity' maps to the extreme
// values (DateInfinity, TimestampInfinity and their negatives). Intervals
// carry Debezium's MicroDuration (a month is 365.25/12 days) and its ISO
// string. Multi-dimensional arrays are flattened in row-major order.
// Domains resolve to their base type; unknown types are passed as text
// with Column.TypeName naming them.
//
// # Why a hand-written pgoutput reader
//
// pglogrepl provides the replication protocol (slot creation, START_-
// REPLICATION, keepalives, standby status) and is used for it. Its message
// parser is not: it indexes its input without bounds checks, so a
// truncated or corrupt message panics, and it allocates a struct and a copy
// per column. pgoutput.go reads a string made once per WAL message and
// hands out substrings; malformed input is an error (see FuzzPgoutput).
package postgres
