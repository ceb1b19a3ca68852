package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/registry"
)

// monitored runs a pipeline of ten generated products into the picky sink
// (even ids rejected) with the given dead_letter settings, to the end, with
// a Monitor, and returns the metrics, the status and Run's error.
func monitored(t *testing.T, deadLetter string) (*metrics.Metrics, *Status, error) {
	t.Helper()
	dir := t.TempDir()
	var kept []int64
	reg := registry.Default()
	reg.Sinks["picky"] = component.SinkFactory{
		Config: func() any { return &struct{}{} },
		New:    func(any, component.Env) (component.Sink, error) { return pickySink{&kept}, nil },
	}
	src := fmt.Sprintf(`state_dir: %s
sources:
  gen:
    type: generator
    tables: [product]
    count: 10
    seed: 7
    operations: {insert: 1, update: 0, delete: 0}
sinks:
  picky:
    type: picky
    inputs: [gen]
%s`, filepath.Join(dir, "state"), strings.ReplaceAll(deadLetter, "DIR", dir))
	p, err := config.Load("p.yaml", []byte(src), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	st := NewStatus(p.Name)
	m.SetStatusSource(st)
	if s := st.Pipelines()[0]; s.Name != "p" || s.State != metrics.StateStarting {
		t.Fatalf("status before Run: %+v", s)
	}
	err = Run(context.Background(), p, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Monitor{Metrics: m.Pipeline(p.Name), Status: st})
	return m, st, err
}

// Run wires the monitor: the engine's observations become metrics, and the
// status ends STOPPED after a clean run.
func TestMonitorMetricsAndStopped(t *testing.T) {
	m, st, err := monitored(t, `    dead_letter:
      type: file
      path: DIR/dlq.jsonl
      format: row
`)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Pipelines()[0]; s.State != metrics.StateStopped || s.Error != "" {
		t.Fatalf("status after a clean run: %+v", s)
	}
	want := `
# HELP sluice_source_events_total Events emitted by the source.
# TYPE sluice_source_events_total counter
sluice_source_events_total{pipeline="p",source="gen"} 10
# HELP sluice_sink_written_events_total Events durably written by the sink.
# TYPE sluice_sink_written_events_total counter
sluice_sink_written_events_total{pipeline="p",sink="picky"} 5
# HELP sluice_record_errors_total Events rejected one by one.
# TYPE sluice_record_errors_total counter
sluice_record_errors_total{node="picky",pipeline="p"} 5
# HELP sluice_dead_letters_total Rejected events sent to the dead letter.
# TYPE sluice_dead_letters_total counter
sluice_dead_letters_total{node="picky",pipeline="p"} 5
# HELP sluice_pipeline_state 1 for the pipeline's current lifecycle state, 0 for the others.
# TYPE sluice_pipeline_state gauge
sluice_pipeline_state{pipeline="p",state="FAILED"} 0
sluice_pipeline_state{pipeline="p",state="PAUSED"} 0
sluice_pipeline_state{pipeline="p",state="RESTARTING"} 0
sluice_pipeline_state{pipeline="p",state="RUNNING"} 0
sluice_pipeline_state{pipeline="p",state="STARTING"} 0
sluice_pipeline_state{pipeline="p",state="STOPPED"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_source_events_total",
		"sluice_sink_written_events_total", "sluice_record_errors_total", "sluice_dead_letters_total", "sluice_pipeline_state"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "sluice_source_committed_total", "sluice_source_checkpoint_age_seconds"); err != nil || n != 2 {
		t.Fatalf("committed and checkpoint age series: %d (%v), want 2", n, err)
	}
}

// A failing run ends FAILED with its error.
func TestMonitorFailed(t *testing.T) {
	_, st, err := monitored(t, "")
	if err == nil {
		t.Fatal("the picky sink without a dead letter did not stop the pipeline")
	}
	s := st.Pipelines()[0]
	if s.State != metrics.StateFailed || s.Error != err.Error() {
		t.Fatalf("status after a failed run: %+v, want FAILED with %q", s, err)
	}
}
