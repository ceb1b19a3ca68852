// Package search is the sink logic that the OpenSearch and Elasticsearch
// sinks share: it turns events into bulk NDJSON, sends it through a Client
// (each engine's official Go client, see sink/opensearch and
// sink/elasticsearch), and reads the per-item results.
//
// # Mapping events to bulk operations
//
//   - Snapshot rows, inserts and updates → `index` of the whole row image
//     (format.AppendDocument: natural JSON, exact decimals, ISO dates).
//   - Deletes → `delete`; a document already gone is not an error.
//   - An update that changes the row's key indexes the new key's document
//     and then deletes the old key's (same version), so that no orphan is
//     left.
//   - Truncates → on_truncate: delete_index (default), ignore, or fail. The
//     integ-test distributions, and clusters without the reindex module,
//     have no _delete_by_query, so dropping the index is the one way to
//     empty it everywhere; the index is created again (with its mapping) on
//     the next write. Do not use it when several tables share one index.
//
// # Versions and replays
//
// With document_version_type external (the default, as in seed 000) every
// operation carries the event's version (event.Version: 1 for snapshot rows,
// the change's LSN for changes), so the cluster itself rejects anything
// older than what it stores: a replay after a crash, or a retried Write,
// cannot regress a document, and a delete leaves a versioned tombstone that
// stale re-inserts bounce off (for index.gc_deletes, 60 s by default; a
// replay is in order, so a stale re-insert is always followed by its
// delete). Those rejections (409 version_conflict_engine_exception) are
// expected and only counted (debug log). With none, the last write wins.
//
// Snapshot rows all carry version 1 and are sent with external_gte: a row
// read again by a later snapshot (the source re-reads unacknowledged chunks
// after a crash, at a newer snapshot) replaces the earlier read, while
// documents written from changes (versions > 1) stay protected.
//
// # Unchanged TOAST columns
//
// PostgreSQL does not send unchanged TOASTed values (event.KindUnchanged);
// they must not overwrite what is stored. Partial `update`s cannot carry
// external versions, so under external versioning the sink fetches the
// stored document (realtime _mget, or the document built for an earlier
// event of the same Write), takes the unchanged columns from it, and
// indexes the whole document with the event's version. An update that
// changes the key takes them from the old key's document, where they are
// stored (the new key has none), including along a chain of key changes
// in one Write. A document that is not stored gets the other columns only.
// With versioning none the sink sends a partial `update` with
// doc_as_upsert instead (the server then re-serialises the source, so
// number text such as 2.00 may read 2.0), except for a key change, which
// is merged and indexed whole as above.
//
// # Errors
//
//   - No response (connection refused, reset, timeout), 5xx or 429 for the
//     whole request: a plain error; the engine retries the Write.
//   - Items pushed back (429, es_rejected_execution_exception, 5xx,
//     cluster_block_exception): sent again inside the Write a few times
//     with backoff, then a plain error. With versions only the failed items
//     are re-sent (versions keep the order); without, everything after the
//     first failed item is re-sent in order.
//   - Items the cluster rejects for good (mapping conflicts, strict
//     mappings, bad values, 413 for one oversize operation):
//     component.RecordErrors naming index, document id and the reason; the
//     rest of the Write is written. Value excerpts that servers put in
//     their reasons are cut, as row values stay out of messages.
//   - Configuration that can never work (a rejected mapping, a missing
//     index the cluster will not create): component.Permanent. A 401 on
//     any request (bulk, multi-get, index creation or deletion) is a
//     component.AuthError naming the user, the hosts and the keys that
//     hold the credentials.
//
// # Why the hand-written parts
//
// The bulk body is built by appending bytes (no reflection, no per-item
// allocation beyond the id), each document encoded once from the event
// straight into the body, and responses are decoded into small structs
// with filter_path keeping them to status and error, because the official
// clients' typed bulk helpers marshal per item with encoding/json and
// decode every item's full metadata into maps. The clients still do the
// HTTP: connection pooling, node selection, authentication, TLS.
//
// # Ordering and concurrency
//
// Write is called from one goroutine. It partitions its operations into
// lanes by document (index, routing and id, hashed): every operation on
// one document — an update, its delete, the delete of a key change's old
// document — is in the same lane, in event order. Each lane sends its
// bulk requests (each at most max_request_bytes) one after another, and
// the lanes run at once (Options.Lanes, 4; a Write of less than
// Options.LaneBytes, 1 MiB, per lane uses fewer, and one of less than 2 MiB
// a single request as before). Each lane keeps requests large because
// splitting the benchmark's 5,000-row (1.5 MB) Writes into four requests
// did not beat one request at a time on the shared two cores (per-request
// work in the cluster; docs/performance.md has the figures), so lanes
// start where each one still carries a bulk request of a megabyte. A bulk request applies the items of one shard in
// order, so each document's operations reach the cluster in event order
// whatever the lanes' interleaving: the final state of every document is
// the one sequential requests would leave, with or without versions, and
// nothing needs deduplicating. Operations on different documents commute
// (merges of unchanged TOAST columns are built before anything is sent).
//
// Write returns nil only when every request of every lane succeeded; the
// first lane that fails cancels the others and its error is the Write's, so
// the engine retries the whole Write and the checkpoint does not move. What
// other lanes wrote is written again by that retry, as after any failed
// Write: with versions it bounces off as version conflicts, without it is
// the same last write. Pushed-back items are retried inside their own
// lane exactly as in one request (only the failed items with versions,
// everything after the first failed one without), record errors from all
// lanes are returned in event order, and the indices known to exist are
// shared under a lock.
//
// The number of lanes is chosen before encoding, from the Write's event
// count and the bytes per event of the previous range, so that each
// operation is encoded straight into its lane's buffer and a request's
// body is a slice of that buffer, not a copy; only a retry of some items,
// or a lane holding a merge (encoded after the rest), gathers a body.
//
// Lanes run within one Write only: the next Write's requests start after
// this one returned, as the engine's contract (Write returns when the
// events are durable) requires; the engine's in-flight window overlaps the
// source's reading with the sink's writing.
//
// # Index creation
//
// When mapping or index_settings is set, each index the sink writes to is
// created on first use (PUT with settings and mappings; an index that
// already exists — another writer won the race — is fine) and remembered;
// an index deleted behind the sink's back is created again when a bulk item
// reports index_not_found_exception. Without them the cluster's automatic
// index creation and dynamic mapping apply.
//
// Deletes (and updates that change the key) render the templates from the
// before image, which PostgreSQL fills with the key columns only unless the
// table has REPLICA IDENTITY FULL: index and routing templates should use
// metadata and key columns, or deletes of such rows become record errors.
//
// The default index is ${table}: most pipelines capture one schema, and
// the names match what users query; ${schema}_${table} or any other
// template can be set. Rendered names are lower-cased, as index names must
// be.
package search
