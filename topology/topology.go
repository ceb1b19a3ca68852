// Package topology is a pipeline as a value: a graph of source, processor
// and sink nodes, each naming its inputs, validated as a whole before
// anything runs. Every front door — the YAML pipeline file (package config),
// and later Kafka Connect connector JSON, ksqlDB statements and Data Prepper
// files — produces a Graph; the engine runs Graphs and knows no front door.
//
// # Streams and inputs
//
// Sources emit streams named <source>.<schema>.<table> (a Kafka source
// keeps its upstream names). Processors emit events too: a processor whose
// factory NamesStreams (route, SQL) emits streams under names of its own;
// the others (filter, map) keep their input streams' names. An input
// pattern of a processor or sink selects events from the nodes before it:
//
//  1. a pattern equal to the name of a source or processor selects every
//     event that node emits, and nothing else;
//  2. any other pattern is a glob (path.Match syntax) over stream names and
//     selects the matching streams of sources and of processors that name
//     streams; a glob without a dot also selects every stream of the
//     sources whose names it matches ("shop*").
//
// Rule 1 before rule 2 is what resolves a stream named like a node: the
// node wins. The outputs of filter and map are reached through their names
// only, so a glob never takes the same change twice (once from the source,
// once from the filter).
//
// # Order
//
// Nodes run in a topological order: sources first, then processors ordered
// by their name edges (rule 1; ties in file order), then sinks. A glob of a
// processor selects the named streams of processors before it in that
// order only, so globs can never close a cycle; a cycle of name edges is an
// error.
package topology

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// Kind is a node's role.
type Kind uint8

// Node kinds.
const (
	KindSource Kind = iota
	KindProcessor
	KindSink
)

// String returns the kind as the pipeline file's block names it.
func (k Kind) String() string {
	switch k {
	case KindSource:
		return "source"
	case KindProcessor:
		return "processor"
	}
	return "sink"
}

// Plural returns the pipeline file's block name for the kind.
func (k Kind) Plural() string {
	switch k {
	case KindSource:
		return "sources"
	case KindProcessor:
		return "processors"
	}
	return "sinks"
}

// Pos is where a node or a key is written; Line 0 means unknown.
type Pos struct {
	File string
	Line int
}

// Node is one source, processor or sink.
type Node struct {
	Kind   Kind
	Name   string
	Type   string
	Inputs []string // processors and sinks
	Config any      // the factory's configuration struct, decoded and validated
	Pos    Pos      // the node's name in the file
	// InputsPos is where inputs: is written (the node's Pos when absent).
	InputsPos Pos
	// Batch and Retry tune a sink's writes (zero fields: engine defaults).
	Batch Batch
	Retry Retry
	// DeadLetter receives the events a sink or processor rejects one by
	// one; nil: a rejected event stops the pipeline.
	DeadLetter *Node
	// NamesStreams and Stateful come from the processor's factory.
	NamesStreams bool
	Stateful     bool
	// ForeignStreams comes from the source's factory: its streams keep
	// upstream names that need not start with the source's name.
	ForeignStreams bool
}

// Path is the node's key path in the pipeline file, e.g. "sinks.out".
func (n *Node) Path() string { return n.Kind.Plural() + "." + n.Name }

// Batch tunes a sink's writes. A write holds at most MaxEvents events and
// about MaxBytes bytes of events in memory (event.Event.Size); a delivery
// larger than that is split. After the first delivery arrives the runner
// waits up to Linger for more before writing, trading latency for larger
// writes (bulk APIs and multi-row statements gain from it).
type Batch struct {
	MaxEvents int           `yaml:"max_events"` // default: engine.max_write_events
	MaxBytes  int64         `yaml:"max_bytes"`  // default 64 MiB
	Linger    time.Duration `yaml:"linger"`     // default 0: write what is there
}

// Retry bounds a sink's retry backoff.
type Retry struct {
	Initial time.Duration `yaml:"initial"` // default 100ms
	Max     time.Duration `yaml:"max"`     // default 30s
}

// Engine holds the engine's tunables (the `engine:` block).
type Engine struct {
	// MaxInflight is the number of batches per source emitted but not yet
	// acknowledged by every sink (default 4).
	MaxInflight int `yaml:"max_inflight"`
	// MaxInflightBytes caps the in-memory size (event.Event.Size) of
	// those batches (default 32 MiB); a larger batch alone still passes.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// MaxWriteEvents caps the events a sink coalesces into one write
	// (default 16384).
	MaxWriteEvents int `yaml:"max_write_events"`
	// DrainTimeout bounds the graceful drain at shutdown (default 30s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// StartRetry is how sources and sinks retry connecting at start.
	StartRetry component.StartRetry `yaml:"start_retry"`
}

// Graph is a pipeline.
type Graph struct {
	File       string // where it was read from, for messages
	Name       string // the pipeline's name
	StateDir   string
	Engine     Engine
	Cluster    Cluster // node_id: and coordination: (several nodes)
	Sources    []*Node // in file order
	Processors []*Node
	Sinks      []*Node
}

// Nodes returns every node: sources, processors, sinks, in file order
// within each kind.
func (g *Graph) Nodes() []*Node {
	out := make([]*Node, 0, len(g.Sources)+len(g.Processors)+len(g.Sinks))
	out = append(out, g.Sources...)
	out = append(out, g.Processors...)
	return append(out, g.Sinks...)
}

// Node returns the source or processor named name, or nil.
func (g *Graph) Node(name string) *Node {
	for _, n := range g.Sources {
		if n.Name == name {
			return n
		}
	}
	for _, n := range g.Processors {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Selects reports whether input pattern p of a consumer takes the events of
// stream from producer (a source or processor). before tells whether
// producer comes before the consumer in the run order (see Order); a glob
// selects a processor's named streams only then.
func Selects(p string, producer *Node, stream string, before bool) bool {
	if p == producer.Name {
		return true
	}
	if producer.Kind == KindProcessor && (!producer.NamesStreams || !before) {
		return false
	}
	if ok, _ := path.Match(p, stream); ok {
		return true
	}
	if producer.Kind == KindSource && !strings.Contains(p, ".") {
		if ok, _ := path.Match(p, producer.Name); ok {
			return true
		}
	}
	return false
}

// Order returns the processors in run order: each after every processor it
// names in its inputs, ties in file order. It fails on a cycle.
func (g *Graph) Order() ([]*Node, error) {
	idx := map[string]int{}
	for i, p := range g.Processors {
		idx[p.Name] = i
	}
	deps := make([][]int, len(g.Processors))
	for i, p := range g.Processors {
		for _, in := range p.Inputs {
			if j, ok := idx[in]; ok {
				deps[i] = append(deps[i], j)
			}
		}
	}
	state := make([]uint8, len(g.Processors)) // 0 new, 1 on stack, 2 done
	var out []*Node
	var stack []*Node
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			cyc := append([]*Node(nil), stack...)
			for len(cyc) > 0 && cyc[0] != g.Processors[i] {
				cyc = cyc[1:]
			}
			return &CycleError{Nodes: append(cyc, g.Processors[i])}
		case 2:
			return nil
		}
		state[i] = 1
		stack = append(stack, g.Processors[i])
		ds := append([]int(nil), deps[i]...)
		sort.Ints(ds)
		for _, j := range ds {
			if err := visit(j); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = 2
		out = append(out, g.Processors[i])
		return nil
	}
	for i := range g.Processors {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CycleError is a cycle of processors naming each other in their inputs;
// the first node is repeated at the end.
type CycleError struct{ Nodes []*Node }

func (e *CycleError) Error() string {
	names := make([]string, len(e.Nodes))
	for i, n := range e.Nodes {
		names[i] = n.Name
	}
	return "processors form a cycle: " + strings.Join(names, " → ")
}

// Diagnostic is one problem of a graph. Warnings do not stop a run.
type Diagnostic struct {
	Pos     Pos
	Path    string // e.g. "sinks.out.inputs"
	Msg     string
	Hint    string
	Warning bool
}

func (d *Diagnostic) Error() string {
	var b strings.Builder
	if d.Pos.File != "" {
		b.WriteString(d.Pos.File)
		if d.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d", d.Pos.Line)
		}
		b.WriteString(": ")
	}
	if d.Warning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	if d.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Validate checks the graph's shape — unique names, inputs that select
// something, no cycle, processors whose output somebody reads — and returns
// every problem at once. Component configurations are checked when they
// are decoded (their Validate), not here.
func (g *Graph) Validate() []*Diagnostic {
	var ds []*Diagnostic
	add := func(n *Node, pos Pos, path, msg, hint string, warn bool) {
		ds = append(ds, &Diagnostic{Pos: pos, Path: path, Msg: msg, Hint: hint, Warning: warn})
	}
	if len(g.Sources) == 0 {
		add(nil, Pos{File: g.File}, "sources", "no sources", "add a sources: block, e.g. a generator", false)
	}
	if len(g.Sinks) == 0 {
		add(nil, Pos{File: g.File}, "sinks", "no sinks", "add a sinks: block, e.g. type: stdout", false)
	}
	seen := map[string]*Node{}
	for _, n := range g.Nodes() {
		if first, dup := seen[n.Name]; dup {
			add(n, n.Pos, n.Path(), fmt.Sprintf("name is already used by a %s", first.Kind), "give every component its own name", false)
			continue
		}
		seen[n.Name] = n
	}

	order, err := g.Order()
	if err != nil {
		at := err.(*CycleError).Nodes[0]
		add(at, at.InputsPos, at.Path()+".inputs", err.Error(), "a processor cannot read its own output, directly or through others", false)
		order = g.Processors
	}

	var srcNames, procNames []string
	for _, s := range g.Sources {
		srcNames = append(srcNames, s.Name)
	}
	for _, p := range g.Processors {
		procNames = append(procNames, p.Name)
	}
	// before[name] is the set of processors that run before the named
	// processor (all of them for sinks).
	pos := map[string]int{}
	for i, p := range order {
		pos[p.Name] = i
	}
	read := map[string]bool{}
	check := func(c *Node) {
		if c.Kind != KindSource && len(g.Sources) > 0 {
			for _, p := range c.Inputs {
				if p == c.Name {
					add(c, c.InputsPos, c.Path()+".inputs", fmt.Sprintf("input %q is the %s itself", p, c.Kind), "name a source, a processor, a stream like source.schema.table, or a glob", false)
					continue
				}
				if _, err := path.Match(p, ""); err != nil {
					add(c, c.InputsPos, c.Path()+".inputs", fmt.Sprintf("input %q is not a valid glob: %v", p, err), "see path.Match syntax: *, ?, [a-z]", false)
					continue
				}
				if n := g.Node(p); n != nil {
					read[n.Name] = true
					continue
				}
				if n, ok := seen[p]; ok && n.Kind == KindSink {
					add(c, c.InputsPos, c.Path()+".inputs", fmt.Sprintf("input %q is a sink", p), "sinks have no output; name a source or a processor", false)
					continue
				}
				found := false
				for _, src := range g.Sources {
					found = found || MaySelect(p, src)
				}
				for _, q := range order {
					if !q.NamesStreams {
						continue
					}
					if c.Kind == KindProcessor && pos[q.Name] >= pos[c.Name] {
						continue
					}
					read[q.Name] = true // its streams' names are known at run time only
					found = true
				}
				if !found {
					what, names := "source", "sources: "+strings.Join(srcNames, ", ")
					if len(procNames) > 0 {
						what = "source or processor"
						names += "; processors: " + strings.Join(procNames, ", ")
					}
					add(c, c.InputsPos, c.Path()+".inputs", fmt.Sprintf("input %q matches no %s (%s)", p, what, names), "name a source, a stream like source.schema.table, or a glob", false)
				}
			}
		}
	}
	for _, p := range g.Processors {
		check(p)
	}
	for _, s := range g.Sinks {
		check(s)
	}
	for _, p := range g.Processors {
		if !read[p.Name] {
			add(p, p.Pos, p.Path(), "no sink or processor reads this processor's output", "add its name to the inputs: of a sink", true)
		}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Pos.Line < ds[j].Pos.Line })
	return ds
}

// Factories looks up each node's factory flags in reg: NamesStreams and
// Stateful for processors, ForeignStreams for sources. Loaders call it
// once the nodes are decoded.
func (g *Graph) Factories(reg component.Registry) {
	for _, s := range g.Sources {
		s.ForeignStreams = reg.Sources[s.Type].ForeignStreams
	}
	for _, p := range g.Processors {
		f := reg.Processors[p.Type]
		p.NamesStreams, p.Stateful = f.NamesStreams, f.Stateful
	}
}

// MaySelect reports whether input pattern p can select any event of
// producer, whatever its streams are named: the static form of Selects,
// used to group nodes and to report inputs that match nothing. Streams of
// a source are named "<source>.…" unless it keeps foreign names; streams of
// a processor that names them are unknown until run time.
func MaySelect(p string, producer *Node) bool {
	if p == producer.Name {
		return true
	}
	switch producer.Kind {
	case KindProcessor:
		return producer.NamesStreams
	case KindSource:
		if producer.ForeignStreams && strings.Contains(p, ".") {
			return true // a bare name must still name a node
		}
		if !strings.Contains(p, ".") {
			if ok, _ := path.Match(p, producer.Name); ok {
				return true
			}
		}
		return canMatchPrefix(p, producer.Name+".")
	}
	return false
}

// canMatchPrefix reports whether glob pattern pat (path.Match syntax,
// over names without '/') matches some string that starts with prefix.
func canMatchPrefix(pat, prefix string) bool {
	if prefix == "" {
		return true // any well-formed rest matches some continuation
	}
	if pat == "" {
		return false
	}
	switch pat[0] {
	case '*':
		return canMatchPrefix(pat[1:], prefix) || canMatchPrefix(pat, prefix[1:])
	case '?':
		return canMatchPrefix(pat[1:], prefix[1:])
	case '[':
		end := strings.IndexByte(pat[1:], ']')
		if end < 0 {
			return false
		}
		class := pat[:end+2]
		if end == 0 { // "[]…": a ']' first in the class is literal
			if e2 := strings.IndexByte(pat[2:], ']'); e2 >= 0 {
				class = pat[:e2+3]
			}
		}
		if ok, err := path.Match(class, prefix[:1]); err != nil || !ok {
			return false
		}
		return canMatchPrefix(pat[len(class):], prefix[1:])
	case '\\':
		if len(pat) < 2 || pat[1] != prefix[0] {
			return false
		}
		return canMatchPrefix(pat[2:], prefix[1:])
	}
	return pat[0] == prefix[0] && canMatchPrefix(pat[1:], prefix[1:])
}
