package verify

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/elasticsearch"
	"github.com/sluice-dev/sluice/sink/file"
	"github.com/sluice-dev/sluice/sink/lines"
	"github.com/sluice-dev/sluice/sink/opensearch"
	pgsink "github.com/sluice-dev/sluice/sink/postgres"
	mysqlsource "github.com/sluice-dev/sluice/source/mysql"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/topology"
)

// usagef is an error of the command line or the pipeline: an unknown
// sink, a sink verify cannot read, a source it cannot scan.
func usagef(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Options tune a run.
type Options struct {
	// Sink names the sink to compare with; empty: the pipeline's only
	// sink that verify can read.
	Sink string
	// Tables limits the source tables (schema.table, globs allowed).
	Tables []string
	// ChunkRows is the size of a key range (default 10000).
	ChunkRows int
	// Rate caps source rows per second (0: no cap).
	Rate float64
	// Sample is how many keys of each kind a table report lists (default 10).
	Sample int
	// Repair inserts execute-snapshot signals for the differing keys.
	Repair bool
	// SignalTable overrides the source's signal table (schema.table).
	SignalTable string
	// Progress, when set, is called after every chunk.
	Progress func(Progress)
}

// Progress is where a run is.
type Progress struct {
	Table       string
	Rows        int64 // source rows compared so far
	Differences int
}

func (o *Options) defaults() {
	if o.ChunkRows <= 0 {
		o.ChunkRows = 10000
	}
	if o.Sample <= 0 {
		o.Sample = 10
	}
}

// Run compares the pipeline g's source tables with one of its sinks.
// Differences are in the Report, not the error: an error means the
// comparison could not be done.
func Run(ctx context.Context, g *topology.Graph, opts Options) (*Report, error) {
	opts.defaults()
	sinkNode, err := pickSink(g, opts.Sink)
	if err != nil {
		return nil, err
	}
	srcNode, err := feedingSource(g, sinkNode)
	if err != nil {
		return nil, err
	}
	switch srcNode.Config.(type) {
	case *pgsource.Config, *mysqlsource.Config:
	default:
		return nil, usagef("source %s is of type %s: verify reads postgres and mysql sources (mongodb and others are not supported yet)", srcNode.Name, srcNode.Type)
	}
	var sig *signaller
	if opts.Repair {
		if sig, err = newSignaller(srcNode, opts.SignalTable); err != nil {
			return nil, err
		}
	}
	src, _, err := openSource(ctx, srcNode)
	if err != nil {
		return nil, err
	}
	defer src.close(context.WithoutCancel(ctx))

	patterns := sourcePatterns(src)
	tables, err := src.resolve(ctx, patterns)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", srcNode.Name, err)
	}
	// shared: the sink receives several of the source's tables (whatever
	// --tables selects), so a row-format file or a table-less index name
	// mixes them.
	received := 0
	for _, name := range tables {
		if streamsTo(sinkNode, srcNode.Name, srcNode.Name+"."+name) {
			received++
		}
	}
	if len(opts.Tables) > 0 {
		sel, err := src.resolve(ctx, opts.Tables)
		if err != nil {
			return nil, usagef("--tables: %v", err)
		}
		in := map[string]bool{}
		for _, t := range tables {
			in[t] = true
		}
		tables = tables[:0]
		for _, t := range sel {
			if !in[t] {
				return nil, usagef("--tables: %s is not captured by source %s (tables: %s)", t, srcNode.Name, strings.Join(patterns, ", "))
			}
			tables = append(tables, t)
		}
	}
	var mine []string
	for _, name := range tables {
		if streamsTo(sinkNode, srcNode.Name, srcNode.Name+"."+name) {
			mine = append(mine, name)
		}
	}
	if len(mine) == 0 {
		return nil, usagef("no table of source %s streams to sink %s", srcNode.Name, sinkNode.Name)
	}
	tgt, err := openTarget(ctx, sinkNode, src, srcNode.Name, received > 1)
	if err != nil {
		return nil, err
	}
	defer tgt.close(context.WithoutCancel(ctx))

	rep := &Report{Pipeline: g.Name, Source: srcNode.Name, Sink: sinkNode.Name, SinkType: sinkNode.Type}
	for _, name := range mine {
		tr, err := compareTable(ctx, src, name, tgt, &opts)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		if sig != nil && (len(tr.repairKeys) > 0 || tr.Extra > 0) {
			if err := sig.repair(ctx, src, tr, tr.tt); err != nil {
				return nil, fmt.Errorf("table %s: repair: %w", name, err)
			}
		}
		rep.Tables = append(rep.Tables, tr)
	}
	return rep, nil
}

// pickSink finds the named sink, or the only one verify can read.
func pickSink(g *topology.Graph, name string) (*topology.Node, error) {
	if name != "" {
		for _, n := range g.Sinks {
			if n.Name == name {
				if !readable(n) {
					return nil, usagef("sink %s is of type %s: verify reads postgres, opensearch, elasticsearch, file and lines sinks", n.Name, n.Type)
				}
				return n, nil
			}
		}
		var names []string
		for _, n := range g.Sinks {
			names = append(names, n.Name)
		}
		return nil, usagef("--sink %s: the pipeline has no such sink (sinks: %s)", name, strings.Join(names, ", "))
	}
	var found []*topology.Node
	for _, n := range g.Sinks {
		if readable(n) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, usagef("no sink of the pipeline is one verify reads (postgres, opensearch, elasticsearch, file, lines)")
	case 1:
		return found[0], nil
	}
	var names []string
	for _, n := range found {
		names = append(names, n.Name)
	}
	return nil, usagef("the pipeline has several sinks (%s): choose one with --sink NAME", strings.Join(names, ", "))
}

func readable(n *topology.Node) bool {
	switch n.Config.(type) {
	case *pgsink.Config, *opensearch.Config, *elasticsearch.Config, *file.Config, *lines.Config:
		return true
	}
	return false
}

// feedingSource is the one source whose streams the sink takes directly.
// A sink fed by a processor holds what the processor made of the rows,
// which verify cannot recompute.
func feedingSource(g *topology.Graph, sink *topology.Node) (*topology.Node, error) {
	var found *topology.Node
	for _, in := range sink.Inputs {
		for _, p := range g.Processors {
			if m, _ := path.Match(in, p.Name); m || in == p.Name || strings.HasPrefix(in, p.Name+".") {
				return nil, usagef("sink %s takes its input from processor %s: verify compares a sink with the source rows it receives unchanged", sink.Name, p.Name)
			}
		}
		for _, s := range g.Sources {
			m, _ := path.Match(in, s.Name)
			if m || in == s.Name || strings.HasPrefix(in, s.Name+".") {
				if found != nil && found != s {
					return nil, usagef("sink %s takes several sources (%s, %s): verify compares one source with one sink", sink.Name, found.Name, s.Name)
				}
				found = s
			}
		}
	}
	if found == nil {
		return nil, usagef("sink %s takes no source's streams directly", sink.Name)
	}
	return found, nil
}

func streamsTo(sink *topology.Node, src, stream string) bool {
	for _, in := range sink.Inputs {
		if engine.MatchInput(in, src, stream) {
			return true
		}
	}
	return false
}

// rowEvent is the snapshot event the source emits for a row: what every
// sink template and encoder is given.
func rowEvent(sch *event.Schema, vals []event.Value) *event.Event {
	now := time.Now()
	return &event.Event{Op: event.OpRead, Schema: sch, After: vals, TsMs: now.UnixMilli(),
		Source: event.Source{TsUs: now.UnixMicro(), Snapshot: event.SnapshotTrue}}
}
