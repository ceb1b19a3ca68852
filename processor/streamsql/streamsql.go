package streamsql

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/durable"
	"github.com/sluice-dev/sluice/ksql/eval"
	"github.com/sluice-dev/sluice/ksql/eval/javatime"
	"github.com/sluice-dev/sluice/ksql/exec"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/plan"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Factory is the sql processor's factory.
var Factory = component.ProcessorFactory{
	Doc:          "runs ksqlDB statements (streams, tables, joins, aggregations, windows) over the change streams; each persistent query's result is a stream that sinks take by its name",
	Config:       func() any { return DefaultConfig() },
	NamesStreams: true,
	Stateful:     true,
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("sql: config is %T, not *streamsql.Config", cfg)
		}
		return New(c, env)
	},
}

// Processor runs the persistent queries of a set of statements.
type Processor struct {
	cfg    *Config
	st     component.State
	log    *slog.Logger
	name   string
	seen   map[string]*event.Schema // schemas of waiting streams, from their first events
	plan   *plan.Plan
	x      *exec.Executor
	inputs map[string]bool        // the streams the executor reads
	wait   map[string]bool        // streams whose first event replans
	out    map[*types.Schema]*out // output schemas, by the plan's
	rows   []exec.Row

	// The input buffer (buffer.go): inputs of the referenced streams while
	// a statement waits for a schema.
	referenced map[string]bool
	bufSeq     uint64
	buffered   int
	bufSchemas map[schemaID]bool
	// bufferedCount is buffered for Gauges, read from other goroutines.
	bufferedCount atomic.Int64
	// shown is the executor for Gauges (replan replaces x).
	shown atomic.Pointer[exec.Executor]

	// Output versions (see the package doc, "Results in sinks"): the run's
	// epoch in the high bits, the run's output count in the low 40.
	epoch, count uint64
	epochFile    string
}

type out struct {
	schema  *event.Schema
	where   string // the events' Position: the query
	jsonCol []bool // MAP and STRUCT columns, rendered as JSON text
	types   []types.Type
}

var _ component.Processor = (*Processor)(nil)

// schemaKeyPrefix keeps the first-event schemas of streams declared
// without a column list, so a restart plans exactly as the run that wrote
// the state did (exec's own keys start with 0x00 and a query ID never
// starts with one, so "\x00schema\x00" is the processor's).
var schemaKeyPrefix = []byte("\x00schema\x00")

// New plans cfg's statements (Validate and CheckInputs ran) over env's
// operator state.
func New(cfg *Config, env component.Env) (*Processor, error) {
	if cfg.stmts == nil {
		if errs := cfg.Validate(); len(errs) > 0 {
			return nil, fmt.Errorf("sql: %w", errors.Join(errs...))
		}
	}
	if env.State == nil {
		return nil, errors.New("sql: the processor needs operator state (Env.State)")
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Processor{cfg: cfg, st: env.State, log: log, name: env.Name, seen: map[string]*event.Schema{}, out: map[*types.Schema]*out{},
		referenced: referencedStreams(cfg.stmts), bufSchemas: map[schemaID]bool{}}
	if p.name == "" {
		p.name = "sql"
	}
	var err error
	if err = p.st.Scan(schemaKeyPrefix, prefixEnd(schemaKeyPrefix), func(k, v []byte) bool {
		var s event.Schema
		if e := json.Unmarshal(v, &s); e != nil {
			err = fmt.Errorf("sql: the schema of stream %q kept in state does not decode: %v", k[len(schemaKeyPrefix):], e)
			return false
		}
		p.seen[s.Stream] = &s
		return true
	}); err != nil {
		return nil, err
	}
	if err = p.st.Scan(bufKeyPrefix, prefixEnd(bufKeyPrefix), func(k, _ []byte) bool {
		p.bufSeq = binary.BigEndian.Uint64(k[len(bufKeyPrefix):])
		p.buffered++
		return true
	}); err != nil {
		return nil, err
	}
	if err = p.st.Scan(bufSchemaKeyPrefix, prefixEnd(bufSchemaKeyPrefix), func(k, v []byte) bool {
		var s event.Schema
		if json.Unmarshal(v, &s) == nil {
			p.bufSchemas[schemaID{s.Stream, s.Version}] = true
		}
		return true
	}); err != nil {
		return nil, err
	}
	p.bufferedCount.Store(int64(p.buffered))
	if err := p.replan(); err != nil {
		return nil, err
	}
	if env.StateDir != "" {
		p.epochFile = filepath.Join(env.StateDir, "epoch")
	}
	if err := p.nextEpoch(); err != nil {
		return nil, err
	}
	return p, nil
}

// countBits is how many low bits of an output's version count the outputs
// of one epoch.
const countBits = 40

// nextEpoch starts a new epoch: every output version from now on is above
// every version given before, in this run or an earlier one, so a result
// computed again after a crash replaces the one written before it.
func (p *Processor) nextEpoch() error {
	p.epoch++
	if p.epochFile != "" {
		b, err := os.ReadFile(p.epochFile)
		switch {
		case err == nil:
			e, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if perr != nil {
				return fmt.Errorf("sql: %s does not hold an epoch number (%q): remove it to start from 1 (search indexes written before then keep their newer versions)", p.epochFile, b)
			}
			p.epoch = max(p.epoch, e+1)
		case !os.IsNotExist(err):
			return fmt.Errorf("sql: %w", err)
		}
		if err := durable.MkdirAll(filepath.Dir(p.epochFile)); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		tmp := p.epochFile + ".tmp"
		if err := writeSync(tmp, strconv.AppendUint(nil, p.epoch, 10)); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		if err := os.Rename(tmp, p.epochFile); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		if err := durable.SyncDir(filepath.Dir(p.epochFile)); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
	}
	if p.epoch >= 1<<(63-countBits) {
		return fmt.Errorf("sql: the output epoch %d is too large; remove %s", p.epoch, p.epochFile)
	}
	p.count = 0
	return nil
}

func writeSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// version returns the next output's version.
func (p *Processor) version() (uint64, error) {
	p.count++
	if p.count >= 1<<countBits {
		if err := p.nextEpoch(); err != nil {
			return 0, err
		}
		p.count = 1
	}
	return p.epoch<<countBits | p.count, nil
}

// waiting reports whether a statement still waits for a stream's schema.
func (p *Processor) waiting() bool { return len(p.plan.Deferred) > 0 }

func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	end[len(end)-1]++
	return end
}

// replan plans the statements with the schemas known now and builds the
// executor over the state (which continues where the last one stopped).
func (p *Processor) replan() error {
	if p.x != nil {
		if err := p.x.Flush(); err != nil {
			return err
		}
	}
	pl, err := plan.Build(p.cfg.stmts, newCatalog(p.cfg.inputs, p.seen, p.cfg.DeleteHandlingMode), plan.Options{})
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	queries := make([]ir.Query, len(pl.Queries))
	for i, q := range pl.Queries {
		queries[i] = q.Query
	}
	x, err := exec.New(queries, p.st, exec.Options{Compiler: compiler{}, ParseTime: parseTime, HoldUntilSnapshot: p.cfg.HoldUntilSnapshot})
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	p.plan, p.x = pl, x
	p.shown.Store(x)
	p.inputs, p.wait = map[string]bool{}, map[string]bool{}
	for _, s := range x.Streams() {
		p.inputs[s] = true
	}
	for _, s := range pl.Waiting {
		p.wait[s] = true
	}
	if len(pl.Waiting) > 0 {
		p.log.Info("sql statements wait for the first event of their streams", "streams", strings.Join(pl.Waiting, ", "), "statements", len(pl.Deferred))
	}
	return nil
}

// Process implements component.Processor.
func (p *Processor) Process(_ context.Context, in []event.Event, outEvs []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		ev := &in[i]
		stream := ev.Schema.Stream
		if p.wait[stream] {
			if err := p.learn(ev.Schema); err != nil {
				return outEvs, err
			}
			if !p.waiting() && p.buffered > 0 {
				var errs []error
				var err error
				if outEvs, err = p.drain(i, outEvs, &errs); err != nil {
					return outEvs, err
				}
				for _, e := range errs {
					rejected = append(rejected, component.RecordError{Index: i, Err: e})
				}
			}
		}
		if p.waiting() {
			if p.referenced[stream] {
				if err := p.buffer(ev); err != nil {
					return outEvs, fmt.Errorf("sql: keeping an input until the queries start: %w", err)
				}
			}
			continue
		}
		if !p.inputs[stream] {
			continue
		}
		rows, err := p.x.Process(stream, ev, p.rows[:0])
		p.rows = rows
		var eerr error
		if outEvs, eerr = p.emit(rows, ev, outEvs); eerr != nil {
			return outEvs, eerr
		}
		if err != nil {
			var re *exec.RecordError
			if !errors.As(err, &re) {
				return outEvs, fmt.Errorf("sql: %w", err)
			}
			rejected = append(rejected, component.RecordError{Index: i, Err: err})
		}
	}
	if err := p.x.Flush(); err != nil {
		return outEvs, fmt.Errorf("sql: %w", err)
	}
	if len(rejected) > 0 {
		return outEvs, rejected
	}
	return outEvs, nil
}

// learn records the schema of a waiting stream's first event, durably
// with the state, and plans the statements that waited for it.
func (p *Processor) learn(s *event.Schema) error {
	b, err := encodeSchema(s)
	if err != nil {
		return err
	}
	var keep event.Schema
	if err := json.Unmarshal(b, &keep); err != nil {
		return fmt.Errorf("sql: the schema of stream %q does not decode: %w", s.Stream, err)
	}
	if err := p.st.Set(append(append([]byte(nil), schemaKeyPrefix...), s.Stream...), b); err != nil {
		return err
	}
	p.seen[s.Stream] = &keep
	return p.replan()
}

// emit turns the executor's rows into events.
func (p *Processor) emit(rows []exec.Row, in *event.Event, evs []event.Event) ([]event.Event, error) {
	for i := range rows {
		r := &rows[i]
		o := p.outFor(r)
		v, err := p.version()
		if err != nil {
			return evs, err
		}
		ev := event.Event{Schema: o.schema, TsMs: in.TsMs, Position: o.where,
			Source: event.Source{TsUs: r.Time, LSN: v, HasLSN: true}}
		switch r.Op {
		case exec.Insert:
			ev.Op, ev.After = event.OpCreate, o.values(r.Value)
		case exec.Upsert:
			ev.Op, ev.After = event.OpUpdate, o.values(r.Value)
		case exec.Delete:
			img := make([]event.Value, len(o.schema.Columns))
			for j, k := range o.schema.KeyIdx {
				if j < len(r.Key) {
					img[k] = r.Key[j]
				}
			}
			ev.Op, ev.Before = event.OpDelete, o.values(img)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func (p *Processor) outFor(r *exec.Row) *out {
	if o := p.out[r.Schema]; o != nil && o.schema.Stream == r.Topic {
		return o
	}
	s := &event.Schema{Stream: r.Topic, Source: p.name, Connector: "sql", Table: r.Topic, Version: 1}
	o := &out{schema: s, where: "query " + r.Query}
	for _, f := range r.Schema.Columns {
		c := types.ToColumn(f)
		if r.Schema.Index(f.Name) >= 0 {
			for _, k := range r.Schema.Key {
				if r.Schema.Columns[k].Name == f.Name {
					c.Key, c.Optional = true, false
				}
			}
		}
		s.Columns = append(s.Columns, c)
		o.types = append(o.types, f.Type)
		o.jsonCol = append(o.jsonCol, f.Type.Base == types.Map || f.Type.Base == types.Struct)
	}
	s.KeyIdx = append([]int(nil), r.Schema.Key...)
	p.out[r.Schema] = o
	return o
}

// values converts a row's values to the event's: MAP and STRUCT values
// become their JSON text.
func (o *out) values(v []event.Value) []event.Value {
	copied := false
	for i, j := range o.jsonCol {
		if j && i < len(v) && v[i].Kind != event.KindNull {
			if !copied {
				v, copied = append([]event.Value(nil), v...), true
			}
			var b strings.Builder
			appendJSON(&b, o.types[i], v[i])
			v[i] = event.String(b.String())
		}
	}
	return v
}

// appendJSON writes v, of type t, as JSON (ksqlDB's JSON value format:
// STRUCT field names as declared, MAP keys as strings).
func appendJSON(b *strings.Builder, t types.Type, v event.Value) {
	if v.Kind == event.KindNull {
		b.WriteString("null")
		return
	}
	switch t.Base {
	case types.Boolean:
		b.WriteString(strconv.FormatBool(v.Num != 0))
	case types.Integer, types.Bigint, types.Date, types.Time, types.Timestamp:
		b.WriteString(strconv.FormatInt(int64(v.Num), 10))
	case types.Double:
		b.WriteString(strconv.FormatFloat(v.AsFloat(), 'g', -1, 64))
	case types.Decimal:
		b.WriteString(v.Str)
	case types.Array:
		b.WriteByte('[')
		for i, e := range v.Elems() {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSON(b, *t.Elem, e)
		}
		b.WriteByte(']')
	case types.Map:
		b.WriteByte('{')
		es := v.Elems()
		for i := 0; i+1 < len(es); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, es[i].Str)
			b.WriteByte(':')
			appendJSON(b, *t.Elem, es[i+1])
		}
		b.WriteByte('}')
	case types.Struct:
		b.WriteByte('{')
		es := v.Elems()
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, f.Name)
			b.WriteByte(':')
			if i < len(es) {
				appendJSON(b, f.Type, es[i])
			} else {
				b.WriteString("null")
			}
		}
		b.WriteByte('}')
	default:
		writeJSONString(b, v.Str)
	}
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

// Close implements component.Processor.
func (p *Processor) Close() error { return nil }

// Stats returns the executor's drop counters (late records, NULL keys,
// held rows), for metrics.
func (p *Processor) Stats() exec.Stats { return p.shown.Load().Stats() }

// compiler is package eval behind exec.Compiler.
type compiler struct{}

func (compiler) Expr(e ir.Expr) (ir.Evaluator, error)    { return eval.Compile(e) }
func (compiler) Agg(a ir.AggCall) (ir.Aggregator, error) { return eval.CompileAggregate(a) }

// parseTime is exec.TimeParser over Java's DateTimeFormatter patterns
// (package javatime); a zone-less text is UTC, as in ksqlDB.
func parseTime(format string) (func(string) (int64, error), error) {
	pat, err := javatime.Compile(format)
	if err != nil {
		return nil, fmt.Errorf("timestamp_format '%s': %w", format, err)
	}
	return func(text string) (int64, error) { return pat.ParseTimestamp(text, javatime.UTC) }, nil
}

// Gauges implements component.Gauger: the rows the queries dropped and
// the inputs waiting, for /metrics.
func (p *Processor) Gauges() []component.Gauge {
	st := p.shown.Load().Stats()
	return []component.Gauge{
		{Name: "sluice_sql_late_records", Help: "Records dropped since the start because they arrived after their window closed (window size + grace period).", Value: float64(st.Late)},
		{Name: "sluice_sql_null_key_rows", Help: "Rows dropped since the start for a NULL key (a NULL join key or GROUP BY value, a table row without a key).", Value: float64(st.NullKeys)},
		{Name: "sluice_sql_held_rows", Help: "Stream rows held since the start until their join's table side finished its snapshot (hold_until_snapshot).", Value: float64(st.Held)},
		{Name: "sluice_sql_waiting_inputs", Help: "Inputs kept in state until every stream the statements read has told its schema.", Value: float64(p.bufferedCount.Load())},
	}
}
