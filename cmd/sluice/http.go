package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/supervisor"
)

// The wiring of `sluice run --http`: the supervisor's pipelines report to
// one metrics.Metrics (observe), whose registry, with the supervisor's
// states, is served by package httpapi.

// observe returns the supervisor's Observe hook: each start of a pipeline
// gets the pipeline's metrics as its engine observer, with its nodes
// declared and its sources watched (progress, gauges). A restarted pipeline
// keeps its series.
func observe(m *metrics.Metrics) func(p *app.Pipeline) any {
	return func(p *app.Pipeline) any {
		pm := m.Pipeline(p.Graph.Name)
		for name, s := range p.Sources {
			pm.Watch(name, s)
		}
		for name, pr := range p.Processors {
			pm.WatchProcessor(name, pr)
		}
		for name := range p.Sinks {
			pm.WatchSink(name)
		}
		return pm
	}
}

// supervisorStatus is the supervisor's states as a metrics.StatusSource.
type supervisorStatus struct{ s *supervisor.Supervisor }

func (s supervisorStatus) Pipelines() []metrics.PipelineStatus {
	sts := s.s.Statuses()
	out := make([]metrics.PipelineStatus, len(sts))
	for i, st := range sts {
		out[i] = metrics.PipelineStatus{Name: st.Name, State: string(st.State), Error: st.Error, Since: st.Since}
	}
	return out
}

// serveHTTP serves /metrics, /healthz and /readyz of sup's pipelines on
// addr until stop is called (after the pipelines have drained).
func serveHTTP(addr string, allowRemote bool, m *metrics.Metrics, sup *supervisor.Supervisor, log *slog.Logger) (stop func(), err error) {
	status := supervisorStatus{sup}
	m.SetStatusSource(status)
	srv, err := httpapi.Listen(addr, allowRemote, httpapi.Handler(httpapi.Options{Metrics: m.Handler(log), Status: status}), log)
	if errors.Is(err, httpapi.ErrNotLoopback) {
		err = fmt.Errorf("%w (hint: use 127.0.0.1:PORT, or add --http-allow-remote to accept connections from other hosts)", err)
	}
	if err != nil {
		return nil, err
	}
	log.Info("serving /metrics, /healthz and /readyz", "addr", srv.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
