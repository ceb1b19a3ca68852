// Package config loads a pipeline file: YAML with ${ENV} interpolation,
// strict keys, and validation that reports every problem at once with
// file:line and a hint, before anything connects anywhere.
//
// Each component's typed configuration struct (from its factory in the
// component.Registry) is the single source of truth for its keys, defaults
// and checks; this package only walks YAML nodes into those structs, so that
// unknown keys and bad values point at the line that holds them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
)

// Pipeline is a loaded, validated pipeline file.
type Pipeline struct {
	File     string
	Name     string // pipeline name: `name:` or the file's base name
	StateDir string // resolved relative to the working directory
	Engine   EngineConfig
	Sources  []Component // in file order
	Sinks    []Component
}

// EngineConfig holds the engine's tunables (the `engine:` block).
type EngineConfig struct {
	MaxInflight    int           `yaml:"max_inflight"`     // batches in flight per source
	MaxWriteEvents int           `yaml:"max_write_events"` // events coalesced into one sink write
	DrainTimeout   time.Duration `yaml:"drain_timeout"`    // graceful shutdown deadline
	// StartRetry is how sources and sinks retry connecting at start.
	StartRetry component.StartRetry `yaml:"start_retry"`
}

// Options converts to engine options.
func (e EngineConfig) Options() engine.Options {
	return engine.Options{MaxInflight: e.MaxInflight, MaxWriteEvents: e.MaxWriteEvents, DrainTimeout: e.DrainTimeout, StartRetry: e.StartRetry}
}

// Component is one source or sink.
type Component struct {
	Name   string
	Type   string
	Inputs []string // sinks only
	Config any      // the factory's struct, decoded and validated
	Line   int
	// InputsLine is the line of inputs: (or of the name when absent).
	InputsLine int
	// Sinks only: batching, retry backoff and the dead-letter sink
	// (`batch:`, `retry:`, `dead_letter:`), which every sink type takes.
	Batch      engine.Batch
	Retry      engine.Retry
	DeadLetter *Component // nil: a rejected event stops the pipeline
}

// Error is one problem in a pipeline file.
type Error struct {
	File string
	Line int
	Path string // e.g. "sources.shop.slot"
	Msg  string
	Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// LoadFile reads and validates a pipeline file. Environment variables come
// from lookup (os.LookupEnv when nil). The returned error is an Errors
// listing every problem.
func LoadFile(path string, reg component.Registry, lookup func(string) (string, bool)) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	return Load(path, data, reg, lookup)
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// Load parses and validates a pipeline from data; file names it in errors.
func Load(file string, data []byte, reg component.Registry, lookup func(string) (string, bool)) (*Pipeline, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	l := &loader{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{l.yamlError(err)}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the pipeline file is empty", Hint: "see `sluice run --help` for an example"}}
	}
	root := doc.Content[0]
	l.interpolate(root, lookup)
	p := &Pipeline{File: file, StateDir: ".sluice"}
	base := filepath.Base(file)
	p.Name = strings.TrimSuffix(base, filepath.Ext(base))
	if root.Kind != yaml.MappingNode {
		l.add(root, "", "the pipeline must be a mapping with sources: and sinks:", "")
		return nil, l.errs
	}
	var srcNode, sinkNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			l.decode(v, &p.Name, "name")
		case "state_dir":
			l.decode(v, &p.StateDir, "state_dir")
		case "engine":
			before := len(l.errs)
			l.decodeStruct(v, &p.Engine, "engine")
			if len(l.errs) == before {
				for _, err := range p.Engine.StartRetry.Validate() {
					fe := err.(*component.FieldError)
					line := keyLine(v, "start_retry."+fe.Field)
					l.addLine(line, "engine.start_retry."+fe.Field, fe.Msg, fe.Hint)
				}
			}
		case "sources":
			srcNode = v
		case "sinks":
			sinkNode = v
		default:
			l.add(k, k.Value, "unknown top-level key", "valid keys: "+strings.Join([]string{"name", "state_dir", "engine", "sources", "sinks"}, ", ")+suggest(k.Value, []string{"name", "state_dir", "engine", "sources", "sinks"}))
		}
	}
	if !nameRE.MatchString(p.Name) {
		l.add(root, "name", fmt.Sprintf("pipeline name %q is not valid", p.Name), "use letters, digits, _ and -, starting with a letter; set name: explicitly")
	}
	if srcNode == nil {
		l.add(root, "sources", "no sources", "add a sources: block, e.g. a generator")
	} else {
		p.Sources = l.components(srcNode, "sources", false, reg)
	}
	if sinkNode == nil {
		l.add(root, "sinks", "no sinks", "add a sinks: block, e.g. type: stdout")
	} else {
		p.Sinks = l.components(sinkNode, "sinks", true, reg)
	}
	// The graph: every input must select a source; names are unique.
	var srcNames []string
	seen := map[string]bool{}
	foreign := false
	for _, c := range p.Sources {
		srcNames = append(srcNames, c.Name)
		seen[c.Name] = true
		foreign = foreign || reg.Sources[c.Type].ForeignStreams
	}
	for _, c := range p.Sinks {
		if seen[c.Name] {
			l.addLine(c.Line, "sinks."+c.Name, "name is already used by a source", "give every component its own name")
		}
		if len(p.Sources) > 0 {
			inputs := c.Inputs
			if foreign {
				// A stream pattern may name upstream streams; a bare name
				// must still be a source.
				inputs = nil
				for _, in := range c.Inputs {
					if !strings.Contains(in, ".") {
						inputs = append(inputs, in)
					}
				}
			}
			if err := engine.ValidateInputs(inputs, srcNames); err != nil {
				l.addLine(c.InputsLine, "sinks."+c.Name+".inputs", err.Error(), "name a source, a stream like source.schema.table, or a glob")
			}
		}
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		return nil, l.errs
	}
	return p, nil
}

type loader struct {
	file string
	errs Errors
}

func (l *loader) add(n *yaml.Node, path, msg, hint string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	l.addLine(line, path, msg, hint)
}

func (l *loader) addLine(line int, path, msg, hint string) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Msg: msg, Hint: hint})
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) yamlError(err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: l.file, Line: line, Msg: "YAML syntax: " + m[2], Hint: "check indentation and quoting"}
	}
	return &Error{File: l.file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// components decodes the sources: or sinks: mapping.
func (l *loader) components(n *yaml.Node, kind string, isSink bool, reg component.Registry) []Component {
	if n.Kind != yaml.MappingNode {
		l.add(n, kind, "must be a mapping of name: {type: ..., ...}", "")
		return nil
	}
	var out []Component
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := kind + "." + k.Value
		if !nameRE.MatchString(k.Value) {
			l.add(k, path, fmt.Sprintf("component name %q is not valid", k.Value), "use letters, digits, _ and -, starting with a letter")
			continue
		}
		if c, ok := l.component(k, v, k.Value, path, isSink, false, reg); ok {
			out = append(out, c)
		}
	}
	return out
}

// component decodes one source or sink (v) named name, whose key node is k.
// nested is set for a sink's dead_letter sink, which has no inputs and no
// dead letter of its own.
func (l *loader) component(k, v *yaml.Node, name, path string, isSink, nested bool, reg component.Registry) (Component, bool) {
	if v.Kind != yaml.MappingNode {
		l.add(v, path, "must be a mapping with at least type:", "")
		return Component{}, false
	}
	c := Component{Name: name, Line: k.Line, InputsLine: k.Line}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
	var typeNode *yaml.Node
	for j := 0; j+1 < len(v.Content); j += 2 {
		kk, vv := v.Content[j], v.Content[j+1]
		switch {
		case kk.Value == "type":
			typeNode = vv
			l.decode(vv, &c.Type, path+".type")
		case kk.Value == "inputs" && isSink && !nested:
			c.InputsLine = kk.Line
			if vv.Kind == yaml.ScalarNode {
				c.Inputs = []string{vv.Value}
			} else {
				l.decode(vv, &c.Inputs, path+".inputs")
			}
		case kk.Value == "batch" && isSink && !nested:
			l.decodeStruct(vv, &c.Batch, path+".batch")
			if c.Batch.MaxEvents < 0 || c.Batch.MaxBytes < 0 || c.Batch.Linger < 0 {
				l.add(vv, path+".batch", "max_events, max_bytes and linger must not be negative", "leave a key out for its default")
			}
		case kk.Value == "retry" && isSink && !nested:
			l.decodeStruct(vv, &c.Retry, path+".retry")
			if c.Retry.Initial < 0 || c.Retry.Max < 0 || (c.Retry.Max > 0 && c.Retry.Max < c.Retry.Initial) {
				l.add(vv, path+".retry", "initial and max must be positive, with max ≥ initial", "e.g. retry: {initial: 100ms, max: 30s}")
			}
		case kk.Value == "dead_letter" && isSink && !nested:
			if dl, ok := l.component(kk, vv, name+"-dead-letter", path+".dead_letter", true, true, reg); ok {
				c.DeadLetter = &dl
			}
		default:
			rest.Content = append(rest.Content, kk, vv)
		}
	}
	if isSink && !nested && len(c.Inputs) == 0 {
		l.add(k, path+".inputs", "a sink needs inputs", "e.g. inputs: [shop] or inputs: [shop.public.*]")
	}
	var cfg any
	var known []string
	if isSink {
		f, ok := reg.Sinks[c.Type]
		known = keys(reg.Sinks)
		if ok {
			cfg = f.Config()
		}
	} else {
		f, ok := reg.Sources[c.Type]
		known = keys(reg.Sources)
		if ok {
			cfg = f.Config()
		}
	}
	if cfg == nil {
		at := typeNode
		if at == nil {
			at = k
		}
		msg := fmt.Sprintf("unknown type %q", c.Type)
		if c.Type == "" {
			msg = "type is missing"
		}
		l.add(at, path+".type", msg, "valid types: "+strings.Join(known, ", ")+suggest(c.Type, known))
		return Component{}, false
	}
	before := len(l.errs)
	l.decodeStruct(rest, cfg, path)
	if len(l.errs) == before {
		if v, ok := cfg.(component.Validator); ok {
			for _, err := range v.Validate() {
				var fe *component.FieldError
				if errors.As(err, &fe) {
					line := keyLine(rest, fe.Field)
					if line == 0 {
						line = k.Line
					}
					l.addLine(line, path+"."+fe.Field, fe.Msg, fe.Hint)
				} else {
					l.add(k, path, err.Error(), "")
				}
			}
		}
	}
	c.Config = cfg
	return c, true
}

// keyLine finds the line of a (possibly dotted) key in a mapping.
func keyLine(n *yaml.Node, field string) int {
	head, rest, dotted := strings.Cut(field, ".")
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == head {
			if dotted {
				if l := keyLine(n.Content[i+1], rest); l > 0 {
					return l
				}
			}
			return n.Content[i].Line
		}
	}
	return 0
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
