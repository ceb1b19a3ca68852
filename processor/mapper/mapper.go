// Package mapper is the map processor: it sets columns from expressions,
// renames and drops columns, and projects rows (keep).
//
//	processors:
//	  shape:
//	    type: map
//	    inputs: [big_orders]
//	    set: {total_cents: "amount * 100", name: "upper(name)"}
//	    rename: {cust_id: customer_id}
//	    drop: [internal_note]
//
// Every expression (package processor/expr) reads the input event, with
// the input's column names; then columns are set, renamed, and dropped or
// kept, in that order. Both images of an event are mapped (an update's
// before image too; a delete's before image), each with the same
// expressions reading that image's values; truncates pass with the new
// schema.
//
// if_columns and unless_columns limit a map to the tables that have every
// listed column, or none of them; the events of other tables pass as they
// are (same schema, same images). Data Prepper's processors act "when the
// key exists" (package frontdoor/dataprepper translates them so); for a
// source whose documents differ in shape (MongoDB) the table's columns are
// the document's fields.
//
// # Schemas and types
//
// Each input schema gets one output schema, built at its first event and
// cached: same stream, table and Version as the input (a schema change
// upstream brings a new input Version, hence a new output), the columns
// after set, rename and drop/keep. Key columns stay key columns, under
// their new names; dropping one, or a keep that omits one, is an error of
// every event of that table (a row without its key could not be updated
// or deleted downstream).
//
// A set column that replaces an input column keeps the column's definition
// (type, precision and scale, nullability) when the expression's static
// type fits it: the same kind of value, or an integer into a decimal or
// float column. The value is then checked against the column: an int16's
// range, a numeric(p,s)'s digits (24.69135780245 into numeric(20,10) is an
// error asking for round(x, 10), never a silent rounding), NULL into a
// column that is not optional. When the type does not fit (qty / 2 gives a
// float), the column takes the expression's type. A new column takes the
// expression's static type, known when the table's schema is compiled, not
// from the first value: int → bigint, float → double, decimal → numeric of
// any scale, string → text, bool, bytes, time → timestamptz, duration →
// interval; anything the checker cannot type (JSON navigation, mixed
// branches, arrays, maps) → jsonb. Cast for another type: int(x),
// float(x), string(x), decimal(x). New columns are nullable.
//
// # Unchanged TOAST values
//
// A set expression that reads only unchanged TOAST values of the image
// (upper(description) when an UPDATE left description alone) would give
// what it gave when they last changed: its column is marked unchanged too,
// and sinks keep the value they hold, provided the column's type can carry
// the mark (text, json, bytes, arrays: the types Debezium writes its
// placeholder for); len(description) into a bigint column cannot, and is a
// record error. An expression that reads an unchanged value together with
// anything else fails with a record error; columns that are not set pass
// through as they are.
//
// # Deletes
//
// A delete's before image often holds only the key: PostgreSQL sends the
// other columns only with REPLICA IDENTITY FULL, and the source puts NULL
// in them. A set expression that fails on such an image because a column
// it reads is NULL gives NULL, as unknown as its inputs, instead of a
// record error on every delete; and NULL is accepted in any column of a
// delete's before image, where sources put it already. Everywhere else a
// failure is a record error.
//
// # Errors and cost
//
// An expression that fails on an event (a NULL operand, a value a column
// cannot hold, a column the table lacks) is a record error of that event,
// to the processor's dead letter or stopping the pipeline. A map that
// only renames shares the input images; any other map cuts one image per
// image of the event from a shared chunk (one allocation per ~4096 values)
// and evaluates only the set expressions.
package mapper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/processor/expr"
)

// Factory builds map processors. Register it under "map".
var Factory = component.ProcessorFactory{
	Doc:    "sets columns from expressions, renames, drops and keeps columns (a projection); key columns stay coherent",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("map: config is %T, not *mapper.Config", cfg)
		}
		return New(c, env.Logger)
	},
}

// Mapper is the map processor. Process is called from one goroutine at a
// time (component.Processor), which owns the plan cache and the Env.
type Mapper struct {
	cfg   *Config
	exprs []*expr.Expr // cfg.Set compiled, in order
	plans map[*event.Schema]*plan
	env   *expr.Env
	log   *slog.Logger
	// slab is the unused tail of the last chunk images are cut from: one
	// allocation serves many events. A cut is never handed out twice, so
	// events stay independent; a chunk lives while any of its events does.
	slab []event.Value
}

var (
	_ component.Processor     = (*Mapper)(nil)
	_ component.KeepsNoEvents = (*Mapper)(nil)
)

// KeepsNoEvents implements component.KeepsNoEvents, so that a source may
// recycle a batch that passed through a map. Audit (keep it true when
// changing Process): output images are cut from the mapper's own slabs,
// and may hold the inputs' values (copied columns, expression results
// that are substrings of them), which the engine delivers under the input
// batch's acknowledgement; a slab's tail holds nothing until it is cut;
// the Env's values are overwritten before they are read again (package
// expr); plans are cached per *event.Schema; regex_replace's pattern
// cache keeps copies of its keys (package expr, compiledRegex); record
// errors are formatted when they happen.
func (m *Mapper) KeepsNoEvents() bool { return true }

// slabValues is the size of a chunk (40 bytes a value).
const slabValues = 4096

func (m *Mapper) alloc(n int) []event.Value {
	if len(m.slab) < n {
		m.slab = make([]event.Value, max(n, slabValues))
	}
	res := m.slab[:n:n]
	m.slab = m.slab[n:]
	return res
}

// maxPlans bounds the plan cache; past it the cache starts afresh.
const maxPlans = 1024

// New returns a map processor for cfg; log may be nil. It compiles the
// expressions afresh, so that no compiled state is shared with the
// configuration or another instance.
func New(cfg *Config, log *slog.Logger) (*Mapper, error) {
	c := *cfg
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("map: %w", errs[0])
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mapper{cfg: &c, exprs: c.exprs, plans: map[*event.Schema]*plan{}, env: expr.NewEnv(), log: log}, nil
}

// plan is how events of one input schema are mapped.
type plan struct {
	out      *event.Schema
	err      error           // the schema cannot be mapped: every event is a record error
	from     []int           // per output column: the input column it copies, or -1
	set      []int           // per output column: the set expression giving it, or -1
	progs    []*expr.Program // cfg.Set compiled for the input schema
	identity bool            // output images are the input images
}

// Process appends the mapped events of in to out; events that cannot be
// mapped are returned as RecordErrors indexed into in.
func (m *Mapper) Process(_ context.Context, in []event.Event, out []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		ev := &in[i]
		pl := m.planFor(ev.Schema)
		if pl.err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: pl.err})
			continue
		}
		o := *ev
		o.Schema = pl.out
		if !pl.identity {
			var err error
			if ev.Before != nil {
				o.Before, err = m.image(pl, ev, ev.Before, ev.Op == event.OpDelete)
			}
			if err == nil && ev.After != nil {
				o.After, err = m.image(pl, ev, ev.After, false)
			}
			if err != nil {
				rejected = append(rejected, component.RecordError{Index: i, Err: err})
				continue
			}
		}
		out = append(out, o)
	}
	if len(rejected) > 0 {
		return out, rejected
	}
	return out, nil
}

// image maps one image; partial is set for a delete's before image, which
// may hold only the key.
func (m *Mapper) image(pl *plan, ev *event.Event, img []event.Value, partial bool) ([]event.Value, error) {
	res := m.alloc(len(pl.out.Columns))
	for k := range res {
		if f := pl.from[k]; f >= 0 {
			res[k] = img[f]
			continue
		}
		j := pl.set[k]
		prog, col := pl.progs[j], &pl.out.Columns[k]
		if prog.Unchanged(img) {
			if !markable(col.Type) {
				a := m.cfg.Set[j]
				return nil, &expr.Error{Field: "set." + a.Column, Src: a.Expr,
					Msg:  fmt.Sprintf("reads only unchanged TOAST values the source did not send (%s); a %s column cannot be marked unchanged (text, json, bytes and array columns can)", strings.Join(prog.RowColumns(), ", "), col.Type),
					Hint: "give the result as text, e.g. string(...), or compute it from columns the source always sends"}
			}
			res[k] = event.Unchanged
			continue
		}
		// A delete's before image often holds only the key, the other
		// columns NULL: an expression failing on those NULLs gives NULL.
		x, err := prog.Eval(m.env, ev, img)
		if err != nil {
			var xe *expr.Error
			if !partial || !errors.As(err, &xe) || !xe.ReadNull {
				return nil, err
			}
			x = nil
		}
		v, err := expr.ToValue(col, x)
		if err == nil && v.IsNull() && !col.Optional && !partial {
			what := "column"
			if col.Key {
				what = "key column"
			}
			err = fmt.Errorf("the result is NULL, which %s %s does not take", what, col.Name)
		}
		if err != nil {
			a := m.cfg.Set[j]
			return nil, &expr.Error{Field: "set." + a.Column, Src: a.Expr, Msg: err.Error()}
		}
		res[k] = v
	}
	return res, nil
}

// applies tells whether the map changes events of s (if_columns,
// unless_columns).
func (m *Mapper) applies(s *event.Schema) bool {
	has := func(name string) bool {
		for i := range s.Columns {
			if s.Columns[i].Name == name {
				return true
			}
		}
		return false
	}
	for _, c := range m.cfg.IfColumns {
		if !has(c) {
			return false
		}
	}
	for _, c := range m.cfg.UnlessColumns {
		if has(c) {
			return false
		}
	}
	return true
}

func (m *Mapper) planFor(s *event.Schema) *plan {
	if pl, ok := m.plans[s]; ok {
		return pl
	}
	pl := m.newPlan(s)
	if len(m.plans) >= maxPlans {
		clear(m.plans)
	}
	m.plans[s] = pl
	return pl
}

type outCol struct {
	col  event.Column
	from int // input column copied, or -1
	set  int // set expression, or -1
	orig int // input column it stands for (copied or replaced), or -1 for a new one
}

// newPlan builds the output schema of s. A problem with the table (a key
// column dropped, a duplicate name, an expression that does not compile
// against it) is kept in plan.err.
func (m *Mapper) newPlan(s *event.Schema) *plan {
	if !m.applies(s) {
		return &plan{out: s, identity: true}
	}
	pl := &plan{progs: make([]*expr.Program, len(m.exprs))}
	for j, e := range m.exprs {
		p, err := e.For(s)
		if err != nil {
			pl.err = err
			return pl
		}
		pl.progs[j] = p
	}
	cols := make([]outCol, len(s.Columns))
	for i := range s.Columns {
		cols[i] = outCol{col: s.Columns[i], from: i, set: -1, orig: i}
	}
	index := func(name string) int {
		for i := range cols {
			if cols[i].col.Name == name {
				return i
			}
		}
		return -1
	}
	for j, a := range m.cfg.Set {
		out := pl.progs[j].Out
		if i := index(a.Column); i >= 0 {
			c := cols[i].col
			if !expr.Fits(&c, out) {
				nc := expr.ColumnFor(a.Column, out)
				nc.Key, nc.Optional = c.Key, c.Optional
				c = nc
			}
			cols[i] = outCol{col: c, from: -1, set: j, orig: cols[i].orig}
			continue
		}
		cols = append(cols, outCol{col: expr.ColumnFor(a.Column, out), from: -1, set: j, orig: -1})
	}
	var missing []string
	for _, old := range sortedKeys(m.cfg.Rename) {
		if index(old) < 0 {
			missing = append(missing, "rename "+old)
		}
	}
	for i := range cols { // all at once, so that {a: b, b: a} swaps
		if nu, ok := m.cfg.Rename[cols[i].col.Name]; ok {
			cols[i].col.Name = nu
		}
	}
	if len(m.cfg.Drop) > 0 {
		drop := map[string]bool{}
		for _, d := range m.cfg.Drop {
			if index(d) < 0 {
				missing = append(missing, "drop "+d)
			}
			drop[d] = true
		}
		kept := cols[:0:0]
		for _, c := range cols {
			if !drop[c.col.Name] {
				kept = append(kept, c)
			} else if c.col.Key {
				pl.err = &component.FieldError{Field: "drop", Msg: fmt.Sprintf("%s is a key column of %s; a row without its key cannot be updated or deleted downstream", c.col.Name, s.Stream), Hint: "keep it, or rename it"}
				return pl
			}
		}
		cols = kept
	}
	if len(m.cfg.Keep) > 0 {
		var kept []outCol
		for _, k := range m.cfg.Keep {
			if i := index(k); i >= 0 {
				kept = append(kept, cols[i])
			} else {
				missing = append(missing, "keep "+k)
			}
		}
		for _, c := range cols {
			if c.col.Key && !containsCol(kept, c.col.Name) {
				pl.err = &component.FieldError{Field: "keep", Msg: fmt.Sprintf("does not list %s, a key column of %s; a row without its key cannot be updated or deleted downstream", c.col.Name, s.Stream), Hint: "add " + c.col.Name + " to keep"}
				return pl
			}
		}
		cols = kept
	}
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.col.Name] {
			pl.err = &component.FieldError{Field: "rename", Msg: fmt.Sprintf("gives %s two columns named %s", s.Stream, c.col.Name), Hint: "rename or drop one of them"}
			return pl
		}
		seen[c.col.Name] = true
	}

	out := *s
	out.Columns = make([]event.Column, len(cols))
	pl.from, pl.set = make([]int, len(cols)), make([]int, len(cols))
	pl.identity = len(cols) == len(s.Columns)
	changed := !pl.identity
	for k, c := range cols {
		out.Columns[k] = c.col
		pl.from[k], pl.set[k] = c.from, c.set
		if c.from != k {
			pl.identity = false
		}
		if c.from != k || c.col.Name != s.Columns[k].Name {
			changed = true
		}
	}
	out.KeyIdx = nil
	for _, ki := range s.KeyIdx {
		for k, c := range cols {
			if c.orig == ki {
				out.KeyIdx = append(out.KeyIdx, k)
			}
		}
	}
	if changed {
		pl.out = &out
	} else {
		pl.out = s // nothing to change for this table
	}
	if len(missing) > 0 {
		m.log.Info("map: names not in this table are skipped", "stream", s.Stream, "version", s.Version, "skipped", strings.Join(missing, ", "))
	}
	return pl
}

// markable reports whether a column of type t may hold the unchanged mark:
// the types PostgreSQL can TOAST, which Debezium's formats write as its
// placeholder (format's appendUnavailable). A number or a date has no such
// representation, so a result of that type cannot stay unchanged.
func markable(t event.Type) bool {
	switch t {
	case event.TypeString, event.TypeUUID, event.TypeJSON, event.TypeXML, event.TypeEnum, event.TypeTimeTZ,
		event.TypeTimestampTZ, event.TypeBytes, event.TypeArray, event.TypeInet, event.TypeUnknown:
		return true
	}
	return false
}

func containsCol(cols []outCol, name string) bool {
	for _, c := range cols {
		if c.col.Name == name {
			return true
		}
	}
	return false
}

// Close implements component.Processor.
func (m *Mapper) Close() error { return nil }
