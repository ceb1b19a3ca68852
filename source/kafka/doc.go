// Package kafka is the Kafka source (type: kafka): it consumes topics of
// Debezium-format change events — written by sluice's Kafka sink or by
// Debezium itself through Kafka Connect's JsonConverter, with or without
// the schema part — and emits them as sluice events, so a pipeline can sit
// behind an existing Debezium/Kafka deployment.
//
// # Decoding
//
// The decoder is format.Decoder: Debezium's envelope is encoded and decoded
// in one package (format), so the two directions of the codec stay
// together. With the schema part, the Connect schema gives the column types: the
// inverse of package format's mapping (Decimal from base64 at its scale,
// VariableScaleDecimal, Date, Time/MicroTime/NanoTime, Timestamp/
// MicroTimestamp/NanoTimestamp, ZonedTimestamp, ZonedTime, MicroDuration,
// Uuid, Json, Xml, Enum, arrays, Connect's own Date/Time/Timestamp), plus
// optionality and defaults. A ZonedTimestamp column's precision is the
// number of fraction digits of its value (Debezium writes exactly the
// column's precision). Without the schema part the types are inferred from
// the JSON: integers int64, other numbers float64, booleans, strings
// (decimals stay base64 strings and temporal values numbers, as written),
// {"scale","value"} objects VariableScaleDecimal, arrays by their first
// element, other objects JSON text; every column is optional.
//
// The stream is the envelope schema's name without ".Envelope" (Debezium's
// <topic.prefix>.<schema>.<table>), else source.name.schema.table from the
// source block, else the topic; Schema.Source is source.name. Pipeline
// inputs select streams by the kafka source's own name too, as for any
// source. Key columns come from the record key (Debezium's key JSON).
//
// Round trip: events that sluice's encoder writes decode into events that
// encode to the same bytes, with either format (tested for every type).
// event.Source.CommitLSN, which the envelope lacks, is restored from the
// sluice.commit_lsn header sluice's sink writes, so Event.Seq survives too —
// but only when the source reads exactly one topic of one partition. Sinks
// that recognise a replay by Seq (SQL tables, S3) need a source's Seqs to
// grow in the order it emits them, and several partitions or topics
// interleave them: there Seq stays zero and those sinks write at least once,
// idempotently per key. The header is also only the Seq's first word: the
// second is the envelope's source.lsn, which only PostgreSQL's source block
// has. Events of other sources (MySQL, MongoDB, sql_poll) would come back
// with equal Seqs — every row of a transaction, or every sql_poll row in
// incrementing mode — and sinks would skip all but the first, so they keep
// the zero Seq too. Messages written by Debezium have no such header: their
// Seq is zero too. What does not survive:
// Column.TypeName/TypeOID/Length (not in the Connect schema), interval
// months (MicroDuration is microseconds; the ISO text is rebuilt in days),
// the text form of normalised values ("1e3" comes back "1000.00" at the
// column's scale, ZonedTime with its shortest fraction). Event.TsMs
// (Debezium's processing time) is carried through from the message, so it
// does survive, and so does source.ts_us (the source's microseconds; from
// ts_ms for messages without it).
//
// Unchanged TOAST placeholders ("__debezium_unavailable_value") in string,
// bytes and timestamptz columns become event.Unchanged, so sluice's SQL and
// search sinks keep the stored value.
//
// # Offsets and the checkpoint
//
// The consumer joins group_id with auto-commit off. The checkpoint of a
// batch is the next offset of every partition read so far (JSON,
// {"topic":{"partition":offset}}); offsets are committed to the group only
// in Committed, i.e. after every sink durably wrote the events, never ahead.
// On start, a partition found in the checkpoint resumes there; otherwise at
// the group's committed offset; otherwise at start_offset (earliest or
// latest). The group's offsets are never ahead of the checkpoint (they are
// committed after it is persisted), so either way nothing is lost, and
// resuming from the checkpoint avoids re-reading the window between the
// two. After a rebalance, a partition newly assigned resumes at the group's
// offset (duplicates, never loss); Committed only commits partitions this
// member owns, so it never moves another member's offsets back.
//
// A process killed without leaving the group holds its partitions until its
// session expires (session_timeout, default 10s); with instance_id (static
// membership) the restarted process takes them back at once.
//
// Tombstones (null values) are skipped. A message that is not a Debezium
// change event stops the source with an error naming topic, partition and
// offset (on_malformed: stop, the default), with the checkpoint before it
// intact; on_malformed: skip logs it at error level with the same
// coordinates and goes on — never a silent skip.
package kafka
