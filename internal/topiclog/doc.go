// Package topiclog is a local, durable, Kafka-like log: topics of one
// partition each, records (key, value, headers, timestamp) at offsets that
// grow from 0, in append-only segment files. It stands in for Kafka's
// topics in `sluice serve` (sink/topiclog appends, source/topiclog reads),
// so that connectors hand events to each other through topics without a
// Kafka cluster, with Kafka's semantics: an append is acknowledged once
// durable, readers read from any retained offset and follow the log as it
// grows, and retention deletes old records whether or not anyone has read
// them.
//
// # Layout
//
//	<dir>/.lock                              flock held by the owning process
//	<dir>/<topic>-0/topic.json               the topic's settings (TopicConfig)
//	<dir>/<topic>-0/<base:020d>.log          a segment: records from offset base
//	<dir>/<topic>-0/<base:020d>.index        a sealed segment's index
//
// Topic names follow Kafka's rules (ValidTopic). The last segment is the
// active one, appended to; the others are sealed: complete, never written
// again, deleted whole by retention.
//
// # Segment format
//
// A segment file starts with the magic line "sluice topiclog 1\n", then
// records framed by internal/frame (the S3 spool's framing):
//
//	len u32 | offset u64 | timestamp i64 | crc u32 | hcrc u32 | payload
//	payload = key | value | header count (uvarint) | (name | value)*
//
// where key, value and header values are a uvarint of length+1 (0 for
// null) then the bytes, and header names a uvarint length then the bytes.
// Offsets in a segment are consecutive from its base, and each segment
// starts where the one before it ends.
//
// An index file maps offsets to file positions: an entry (offset-base u32,
// position u32) at most every 32 KiB of records, then the segment's next
// offset, size and newest timestamp, and a CRC-32C of the whole file. A
// reader that starts at an offset scans at most 32 KiB before it. The
// active segment's index lives in memory (rebuilt when the topic opens,
// which reads the active segment whole anyway); a sealed segment's is
// written when it is sealed, not fsynced: one that is missing, does not
// check or disagrees with its segment's size is rebuilt by reading the
// segment.
//
// # Invariants
//
//   - Append returns only when its records are written and fsynced, and
//     any segment file it created is fsynced into its directory (as is a
//     new topic's directory into the log's): an acknowledged record
//     survives a crash of the process or a power loss.
//   - Readers see only what is durable: the end offset and the sizes they
//     read up to move after the fsync. A failed append is never seen; the
//     next Append cuts it off first.
//   - A sealed segment is fsynced before the next segment file is created,
//     so every segment but the last is complete.
//   - Retention deletes the oldest segments first, fsyncing the directory
//     after each, so a topic never has a hole in the middle.
//   - Memory is bounded: appends hold their own batch, readers one record
//     at a time plus a 64 KiB buffer and what they return (bounded by
//     their callers' counts and bytes), indexes 8 bytes per 32 KiB.
//
// # Crash safety
//
// Append writes its records with one write per segment and fsyncs, so a
// crash (a killed process, or a power loss on a file system that makes a
// file's size durable only with the data it covers: ext4 in its default
// data=ordered mode, XFS, btrfs) leaves whole records, then at most one
// record cut short at the end of the active segment — a record whose
// append was never acknowledged. Opening a topic reads its active segment
// whole and cuts such a tail (an info log record says so). Anything else
// is damage to records that were acknowledged: a record whose head or
// payload checksum fails, a length beyond what a record holds, an offset
// out of sequence, a sealed segment cut short or changed in size, a
// missing segment between two others. The topic then does not open (nor
// a reader read past it): a *DamagedError names the file, what is wrong
// and the ways out — restore the file, cut it at the damage and drop the
// newer segments, or drop it and the older ones as retention would — and
// what each loses. Other topics are not affected.
//
// A crash in the middle of an append that spans segments leaves the
// records before the cut in the log, unacknowledged: the writer's retry
// appends them again (at least once, as a retried Kafka produce). A crash
// between sealing a segment and creating the next leaves the sealed one
// last: it becomes the active segment again (its index file removed).
//
// # Retention
//
// Per topic (TopicConfig, kept in topic.json so it applies with no writer
// attached): by age, a segment goes once its newest record is older than
// Retention (default 7 days, Kafka's retention.ms; an active segment that
// old is sealed first); by size, the oldest segments go while the topic
// without them still holds RetentionBytes (default 8 GiB per topic; Kafka
// sets none). It runs after appends and every Options.RetentionCheck. As in
// Kafka, a reader whose offset retention deleted gets an *OutOfRangeError
// and decides where to go on (source/topiclog follows its start_offset
// and logs a warning naming the records it lost).
//
// # Concurrency
//
// One process owns a log directory (flock on .lock); in it, Open shares
// one Log per directory between every sink and source. Appends to a topic
// are serialised (Topic.wmu); any number of readers read concurrently,
// each taking the topic's published state (Topic.mu) for a moment per
// read. Log.Changed wakes waiters at every append, so a reader following
// the log gets a record within the time of its fsync.
package topiclog
