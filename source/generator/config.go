package generator

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Factory builds generator sources. Register it under the type name
// "generator".
var Factory = component.SourceFactory{
	Doc:    "fake product and user rows at a steady rate, reproducible from a seed; needs no external service",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Source, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("generator: config is %T, want *generator.Config", cfg)
		}
		if errs := c.Validate(); len(errs) > 0 {
			return nil, fmt.Errorf("generator: %w", errors.Join(errs...))
		}
		return newSource(*c, env), nil
	},
}

// Config configures a generator source.
type Config struct {
	// Tables lists the built-in table shapes to generate, in the order they
	// take turns: event n (1-based) goes to Tables[(n-1) % len(Tables)].
	Tables []string `yaml:"tables"`
	// Rate is the number of events per second; 0 means as fast as the
	// pipeline accepts them (back-pressure alone paces the source).
	Rate float64 `yaml:"rate"`
	// Count is the total number of events to produce over the pipeline's
	// life, counting those produced before a restart; 0 means no limit.
	// Once reached, the source stops producing but keeps running (idle)
	// until the pipeline stops.
	Count int64 `yaml:"count"`
	// Seed selects the output: the same seed and configuration produce the
	// same rows in the same order.
	Seed int64 `yaml:"seed"`
	// Operations weighs the kinds of change.
	Operations Operations `yaml:"operations"`
	// BatchSize is the most events per emitted batch. At a finite rate a
	// batch also holds no more than the rate has earned since the last one.
	BatchSize int `yaml:"batch_size"`
}

// Operations are the relative weights of the kinds of change. Updates and
// deletes act on a uniformly chosen existing row of the table; when the
// table has no rows yet, the event is an insert instead.
type Operations struct {
	// Insert, Update and Delete weigh inserts, updates and deletes: with
	// 8, 1 and 1, eight changes in ten are inserts.
	Insert int `yaml:"insert"`
	Update int `yaml:"update"`
	Delete int `yaml:"delete"`
}

// mixed reports whether the mix has updates or deletes, which need the
// generator to track the live rows of every table.
func (o Operations) mixed() bool { return o.Update > 0 || o.Delete > 0 }

// maxBatchSize bounds batch_size so one batch stays a few hundred MB at most.
const maxBatchSize = 1_000_000

// DefaultConfig returns the defaults: one product insert per second, seed 1.
func DefaultConfig() *Config {
	return &Config{
		Tables:     []string{"product"},
		Rate:       1,
		Seed:       1,
		Operations: Operations{Insert: 1},
		BatchSize:  1000,
	}
}

// Validate checks the configuration; every error is a *component.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	known := "one of: " + strings.Join(tableNames(), ", ")
	if len(c.Tables) == 0 {
		add("tables", "no tables", "list at least one table, "+known)
	}
	seen := make(map[string]bool, len(c.Tables))
	for _, t := range c.Tables {
		switch {
		case lookupShape(t) == nil:
			add("tables", fmt.Sprintf("unknown table %q", t), known)
		case seen[t]:
			add("tables", fmt.Sprintf("table %q listed twice", t), "list each table once")
		}
		seen[t] = true
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		add("rate", fmt.Sprintf("rate %v is not a finite number >= 0", c.Rate),
			"events per second, e.g. 1 or 0.5; 0 means as fast as possible")
	}
	if c.Count < 0 {
		add("count", fmt.Sprintf("count %d is negative", c.Count), "0 means no limit")
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchSize {
		add("batch_size", fmt.Sprintf("batch_size %d is out of range", c.BatchSize),
			fmt.Sprintf("use 1 to %d; 1000 is a good default", maxBatchSize))
	}
	o := c.Operations
	for _, w := range []struct {
		name string
		v    int
	}{{"insert", o.Insert}, {"update", o.Update}, {"delete", o.Delete}} {
		if w.v < 0 {
			add("operations."+w.name, fmt.Sprintf("weight %d is negative", w.v), "weights are relative counts >= 0")
		}
	}
	if o.Insert == 0 {
		add("operations.insert", "insert weight is 0",
			"tables start empty; inserts create the rows that updates and deletes act on, so give insert a weight > 0")
	}
	// Keep the weights' sum far from overflow; it is drawn as one uniform int.
	if o.Insert > 1<<20 || o.Update > 1<<20 || o.Delete > 1<<20 {
		add("operations", "weights above 1048576", "weights are relative; scale them down")
	}
	return errs
}

// KnownSchemas returns the schemas of the streams a generator named source
// emits: they are known before it runs, so `sluice validate` checks the
// processors that read them (component.KnownSchemas).
func (c *Config) KnownSchemas(source string) []*event.Schema {
	var out []*event.Schema
	for _, name := range c.Tables {
		if s := lookupShape(name); s != nil {
			out = append(out, schemaFor(s, source))
		}
	}
	return out
}
