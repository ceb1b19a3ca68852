// Package mysql is sluice's MySQL/MariaDB change-data-capture source: a
// consistent snapshot of the configured tables, then every row change after
// it from the row-based binlog (go-mysql's replication.BinlogSyncer), as
// event.Events in batches. It behaves like source/postgres: the same event
// model, checkpoint rules, Committed semantics, Progress, reconnects and
// bounded memory.
//
// # Flow
//
// Run checks binlog_format=ROW and binlog_row_image=FULL, resolves the
// configured db.table patterns against information_schema, and then:
//
//   - First run with snapshot: initial: one connection runs START
//     TRANSACTION WITH CONSISTENT SNAPSHOT and reads SHOW STATUS LIKE
//     'binlog_snapshot_%' in it. MariaDB (and Percona Server) report there
//     the binlog file and position that match the transaction's read view
//     exactly, without FLUSH TABLES WITH READ LOCK; the GTID position is
//     BINLOG_GTID_POS(file, pos) (the server scans that file up to pos: a
//     second or so on a 1 GB binlog, once per snapshot). On servers without those status variables
//     (Oracle MySQL) the position is read under a brief FLUSH TABLES WITH
//     READ LOCK around START TRANSACTION and SHOW MASTER STATUS (needs
//     RELOAD). Tables are then read one after another in primary-key order,
//     snapshot_chunk_rows per query:
//     SELECT cols FROM t WHERE (pk) > (last) ORDER BY pk LIMIT n,
//     through the text protocol (exact text for every type). Streaming
//     starts at the snapshot's position: no gap, no overlap.
//   - Tables without a primary key are read in one query; their events have
//     no key, and a crash restarts their snapshot from the beginning.
//   - Shared by several nodes (coordination, component.Chunker, chunks.go):
//     the leader records the binlog and GTID position (SHOW MASTER STATUS)
//     BEFORE planning, then splits each table into primary-key ranges of
//     snapshot_chunk_rows rows (the key of every n-th row in key order,
//     ROW_NUMBER() OVER (ORDER BY pk); the first range unbounded below, the
//     last above, so every key falls in exactly one; a keyless table is one
//     chunk). MySQL cannot share a consistent snapshot between connections,
//     so each chunk is read by whichever node holds it in a START
//     TRANSACTION WITH CONSISTENT SNAPSHOT of its own, later than the
//     recorded position; the stream starts at that position and replays
//     every change after it, so a row read in a newer state gets those
//     changes again, in order, after it, and the last image per key is right
//     (the argument of a resumed snapshot above). Every row of the shared
//     snapshot carries source.snapshot "true" and the recorded position.
//   - Otherwise: the binlog from the checkpoint (snapshot: never starts at
//     SHOW MASTER STATUS).
//
// # Incremental snapshots
//
// Tables are re-read while the binlog streams, by the watermark algorithm
// of source/postgres (incremental.go there and here), with the watermarks
// as rows of the signal table (signal_data_collection), which the decoder
// reads from the binlog like the execute-snapshot / stop-snapshot rows
// Debezium documents, and never emits. The progress is in the stream
// checkpoint (incremental).
//
// # Checkpoints
//
// The checkpoint is this package's JSON (see checkpoint): phase, the binlog
// file/position and GTID position where reading resumes, and while
// snapshotting each table's progress (done, or the key of the last row of
// the last emitted chunk). Like source/postgres, a checkpoint handed to Emit
// always describes a prefix of what was emitted: snapshot checkpoints ride
// on a chunk's last batch, stream checkpoints only on the batch holding a
// commit (XID event, COMMIT query or DDL).
//
// A crash mid-snapshot resumes each table after its last emitted chunk at a
// new consistent read, and the stream still starts at the first snapshot's
// position: rows changed in between may be read in their newer state and
// then delivered again by the stream (at least once; the last image per key
// is right).
//
// Streaming restarts by GTID where the server has GTIDs (MariaDB always; MySQL
// with gtid_mode=ON), else by file/position. MariaDB GTID positions are kept
// as "domain-server-seq" per domain; MySQL's as a GTID set. Committed only
// records the durable position: MySQL keeps binlogs by age
// (expire_logs_days / binlog_expire_logs_seconds), not by replica progress,
// so there is nothing to confirm upstream; the semantics (everything before
// the durable checkpoint may be forgotten) are the same.
//
// Before streaming from a checkpoint the source checks SHOW BINARY LOGS; a
// purged file (or the server's error 1236 when dumping) is ErrBinlogLost. With
// on_binlog_lost: fail (the default) Run stops with a permanent error naming
// the lost position and the checkpoint intact; with resnapshot it logs a
// warning and takes a new snapshot. Never a silent skip.
//
// Before it is lost, retention.go watches it: the server purges binary
// logs by age only (binlog_expire_logs_seconds, else expire_logs_days) and
// protects only the logs a dump thread is reading. At start a checkpoint
// whose file is the oldest kept, on a server that purges by age, is
// warned about (the next purge takes it). As a component.Gauger the source
// reports, at scrape time on Run's pool (at most once per 5 s), the binary
// logs written after the durable position's file and whether that file is
// at risk, logging the risk once.
//
// # Streaming
//
// Row events are pushed in batches of batch_size as they are decoded;
// batches in the middle of a transaction carry no checkpoint, so a huge
// transaction needs memory for a few batches plus go-mysql's queue of 64
// decoded events. Small transactions share a batch: complete transactions
// are emitted once the binlog has been quiet for 1 ms, and at the latest
// 5 ms after the first of them, however busy the binlog. A batch that
// fills up inside a transaction is
// emitted in two: the complete transactions before it with their
// checkpoint, then the transaction's first rows without one, so every
// emitted complete transaction is behind the last checkpoint handed to
// Emit, however busy the binlog. When only other tables' transactions go by, the
// position after them is checkpointed after a quiet second, so an idle table
// does not pin an old binlog file. heartbeat_interval sets the server's
// heartbeat period on the replication connection (a silent dead connection
// is noticed after three periods).
//
// A lost replication connection (network error, KILL of its thread, a
// server restart) is re-established with exponential backoff (0.5 s
// doubling up to 1 min), restarting after the last checkpoint handed to
// Emit: no complete transaction comes again, and the transaction emitted in
// part, which the server sends again from its first event, has its emitted
// rows skipped (by the position of their rows event and their index in it;
// the server sends a transaction again with the same positions, by file
// and position or by GTID). go-mysql's own retry is disabled so that the
// restart point is always a checkpoint.
//
// # Schemas across DDL
//
// Each TABLE_MAP event is compared with the previous one of its table
// (column types, metadata, names); when it differs, the catalog
// (information_schema) is read, and its description is used if it still
// matches the TABLE_MAP (count, names when present, binlog types). If the
// catalog has already moved on (a later ALTER TABLE ran before these rows
// were decoded), the schema is built from the TABLE_MAP's full metadata
// alone (binlog_row_metadata=FULL: names, signedness, charsets, enum/set
// labels, primary key). A changed shape makes a new event.Schema with a
// higher Version. Without full metadata, DDL statements on a captured
// table's database mark its cached layout stale so the next TABLE_MAP
// re-reads the catalog; a rename there is only right if the source decodes
// the rows before a later DDL changes the catalog again (with full metadata
// the binlog itself names the columns). A TABLE_MAP without names that fits
// no catalog description stops the source with an error asking for
// binlog_row_metadata=FULL.
//
// # Values
//
// Connections use utf8mb4 and time_zone '+00:00'. The mapping:
//
//	MySQL type                event.Type     value
//	tinyint / smallint        Int16          KindInt (smallint unsigned: Int32)
//	mediumint / int           Int32          KindInt (int unsigned: Int64)
//	bigint                    Int64          KindInt
//	bigint unsigned           Decimal(20,0)  KindDecimal (exceeds int64)
//	float / double            Float32/64     KindFloat (float widened exactly)
//	decimal(p,s)              Decimal        KindDecimal, exact text at scale s
//	char/varchar/*text        String         UTF-8 (latin1 = cp1252 decoded)
//	json (MySQL), MariaDB     JSON           the JSON text (MariaDB: LONGTEXT with
//	  longtext + json_valid                  CHECK (json_valid(col)))
//	binary/varbinary/*blob    Bytes          raw; binary(n) right-padded with 0x00
//	enum                      Enum           the label; EnumValues lists them
//	set                       String         labels joined by "," (TypeName "set")
//	bit(1) / bit(n)           Bool / Bytes   bit(n): ceil(n/8) big-endian bytes
//	date                      Date           days since 1970-01-01
//	time(fsp)                 Time           µs, may be negative or past 24 h
//	datetime(fsp)             Timestamp      µs since the epoch, no zone
//	timestamp(fsp)            TimestampTZ    µs since the epoch, UTC
//	year                      Int32          KindInt
//
// Zero dates and dates with zero parts ('0000-00-00', allowed without
// NO_ZERO_DATE) become NULL, as Debezium does. Character sets other than
// utf8mb4, utf8mb3, ascii, latin1 and binary, and types outside the table
// (geometry, MariaDB's inet6/uuid/vector, ...) are refused at start with an
// error naming the table, column and type.
//
// # Source metadata and order
//
// Events carry event.Source.Binlog (file, position of the rows event — the
// snapshot's position for snapshot rows —, GTID, server id, thread id when a
// BEGIN query event names it) and Row (row number within the rows event),
// the coordinates of Debezium's MySQL source block; the format package
// writes them as io.debezium.connector.mysql.Source. For sinks that order by
// event.Seq, CommitLSN is file<<32 | position of the transaction's first
// event (transactions are written in commit order) and LSN is
// file<<48 | position<<16 | row, unique and growing within a transaction
// and per key across transactions (event.Version), as long as the file
// number is below 32768, positions below 4 GiB and rows events below 65536
// rows (HasLSN is false otherwise).
//
// # Performance
//
// go-mysql reads the replication stream on its own goroutine, and its
// parser hands every rows event to this package's imageDecoder (a
// RowsEventDecodeFunc, see rowimage.go): the row images are decoded by
// binlog type straight into one slab of event.Values per rows event, the
// strings being the event body's own bytes (no copy), without go-mysql's
// boxing into []any and per-value formatting. The source's goroutine then
// applies the catalog's column decodings, touching only columns whose
// values change (unsigned integers, enums, sets, bits, latin1 or non-ASCII
// text, zero dates). Rows of tables that are not captured are not decoded.
// go-mysql still decodes MySQL's binary JSON, geometry and vector columns,
// partial JSON updates, MariaDB's compressed rows events and malformed
// events; the values are identical either way (checked value by value on
// recorded MariaDB events and by FuzzRowsEvent).
//
// Reading and decoding overlap: the network read, go-mysql's parsing and
// the image decoding run one event after another on go-mysql's goroutine,
// while the kernel's socket buffer lets the server send ahead; decoded
// events reach the source's goroutine (events, batches, Emit) through
// go-mysql's queue of 64. A read-ahead goroutine of the source's own would
// add a copy and a handoff per packet and no overlap the socket buffer
// does not already give.
//
// TestBinlogDrainThroughput (SLUICE_MYSQL_BENCH=1) drains 1,000,000 row
// inserts and runs mariadb-binlog decoding the same range from the server:
// on the development machine (2 shared cores, load about 1) 0.86–0.98 s
// against 1.09–1.47 s (1.2–1.5×, about 1.1 million rows/s), CPU time 1.04–1.1
// s against mariadb-binlog's 1.09–1.46 s, peak heap 10–11 MiB; with
// go-mysql's row decoding it was 1.5–2.6 s (0.5–0.75×) and 2.5–4.1 s of CPU.
// BenchmarkRowsEvent: 1,450 ns per row of that table with go-mysql's
// decoding, 450 ns with the image decoder. scripts/bench.sh -phases binlog
// (1,000,000 changes through a file sink with Debezium JSON, best of 2):
// 0.93× mariadb-binlog (2.21 s against 2.06 s), CPU 2.88 s against 2.05 s;
// the rest of sluice's time is the sink's encoding and writing. Third pass
// (strings from the event body, floats and years not converted again): the
// source alone 0.93 → 0.83 µs of CPU a change, 20.1 → 15.0 kB allocated per
// 40-row event (docs/performance.md, Sources). Fourth pass: a trace of
// the binlog phase shows the source and go-mysql's reader waiting on the
// engine's window for over half the run while the file sink encodes and
// fsyncs: the sink, not this package, is the drain's critical path.
//
// # Not tested here
//
// The tests run against MariaDB 10.11 only. These paths are written for
// Oracle MySQL and untested: the FLUSH TABLES WITH READ LOCK snapshot
// position, MySQL GTID sets (GTID events, StartSyncGTID with a MySQL set,
// Executed_Gtid_Set), the binary JSON type (decoded by go-mysql to text),
// MySQL 8's TRANSACTION_PAYLOAD events (binlog_transaction_compression; their
// inner events get positions start+index inside the outer event), partial
// JSON updates (binlog_row_value_options=PARTIAL_JSON: they stop the source
// with a decoding error naming the column), and servers without
// binlog_row_metadata (MySQL 5.7, MariaDB before 10.5), where schemas come
// from the catalog alone (tested here by switching MariaDB to MINIMAL).
// MariaDB's compressed rows events (log_bin_compress) and the pre-5.6
// temporal types (mysql56_temporal_format=OFF) are tested with events the
// tests build, not with a server writing them (both are global settings of
// the shared test server).
package mysql
