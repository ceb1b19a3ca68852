// Package verify compares a pipeline's source tables with what one of its
// sinks holds (`sluice verify`): a PostgreSQL table, an OpenSearch or
// Elasticsearch index, or the last image of each key in a file or lines
// sink. docs/verify.md is the user's page; this is the design.
//
// # Invariants
//
//   - A correct sink verifies clean. Source rows are read with the
//     source's own snapshot decoding (source/postgres.Scanner,
//     source/mysql.Scanner: the source interface in source.go) and
//     rendered the way the sink renders them (format.AppendDocument and the
//     index / document_id templates for search sinks, the sink's encoder
//     for files); a SQL sink's table is read with the same decoder. Both
//     sides are then compared as canonical JSON (canonJSON: sorted members,
//     numbers as exact decimals), column by column over the source's
//     columns.
//   - Memory is bounded by --chunk-rows, except for a file sink, whose
//     last images of one table are held while that table is compared, and
//     the keys --repair signals (at most maxRepairKeys per table).
//   - Verify never writes to a sink. On the source it runs READ ONLY
//     transactions only, except --repair's INSERTs into the signal table.
//   - Something verify cannot compare is a note in the report, never a
//     difference; a comparison verify cannot do at all is an error.
//
// # Key ranges
//
// A table is compared in ranges of --chunk-rows keys in key order. A
// target that implements serverChecksum (a PostgreSQL table with the same
// column types) is checksummed in both servers and read only where the
// checksums differ; other targets get each range's source rows and return
// the sink's images of them (tableTarget.fetch). Ranged targets (SQL) read
// (after, upto] with the last range open-ended, so every sink row falls in
// exactly one range and extra rows are found with their range; the others
// report extras at the end (tableTarget.extras).
//
// # Repair
//
// --repair inserts Debezium execute-snapshot signals (Signals: the exact
// rows, tested byte for byte) into the source's signal table, whose yaml
// key the source's configuration declares (SignalKey). The incremental
// snapshot that reads them belongs to the source; an incremental snapshot
// cannot delete, so extra keys get instructions (remover) instead.
package verify
