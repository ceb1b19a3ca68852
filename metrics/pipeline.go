package metrics

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
)

// PipelineMetrics observes one pipeline: it implements every observer
// interface of package engine (pass it as engine.Options.Observer) with the
// pipeline label bound. Its methods may be called from any goroutine.
type PipelineMetrics struct {
	m    *Metrics
	name string

	sources cache[sourceSeries]
	sinks   cache[sinkSeries]
	procs   cache[procSeries]
	nodes   cache[nodeSeries]

	errs errRing // the last errors, for History
}

var (
	_ engine.EmitObserver    = (*PipelineMetrics)(nil)
	_ engine.ProcessObserver = (*PipelineMetrics)(nil)
	_ engine.WriteObserver   = (*PipelineMetrics)(nil)
	_ engine.RetryObserver   = (*PipelineMetrics)(nil)
	_ engine.RejectObserver  = (*PipelineMetrics)(nil)
	_ engine.CommitObserver  = (*PipelineMetrics)(nil)
)

func newPipelineMetrics(m *Metrics, name string) *PipelineMetrics {
	p := &PipelineMetrics{m: m, name: name}
	p.sources.make = func(n string) *sourceSeries {
		s := &sourceSeries{
			events:  m.srcEvents.WithLabelValues(name, n),
			bytes:   m.srcBytes.WithLabelValues(name, n),
			commits: m.srcCommits.WithLabelValues(name, n),
			lag:     m.srcLag.WithLabelValues(name, n),
		}
		s.checkpointAt.Store(time.Now().UnixNano())
		s.streams.make = func(string) *atomic.Int64 { return new(atomic.Int64) }
		return s
	}
	p.sinks.make = func(n string) *sinkSeries {
		return &sinkSeries{
			duration: m.sinkDuration.WithLabelValues(name, n),
			batch:    m.sinkBatch.WithLabelValues(name, n),
			events:   m.sinkEvents.WithLabelValues(name, n),
			bytes:    m.sinkBytes.WithLabelValues(name, n),
			failures: m.sinkFailures.WithLabelValues(name, n),
		}
	}
	p.procs.make = func(n string) *procSeries {
		return &procSeries{
			in:       m.procIn.WithLabelValues(name, n),
			out:      m.procOut.WithLabelValues(name, n),
			duration: m.procDuration.WithLabelValues(name, n),
		}
	}
	p.nodes.make = func(n string) *nodeSeries {
		return &nodeSeries{
			retries:      m.retries.WithLabelValues(name, n),
			recordErrors: m.recordErrors.WithLabelValues(name, n),
			deadLetters:  m.deadLetters.WithLabelValues(name, n),
		}
	}
	return p
}

// Name is the pipeline's name (its label value).
func (p *PipelineMetrics) Name() string { return p.name }

type sourceSeries struct {
	events, bytes, commits prometheus.Counter
	lag                    prometheus.Gauge

	// checkpointAt is when the last durable checkpoint was persisted (unix
	// ns); until there is one, when the source was first seen.
	checkpointAt atomic.Int64
	// newest is the newest source time (ms) a checkpoint covered so far:
	// the lag moves only when it does.
	newest atomic.Int64
	// watched is what Watch registered, read at scrape time.
	watched atomic.Pointer[watched]
	// streams counts the events emitted per stream (event.Schema.Stream),
	// for History only: a Prometheus label per table would multiply the
	// series by the tables a glob matches.
	streams cache[atomic.Int64]
}

type watched struct {
	progress component.ProgressReporter
	gauger   component.Gauger
}

type sinkSeries struct {
	duration, batch         prometheus.Observer
	events, bytes, failures prometheus.Counter
}

type procSeries struct {
	in, out  prometheus.Counter
	duration prometheus.Observer
	// gauger is the processor's component.Gauger, read at scrape time.
	gauger atomic.Pointer[component.Gauger]
}

type nodeSeries struct {
	retries, recordErrors, deadLetters prometheus.Counter
}

// Watch registers the source named name: src's optional
// component.ProgressReporter (snapshot progress and phase) and
// component.Gauger (gauges of its own) are read at scrape time, and the
// source's checkpoint age counts from now until its first checkpoint. src
// is typically the component.Source; a source restarted under the same name
// replaces the previous one.
func (p *PipelineMetrics) Watch(name string, src any) {
	w := &watched{}
	w.progress, _ = src.(component.ProgressReporter)
	w.gauger, _ = src.(component.Gauger)
	s := p.sources.get(name)
	s.checkpointAt.Store(time.Now().UnixNano())
	s.watched.Store(w)
}

// WatchSink declares a sink of the pipeline, and WatchProcessor a
// processor: their series exist, at zero, from the start rather than from
// their first write or batch (a scrape reads each metric at a slightly
// different moment, so series that appear mid-scrape would be missing from
// some metrics and not others).
func (p *PipelineMetrics) WatchSink(name string) {
	p.sinks.get(name)
	p.nodes.get(name)
}

// WatchProcessor: see WatchSink. proc's optional component.Gauger
// (gauges of its own, labelled pipeline and processor) is read at scrape
// time; proc may be nil.
func (p *PipelineMetrics) WatchProcessor(name string, proc any) {
	s := p.procs.get(name)
	p.nodes.get(name)
	if g, ok := proc.(component.Gauger); ok {
		s.gauger.Store(&g)
	} else {
		s.gauger.Store(nil)
	}
}

// ObserveEmit implements engine.EmitObserver: size is the batch's bytes
// as the engine measured them (no event's size is taken again here).
func (p *PipelineMetrics) ObserveEmit(source string, events []event.Event, size int64) {
	s := p.sources.get(source)
	// Events of one stream come in runs (a snapshot chunk, a
	// transaction's rows of a table): one pointer comparison per event,
	// one counter update per run.
	var run *event.Schema
	n := 0
	for i := range events {
		if sc := events[i].Schema; sc != run {
			if run != nil {
				s.streams.get(run.Stream).Add(int64(n))
			}
			run, n = sc, 0
		}
		n++
	}
	if run != nil {
		s.streams.get(run.Stream).Add(int64(n))
	}
	s.events.Add(float64(len(events)))
	s.bytes.Add(float64(size))
}

// ObserveCommit implements engine.CommitObserver.
func (p *PipelineMetrics) ObserveCommit(source string, newestMs int64, at time.Time) {
	s := p.sources.get(source)
	s.commits.Inc()
	s.checkpointAt.Store(at.UnixNano())
	// Only a checkpoint that covers newer events moves the lag: a
	// heartbeat's checkpoint on an idle source covers nothing new, and
	// at−newestMs would then grow with the idle time.
	if newestMs > 0 && newestMs > s.newest.Load() {
		s.newest.Store(newestMs)
		s.lag.Set(float64(max(at.UnixMilli()-newestMs, 0)) / 1000)
	}
}

// ObserveWrite implements engine.WriteObserver.
func (p *PipelineMetrics) ObserveWrite(sink string, events int, bytes int64, took time.Duration, err error) {
	s := p.sinks.get(sink)
	s.duration.Observe(took.Seconds())
	s.batch.Observe(float64(events))
	if err == nil {
		s.events.Add(float64(events))
		s.bytes.Add(float64(bytes))
		return
	}
	var rejected component.RecordErrors
	if !errors.As(err, &rejected) {
		s.failures.Inc()
		return
	}
	// The events not rejected are durable; their bytes are not known apart,
	// so the bytes counter takes the written share of the batch.
	written := max(events-len(rejected), 0)
	s.events.Add(float64(written))
	if events > 0 {
		s.bytes.Add(float64(bytes) * float64(written) / float64(events))
	}
}

// ObserveProcess implements engine.ProcessObserver.
func (p *PipelineMetrics) ObserveProcess(processor string, in, out int, took time.Duration) {
	s := p.procs.get(processor)
	s.in.Add(float64(in))
	s.out.Add(float64(out))
	s.duration.Observe(took.Seconds())
}

// ObserveRetry implements engine.RetryObserver.
func (p *PipelineMetrics) ObserveRetry(node string, attempt int, err error) {
	p.nodes.get(node).retries.Inc()
	if err != nil {
		p.errs.add(ErrorRecord{At: time.Now(), Kind: "retry", Node: node, Attempt: attempt, Message: err.Error()})
	}
}

// ObserveRejected implements engine.RejectObserver.
func (p *PipelineMetrics) ObserveRejected(node string, events int, deadLettered bool) {
	s := p.nodes.get(node)
	s.recordErrors.Add(float64(events))
	if deadLettered {
		s.deadLetters.Add(float64(events))
	}
}

// cache maps a node's name to its series, resolved once. Reads (every
// hook call) take no lock: the map is replaced, never changed, under mu.
type cache[T any] struct {
	mu   sync.Mutex
	m    atomic.Pointer[map[string]*T]
	make func(name string) *T
}

func (c *cache[T]) get(name string) *T {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[name]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[name]; ok {
			return v
		}
	}
	next := make(map[string]*T, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	v := c.make(name)
	next[name] = v
	c.m.Store(&next)
	return v
}

// all returns every entry, for a scrape.
func (c *cache[T]) all() map[string]*T {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}
