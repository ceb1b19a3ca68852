package app

import (
	"sync"
	"time"

	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/metrics"
)

// Monitor is what Run reports to for the HTTP endpoints (sluice run
// --http): the engine's observations and the sources' progress and gauges
// go to Metrics, the pipeline's lifecycle to Status. The zero Monitor
// reports nothing and costs nothing. (The runtime, which holds several
// pipelines, takes this over.)
type Monitor struct {
	Metrics *metrics.PipelineMetrics
	Status  *Status
}

// watch registers the pipeline's nodes with the metrics and makes the
// metrics the engine's observer.
func (m Monitor) watch(ep *engine.Pipeline) {
	if m.Metrics == nil {
		return
	}
	for _, n := range ep.Sources {
		m.Metrics.Watch(n.Name, n.Source)
	}
	for _, n := range ep.Processors {
		m.Metrics.WatchProcessor(n.Name)
	}
	for _, n := range ep.Sinks {
		m.Metrics.WatchSink(n.Name)
	}
	ep.Options.Observer = m.Metrics
}

// Status tracks the lifecycle of the one pipeline Run runs: STARTING while
// its components are built, RUNNING, then STOPPED or FAILED. It is a
// metrics.StatusSource.
type Status struct {
	mu sync.Mutex
	st metrics.PipelineStatus
}

var _ metrics.StatusSource = (*Status)(nil)

// NewStatus returns the status of the named pipeline, STARTING.
func NewStatus(pipeline string) *Status {
	return &Status{st: metrics.PipelineStatus{Name: pipeline, State: metrics.StateStarting, Since: time.Now()}}
}

// Pipelines implements metrics.StatusSource.
func (s *Status) Pipelines() []metrics.PipelineStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []metrics.PipelineStatus{s.st}
}

// set moves to state; err is the reason of FAILED. A nil Status does
// nothing.
func (s *Status) set(state string, err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.State, s.st.Since, s.st.Error = state, time.Now(), ""
	if err != nil {
		s.st.Error = err.Error()
	}
}
