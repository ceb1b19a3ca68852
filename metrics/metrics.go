package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label names.
const (
	labelPipeline  = "pipeline"
	labelSource    = "source"
	labelSink      = "sink"
	labelProcessor = "processor"
	labelNode      = "node"
	labelState     = "state"
	labelPhase     = "phase"
	labelResult    = "result"
)

// Histogram buckets: write latencies from a millisecond (a local file) to a
// minute (a stalled cluster); batch sizes up to past the engine's default
// MaxWriteEvents (16384).
var (
	durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	eventsBuckets   = prometheus.ExponentialBuckets(1, 4, 9) // 1 … 65536
)

// Metrics holds the metrics of every pipeline of a process in a registry of
// its own. Its methods may be called from any goroutine.
type Metrics struct {
	reg *prometheus.Registry

	srcEvents, srcBytes, srcCommits *prometheus.CounterVec
	srcLag                          *prometheus.GaugeVec

	sinkDuration, sinkBatch             *prometheus.HistogramVec
	sinkEvents, sinkBytes, sinkFailures *prometheus.CounterVec

	procIn, procOut *prometheus.CounterVec
	procDuration    *prometheus.HistogramVec

	retries, recordErrors, deadLetters *prometheus.CounterVec

	chunks chunkVecs

	vecs []interface {
		DeletePartialMatch(prometheus.Labels) int
	}

	mu struct {
		sync.Mutex
		pipelines map[string]*PipelineMetrics
		status    StatusSource
	}
}

// New returns a Metrics with the Go runtime's and the process's collectors
// registered.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.mu.pipelines = map[string]*PipelineMetrics{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{labelPipeline}, labels...))
		m.reg.MustRegister(v)
		m.vecs = append(m.vecs, v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, append([]string{labelPipeline}, labels...))
		m.reg.MustRegister(v)
		m.vecs = append(m.vecs, v)
		return v
	}
	m.srcEvents = counter("sluice_source_events_total", "Events emitted by the source.", labelSource)
	m.srcBytes = counter("sluice_source_bytes_total", "In-memory size of the events emitted by the source (an estimate).", labelSource)
	m.srcCommits = counter("sluice_source_committed_total", "Durable checkpoints persisted for the source.", labelSource)
	m.srcLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_source_lag_seconds",
		Help: "Source commit time of the newest event covered by the last durable checkpoint, to the moment it was durable.",
	}, []string{labelPipeline, labelSource})
	m.reg.MustRegister(m.srcLag)
	m.vecs = append(m.vecs, m.srcLag)

	m.sinkDuration = histogram("sluice_sink_write_duration_seconds", "Duration of each write to the sink, failed ones included.", durationBuckets, labelSink)
	m.sinkBatch = histogram("sluice_sink_write_events", "Events per write to the sink.", eventsBuckets, labelSink)
	m.sinkEvents = counter("sluice_sink_written_events_total", "Events durably written by the sink.", labelSink)
	m.sinkBytes = counter("sluice_sink_written_bytes_total", "In-memory size of the events durably written by the sink (an estimate).", labelSink)
	m.sinkFailures = counter("sluice_sink_write_errors_total", "Writes to the sink that failed as a whole.", labelSink)

	m.procIn = counter("sluice_processor_events_in_total", "Events processed by the processor.", labelProcessor)
	m.procOut = counter("sluice_processor_events_out_total", "Events derived by the processor.", labelProcessor)
	m.procDuration = histogram("sluice_processor_duration_seconds", "Time the processor took for one batch.", durationBuckets, labelProcessor)

	m.retries = counter("sluice_retries_total", "Retries of failed writes.", labelNode)
	m.recordErrors = counter("sluice_record_errors_total", "Events rejected one by one.", labelNode)
	m.deadLetters = counter("sluice_dead_letters_total", "Rejected events sent to the dead letter.", labelNode)

	m.chunks = newChunkVecs(m)

	m.reg.MustRegister(scrapeCollector{m}, &gaugeCollector{m: m, descs: map[string]*prometheus.Desc{}})
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry holding every metric, for tests and for
// serving them another way than Handler.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats. A
// metric that cannot be collected is left out, and logged to log as a
// warning, rather than failing the whole scrape.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Timeout:       20 * time.Second,
	})
}

// SetStatusSource sets where sluice_pipeline_state comes from (nil: no
// such series).
func (m *Metrics) SetStatusSource(s StatusSource) {
	m.mu.Lock()
	m.mu.status = s
	m.mu.Unlock()
}

// Pipeline returns the observer of the named pipeline, creating it on the
// first call; a pipeline restarted under the same name gets the same one, so
// its counters go on.
func (m *Metrics) Pipeline(name string) *PipelineMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.mu.pipelines[name]; ok {
		return p
	}
	p := newPipelineMetrics(m, name)
	m.mu.pipelines[name] = p
	return p
}

// Remove deletes every series of the named pipeline (a pipeline deleted
// from a running process). Call it once the pipeline's engine has returned:
// observations made after it are lost.
func (m *Metrics) Remove(name string) {
	m.mu.Lock()
	delete(m.mu.pipelines, name)
	m.mu.Unlock()
	for _, v := range m.vecs {
		v.DeletePartialMatch(prometheus.Labels{labelPipeline: name})
	}
}

// pipelines returns the pipelines and the status source, for a scrape.
func (m *Metrics) pipelines() ([]*PipelineMetrics, StatusSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := make([]*PipelineMetrics, 0, len(m.mu.pipelines))
	for _, p := range m.mu.pipelines {
		ps = append(ps, p)
	}
	return ps, m.mu.status
}
