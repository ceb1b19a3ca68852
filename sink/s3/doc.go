// Package s3 is sluice's object-storage sink (`type: s3`): events become
// objects in an S3 bucket, as JSON lines in any sluice format or as Parquet
// with typed columns, partitioned by stream and commit time, cut by record
// count, size and time, and named after the source positions they hold — so
// that the bucket holds every change exactly once, through crashes and
// replays. It works with AWS and any S3-compatible server (endpoint,
// path-style addressing, static keys or the AWS credential chain) and is
// tested against versitygw (see scripts/s3.sh).
//
// # Durability: a local spool
//
// An object cannot be appended to, and holding a whole object in memory
// until it is complete would make the engine wait for count or time
// rotation before any event is acknowledged. So every open object has a
// spool file under <state_dir>/sink/<name>/spool: Write appends each
// event's encoded record to its object's spool and fsyncs before returning.
// An acknowledged event is therefore always in an uploaded object or in a
// spool file from which it will be uploaded. When an object is complete its
// spool file is sealed (renamed <n>.sealed, directory fsynced); sealed
// objects are uploaded, oldest first, then the stream high-water marks are
// saved and the spool file removed. A JSON-lines object is read for the
// upload straight from its sealed spool file, the record heads skipped
// (payloads.go: no copy of the object is written, nothing is re-encoded); a
// Parquet object is built from the spooled rows in a file beside it first.
// The sealed file is read once whole before the upload, checking every
// record's checksums; over plain HTTP, where SigV4 signs each request's
// payload with its SHA-256 (which S3 checks), that reading also hashes the
// ranges the requests send (the object, or each part), and the SDK is
// given those hashes instead of reading each body once more to hash it;
// parts then carry no CRC32 of their own (the signed hash guards them).
// Over HTTPS the SDK sends UNSIGNED-PAYLOAD (TLS guards the bytes) and
// nothing is hashed.
// Write appends records to a spool file as its 1 MiB buffer fills and
// fsyncs once at the end, so its memory does not grow with the batch.
//
// The objects a Write completes are uploaded in the background while the
// engine's next Writes fill the next object: a Write does not wait for the
// upload in flight unless it sealed objects behind it (then it waits, so
// at most the objects of the upload in flight and of one Write wait for
// S3). When an upload fails, the next Write (once the failure is seen)
// retries it synchronously before taking any event and fails while S3 is
// unreachable (the engine retries with backoff), so an outage stops the
// pipeline instead of filling the disk; Close seals and uploads every open
// object.
//
// On start the sink reloads the spool: sealed files are uploaded first,
// open files (their torn last record cut) keep receiving records. An open
// file is checked against the limits before it takes another record: one
// already at flush_size or rotate_bytes — a crash between the fsync of its
// last record and the rename that seals it — is sealed at once, and its
// age for rotate_schedule_interval counts from when it was opened (the
// time is in the spool file's header), not from the restart.
//
// # Damaged files
//
// Every spool record carries a CRC-32C of its payload and one of its head,
// and s3-state.json a CRC-32C of its marks (spool.go and state.go describe
// the formats; files of earlier versions, which have fewer checksums, are
// still read). A crash leaves at most one record cut short at the end of an
// open spool file, never acknowledged, which the sink cuts on start. Any
// other damage — a record whose checksum fails, a sealed spool file cut
// short, a state file that does not check — is a permanent error naming
// the file, what is wrong and what each way out loses (restore the file
// from a backup; cut a spool file at the damage or remove it; remove the
// state file) and how to write lost events again (a new snapshot). A
// damaged file is left as it is: never cut, never taken for a fresh start.
//
// # Exactly once: names from positions, replays skipped
//
// An object is named
//
//	<prefix>/<partition>/<stream>+<first>+<last>.<jsonl|parquet>
//
// with first and last the positions of its first and last record: the
// event's Seq as "<hi>-<lo>" in 16 hex digits each (PostgreSQL: commit LSN
// and change LSN), or "s<ordinal>" for events without one (snapshot rows,
// numbered per stream by the sink; see below). Per stream the sink keeps
// the highest Seq it has taken (spooled or uploaded; a replayed event at or
// below it is skipped) in the spool files themselves and, for uploaded
// objects, in s3-state.json. The argument, case by case:
//
//   - Crash while sealing, after the fsync of an object's last record and
//     before the rename (or before the directory fsync that makes the
//     rename durable): the next run finds the file open and full, and
//     seals it before anything else; the object is the one an
//     uninterrupted run cuts.
//   - Crash before an upload: the spool survives; the engine replays from
//     its checkpoint; every replayed event that is in the spool is at or
//     below the high-water mark and skipped, later ones extend the same
//     spool. The objects are the ones an uninterrupted run cuts, since
//     count, size and event-time rotation depend only on the events.
//   - Crash after an upload, before the spool file is removed: the next run
//     builds the same bytes from the same spool and puts them under the same
//     name (derived from the records, not from a counter or a clock), which
//     replaces the object: still one copy.
//   - Crash after the state file is saved: the uploaded events are below
//     the saved mark and skipped when replayed.
//   - Power failure while a Write fsyncs the objects it filled: a stream's
//     records with a position not yet fsynced are only ever in one spool
//     (a Write that moves a stream to another open object, at a partition
//     boundary, fsyncs the previous one and the directory first), and they
//     follow all its durable records, so a failure can only cut a suffix
//     of the stream, which the replay writes again; it never keeps a
//     record above a lost one. On start, the open spools are fsynced
//     before what they hold counts as taken (after a crash of the
//     process; after a failed fsync followed by a crash, Linux may have
//     dropped pages it still shows, which no later fsync reveals — the
//     limit every program that trusts fsync shares).
//   - A failed Write that the engine retries with the same events: the
//     sink cuts the open spools back to their last successful fsync (after
//     a failed fsync the page cache may show records the disk lost) and
//     reloads them; the retried events still on disk are skipped — snapshot
//     rows too, as the retry numbers them the same, unless something was
//     cut: the retry then numbers them after those on disk (at least once).
//
// The wall-clock rotate_schedule_interval makes boundaries depend on
// timing, but never duplicates: a replay is skipped by position, not by
// object. The limits come from the sources, not the sink: the high-water
// mark needs each stream's Seqs to grow in arrival order, which is the
// contract of event.Event.Seq (the PostgreSQL, MySQL and MongoDB sources'
// Seqs do, and sql_poll's, whose Seqs grow per table, hence per stream; the
// Kafka source keeps Seq only when it reads one topic of one partition).
// Events without a Seq — snapshot rows, events of sources that
// give no order, events read back from several Kafka partitions — are
// named by the sink's own ordinal and written at least once:
// re-delivered after a crash (the PostgreSQL source resumes a snapshot after
// its last checkpointed chunk, see source/postgres) they land again, in new
// objects.
//
// # Rotation
//
// An open object is sealed when it reaches flush_size records or
// rotate_bytes bytes of records (both checked after a record is added), when
// a record of its stream arrives whose commit time is rotate_interval or
// more after the object's first record (event time, Kafka Connect's
// rotate.interval.ms: deterministic), when rotate_schedule_interval (default
// 10m) of wall time has passed since it was opened (Kafka Connect's
// rotate.schedule.interval.ms, checked by Write and a background ticker, so
// idle streams are flushed too), for Parquet when its stream's schema
// version changes, and at Close.
//
// # Partitions
//
// The partition template (default ${stream}/dt=${date}/hour=${hour})
// renders ${stream}, ${source}, ${database}, ${schema}, ${table} (a '/' in a
// name becomes '_') and ${date}, ${year}, ${month}, ${day}, ${hour},
// ${minute} of the event's source commit time in UTC (source.ts_ms; sluice's
// processing time only for sources without one), so a replay lands in the
// same partition.
//
// # Parquet
//
// One object per table schema version, with the table's columns in table
// order, all optional, then the envelope columns __op (string: c, u, d, r),
// __source_ts_ms (int64), __lsn (optional int64) and __deleted (bool). The
// image is the after image, or the before image for deletes (as the row
// format's delete_handling: rewrite); truncates have no row. Types:
//
//	sluice type            Parquet
//	bool                   BOOLEAN
//	int16 / int32 / int64  INT32 INT(16) / INT32 INT(32) / INT64 INT(64)
//	float32 / float64      FLOAT / DOUBLE
//	decimal(p,s)           DECIMAL(p,s): INT32 if p<=9, INT64 if p<=18, else FIXED_LEN_BYTE_ARRAY
//	decimal unconstrained  STRING (exact text)
//	money                  DECIMAL(18,2) INT64
//	string, enum, uuid,    STRING (uuid canonical text, interval ISO 8601,
//	  timetz, interval,      timetz "HH:MM:SS[.ffffff]Z"; readers know
//	  xml, inet, unknown     strings better than ENUM or UUID(16 bytes))
//	bytes                  BYTE_ARRAY
//	json                   BYTE_ARRAY JSON
//	date                   INT32 DATE
//	time                   INT64 TIME(MICROS, isAdjustedToUTC=false)
//	timestamp              INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false)
//	timestamptz            INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)
//	array                  LIST of the element type (elements optional)
//
// Write spools each row in a compact value encoding (parquet.go:
// appendEventRow writes it straight from the event's values with a typed
// switch per column, no parquet.Value built); the object is built from
// those rows when it is uploaded: the spool is read with one reused record
// buffer, each row decoded straight into one value slice per leaf column
// (byte arrays copied into an arena that lives for a batch of 256 rows) and
// written column by column (columnWriter), in the 64-row chunks
// parquet-go's WriteRows makes, so pages and files are byte for byte those
// of the row-by-row writer. The finished pages of the row group being
// written wait in unlinked files beside the object file (pageFiles), not in
// memory, so the build's heap is its column buffers (a page of values per
// column) whatever the object's size. Pages are compressed with the
// configured codec (SNAPPY by default; its blocks come from s2's standard
// snappy encoder, not the slower "better" one parquet-go calls).
//
// An unchanged TOAST value is Debezium's placeholder
// "__debezium_unavailable_value" in string and bytes columns and null
// elsewhere. A value that has no Parquet form (a numeric NaN in a DECIMAL
// column, a decimal wider than its column) is rejected as a
// component.RecordError naming the column, for the dead-letter path.
//
// # Errors
//
// Spool I/O errors and S3 errors are plain (the engine retries); a damaged
// spool or state file, a missing bucket or rejected credentials are
// component.Permanent (stop with the
// checkpoint intact and the spool kept); configuration problems are
// reported by Validate.
package s3
