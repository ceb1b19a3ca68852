// Package metrics turns the engine's observations into Prometheus metrics.
//
// A Metrics owns its own prometheus.Registry (never the global default), so
// tests and several pipelines in one process stay independent. Each
// pipeline gets a PipelineMetrics (Metrics.Pipeline) that implements every
// observer interface of package engine with the pipeline label bound; pass
// it as engine.Options.Observer. Watch registers a source's optional
// component.ProgressReporter and component.Gauger, which are read only when
// the metrics are scraped, like the checkpoint age and the pipelines'
// states (a StatusSource): nothing is computed unless someone scrapes.
// Watch, WatchSink and WatchProcessor declare the pipeline's nodes before
// it runs, so every series exists, at zero, from the start. Handler serves
// the registry (promhttp); package httpapi mounts it on /metrics.
//
// A scrape is not a snapshot: each metric is read at its own moment, so a
// counter of one metric may already include a batch that another does not.
//
// Hot path: the engine calls the observers once per batch. Each call finds
// the node's pre-resolved series in a copy-on-write map (one atomic load and
// a map lookup, no lock, no allocation) and adds to atomic counters; the
// first call for a node resolves its label values once. The bytes counters
// take the sizes the engine hands the observers (event.Event.Size summed
// once per batch, by the source or the engine, for its byte cap): no
// event's size is taken again here. ObserveEmit reads only each event's
// schema pointer, to count the events per stream.
//
// # Metrics
//
// Every series has the label pipeline (the pipeline's name). These names,
// their types and labels are stable: renaming one breaks users' dashboards
// and alerts, and fails TestNamesGolden (testdata/names.golden) and the
// end-to-end test of cmd/sluice.
//
// Sources (label source):
//
//	sluice_source_events_total              counter  events emitted by the source
//	sluice_source_bytes_total               counter  their in-memory size (event.Event.Size, an estimate)
//	sluice_source_committed_total           counter  durable checkpoints persisted (every sink wrote everything before them)
//	sluice_source_lag_seconds               gauge    source commit time of the newest event covered by the last
//	                                                 checkpoint to the moment that checkpoint was durable
//	                                                 (Debezium's MilliSecondsBehindSource, in seconds); updated when
//	                                                 a checkpoint covers newer events, so it holds its value while
//	                                                 the source is idle; never negative (clock skew reads 0)
//	sluice_source_checkpoint_age_seconds    gauge    time since the last durable checkpoint (since the source was
//	                                                 first seen when there is none yet), computed at scrape time
//	sluice_source_phase{phase}              gauge    1 for the phase the source reports (starting, snapshot,
//	                                                 streaming); only sources that report progress
//	sluice_source_snapshot_rows_read        gauge    rows read by the running snapshot; only during a snapshot
//	sluice_source_snapshot_rows_estimated   gauge    rows the snapshot expects (the database's estimate; 0 unknown);
//	                                                 only during a snapshot
//
// Sources that implement component.Gauger add their own gauges, labelled
// pipeline and source and any labels of their own (component.Gauge.Labels);
// the PostgreSQL source adds, labelled slot:
//
//	sluice_postgres_slot_retained_wal_bytes        WAL the server keeps for the slot (current WAL position − restart_lsn)
//	sluice_postgres_slot_confirmed_lag_bytes       WAL written since the position sluice confirmed (− confirmed_flush_lsn)
//	sluice_postgres_slot_safe_wal_size_bytes       WAL that can still be written before the slot is invalidated
//	                                               (safe_wal_size; only with max_slot_wal_keep_size)
//	sluice_postgres_slot_active                    1 while a walsender streams from the slot
//	sluice_postgres_slot_wal_status{wal_status}    1 for the slot's wal_status (reserved, extended, unreserved, lost)
//
// and the MySQL/MariaDB source:
//
//	sluice_mysql_binlog_files_behind               binary logs written after the durable position's (-1: it was purged)
//	sluice_mysql_binlog_position_at_risk           1 when the durable position's binary log is the next the server purges
//
// Sinks (label sink); each Write call the engine makes is one write, a
// retry is another:
//
//	sluice_sink_write_duration_seconds      histogram  duration of each write, failed ones included
//	sluice_sink_write_events                histogram  events per write (the batch size)
//	sluice_sink_written_events_total        counter    events durably written
//	sluice_sink_written_bytes_total         counter    their in-memory size (event.Event.Size)
//	sluice_sink_write_errors_total          counter    writes that failed as a whole (retried, or fatal when
//	                                                   permanent); events rejected one by one are record errors
//
// Processors (label processor):
//
//	sluice_processor_events_in_total        counter    events processed
//	sluice_processor_events_out_total       counter    events derived from them
//	sluice_processor_duration_seconds       histogram  time to process one batch
//
// Any node (label node: a sink or processor name, or "<name> dead_letter"
// for its dead-letter destination):
//
//	sluice_retries_total                    counter  retries of a failed write
//	sluice_record_errors_total              counter  events rejected one by one (component.RecordErrors)
//	sluice_dead_letters_total               counter  of those, the events sent to the node's dead letter
//	                                                 (the others stopped the pipeline)
//
// Snapshot chunks of a pipeline shared by several nodes (label source;
// docs/coordination.md), as each node sees them:
//
//	sluice_snapshot_chunks{state}           gauge    chunk partitions of the source in each state (open, owned,
//	                                                 done, failed), as this node last read the lease table
//	sluice_snapshot_chunk_runs_total{result} counter this node's chunk runs by result: done, failed (the chunk
//	                                                 was marked failed), released (stopped, lost, or to be read again)
//	sluice_snapshot_chunk_rows_total        counter  rows read by this node's chunk runs that completed
//
// Pipelines (from the StatusSource, at scrape time):
//
//	sluice_pipeline_state{state}            gauge    1 for the pipeline's current state, 0 for the other States
//
// A Metrics also exports the Go runtime's and the process's standard
// metrics (go_*, process_*).
//
// # History
//
// A History (Metrics.NewHistory) keeps the last minutes of each pipeline in
// the process, for the web console: samples of the sources' and sinks'
// counters (with rates), the lag, the phase and snapshot rows, the events
// per stream (counted in ObserveEmit per run of one schema, never a
// Prometheus label), the sources' gauges while someone reads it, and the
// last errors (retries seen by ObserveRetry, failures seen in the
// StatusSource). Everything in it is bounded: samples, streams per source,
// errors.
package metrics
