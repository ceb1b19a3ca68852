package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Compiler compiles a plan's expressions and aggregate calls (package eval
// implements it). It is called while New builds the operators, never
// while they run.
type Compiler interface {
	Expr(e ir.Expr) (ir.Evaluator, error)
	Agg(a ir.AggCall) (ir.Aggregator, error)
}

// TimeParser returns the parser of a `timestamp_format` (a Java
// DateTimeFormatter pattern; zone-less means UTC), which turns a STRING
// timestamp column's text into microseconds since 1970-01-01 UTC. An
// error from the parser is a record error of the input row.
type TimeParser func(format string) (func(text string) (int64, error), error)

// Options configure an Executor.
type Options struct {
	Compiler  Compiler
	ParseTime TimeParser // needed when a source has a STRING timestamp column
	// HoldUntilSnapshot holds the stream-side rows of every stream-table
	// join until each table-side input has finished its snapshot (see the
	// package doc), so that a cold start over existing data joins.
	HoldUntilSnapshot bool
}

// Op is what an output row does to its topic.
type Op uint8

// Output operations: a stream's rows are inserts; a table's rows are
// upserts and deletes of their key.
const (
	Insert Op = iota + 1
	Upsert
	Delete
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Row is one output of a persistent query.
type Row struct {
	Query  string        // the query's ID (ir.Query.ID)
	Topic  string        // the sluice stream it goes to (ir.Query.Topic)
	Schema *types.Schema // the query's output schema (its plan root's)
	Op     Op
	// Key holds the values of Schema.Key's columns, in that order (nil
	// when the schema has no key). A Delete has its key and no Value.
	Key   []event.Value
	Value []event.Value // every column of Schema; nil for a Delete
	// Time is the row's event time (ROWTIME), in microseconds.
	Time int64
	// Windowed is set for the rows of windowed aggregations, with the
	// window's bounds in microseconds (End exclusive for TUMBLING and
	// HOPPING windows, inclusive for SESSION windows, as in ksqlDB).
	Windowed               bool
	WindowStart, WindowEnd int64
}

// RecordError is an input that failed on its own values: an expression
// that cannot be evaluated on them (a bad cast), an unparsable or NULL
// timestamp. The engine sends such an input to the dead letter or stops;
// see Executor.Process for what happened to the state.
type RecordError struct {
	Query string // the query whose operator failed ("" for a source shared by several)
	Err   error
}

func (e *RecordError) Error() string {
	if e.Query == "" {
		return e.Err.Error()
	}
	return "query " + e.Query + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// Stats are counters of rows the operators dropped, for metrics. They only
// grow over the life of an Executor (they are not kept in state).
type Stats struct {
	// Late counts records dropped because they arrived after their window
	// closed (window end + grace, see the package doc): per record and
	// window for windowed aggregations, per record for joins.
	Late int64
	// NullKeys counts rows dropped for a NULL key: a NULL join key, a NULL
	// GROUP BY value, a table row whose key is NULL.
	NullKeys int64
	// Held counts stream rows held until the table side's snapshot ended.
	Held int64
}

type stats struct{ late, nullKeys, held atomic.Int64 }

// Executor runs a set of persistent queries over one operator state. Its
// methods are called from one goroutine at a time, except Stats.
type Executor struct {
	st      component.State
	opts    Options
	queries []*query
	// bySream lists the sources reading each stream, in query order, then
	// plan order (a self-join's left side first).
	byStream map[string][]*sourceOp
	// produced maps a query output topic to the query producing it.
	produced map[string]*query
	stats    stats

	seq      uint64 // the last sequence number given to an input row
	seqSaved uint64 // seq as last written to state
	metas    []metaOp

	holds holdSet
}

// metaOp is an operator with a little metadata (its stream time) kept in
// memory and written to state by Flush.
type metaOp interface {
	saveMeta(st component.State) error
}

// Executor-wide state keys start with 0x00 (a query ID is never empty, so
// no operator key does).
var (
	seqKey      = []byte("\x00seq")
	doneKeyBase = []byte("\x00done\x00")
)

// New builds the operators of queries over st, reading what earlier runs
// left in it: an Executor built on the state another one left (after a
// restart, the state as of the last commit) continues exactly where that
// one stopped. Each query's operators keep their state under its ID, so
// IDs must stay the same across restarts.
func New(queries []ir.Query, st component.State, opts Options) (*Executor, error) {
	if opts.Compiler == nil {
		return nil, errors.New("exec: Options.Compiler is required")
	}
	x := &Executor{st: st, opts: opts, byStream: map[string][]*sourceOp{}, produced: map[string]*query{}}
	v, ok, err := st.Get(seqKey)
	if err != nil {
		return nil, err
	}
	if ok {
		s, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, fmt.Errorf("exec: the input sequence in state does not decode: %w", errBadRow)
		}
		x.seq, x.seqSaved = s, s
	}
	seen := map[string]bool{}
	for i := range queries {
		q := &queries[i]
		if q.ID == "" || seen[q.ID] {
			return nil, fmt.Errorf("exec: query %d has an empty or repeated ID %q", i, q.ID)
		}
		seen[q.ID] = true
		if q.Root == nil {
			return nil, fmt.Errorf("exec: query %s has no plan", q.ID)
		}
		bq, err := x.build(q)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.ID, err)
		}
		x.queries = append(x.queries, bq)
		if q.Topic != "" {
			if p := x.produced[q.Topic]; p != nil {
				return nil, fmt.Errorf("queries %s and %s both write %q; a topic has one producing query", p.id, q.ID, q.Topic)
			}
			x.produced[q.Topic] = bq
		}
	}
	if err := x.initHolds(); err != nil {
		return nil, err
	}
	return x, nil
}

// Streams returns the sluice streams the queries read that no query of
// the Executor produces: the inputs to feed to Process.
func (x *Executor) Streams() []string {
	var out []string
	for _, q := range x.queries {
		for _, s := range q.sources {
			if x.produced[s.n.Stream] == nil && !contains(out, s.n.Stream) {
				out = append(out, s.n.Stream)
			}
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Stats returns the drop counters; it may be called from any goroutine.
func (x *Executor) Stats() Stats {
	return Stats{Late: x.stats.late.Load(), NullKeys: x.stats.nullKeys.Load(), Held: x.stats.held.Load()}
}

// Process runs one change event of stream through every query reading
// it, and through the queries reading those queries' outputs, appending
// the output rows to out in the order they were produced.
//
// An error that is a *RecordError rejects ev alone: the changes of state
// it made before the failing expression stay (as the input is dead-
// lettered, or the pipeline stops and the state rolls back with the
// epoch), the rows it produced are returned, and the other queries still
// process it. Any other error (the state failing) is fatal.
//
// Call Flush after the last Process of each batch.
func (x *Executor) Process(stream string, ev *event.Event, out []Row) ([]Row, error) {
	r := &run{x: x, out: out}
	srcs := x.byStream[stream]
	var first error
	if len(x.holds.orphans) > 0 {
		if err := x.releaseOrphans(r); err != nil {
			if !isRecord(err) {
				return r.out, err
			}
			first = err
		}
	}
	if len(srcs) > 0 {
		in := eventInput(ev)
		for _, s := range srcs {
			if err := r.ingest(s, in); err != nil {
				if !isRecord(err) {
					return r.out, err
				}
				first = cmpErr(first, err)
			}
		}
	}
	if err := r.route(len(out)); err != nil {
		return r.out, err
	}
	// The snapshot marks are looked at once ev went everywhere, tables
	// derived from it included, so that held rows see all of it.
	n := len(r.out)
	if err := x.noteSnapshot(r, stream, ev); err != nil {
		if !isRecord(err) {
			return r.out, err
		}
		first = cmpErr(first, err)
	}
	if err := r.route(n); err != nil {
		return r.out, err
	}
	if first == nil {
		first = r.recErr
	}
	return r.out, first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func isRecord(err error) bool {
	var re *RecordError
	return errors.As(err, &re)
}

// Flush writes what the operators keep in memory between inputs (the
// input sequence, stream times) to the state. Call it after the last
// Process of each batch, before the engine may commit the batch's epoch.
func (x *Executor) Flush() error {
	if x.seq != x.seqSaved {
		if err := x.st.Set(seqKey, binary.AppendUvarint(nil, x.seq)); err != nil {
			return err
		}
		x.seqSaved = x.seq
	}
	for _, m := range x.metas {
		if err := m.saveMeta(x.st); err != nil {
			return err
		}
	}
	return nil
}

// run is one Process call: the rows produced so far and the first record
// error of a derived row.
type run struct {
	x      *Executor
	out    []Row
	recErr error
}

func (r *run) ingest(s *sourceOp, in *input) error {
	err := s.ingest(r, in)
	if err != nil && isRecord(err) {
		var re *RecordError
		errors.As(err, &re)
		if re.Query == "" {
			re.Query = s.q.id
		}
	}
	return err
}

// route feeds the rows from index i on to the queries reading their
// topics, in the order they were produced (rows those queries produce are
// appended and fed in turn).
func (r *run) route(i int) error {
	for ; i < len(r.out); i++ {
		row := &r.out[i]
		srcs := r.x.byStream[row.Topic]
		if len(srcs) == 0 {
			continue
		}
		q := r.x.produced[row.Topic]
		in := rowInput(row, q)
		for _, s := range srcs {
			if err := r.ingest(s, in); err != nil {
				if !isRecord(err) {
					return err
				}
				r.recErr = cmpErr(r.recErr, err)
			}
		}
	}
	return nil
}

func (x *Executor) nextSeq() uint64 {
	x.seq++
	return x.seq
}
