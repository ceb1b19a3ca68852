package metrics

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// History keeps, per pipeline, the last samples of its sources' and sinks'
// series, taken every interval by Run: what the web console draws as
// throughput and lag over the last minutes, without a Prometheus server.
// It is bounded: at most Keep samples per pipeline (the oldest is
// overwritten), and a pipeline removed from its Metrics (Metrics.Remove) is
// forgotten at the next sample. A sample reads the in-process counters;
// the sources' own gauges (component.Gauger: the PostgreSQL slot's
// retained WAL), which may query a database, only while someone reads the
// history (Of called within the last gaugesWhileRead), so an unwatched
// console costs the upstream systems nothing.
//
// Its methods may be called from any goroutine.
type History struct {
	m     *Metrics
	every time.Duration
	keep  int

	// lastRead is when Of was last called (unix ns).
	lastRead atomic.Int64

	mu struct {
		sync.Mutex
		pipes map[string]*ring
	}
}

// gaugesWhileRead is how long after the last read of the history its
// samples keep reading the sources' gauges.
const gaugesWhileRead = time.Minute

// Default history: a sample every 2 s for 5 minutes.
const (
	DefaultHistoryEvery = 2 * time.Second
	DefaultHistoryKeep  = 150
)

// NewHistory returns a History of m's pipelines sampled every every (0:
// DefaultHistoryEvery) keeping keep samples each (0: DefaultHistoryKeep).
// Nothing is sampled until Run (or Sample) is called.
func (m *Metrics) NewHistory(every time.Duration, keep int) *History {
	if every <= 0 {
		every = DefaultHistoryEvery
	}
	if keep <= 0 {
		keep = DefaultHistoryKeep
	}
	h := &History{m: m, every: every, keep: keep}
	h.mu.pipes = map[string]*ring{}
	return h
}

// Run samples every interval until ctx ends.
func (h *History) Run(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	h.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.Sample(now)
		}
	}
}

// Sample takes one sample of every pipeline, at now.
func (h *History) Sample(now time.Time) {
	ps, status := h.m.pipelines()
	failed := map[string]PipelineStatus{}
	if status != nil {
		for _, st := range status.Pipelines() {
			if st.State == StateFailed && st.Error != "" {
				failed[st.Name] = st
			}
		}
	}
	gauges := now.Sub(time.Unix(0, h.lastRead.Load())) < gaugesWhileRead
	// Sampled outside mu: a gauge may take a moment (gaugeTimeout of the
	// PostgreSQL source), and Of must not wait for it.
	samples := make([]HistorySample, len(ps))
	for i, p := range ps {
		samples[i] = p.sample(now, gauges)
		if st, ok := failed[p.name]; ok {
			p.errs.failed(st)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		seen[p.name] = true
		r := h.mu.pipes[p.name]
		if r == nil {
			r = &ring{buf: make([]HistorySample, 0, h.keep)}
			h.mu.pipes[p.name] = r
		}
		r.add(samples[i], h.keep)
	}
	for name := range h.mu.pipes {
		if !seen[name] {
			delete(h.mu.pipes, name)
		}
	}
}

// HistorySample is one sample of a pipeline.
type HistorySample struct {
	At      time.Time              `json:"at"`
	Sources map[string]SourcePoint `json:"sources"`
	Sinks   map[string]SinkPoint   `json:"sinks"`
}

// SourcePoint is a source in a sample. The rates are over the time since
// the previous sample (0 in the first).
type SourcePoint struct {
	Events          float64 `json:"events"` // sluice_source_events_total
	EventsPerSecond float64 `json:"events_per_second"`
	// LagSeconds is sluice_source_lag_seconds, CheckpointAgeSeconds
	// sluice_source_checkpoint_age_seconds.
	LagSeconds           float64 `json:"lag_seconds"`
	CheckpointAgeSeconds float64 `json:"checkpoint_age_seconds"`
	// Phase and the snapshot's rows, when the source reports progress.
	Phase         string `json:"phase,omitempty"`
	SnapshotDone  int64  `json:"snapshot_rows_read,omitempty"`
	SnapshotTotal int64  `json:"snapshot_rows_estimated,omitempty"`
	// Streams are the source's streams (tables) that emitted events, the
	// first maxStreams by name. The lag and the checkpoint are the
	// source's: its streams share one checkpoint.
	Streams map[string]StreamPoint `json:"streams,omitempty"`
	// Gauges are the source's own gauges (component.Gauger) by metric
	// name, such as sluice_postgres_slot_retained_wal_bytes; only in the
	// samples taken while the history is read.
	Gauges map[string]float64 `json:"gauges,omitempty"`
}

// StreamPoint is a stream in a sample.
type StreamPoint struct {
	Events          int64   `json:"events"`
	EventsPerSecond float64 `json:"events_per_second"`
}

// maxStreams bounds the streams of a source in a sample: a glob can match
// thousands of tables, and a sample is kept DefaultHistoryKeep times.
const maxStreams = 64

// SinkPoint is a sink in a sample.
type SinkPoint struct {
	Written          float64 `json:"written"` // sluice_sink_written_events_total
	WrittenPerSecond float64 `json:"written_per_second"`
	WriteErrors      float64 `json:"write_errors"` // sluice_sink_write_errors_total
}

// PipelineHistory is what History.Of returns: the samples, oldest first,
// the sources' running snapshots with an estimate of the time left, and
// the pipeline's last errors.
type PipelineHistory struct {
	Pipeline        string                      `json:"pipeline"`
	IntervalSeconds float64                     `json:"interval_seconds"`
	Samples         []HistorySample             `json:"samples"`
	Snapshots       map[string]SnapshotProgress `json:"snapshots"`
	Errors          []ErrorRecord               `json:"errors"`
}

// SnapshotProgress is a source's running snapshot, read when asked.
type SnapshotProgress struct {
	RowsRead      int64 `json:"rows_read"`
	RowsEstimated int64 `json:"rows_estimated"` // 0: unknown
	// RowsPerSecond is the rate over the samples of the last
	// etaWindow of this snapshot; ETASeconds the rows left at that rate,
	// nil when the rate or the total is unknown.
	RowsPerSecond float64  `json:"rows_per_second"`
	ETASeconds    *float64 `json:"eta_seconds"`
}

// etaWindow is how far back the snapshot rate (and so the estimate of the
// time left) looks: long enough to smooth the batches, short enough to
// follow a change of pace.
const etaWindow = 30 * time.Second

// Of returns the named pipeline's history; ok false when the pipeline has
// no metrics.
func (h *History) Of(name string) (PipelineHistory, bool) {
	h.m.mu.Lock()
	p := h.m.mu.pipelines[name]
	h.m.mu.Unlock()
	if p == nil {
		return PipelineHistory{}, false
	}
	h.lastRead.Store(time.Now().UnixNano())
	out := PipelineHistory{
		Pipeline: name, IntervalSeconds: h.every.Seconds(),
		Samples: []HistorySample{}, Snapshots: map[string]SnapshotProgress{}, Errors: p.errs.list(),
	}
	h.mu.Lock()
	if r := h.mu.pipes[name]; r != nil {
		out.Samples = r.ordered()
	}
	h.mu.Unlock()
	now := time.Now()
	for src, s := range p.sources.all() {
		w := s.watched.Load()
		if w == nil || w.progress == nil {
			continue
		}
		pr := w.progress.Progress()
		if pr.Phase != "snapshot" {
			continue
		}
		out.Snapshots[src] = estimate(src, pr.Done, pr.Total, now, out.Samples)
	}
	return out, true
}

// estimate computes a snapshot's rate from the samples of the last
// etaWindow that belong to the same snapshot (the rows read grow within
// one; a drop means another started) and the time left at that rate.
func estimate(src string, done, total int64, now time.Time, samples []HistorySample) SnapshotProgress {
	sp := SnapshotProgress{RowsRead: done, RowsEstimated: total}
	from, fromAt := done, now
	for i := len(samples) - 1; i >= 0; i-- {
		pt, ok := samples[i].Sources[src]
		if !ok || pt.Phase != "snapshot" || pt.SnapshotDone > from || now.Sub(samples[i].At) > etaWindow {
			break
		}
		from, fromAt = pt.SnapshotDone, samples[i].At
	}
	if dt := now.Sub(fromAt).Seconds(); dt > 0 && done > from {
		sp.RowsPerSecond = float64(done-from) / dt
	}
	if sp.RowsPerSecond > 0 && total > 0 {
		left := max(float64(total-done), 0) / sp.RowsPerSecond
		sp.ETASeconds = &left
	}
	return sp
}

// sample reads p's series, and its sources' gauges when gauges is set
// (all at once: each may query its database).
func (p *PipelineMetrics) sample(now time.Time, gauges bool) HistorySample {
	s := HistorySample{At: now, Sources: map[string]SourcePoint{}, Sinks: map[string]SinkPoint{}}
	var measured sync.Map // source name → map[string]float64
	if gauges {
		var wg sync.WaitGroup
		for name, src := range p.sources.all() {
			if w := src.watched.Load(); w != nil && w.gauger != nil {
				wg.Go(func() {
					gs := w.gauger.Gauges()
					if len(gs) == 0 {
						return
					}
					m := make(map[string]float64, len(gs))
					for _, g := range gs {
						m[g.Name] = g.Value
					}
					measured.Store(name, m)
				})
			}
		}
		wg.Wait()
	}
	for name, src := range p.sources.all() {
		pt := SourcePoint{
			Events:               value(src.events),
			LagSeconds:           value(src.lag),
			CheckpointAgeSeconds: max(now.Sub(time.Unix(0, src.checkpointAt.Load())).Seconds(), 0),
		}
		if w := src.watched.Load(); w != nil && w.progress != nil {
			pr := w.progress.Progress()
			pt.Phase = pr.Phase
			if pr.Phase == "snapshot" {
				pt.SnapshotDone, pt.SnapshotTotal = pr.Done, pr.Total
			}
		}
		if streams := src.streams.all(); len(streams) > 0 {
			names := make([]string, 0, len(streams))
			for n := range streams {
				names = append(names, n)
			}
			sort.Strings(names)
			pt.Streams = make(map[string]StreamPoint, min(len(names), maxStreams))
			for _, n := range names[:min(len(names), maxStreams)] {
				pt.Streams[n] = StreamPoint{Events: streams[n].Load()}
			}
		}
		if m, ok := measured.Load(name); ok {
			pt.Gauges = m.(map[string]float64)
		}
		s.Sources[name] = pt
	}
	for name, sk := range p.sinks.all() {
		s.Sinks[name] = SinkPoint{Written: value(sk.events), WriteErrors: value(sk.failures)}
	}
	return s
}

// value reads a counter's or a gauge's current value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if m.Write(&d) != nil {
		return 0
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

// ring is a pipeline's samples: buf grows to keep, then next is the oldest
// and is overwritten.
type ring struct {
	buf  []HistorySample
	next int
}

// add appends s, with its rates computed against the newest sample.
func (r *ring) add(s HistorySample, keep int) {
	if n := len(r.buf); n > 0 {
		prev := r.buf[(r.next+n-1)%n] // the newest (next is 0 until full)
		if dt := s.At.Sub(prev.At).Seconds(); dt > 0 {
			for name, pt := range s.Sources {
				if q, ok := prev.Sources[name]; ok {
					pt.EventsPerSecond = max(pt.Events-q.Events, 0) / dt
					for sn, sp := range pt.Streams {
						// A stream new since the previous sample counted from 0.
						sp.EventsPerSecond = float64(max(sp.Events-q.Streams[sn].Events, 0)) / dt
						pt.Streams[sn] = sp
					}
					s.Sources[name] = pt
				}
			}
			for name, pt := range s.Sinks {
				if q, ok := prev.Sinks[name]; ok {
					pt.WrittenPerSecond = max(pt.Written-q.Written, 0) / dt
					s.Sinks[name] = pt
				}
			}
		}
	}
	if len(r.buf) < keep {
		r.buf = append(r.buf, s)
		r.next = 0
		return
	}
	r.buf[r.next] = s
	r.next = (r.next + 1) % keep
}

// ordered returns the samples, oldest first, in a new slice.
func (r *ring) ordered() []HistorySample {
	out := make([]HistorySample, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// ErrorRecord is one of a pipeline's last errors.
type ErrorRecord struct {
	At time.Time `json:"at"`
	// Kind is "retry" (a write failed and is retried) or "failed" (the
	// pipeline stopped with this error).
	Kind string `json:"kind"`
	// Node is the sink (or "<sink> dead_letter") whose write failed;
	// empty for a failed pipeline.
	Node    string `json:"node,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Message is the error: like every error of sluice it holds no secret.
	Message string `json:"message"`
}

// maxErrors bounds a pipeline's last errors.
const maxErrors = 20

// errRing is a pipeline's last errors, oldest first.
type errRing struct {
	mu         sync.Mutex
	recs       []ErrorRecord
	lastFailed time.Time // Since of the last failure recorded
}

func (e *errRing) add(r ErrorRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.recs) == maxErrors {
		copy(e.recs, e.recs[1:])
		e.recs = e.recs[:maxErrors-1]
	}
	e.recs = append(e.recs, r)
	sort.SliceStable(e.recs, func(i, j int) bool { return e.recs[i].At.Before(e.recs[j].At) })
}

// failed records a FAILED status once (a status is seen at every sample).
func (e *errRing) failed(st PipelineStatus) {
	e.mu.Lock()
	if !st.Since.After(e.lastFailed) {
		e.mu.Unlock()
		return
	}
	e.lastFailed = st.Since
	e.mu.Unlock()
	e.add(ErrorRecord{At: st.Since, Kind: "failed", Message: st.Error})
}

func (e *errRing) list() []ErrorRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ErrorRecord{}, e.recs...)
}
