// Package dataprepper is the Data Prepper front door: it translates a Data
// Prepper pipeline file (seed 000's shape: a mongodb or documentdb source
// into an opensearch sink) and its data-prepper-config.yaml into a sluice
// pipeline document, which config.LoadNode turns into the topology.Graph
// every front door produces. `sluice run` and `sluice validate` recognise
// such a file (Detect), and `sluice validate --explain FILE` prints the
// translation as a sluice pipeline file (Explain).
//
// # Invariants
//
//   - Nothing is silently dropped: every key is translated, accepted with
//     a Note (printed as a warning) saying why it has no effect in sluice,
//     or an error with file:line and a hint. Keys left out take sluice's
//     defaults, which docs/dataprepper.md lists where they differ.
//   - The translated document's nodes carry the lines of the Data Prepper
//     keys they come from, so sluice's own checks of the translated
//     components (a bad collection name, an unreachable template) point into
//     the user's file too.
//   - Secrets (passwords) are never printed: Explain writes them as
//     ${COMPONENT_PASSWORD} environment variables, and no error quotes a
//     value of a password key.
//
// # Mapping
//
// Each pipeline (a top-level key) becomes a source named after it (type
// mongodb, for mongodb and documentdb alike) and one sink per opensearch
// entry, named <pipeline>-opensearch (-2, -3 … for more), reading every
// stream of that source. Data Prepper's defaults are kept where sluice's
// differ: export and stream default to true per collection, and TLS is on
// unless insecure: true. The sink's expressions map onto sluice's
// templates: getMetadata("primary_key") → ${key}, getMetadata
// ("document_version") → ${version}, getMetadata("mongodb_collection") →
// ${database}.${table}, ${/field} stays; action may only be
// getMetadata("opensearch_action") (or absent), because sluice derives the
// bulk action from each change exactly as that metadata does.
//
// s3_bucket (with s3_region, s3_prefix), aws, workers, delay and the
// bounded_blocking buffer are accepted with a note: sluice reads the export
// and the change stream straight into the sinks, needs no S3 hop, and
// bounds memory on its own. data-prepper-config.yaml's source_coordination
// with the in_memory store runs on one node with sluice's embedded store;
// its partition_prefix picks the state directory (.sluice/<prefix>), so
// bumping it is the same soft reset as in Data Prepper. A DynamoDB store is
// an error pointing to sluice's PostgreSQL coordination (coordination:
// {type: postgres} in the translated pipeline). Other sources and sinks
// are errors.
//
// # Processors and routes
//
// processors.go translates add_entries, delete_entries, rename_keys,
// copy_values, lowercase_string, uppercase_string, trim_string,
// substitute_string, date (date.go) and drop_events into map and filter
// nodes chained between the source and the sinks (one node per entry
// where Data Prepper applies entries in turn). Data Prepper's "when the
// key exists" is "when the table has the column" (a MongoDB document's
// top-level fields are its columns): map's if_columns and unless_columns,
// and col("k") in expressions. condition.go translates Data Prepper's
// conditions (drop_when, routes) with a guard: what must hold for Data
// Prepper's evaluation not to fail (a missing key under <, a non-boolean
// key as a condition), so a failed evaluation keeps its outcome
// (drop_events: skip keeps the event; a route does not take it). A sink
// with routes reads a filter of the OR of its routes. Every option not
// translated is an error naming it (docs/dataprepper.md lists the
// deliberate differences).
package dataprepper
