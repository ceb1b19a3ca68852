// Package config loads a pipeline file: YAML with ${ENV} interpolation,
// strict keys, and validation that reports every problem at once with
// file:line and a hint, before anything connects anywhere. The result is a
// topology.Graph, the value every front door produces.
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
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/namecheck"
	"github.com/sluice-dev/sluice/topology"
)

// Error is one problem in a pipeline file.
type Error struct {
	File string
	Line int
	Col  int    // 0: the line only
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
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
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
func LoadFile(path string, reg component.Registry, lookup func(string) (string, bool)) (*topology.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	return Load(path, data, reg, lookup)
}

var nameRE = namecheck.New("A-Za-z", "A-Za-z0-9_-", 0, 62)

// Load parses and validates a pipeline from data; file names it in errors.
func Load(file string, data []byte, reg component.Registry, lookup func(string) (string, bool)) (*topology.Graph, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	l := &loader{file: file, lines: strings.Split(string(data), "\n")}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{l.yamlError(err)}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the pipeline file is empty", Hint: "see `sluice run --help` for an example"}}
	}
	root := doc.Content[0]
	l.interpolate(root, lookup)
	return l.load(root, reg)
}

// LoadValue validates a pipeline given as a Go value that marshals to the
// pipeline file's YAML (maps, slices, strings, numbers), as a front door
// builds it from another configuration language; file names it in errors.
// Unlike Load it does not interpolate ${VAR}: the value may come from a
// network request, which must not read the server's environment; a "$" is
// kept as it is.
func LoadValue(file string, doc any, reg component.Registry) (*topology.Graph, error) {
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", file, err)
	}
	l := &loader{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{l.yamlError(err)}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the pipeline is empty"}}
	}
	forgetLines(root.Content[0]) // lines of the marshalled text mean nothing to the user
	return l.load(root.Content[0], reg)
}

// LoadNode validates a pipeline given as a YAML node tree (the document's
// root mapping) whose lines point into file, as a front door that
// translates another file language builds it (package
// frontdoor/dataprepper): every error names file:line of the original.
// ${VAR} is interpolated from lookup (os.LookupEnv when nil) as in Load:
// the tree comes from a local file the user runs, not from a request.
func LoadNode(file string, root *yaml.Node, reg component.Registry, lookup func(string) (string, bool)) (*topology.Graph, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	l := &loader{file: file}
	l.interpolate(root, lookup)
	return l.load(root, reg)
}

func forgetLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		forgetLines(c)
	}
}

// load decodes and validates the pipeline's root mapping.
func (l *loader) load(root *yaml.Node, reg component.Registry) (*topology.Graph, error) {
	file := l.file
	p := &topology.Graph{File: file, StateDir: ".sluice", Cluster: topology.Cluster{Coordination: topology.DefaultCoordination()}}
	base := filepath.Base(file)
	p.Name = strings.TrimSuffix(base, filepath.Ext(base))
	if root.Kind != yaml.MappingNode {
		l.add(root, "", "the pipeline must be a mapping with sources: and sinks:", "")
		return nil, l.errs
	}
	topKeys := []string{"name", "state_dir", "engine", "node_id", "coordination", "sources", "processors", "sql", "sql_file", "sinks"}
	coordBad := false // coordination: did not decode: its errors are reported
	var srcNode, procNode, sinkNode *yaml.Node
	var sqlKey, sqlNode *yaml.Node
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
		case "node_id":
			l.decode(v, &p.Cluster.NodeID, "node_id")
		case "coordination":
			before := len(l.errs)
			l.decodeStruct(v, &p.Cluster.Coordination, "coordination")
			coordBad = len(l.errs) > before
		case "sources":
			srcNode = v
		case "processors":
			procNode = v
		case "sinks":
			sinkNode = v
		case "sql", "sql_file":
			if sqlKey != nil {
				l.add(k, k.Value, "sql: and sql_file: exclude each other", "give the statements inline (sql: |) or in a file (sql_file: queries.sql)")
				continue
			}
			sqlKey, sqlNode = k, v
		default:
			l.add(k, k.Value, "unknown top-level key", "valid keys: "+strings.Join(topKeys, ", ")+suggest(k.Value, topKeys))
		}
	}
	if !nameRE.Match(p.Name) {
		l.add(root, "name", fmt.Sprintf("pipeline name %q is not valid", p.Name), "use letters, digits, _ and -, starting with a letter; set name: explicitly")
	}
	if !coordBad {
		for _, fe := range p.Cluster.Validate() {
			l.addLine(keyLine(root, fe.Field), fe.Field, fe.Msg, fe.Hint)
		}
	}
	if srcNode != nil {
		p.Sources = l.components(srcNode, topology.KindSource, reg)
	}
	if procNode != nil {
		p.Processors = l.components(procNode, topology.KindProcessor, reg)
	}
	if sqlKey != nil {
		if n := l.sqlProcessor(sqlKey, sqlNode, p, reg); n != nil {
			p.Processors = append(p.Processors, n)
		}
	}
	if sinkNode != nil {
		p.Sinks = l.components(sinkNode, topology.KindSink, reg)
	}
	p.Factories(reg)
	l.checkSchemas(p)
	l.checkInputs(p)
	for _, d := range p.Validate() {
		if d.Warning {
			continue // Graph.Validate reports them again to whoever prints warnings
		}
		l.errs = append(l.errs, &Error{File: file, Line: d.Pos.Line, Path: d.Path, Msg: d.Msg, Hint: d.Hint})
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		return nil, l.errs
	}
	return p, nil
}

// checkSchemas checks processors against the schemas of the sources that
// feed them directly, where those are known before running.
func (l *loader) checkSchemas(g *topology.Graph) {
	for _, p := range g.Processors {
		sc, ok := p.Config.(component.SchemaChecker)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for _, s := range g.Sources {
			ks, ok := s.Config.(component.KnownSchemas)
			if !ok {
				continue
			}
			for _, sch := range ks.KnownSchemas(s.Name) {
				selected := false
				for _, in := range p.Inputs {
					selected = selected || topology.Selects(in, s, sch.Stream, true)
				}
				if !selected {
					continue
				}
				for _, err := range sc.CheckSchema(sch) {
					var fe *component.FieldError
					msg, field := err.Error(), ""
					if errors.As(err, &fe) {
						msg, field = fe.Msg, fe.Field
						if fe.Hint != "" {
							msg += " (hint: " + fe.Hint + ")"
						}
					}
					if seen[field+msg] {
						continue
					}
					seen[field+msg] = true
					path := p.Path()
					if field != "" {
						path += "." + field
					}
					l.addLine(p.Pos.Line, path, msg, "")
				}
			}
		}
	}
}

type loader struct {
	file  string
	lines []string // the file's lines, for the columns of block scalars
	errs  Errors
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

// components decodes the sources:, processors: or sinks: mapping.
func (l *loader) components(n *yaml.Node, kind topology.Kind, reg component.Registry) []*topology.Node {
	if n.Kind != yaml.MappingNode {
		l.add(n, kind.Plural(), "must be a mapping of name: {type: ..., ...}", "")
		return nil
	}
	var out []*topology.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := kind.Plural() + "." + k.Value
		if !nameRE.Match(k.Value) {
			l.add(k, path, fmt.Sprintf("component name %q is not valid", k.Value), "use letters, digits, _ and -, starting with a letter")
			continue
		}
		if c, ok := l.component(k, v, k.Value, path, kind, false, reg); ok {
			out = append(out, c)
		}
	}
	return out
}

// component decodes one node (v) named name, whose key node is k. nested
// is set for a dead_letter sink, which has no inputs and no dead letter of
// its own.
func (l *loader) component(k, v *yaml.Node, name, path string, kind topology.Kind, nested bool, reg component.Registry) (*topology.Node, bool) {
	if v.Kind != yaml.MappingNode {
		l.add(v, path, "must be a mapping with at least type:", "")
		return nil, false
	}
	at := topology.Pos{File: l.file, Line: k.Line}
	c := &topology.Node{Kind: kind, Name: name, Pos: at, InputsPos: at}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
	consumer := kind != topology.KindSource && !nested
	var typeNode *yaml.Node
	for j := 0; j+1 < len(v.Content); j += 2 {
		kk, vv := v.Content[j], v.Content[j+1]
		switch {
		case kk.Value == "type":
			typeNode = vv
			l.decode(vv, &c.Type, path+".type")
		case kk.Value == "inputs" && consumer:
			c.InputsPos = topology.Pos{File: l.file, Line: kk.Line}
			if vv.Kind == yaml.ScalarNode {
				c.Inputs = []string{vv.Value}
			} else {
				l.decode(vv, &c.Inputs, path+".inputs")
			}
		case kk.Value == "batch" && kind == topology.KindSink && !nested:
			l.decodeStruct(vv, &c.Batch, path+".batch")
			if c.Batch.MaxEvents < 0 || c.Batch.MaxBytes < 0 || c.Batch.Linger < 0 {
				l.add(vv, path+".batch", "max_events, max_bytes and linger must not be negative", "leave a key out for its default")
			}
		case kk.Value == "retry" && kind == topology.KindSink && !nested:
			l.decodeStruct(vv, &c.Retry, path+".retry")
			if c.Retry.Initial < 0 || c.Retry.Max < 0 || (c.Retry.Max > 0 && c.Retry.Max < c.Retry.Initial) {
				l.add(vv, path+".retry", "initial and max must be positive, with max ≥ initial", "e.g. retry: {initial: 100ms, max: 30s}")
			}
		case kk.Value == "dead_letter" && consumer:
			if dl, ok := l.component(kk, vv, name+"-dead-letter", path+".dead_letter", topology.KindSink, true, reg); ok {
				c.DeadLetter = dl
			}
		default:
			rest.Content = append(rest.Content, kk, vv)
		}
	}
	if consumer && len(c.Inputs) == 0 {
		hint := "e.g. inputs: [shop] or inputs: [shop.public.*]"
		l.add(k, path+".inputs", "a "+kind.String()+" needs inputs", hint)
	}
	var cfg any
	var known []string
	switch kind {
	case topology.KindSource:
		known = keys(reg.Sources)
		if f, ok := reg.Sources[c.Type]; ok {
			cfg = f.Config()
		}
	case topology.KindProcessor:
		known = keys(reg.Processors)
		if f, ok := reg.Processors[c.Type]; ok {
			cfg = f.Config()
		}
	default:
		known = keys(reg.Sinks)
		if f, ok := reg.Sinks[c.Type]; ok {
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
		return nil, false
	}
	before := len(l.errs)
	l.decodeStruct(rest, cfg, path)
	if to, ok := cfg.(component.TextOrigin); ok {
		line, col := l.textStart(rest, "statements")
		to.SetOrigin(l.file, line, col)
	}
	if len(l.errs) == before {
		if v, ok := cfg.(component.Validator); ok {
			for _, err := range v.Validate() {
				var fe *component.FieldError
				var pe *component.PosError
				if errors.As(err, &pe) {
					l.errs = append(l.errs, &Error{File: pe.File, Line: pe.Line, Col: pe.Col, Msg: pe.Msg})
				} else if errors.As(err, &fe) {
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

// keyLine finds the line of a (possibly dotted) key in a mapping; a key
// may index a list (collections[1].name): the element's line then.
func keyLine(n *yaml.Node, field string) int {
	head, rest, dotted := strings.Cut(field, ".")
	idx := -1
	if open := strings.IndexByte(head, '['); open > 0 && strings.HasSuffix(head, "]") {
		if i, err := strconv.Atoi(head[open+1 : len(head)-1]); err == nil && i >= 0 {
			head, idx = head[:open], i
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != head {
			continue
		}
		v := n.Content[i+1]
		if idx >= 0 && v.Kind == yaml.SequenceNode && idx < len(v.Content) {
			v = v.Content[idx]
			if dotted {
				if l := keyLine(v, rest); l > 0 {
					return l
				}
			}
			return v.Line
		}
		if dotted {
			if l := keyLine(v, rest); l > 0 {
				return l
			}
		}
		return n.Content[i].Line
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

// textStart returns where the text of mapping n's key field starts in the
// file: the line and column of its first character. A block scalar (| or
// >) starts on the next line, at its indentation.
func (l *loader) textStart(n *yaml.Node, field string) (line, col int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != field {
			continue
		}
		v := n.Content[i+1]
		switch v.Style {
		case yaml.LiteralStyle, yaml.FoldedStyle:
			for ln := v.Line + 1; ln <= len(l.lines); ln++ {
				text := l.lines[ln-1]
				if strings.TrimSpace(text) == "" {
					continue
				}
				return ln, len(text) - len(strings.TrimLeft(text, " ")) + 1
			}
			return v.Line + 1, 1
		case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
			return v.Line, v.Column + 1
		}
		return v.Line, v.Column
	}
	return 0, 0
}

// sqlProcessor builds the processor that the top-level sql: (statements)
// or sql_file: (a path) key declares: a processor named sql, of type sql,
// fed by every source of the pipeline.
func (l *loader) sqlProcessor(k, v *yaml.Node, g *topology.Graph, reg component.Registry) *topology.Node {
	if _, ok := reg.Processors["sql"]; !ok {
		l.add(k, k.Value, "this build has no sql processor", "")
		return nil
	}
	for _, p := range g.Processors {
		if p.Name == "sql" {
			l.add(k, k.Value, "a processor named sql is declared under processors: too", "rename that processor, or put these statements in it (statements: or file:)")
			return nil
		}
	}
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		l.add(v, k.Value, "must be a string: the statements (sql: |) or a file's path (sql_file:)", "")
		return nil
	}
	str := func(s string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: k.Line, Column: k.Column}
	}
	inputs := &yaml.Node{Kind: yaml.SequenceNode, Line: k.Line, Column: k.Column}
	for _, s := range g.Sources {
		inputs.Content = append(inputs.Content, str(s.Name))
	}
	field := "statements"
	if k.Value == "sql_file" {
		field = "file"
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Line: k.Line, Column: k.Column,
		Content: []*yaml.Node{str("type"), str("sql"), str(field), v}}
	if len(inputs.Content) > 0 {
		m.Content = append(m.Content, str("inputs"), inputs)
	}
	n, _ := l.component(k, m, "sql", k.Value, topology.KindProcessor, false, reg)
	return n
}

// checkInputs tells processors that check themselves against their input
// streams (the SQL processor plans its statements) which streams can
// reach them.
func (l *loader) checkInputs(g *topology.Graph) {
	for _, p := range g.Processors {
		ic, ok := p.Config.(component.InputChecker)
		if !ok {
			continue
		}
		var in component.InputStreams
		for _, s := range g.Sources {
			selected := false
			for _, pat := range p.Inputs {
				selected = selected || topology.MaySelect(pat, s)
			}
			if !selected {
				continue
			}
			in.Foreign = in.Foreign || s.ForeignStreams
			if ks, ok := s.Config.(component.KnownSchemas); ok {
				in.Known = append(in.Known, ks.KnownSchemas(s.Name)...)
			} else {
				in.Sources = append(in.Sources, s.Name) // its streams are known at run time only
			}
		}
		path := p.Path()
		for _, err := range ic.CheckInputs(in) {
			var pe *component.PosError
			var fe *component.FieldError
			switch {
			case errors.As(err, &pe):
				l.errs = append(l.errs, &Error{File: pe.File, Line: pe.Line, Col: pe.Col, Msg: pe.Msg})
			case errors.As(err, &fe):
				l.addLine(p.Pos.Line, path+"."+fe.Field, fe.Msg, fe.Hint)
			default:
				l.addLine(p.Pos.Line, path, err.Error(), "")
			}
		}
	}
}
