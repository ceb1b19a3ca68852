package streamsql

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/plan"
)

// Config is the sql processor's configuration: the statements, inline or
// in a file, and how streams over change streams see deletes.
type Config struct {
	// Statements are the ksqlDB statements, separated by semicolons (the
	// top-level sql: key of a pipeline file sets them).
	Statements string `yaml:"statements"`
	// File is a file of statements, relative to the pipeline file (the
	// top-level sql_file: key sets it).
	File string `yaml:"file"`
	// DeleteHandlingMode is what a delete in a change stream becomes for a
	// SQL STREAM declared over it, as Debezium's unwrap transform
	// (ExtractNewRecordState) writes it: drop (no row) or rewrite (the
	// before image with __DELETED = 'true'; every row has the __DELETED
	// column). A TABLE always treats a delete as a tombstone.
	DeleteHandlingMode string `yaml:"delete_handling_mode"`
	// HoldUntilSnapshot holds the stream side of every stream-table join
	// until each source feeding its table side has finished its snapshot,
	// so that a cold start over existing data joins every row (ksqlDB's
	// result depends on which topic it happened to read first).
	HoldUntilSnapshot bool `yaml:"hold_until_snapshot"`

	// Set by the pipeline loader (SetOrigin, CheckInputs).
	origin origin
	inputs component.InputStreams
	stmts  []parse.Statement
	text   string
}

// origin is where the statement text sits, so that errors point into the
// file that holds it.
type origin struct {
	file      string // the file holding the statements (the pipeline file or File)
	line, col int    // the text's first character (1-based); 0: unknown
	base      string // the pipeline file, to resolve File
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{DeleteHandlingMode: "drop"} }

// SetOrigin implements component.TextOrigin: the pipeline file and where in
// it the statements key's text starts.
func (c *Config) SetOrigin(file string, line, col int) {
	c.origin = origin{file: file, line: line, col: col, base: file}
}

// Validate implements component.Validator: it reads and parses the
// statements.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	switch c.DeleteHandlingMode {
	case "drop", "rewrite":
	default:
		add("delete_handling_mode", fmt.Sprintf("%q is not a mode", c.DeleteHandlingMode), "drop (the default) or rewrite, as Debezium's delete.handling.mode")
	}
	c.stmts, c.text = nil, ""
	switch {
	case c.Statements != "" && c.File != "":
		add("file", "statements and file exclude each other", "give the statements inline or in a file")
		return errs
	case c.Statements == "" && c.File == "":
		add("statements", "is missing", "e.g. sql: CREATE STREAM orders WITH (kafka_topic = 'shop.public.orders'); … or sql_file: queries.sql")
		return errs
	case c.File != "":
		path := c.File
		if !filepath.IsAbs(path) && c.origin.base != "" {
			path = filepath.Join(filepath.Dir(c.origin.base), path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			add("file", fmt.Sprintf("cannot read the statements: %v", err), "the path is relative to the pipeline file")
			return errs
		}
		c.text = string(data)
		c.origin = origin{file: path, line: 1, col: 1, base: c.origin.base}
	default:
		c.text = c.Statements
	}
	stmts, err := parse.Parse(c.text)
	if err != nil {
		errs = append(errs, c.positioned(err)...)
		return errs
	}
	if len(stmts) == 0 {
		add("statements", "holds no statement", "e.g. CREATE STREAM orders WITH (kafka_topic = 'shop.public.orders');")
		return errs
	}
	c.stmts = stmts
	return errs
}

// positioned turns the parser's and planner's errors (positions in the
// statement text) into errors at their place in the file.
func (c *Config) positioned(err error) []error {
	var list parse.ErrorList
	if !errors.As(err, &list) {
		var one *parse.Error
		if !errors.As(err, &one) {
			return []error{&component.FieldError{Field: "statements", Msg: err.Error()}}
		}
		list = parse.ErrorList{one}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		line, col := e.Pos.Line, e.Pos.Col
		if c.origin.line > 0 {
			if line == 1 {
				col += c.origin.col - 1
			} else if c.origin.col > 1 && c.origin.file != "" && c.File == "" {
				col += c.origin.col - 1 // a block scalar's lines are indented alike
			}
			line += c.origin.line - 1
		}
		out = append(out, &component.PosError{File: c.origin.file, Line: line, Col: col, Msg: e.Msg})
	}
	return out
}

// CheckInputs implements component.InputChecker: it plans the statements
// against the streams that can reach the processor, reporting unknown
// streams and columns, type mismatches and unknown functions. Statements
// reading streams whose schemas only the first event tells are checked
// when it arrives.
func (c *Config) CheckInputs(in component.InputStreams) []error {
	c.inputs = in
	if c.stmts == nil {
		return nil // Validate failed; its errors come first
	}
	_, err := plan.Build(c.stmts, newCatalog(in, nil, c.DeleteHandlingMode), plan.Options{})
	if err != nil {
		return c.positioned(err)
	}
	return nil
}

// catalog answers the planner with the streams that can reach the
// processor: those whose schemas are known (before running, or from their
// first event), and — with a nil schema, so the statements wait — any
// stream named "<source>.…" of a feeding source, or any name at all when
// a feeding source keeps upstream names (kafka).
type catalog struct {
	known    map[string]*event.Schema
	sources  []string
	foreign  bool
	deletes  string
	accepted []string
}

func newCatalog(in component.InputStreams, seen map[string]*event.Schema, deletes string) *catalog {
	c := &catalog{known: map[string]*event.Schema{}, sources: in.Sources, foreign: in.Foreign, deletes: deletes}
	for _, s := range in.Known {
		c.known[s.Stream] = s
	}
	for n, s := range seen {
		c.known[n] = s
	}
	return c
}

// Stream implements plan.Catalog.
func (c *catalog) Stream(name string) (plan.StreamInfo, bool) {
	if s, ok := c.known[name]; ok {
		return plan.StreamInfo{Schema: s, DeleteHandling: c.deletes}, true
	}
	if c.foreign {
		return plan.StreamInfo{DeleteHandling: c.deletes, Assumed: true}, true
	}
	for _, src := range c.sources {
		if strings.HasPrefix(name, src+".") && len(name) > len(src)+1 {
			return plan.StreamInfo{DeleteHandling: c.deletes}, true
		}
	}
	return plan.StreamInfo{}, false
}

// Streams implements plan.Catalog.
func (c *catalog) Streams() []string {
	var out []string
	for n := range c.known {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
