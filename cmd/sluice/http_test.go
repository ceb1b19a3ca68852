package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// evenRejecter rejects every event whose id is even, one by one, and
// writes the others.
type evenRejecter struct{}

func (evenRejecter) Write(_ context.Context, evs []event.Event) error {
	var rejected component.RecordErrors
	for i, e := range evs {
		if id := e.Key()[0].AsInt(); id%2 == 0 {
			rejected = append(rejected, component.RecordError{Index: i, Err: fmt.Errorf("id %d: even ids are not welcome", id)})
		}
	}
	if rejected != nil {
		return rejected
	}
	return nil
}
func (evenRejecter) Close(context.Context) error { return nil }

// superviseMonitored runs, in this process, a pipeline named p of ten
// generated products into the evenRejecter sink (with deadLetter, lines
// indented by four spaces, under it) through a supervisor wired as
// `sluice run --http` wires it, until it ends; it returns the metrics and
// the supervisor.
func superviseMonitored(t *testing.T, deadLetter string) (*metrics.Metrics, *supervisor.Supervisor) {
	t.Helper()
	dir := t.TempDir()
	reg := registry.Default()
	reg.Sinks["picky"] = component.SinkFactory{
		Config: func() any { return &struct{}{} },
		New:    func(any, component.Env) (component.Sink, error) { return evenRejecter{}, nil },
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
	g, err := config.Load("p.yaml", []byte(src), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	sup := supervisor.New(monitored(supervisor.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)}, m, &slotReporters{}))
	m.SetStatusSource(supervisorStatus{sup})
	if err := sup.Add(g); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return m, sup
}

// The engine's observations of a supervised pipeline become its metrics;
// it ends STOPPED, and /readyz says so.
func TestObserveSupervised(t *testing.T) {
	m, sup := superviseMonitored(t, `    dead_letter:
      type: file
      path: DIR/dlq.jsonl
      format: row
`)
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
sluice_pipeline_state{pipeline="p",state="STOPPED"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "sluice_source_events_total",
		"sluice_sink_written_events_total", "sluice_record_errors_total", "sluice_dead_letters_total", "sluice_pipeline_state"); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	httpapi.Handler(httpapi.Options{Status: supervisorStatus{sup}}).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"state": "STOPPED"`) {
		t.Fatalf("/readyz of a stopped pipeline: %d\n%s", rec.Code, rec.Body)
	}

	// A removed pipeline (a deleted connector) leaves no series behind, and
	// no history.
	hist := m.NewHistory(time.Second, 10)
	hist.Sample(time.Now())
	if _, ok := hist.Of("p"); !ok {
		t.Fatal("no history of p")
	}
	if err := sup.Remove(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "sluice_source_events_total", "sluice_sink_written_events_total", "sluice_record_errors_total", "sluice_pipeline_state"); err != nil || n != 0 {
		t.Errorf("%d series of the removed pipeline left (%v)", n, err)
	}
	if _, ok := hist.Of("p"); ok {
		t.Error("the removed pipeline still has a history")
	}
}

// A pipeline that fails is FAILED in the metrics, and /readyz gives its
// error.
func TestObserveSupervisedFailed(t *testing.T) {
	m, sup := superviseMonitored(t, "")
	st, _ := sup.Status("p")
	if st.State != supervisor.Failed || st.Error == "" {
		t.Fatalf("status: %+v, want FAILED with an error", st)
	}
	if v := stateValue(t, m, "FAILED"); v != 1 {
		t.Fatalf(`sluice_pipeline_state{state="FAILED"} = %v, want 1`, v)
	}
	rec := httptest.NewRecorder()
	httpapi.Handler(httpapi.Options{Status: supervisorStatus{sup}}).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if body := rec.Body.String(); rec.Code != 503 || !strings.Contains(body, `"state": "FAILED"`) || !strings.Contains(body, "even ids are not welcome") {
		t.Fatalf("/readyz of a failed pipeline: %d\n%s", rec.Code, body)
	}
}

// stateValue is the value of sluice_pipeline_state{state=state} in m.
func stateValue(t *testing.T, m *metrics.Metrics, state string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_pipeline_state" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "state" && lp.GetValue() == state {
					return s.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no sluice_pipeline_state series for %s", state)
	return 0
}
