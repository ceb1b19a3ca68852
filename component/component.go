// Package component defines the contracts between the engine and the
// sources, processors and sinks that plug into it, and the Registry that
// names them. It is sluice's database/sql/driver: small interfaces with
// documented rules, nothing else.
//
// Acknowledgement travels with the data. A source hands the engine a batch of
// events together with an opaque checkpoint; the engine delivers the batch to
// every sink whose inputs match, and once every sink has durably written it
// and everything emitted before it, the engine persists the checkpoint and
// then calls Source.Committed with it. Only then may the source release
// upstream resources (confirm an LSN, commit offsets). The number of batches
// in flight per source is capped; Emit blocks at the cap, which is the
// back-pressure that keeps memory bounded by configuration.
package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// Emitter receives a source's batches.
type Emitter interface {
	// Emit hands events to the pipeline. The engine owns events and the
	// slice from then on; the source must not reuse them (unless the
	// engine releases them: see ReleasingEmitter). checkpoint is the
	// source's position after these events (and everything before them);
	// nil means the batch does not advance the checkpoint (for example rows
	// in the middle of a transaction). Emit blocks while the source's
	// in-flight window is full and returns ctx.Err() if ctx is cancelled
	// while waiting, or ErrStopped once the pipeline is stopping.
	Emit(ctx context.Context, events []event.Event, checkpoint []byte) error
}

// SizedEmitter is an Emitter that also takes a batch together with its
// size, the sum of event.Size over its events, from a source that already
// knows it (a decoder that has just written every value): the engine then
// need not read every value of the batch again to bound its in-flight
// memory. The size must be exact; it sizes the engine's windows and the
// sinks' writes, never what is written. Wrappers of an Emitter forward it
// with EmitSized.
type SizedEmitter interface {
	Emitter
	EmitSized(ctx context.Context, events []event.Event, checkpoint []byte, size int64) error
}

// EmitSized hands events, whose event.Size sum is size, to e: through
// e's EmitSized when it is a SizedEmitter, else through Emit.
func EmitSized(ctx context.Context, e Emitter, events []event.Event, checkpoint []byte, size int64) error {
	if se, ok := e.(SizedEmitter); ok {
		return se.EmitSized(ctx, events, checkpoint, size)
	}
	return e.Emit(ctx, events, checkpoint)
}

// ReleasingEmitter is a SizedEmitter that also takes a release function
// with a batch: an opt-in for a source that recycles the memory of its
// events (event slices, value slabs, the text their strings alias) instead
// of leaving it to the garbage collector.
//
// The engine calls release at most once, from any goroutine (possibly
// before EmitReleasing returns), only after every sink that received any
// of the events has acknowledged them (durably written them) and nothing
// the engine runs can still read them. Where it cannot prove that (a
// processor on the pipeline, a sink that does not declare
// KeepsNoEvents, a batch never acknowledged because the run failed or
// stopped, an error from EmitReleasing), it never calls it, and the
// memory is the garbage collector's, as for Emit. release must be cheap
// and must not block (a send to a bounded free list, dropping when full).
//
// After release the source may reuse the events slice, the Before and
// After slices of its events and the bytes behind their values' strings.
// It must never reuse what may outlive the batch elsewhere: the Schema,
// the Source metadata, Position, and any string it kept itself (a
// checkpoint's key must be a copy). size is as for EmitSized, or ≤ 0 when
// unknown. Wrappers of an Emitter forward it with EmitReleasing.
type ReleasingEmitter interface {
	SizedEmitter
	EmitReleasing(ctx context.Context, events []event.Event, checkpoint []byte, size int64, release func()) error
}

// EmitReleasing hands events to e with release (see ReleasingEmitter):
// through e's EmitReleasing when it is a ReleasingEmitter, else through
// EmitSized (or Emit when size ≤ 0), and then release is never called.
func EmitReleasing(ctx context.Context, e Emitter, events []event.Event, checkpoint []byte, size int64, release func()) error {
	if re, ok := e.(ReleasingEmitter); ok {
		return re.EmitReleasing(ctx, events, checkpoint, size, release)
	}
	if size <= 0 {
		return e.Emit(ctx, events, checkpoint)
	}
	return EmitSized(ctx, e, events, checkpoint, size)
}

// KeepsNoEvents is implemented by sinks that may receive batches a source
// recycles (ReleasingEmitter): KeepsNoEvents reports true when the sink
// keeps nothing of an event — no event, Value, slice or string reachable
// from it, not even a substring — once the Write (or a FlushingSink's
// WriteBuffered) that received it has returned, on success or failure,
// so that an event's memory may be reused once the engine has the sink's
// acknowledgement. A sink that keeps encoded bytes (copies) keeps nothing
// of the event. A wrapper reports what the sink it wraps reports, and
// false when it keeps anything itself.
//
// A Processor may implement it too: true when Process keeps nothing of
// its inputs or of its outputs once it returned — no event, Value, slice
// or string reachable from them, not even a substring, also not as a
// cache's key — and it has no operator state. Its outputs may share its
// inputs' images (the engine delivers them under the input batch's
// acknowledgement). Only then may the engine release a batch that passed
// through it.
type KeepsNoEvents interface {
	KeepsNoEvents() bool
}

// Source produces events.
type Source interface {
	// Run reads from the upstream system, starting after checkpoint (nil on
	// the first run), and emits batches until ctx is cancelled, then returns
	// nil (or ctx.Err()). Any other return is fatal to the pipeline, which
	// stops with its last checkpoint intact. Run is called once.
	Run(ctx context.Context, checkpoint []byte, out Emitter) error
	// Committed reports that checkpoint is durable: every event emitted up
	// to and including the batch that carried it is written by every sink.
	// It is called from one goroutine, in emission order, possibly skipping
	// checkpoints (only the newest matters), concurrently with Run.
	Committed(ctx context.Context, checkpoint []byte) error
	// Close releases resources; Run has returned. It should not block for
	// more than a few seconds.
	Close() error
}

// Sink writes events somewhere durable.
type Sink interface {
	// Write durably writes events, in order, and returns only when they
	// would survive a crash of this process (fsync, a committed transaction,
	// a broker's acks=all). It is called from one goroutine. An error wrapped
	// with Permanent stops the pipeline; other errors are retried by the
	// engine with backoff, with the same events.
	Write(ctx context.Context, events []event.Event) error
	// Close flushes and releases resources; no Write is in progress.
	Close(ctx context.Context) error
}

// A FlushingSink makes its writes durable in a step of their own, so the
// engine can hand it the next events while the previous ones are being made
// durable (the file sink encodes and writes the next batch while the last
// one is fsynced). WriteBuffered writes events in order after everything
// handed over before, without waiting for durability, and keeps no
// reference to events once it returns; Flush makes durable every event a
// WriteBuffered that returned before Flush was called wrote.
//
// The engine calls Write, WriteBuffered and Close from the sink's one
// goroutine, and Flush from another, one Flush at a time, possibly while
// WriteBuffered runs; never Write or Close while a Flush runs. It
// acknowledges events only after a Flush that covers them returned nil.
// When Flush fails, the engine writes every event not yet acknowledged
// again, in order, with Write (the sink must leave itself ready for that,
// e.g. reopen its file): events may then be written twice, as after a
// crash, and none is lost. A WriteBuffered error is handled the same way,
// after the Flush in flight returned.
type FlushingSink interface {
	Sink
	WriteBuffered(ctx context.Context, events []event.Event) error
	Flush(ctx context.Context) error
}

// ErrStopped is returned by Emit once the pipeline is shutting down.
var ErrStopped = errors.New("pipeline is stopping")

// ErrFenced is returned (wrapped, Permanent) by a sink that refuses a
// write because a later coordination epoch (Env.Epoch) has written through
// it: another node took the pipeline over. The run stops with its
// checkpoint intact and the node waits for the partition again.
var ErrFenced = errors.New("fenced by a later coordination epoch")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the engine stops instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was wrapped with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Env is what a factory receives besides its own configuration.
type Env struct {
	// Name is the component's name in the pipeline file.
	Name string
	// Pipeline is the pipeline's name (the file's base name without extension
	// unless set), used to name upstream resources.
	Pipeline string
	// StateDir is the component's own directory for local files
	// (<state_dir>/<kind>s/<name>, e.g. .sluice/sinks/lake); it may not
	// exist yet.
	StateDir string
	// Logger is already labelled with the component ("source"/"sink" = Name).
	Logger *slog.Logger
	// Path is where the component is configured in the pipeline file:
	// "sources.shop", "sinks.search", "sinks.search.dead_letter". Empty
	// when it was built outside one (tests).
	Path string
	// State is the processor's operator state; nil for sources, sinks and
	// processors whose factory is not Stateful.
	State State
	// StartRetry is how the component retries its connect step (see
	// Connect).
	StartRetry StartRetry
	// Epoch is the coordination epoch of this run (package coordination):
	// it grows each time another node (or this one again) takes the
	// pipeline's stream partition over. 0: the pipeline runs on one node,
	// uncoordinated. A source that finds its upstream reader still held
	// by a previous run may end that run's reader when Epoch > 0.
	Epoch uint64
}

// Key returns the pipeline-file path of one of the component's keys, for
// messages that say what to change: "sinks.search.password". Without Path
// it is key alone.
func (e Env) Key(key string) string {
	if e.Path == "" {
		return key
	}
	return e.Path + "." + key
}

// AuthError is a server refusing the credentials a component connects
// with. Its message names the user and the server, gives the server's
// reason and says which pipeline keys hold the credentials — never the
// password. Return it with AuthFailed: retrying cannot help.
type AuthError struct {
	Component string // "mysql sink", "postgres source \"shop\""
	User      string // the user name sent; "" when none
	Server    string // host:port (or URL) of the server that refused
	Reason    string // the server's words, without secrets
	Keys      string // the keys to check: "sinks.db.dsn"
	// Secret is what the keys hold, for the message; default "the user
	// and password".
	Secret string
	Hint   string // what else to check, on the server's side (optional)
}

func (e *AuthError) Error() string {
	who := "the credentials"
	if e.User != "" {
		who = fmt.Sprintf("user %q", e.User)
	}
	secret := e.Secret
	if secret == "" {
		secret = "the user and password"
	}
	msg := fmt.Sprintf("%s: %s refused %s: %s; check %s in %s (a ${VAR} there is read from the environment)",
		e.Component, e.Server, who, e.Reason, secret, e.Keys)
	if e.Hint != "" {
		msg += ", and " + e.Hint
	}
	return msg
}

// AuthFailed returns e as a permanent error.
func AuthFailed(e AuthError) error { return Permanent(&e) }

// Validator is implemented by configuration structs that check themselves
// after defaults and the file's values are applied. Each returned error
// should be a *FieldError so the user sees the line and a hint.
type Validator interface {
	Validate() []error
}

// KnownSchemas is implemented by source configurations that know the
// schemas of their streams before running (the generator's built-in
// tables): `sluice validate` then checks the processors reading them.
type KnownSchemas interface {
	KnownSchemas(source string) []*event.Schema
}

// SchemaChecker is implemented by processor configurations that can check
// themselves against an input schema known before running (expressions
// compiled against its columns). The errors are *FieldError.
type SchemaChecker interface {
	CheckSchema(s *event.Schema) []error
}

// InputStreams describes, before anything runs, the streams that can
// reach a processor from the sources feeding it.
type InputStreams struct {
	// Known are the streams whose schemas are known before running
	// (KnownSchemas).
	Known []*event.Schema
	// Sources are the names of the feeding sources whose streams are
	// known at run time only (they are named "<source>.…"); a source
	// that knows its schemas before running lists them in Known alone.
	Sources []string
	// Foreign is set when a feeding source keeps upstream stream names
	// (SourceFactory.ForeignStreams: a Kafka topic), so any name may come.
	Foreign bool
}

// InputChecker is implemented by processor configurations that check
// themselves against the streams that can reach them (the streaming SQL
// plans its statements against them). The pipeline loader calls it after
// Validate; errors are *FieldError or *PosError.
type InputChecker interface {
	CheckInputs(in InputStreams) []error
}

// TextOrigin is implemented by processor configurations holding a text
// of their own language (SQL statements) whose errors have positions: the
// loader tells where the text starts in the pipeline file before it calls
// Validate.
type TextOrigin interface {
	SetOrigin(file string, line, col int)
}

// PosError is a problem at a line and column of a file: the pipeline
// file, or a file it names (sql_file:).
type PosError struct {
	File      string
	Line, Col int
	Msg       string // may end with a hint in parentheses
}

func (e *PosError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// FieldError is a configuration problem in one field.
type FieldError struct {
	Field string // yaml key, e.g. "slot"
	Msg   string // what is wrong
	Hint  string // how to fix it
}

func (e *FieldError) Error() string {
	if e.Hint == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Field + ": " + e.Msg + " (hint: " + e.Hint + ")"
}

// SourceFactory builds a source of one type.
type SourceFactory struct {
	// Doc is one line for `sluice --help` and the reference docs.
	Doc string
	// Config returns a new configuration struct (a pointer) with defaults
	// set; the loader decodes the file's keys into it (yaml tags name them)
	// and rejects unknown keys.
	Config func() any
	// New builds the source from its decoded, validated configuration.
	New func(cfg any, env Env) (Source, error)
	// ForeignStreams is set for sources whose streams keep their upstream
	// names (the Kafka source re-emits "pg.public.items", not
	// "<name>.public.items"); a sink's input glob is then not required to
	// start with a source name.
	ForeignStreams bool
}

// SinkFactory builds a sink of one type.
type SinkFactory struct {
	Doc    string
	Config func() any
	New    func(cfg any, env Env) (Sink, error)
}

// Registry names the component types a pipeline may use. It is a plain
// value, built explicitly (see package registry), so tests build their own.
type Registry struct {
	Sources    map[string]SourceFactory
	Processors map[string]ProcessorFactory
	Sinks      map[string]SinkFactory
}

// Progress is a source's report on long work such as a snapshot.
type Progress struct {
	Phase string // "snapshot", "streaming", ...
	Done  int64  // units done (rows)
	Total int64  // units expected; 0 when unknown (an estimate is fine)
}

// ProgressReporter is implemented by sources that can tell how far their
// long work has come; the CLI draws a progress bar from it. Progress is
// called from another goroutine than Run and must be cheap.
type ProgressReporter interface {
	Progress() Progress
}

// Gauge is one current value a component measures about its upstream
// system, for monitoring (the PostgreSQL source's WAL retained by its slot).
type Gauge struct {
	// Name is the full Prometheus metric name, following its conventions:
	// "sluice_<type>_<what>_<unit>", e.g.
	// "sluice_postgres_slot_retained_wal_bytes". Metrics add the labels
	// pipeline and source.
	Name string
	// Help is one sentence for the metric's HELP line; the same Name must
	// always come with the same Help.
	Help  string
	Value float64
	// Labels are extra labels beyond pipeline and source, as name-value
	// pairs (the slot of "sluice_postgres_slot_retained_wal_bytes"). Every
	// gauge of one Name must have the same label names in the same order.
	Labels [][2]string
}

// Gauger is implemented by sources that expose gauges of their own. Gauges
// is called only when metrics are scraped, from another goroutine than Run,
// possibly after Close; it returns the gauges whose value is known (none
// before the source has connected, none after a failed measurement) and
// must return within a couple of seconds (measure with a short timeout,
// cache for a few seconds, never on the connection that carries the data).
type Gauger interface {
	Gauges() []Gauge
}

// Slot is a source's last look at the server-side position it holds (a
// PostgreSQL replication slot), for status pages: the REST API's GET
// /pipelines/{name}/status and `sluice status`. Byte counts are nil when
// the server does not know them (an invalidated slot has no restart_lsn;
// safe_wal_size is null without max_slot_wal_keep_size).
type Slot struct {
	Source            string `json:"source"`
	Name              string `json:"slot"`
	Active            bool   `json:"active"`
	WALStatus         string `json:"wal_status,omitempty"`
	RetainedWALBytes  *int64 `json:"retained_wal_bytes,omitempty"`
	ConfirmedLagBytes *int64 `json:"confirmed_lag_bytes,omitempty"`
	SafeWALSizeBytes  *int64 `json:"safe_wal_size_bytes,omitempty"`
	// Warning is set while the slot needs attention (retained WAL past
	// warn_retained_wal, wal_status unreserved or lost, slot gone).
	Warning    string    `json:"warning,omitempty"`
	MeasuredAt time.Time `json:"measured_at"`
}

// SlotReporter is implemented by sources that hold a server-side position.
// Slots returns the last measurement without querying anything (it is
// called by status requests, from another goroutine than Run); none before
// the first measurement.
type SlotReporter interface {
	Slots() []Slot
}

// RecordError is one event of a Write that can never be written as it is: a
// mapping conflict, a constraint violation, an oversize document, a value
// the destination rejects. Retrying the same event cannot help.
type RecordError struct {
	Index int   // index of the event in the slice passed to Write
	Err   error // the destination's reason, naming the field where it can
}

// RecordErrors is what Write returns when some events failed one by one
// (each a RecordError, in index order) and every other event of the call is
// durably written. The engine sends the failed events, with their errors and
// source positions, to the sink's dead-letter destination, or, when the sink
// has none, stops the pipeline with the checkpoint intact. A sink must not
// return RecordErrors for failures that may pass on retry (timeouts,
// unavailable shards, lost connections): those fail the whole Write with a
// plain error, which the engine retries.
type RecordErrors []RecordError

func (e RecordErrors) Error() string {
	switch len(e) {
	case 0:
		return "no record errors"
	case 1:
		return fmt.Sprintf("1 event rejected: event %d: %v", e[0].Index, e[0].Err)
	}
	return fmt.Sprintf("%d events rejected; first: event %d: %v", len(e), e[0].Index, e[0].Err)
}

// Processor transforms events between sources and sinks (filter, map,
// route, streaming SQL). The engine calls Process with the events of one
// emitted batch that the processor's inputs select, in emission order, from
// one goroutine at a time (a processor fed by several sources sees their
// batches one after another, never two at once).
//
// Acknowledgement: every event Process derives belongs to the batch whose
// input produced it; the source's checkpoint moves past that batch only once
// every derived event is durable in every sink that takes it (and every
// state change made while processing it is durable with the checkpoint; see
// State). A processor may derive zero, one or many events per input, and
// must derive them in an order that keeps order per key.
type Processor interface {
	// Process appends the events derived from in to out and returns it.
	// in belongs to the engine and must not be kept or modified after
	// Process returns; derived events may share in's images (Values are
	// never modified in place). The result is out with the derived events
	// appended (grown by append if need be), never in or a part of it, and
	// it is not kept either: the engine builds the next batch's output in
	// its array when no sink took the events. When some inputs cannot be processed one by
	// one (an expression fails on a value, a cast is impossible), Process
	// returns the events derived from the others together with
	// RecordErrors whose Index refers to in; the engine sends those inputs
	// to the processor's dead letter, or stops. Any other error stops the
	// pipeline with the checkpoint before the batch.
	Process(ctx context.Context, in []event.Event, out []event.Event) ([]event.Event, error)
	// Close releases resources; no Process call is in progress.
	Close() error
}

// ProcessorFactory builds a processor of one type.
type ProcessorFactory struct {
	Doc    string
	Config func() any
	New    func(cfg any, env Env) (Processor, error)
	// NamesStreams is set for processors whose outputs are streams of
	// their own naming (route renames, a SQL statement creates a stream):
	// sinks and other processors may select those outputs by stream-name
	// globs. The outputs of other processors (filter, map) keep their
	// input streams' names and are selected by the processor's name only,
	// so that a glob never takes the same change twice.
	NamesStreams bool
	// Stateful is set for processors that keep operator state (Env.State):
	// their state is committed atomically with the checkpoints of every
	// source that feeds them.
	Stateful bool
}

// State is a processor's operator state: a sorted key-value space of its
// own in the pipeline's store, for tables, aggregates and join windows.
//
// Exactly-once rule: every change a processor makes while processing a
// batch becomes durable in the same atomic step as the checkpoints of the
// sources feeding it, at a point where everything those checkpoints cover is
// durable in the sinks. After a crash the state is rolled back to the last
// such step and the sources replay from its checkpoints, so each input is
// applied exactly once, whatever the instant of the crash. Reads see every
// change made so far, durable or not. Keys and values passed in may be
// reused by the caller after the call returns; slices returned are valid
// until the next call on the State.
type State interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// DeleteRange deletes every key in [start, end).
	DeleteRange(start, end []byte) error
	// Scan calls fn for each key in [start, end) in key order (end nil: to
	// the end of the processor's space) until fn returns false.
	Scan(start, end []byte, fn func(key, value []byte) bool) error
}

// Chunker is a source whose snapshot several nodes share (package
// coordination): the node holding the pipeline's stream partition plans
// it once, every node reads chunks of it, and the stream starts from the
// plan's checkpoint once every chunk is done. The instances used for
// PlanChunks and ReadChunk are neither Run nor Closed: each call releases
// what it opened (except the plan's Exporter).
type Chunker interface {
	// PlanChunks prepares a shared snapshot: it makes the upstream reader
	// (for PostgreSQL the slot and its exported snapshot) and splits the
	// data into chunks, each read by one node. A nil plan means the source
	// has nothing to share (no initial snapshot): it runs as usual.
	PlanChunks(ctx context.Context) (*ChunkPlan, error)
	// ReadChunk emits every row of one chunk (a Chunk.Spec of a plan) and
	// returns nil once all are emitted. The checkpoints it emits are
	// ignored. A key (a row) belongs to exactly one chunk of a plan.
	ReadChunk(ctx context.Context, spec []byte, out Emitter) error
}

// ChunkPlan is a planned shared snapshot.
type ChunkPlan struct {
	// Chunks in reading order; Name is unique in the plan and sorts in
	// that order.
	Chunks []Chunk
	// Checkpoint is where the source starts once every chunk is written:
	// Run gets it as its checkpoint.
	Checkpoint []byte
	// Exporter keeps what the chunks are read at alive (the exported
	// snapshot's replication connection); closed once every chunk is done,
	// or when the planner stops. Nil when there is none.
	Exporter interface{ Close() error }
}

// Chunk is one part of a shared snapshot.
type Chunk struct {
	Name string
	Spec []byte // the source's own JSON: what to read and at which snapshot
}

// SnapshotRequest asks a source for an incremental snapshot: its tables
// re-read while it streams, in order with the changes (Debezium's
// execute-snapshot signal), or, with Stop, for such a snapshot to end
// (stop-snapshot).
type SnapshotRequest struct {
	// Tables are the source's table names (schema.table for PostgreSQL,
	// database.table for MySQL), or regular expressions matching whole
	// names, as Debezium's data-collections; with Stop, none stops all.
	Tables []string `json:"tables"`
	// Conditions restrict the rows read per table (Debezium's
	// additional-conditions): an SQL condition, e.g. "id IN (1,5,9)".
	Conditions []SnapshotCondition `json:"conditions,omitempty"`
	Stop       bool                `json:"stop,omitempty"`
}

// SnapshotCondition is one table's row filter of a SnapshotRequest.
type SnapshotCondition struct {
	Table  string `json:"table"`
	Filter string `json:"filter"`
}

// Snapshotter is implemented by sources that can take incremental
// snapshots. RequestSnapshot records the request upstream (in the
// database's log), where the source finds it in its stream, so the source
// need not run in this process: it may be called on a source built by its
// factory that never ran (Run not called; Close after). A source that is
// stopped acts on the request when it streams again. The error says why
// the request could not be recorded.
type Snapshotter interface {
	RequestSnapshot(ctx context.Context, req SnapshotRequest) error
}
