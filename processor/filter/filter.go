// Package filter is the filter processor: it keeps the events for which a
// condition is true and drops the others.
//
//	processors:
//	  big_orders:
//	    type: filter
//	    inputs: [shop.public.orders]
//	    condition: amount > 100 && status != 'cancelled'
//
// The condition is an expression of package processor/expr over the row
// (the after image) and the event's metadata. Like SQL's WHERE, a NULL
// result drops the event; true keeps it; an error (a NULL operand of >, a
// misspelt column, an unchanged TOAST value) is a record error of the
// event, sent to the processor's dead letter or stopping the pipeline:
// never a silent drop.
//
// Deletes and truncates pass through by default (on_delete: keep): a
// delete's before image often holds only the key (PostgreSQL's REPLICA
// IDENTITY DEFAULT), so evaluating the condition on it would drop deletes
// of rows the sink holds; a delete of a row the sink never received is a
// no-op for keyed sinks. on_delete: evaluate tests deletes against the
// before image (for REPLICA IDENTITY FULL tables); drop removes deletes and
// truncates.
//
// A filter is stateless: a row that stops matching (an update that sets
// status to 'cancelled') is not deleted downstream; its last matching
// version stays.
//
// Kept events are the input events themselves (their images are shared,
// not copied), in input order; the output keeps the input stream names.
package filter

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/processor/expr"
)

// Config is the filter processor's configuration.
type Config struct {
	// Condition keeps the events for which it is true: an expression
	// (expr-lang syntax) over the row's columns and the event's metadata
	// (op, stream, table, ts_ms, ...), e.g. "amount > 100 && status !=
	// 'cancelled'". NULL drops the event; an error (a NULL operand, a
	// misspelt column) is a record error of the event.
	Condition string `yaml:"condition"`
	// OnDelete is what happens to deletes and truncates: keep (pass them
	// through without evaluating the condition), evaluate (test a delete's
	// before image; truncates, which have no row, are kept) or drop.
	OnDelete string `yaml:"on_delete"`

	cond *expr.Expr
}

// On-delete modes.
const (
	DeleteKeep     = "keep"
	DeleteEvaluate = "evaluate"
	DeleteDrop     = "drop"
)

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{OnDelete: DeleteKeep} }

// Validate implements component.Validator: the condition must compile
// (syntax, known functions, a boolean result where the type is known).
func (c *Config) Validate() []error {
	var errs []error
	if c.Condition == "" {
		errs = append(errs, &component.FieldError{Field: "condition", Msg: "is required", Hint: "e.g. condition: amount > 100 && status != 'cancelled'"})
	} else if e, err := expr.Compile("condition", c.Condition, true); err != nil {
		errs = append(errs, expr.FieldError(err))
	} else {
		c.cond = e
	}
	switch c.OnDelete {
	case DeleteKeep, DeleteEvaluate, DeleteDrop:
	default:
		errs = append(errs, &component.FieldError{Field: "on_delete", Msg: fmt.Sprintf("%q is not a mode", c.OnDelete), Hint: "keep (the default), evaluate or drop"})
	}
	return errs
}

// CheckSchema compiles the condition against a table known before the
// pipeline runs (a generator's, or one read by sluice validate), so that a
// misspelt column or a type mismatch is reported with the file's line
// instead of as a record error of every event of that table. The errors
// are *component.FieldError.
func (c *Config) CheckSchema(s *event.Schema) []error {
	if c.cond == nil {
		return nil // Validate failed; its errors come first
	}
	if _, err := c.cond.For(s); err != nil {
		return []error{expr.FieldError(err)}
	}
	return nil
}

// Factory builds filter processors. Register it under "filter".
var Factory = component.ProcessorFactory{
	Doc:    "keeps the events for which a condition (an expression over the row and its metadata) is true",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("filter: config is %T, not *filter.Config", cfg)
		}
		return New(c)
	},
}

// Filter is the filter processor. Process is called from one goroutine at
// a time (component.Processor), which owns the per-schema cache and the
// evaluation Env.
type Filter struct {
	cond     *expr.Expr
	onDelete string
	env      *expr.Env
}

var (
	_ component.Processor     = (*Filter)(nil)
	_ component.KeepsNoEvents = (*Filter)(nil)
)

// New returns a filter for cfg. It compiles the condition afresh, so that
// no compiled state is shared with the configuration or another instance.
func New(cfg *Config) (*Filter, error) {
	c := *cfg
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("filter: %w", errs[0])
	}
	return &Filter{cond: c.cond, onDelete: c.OnDelete, env: expr.NewEnv()}, nil
}

// Process appends the kept events of in to out. Events whose condition
// fails are returned as RecordErrors indexed into in.
func (f *Filter) Process(_ context.Context, in []event.Event, out []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		keep, err := f.keep(&in[i])
		if err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: err})
			continue
		}
		if keep {
			out = append(out, in[i])
		}
	}
	if len(rejected) > 0 {
		return out, rejected
	}
	return out, nil
}

func (f *Filter) keep(ev *event.Event) (bool, error) {
	row := ev.After
	switch ev.Op {
	case event.OpDelete:
		switch f.onDelete {
		case DeleteKeep:
			return true, nil
		case DeleteDrop:
			return false, nil
		}
		row = ev.Before
	case event.OpTruncate:
		return f.onDelete != DeleteDrop, nil
	}
	p, err := f.cond.For(ev.Schema)
	if err != nil {
		return false, err
	}
	v, err := p.Eval(f.env, ev, row)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil // NULL is not true, as in SQL's WHERE
	}
	return false, &expr.Error{Field: "condition", Src: f.cond.String(), Msg: "gave " + expr.TypeName(v) + ", not a boolean",
		Hint: "a condition is true or false; compare the value, e.g. x == 'yes'"}
}

// Close implements component.Processor.
func (f *Filter) Close() error { return nil }

// KeepsNoEvents implements component.KeepsNoEvents, so that a source may
// recycle a batch that passed through a filter. Audit (keep it true when
// changing Process): kept events are the inputs themselves; the condition's
// Env holds the last event's values until the next Eval overwrites them,
// never reading them again (package expr: Program.Eval sets every slot it
// reads); the compiled programs are cached per *event.Schema, which a
// source never recycles; record errors are messages formatted when they
// happen.
func (f *Filter) KeepsNoEvents() bool { return true }
