package metrics

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

var update = flag.Bool("update", false, "rewrite testdata/names.golden")

// batch returns n events of event.Event.Size 152+40+3 = 195 bytes each.
func batch(n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i].After = []event.Value{{Str: "abc"}}
	}
	return evs
}

func compare(t *testing.T, m *Metrics, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

func TestSourceCounters(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.ObserveEmit("pg", batch(3), 3*195)
	p.ObserveEmit("pg", batch(2), 2*195)
	p.ObserveEmit("gen", nil, 0)
	compare(t, m, `
# HELP sluice_source_events_total Events emitted by the source.
# TYPE sluice_source_events_total counter
sluice_source_events_total{pipeline="shop",source="gen"} 0
sluice_source_events_total{pipeline="shop",source="pg"} 5
# HELP sluice_source_bytes_total In-memory size of the events emitted by the source (an estimate).
# TYPE sluice_source_bytes_total counter
sluice_source_bytes_total{pipeline="shop",source="gen"} 0
sluice_source_bytes_total{pipeline="shop",source="pg"} 975
`, "sluice_source_events_total", "sluice_source_bytes_total")
}

func TestCommitLag(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	at := time.UnixMilli(1_700_000_010_000)
	want := func(commits int, lag string) {
		t.Helper()
		compare(t, m, fmt.Sprintf(`
# HELP sluice_source_committed_total Durable checkpoints persisted for the source.
# TYPE sluice_source_committed_total counter
sluice_source_committed_total{pipeline="shop",source="pg"} %d
# HELP sluice_source_lag_seconds Source commit time of the newest event covered by the last durable checkpoint, to the moment it was durable.
# TYPE sluice_source_lag_seconds gauge
sluice_source_lag_seconds{pipeline="shop",source="pg"} %s
`, commits, lag), "sluice_source_committed_total", "sluice_source_lag_seconds")
	}
	p.ObserveCommit("pg", 0, at) // nothing with a source time yet
	want(1, "0")
	p.ObserveCommit("pg", at.UnixMilli()-1500, at)
	want(2, "1.5")
	// A heartbeat's checkpoint an hour later covers nothing newer: the lag
	// holds instead of growing with the idle time.
	p.ObserveCommit("pg", at.UnixMilli()-1500, at.Add(time.Hour))
	want(3, "1.5")
	p.ObserveCommit("pg", at.UnixMilli()+100, at.Add(time.Hour).Add(250*time.Millisecond))
	want(4, "3600.15")
	// A source clock ahead of ours reads 0, never negative.
	p.ObserveCommit("pg", at.Add(2*time.Hour).UnixMilli(), at.Add(time.Hour))
	want(5, "0")
}

func TestSinkMetrics(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.ObserveWrite("out", 100, 19500, 3*time.Millisecond, nil)
	p.ObserveWrite("out", 4, 800, 2*time.Second, errors.New("connection refused"))
	// Two of ten events rejected one by one: the other eight are durable.
	rejected := fmt.Errorf("wrapped: %w", component.RecordErrors{{Index: 1, Err: errors.New("x")}, {Index: 7, Err: errors.New("y")}})
	p.ObserveWrite("out", 10, 1000, 40*time.Millisecond, rejected)
	compare(t, m, `
# HELP sluice_sink_written_events_total Events durably written by the sink.
# TYPE sluice_sink_written_events_total counter
sluice_sink_written_events_total{pipeline="shop",sink="out"} 108
# HELP sluice_sink_written_bytes_total In-memory size of the events durably written by the sink (an estimate).
# TYPE sluice_sink_written_bytes_total counter
sluice_sink_written_bytes_total{pipeline="shop",sink="out"} 20300
# HELP sluice_sink_write_errors_total Writes to the sink that failed as a whole.
# TYPE sluice_sink_write_errors_total counter
sluice_sink_write_errors_total{pipeline="shop",sink="out"} 1
# HELP sluice_sink_write_events Events per write to the sink.
# TYPE sluice_sink_write_events histogram
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="1"} 0
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="4"} 1
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="16"} 2
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="64"} 2
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="256"} 3
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="1024"} 3
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="4096"} 3
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="16384"} 3
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="65536"} 3
sluice_sink_write_events_bucket{pipeline="shop",sink="out",le="+Inf"} 3
sluice_sink_write_events_sum{pipeline="shop",sink="out"} 114
sluice_sink_write_events_count{pipeline="shop",sink="out"} 3
# HELP sluice_sink_write_duration_seconds Duration of each write to the sink, failed ones included.
# TYPE sluice_sink_write_duration_seconds histogram
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.0005"} 0
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.001"} 0
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.0025"} 0
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.005"} 1
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.01"} 1
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.025"} 1
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.05"} 2
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.1"} 2
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.25"} 2
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="0.5"} 2
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="1"} 2
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="2.5"} 3
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="5"} 3
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="10"} 3
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="30"} 3
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="60"} 3
sluice_sink_write_duration_seconds_bucket{pipeline="shop",sink="out",le="+Inf"} 3
sluice_sink_write_duration_seconds_sum{pipeline="shop",sink="out"} 2.043
sluice_sink_write_duration_seconds_count{pipeline="shop",sink="out"} 3
`, "sluice_sink_written_events_total", "sluice_sink_written_bytes_total", "sluice_sink_write_errors_total",
		"sluice_sink_write_events", "sluice_sink_write_duration_seconds")
}

func TestProcessorAndNodeMetrics(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.ObserveProcess("only_big", 10, 4, 20*time.Millisecond)
	p.ObserveProcess("only_big", 5, 0, 30*time.Millisecond)
	p.ObserveRetry("out", 1, errors.New("timeout"))
	p.ObserveRetry("out", 2, errors.New("timeout"))
	p.ObserveRetry("out dead_letter", 1, errors.New("timeout"))
	p.ObserveRejected("out", 3, true)
	p.ObserveRejected("only_big", 1, false)
	compare(t, m, `
# HELP sluice_processor_events_in_total Events processed by the processor.
# TYPE sluice_processor_events_in_total counter
sluice_processor_events_in_total{pipeline="shop",processor="only_big"} 15
# HELP sluice_processor_events_out_total Events derived by the processor.
# TYPE sluice_processor_events_out_total counter
sluice_processor_events_out_total{pipeline="shop",processor="only_big"} 4
# HELP sluice_retries_total Retries of failed writes.
# TYPE sluice_retries_total counter
sluice_retries_total{node="only_big",pipeline="shop"} 0
sluice_retries_total{node="out",pipeline="shop"} 2
sluice_retries_total{node="out dead_letter",pipeline="shop"} 1
# HELP sluice_record_errors_total Events rejected one by one.
# TYPE sluice_record_errors_total counter
sluice_record_errors_total{node="only_big",pipeline="shop"} 1
sluice_record_errors_total{node="out",pipeline="shop"} 3
sluice_record_errors_total{node="out dead_letter",pipeline="shop"} 0
# HELP sluice_dead_letters_total Rejected events sent to the dead letter.
# TYPE sluice_dead_letters_total counter
sluice_dead_letters_total{node="only_big",pipeline="shop"} 0
sluice_dead_letters_total{node="out",pipeline="shop"} 3
sluice_dead_letters_total{node="out dead_letter",pipeline="shop"} 0
`, "sluice_processor_events_in_total", "sluice_processor_events_out_total", "sluice_retries_total",
		"sluice_record_errors_total", "sluice_dead_letters_total")
	if got := testutil.CollectAndCount(m.procDuration, "sluice_processor_duration_seconds"); got != 1 {
		t.Fatalf("processor duration series: %d, want 1", got)
	}
}

type reporter struct{ p component.Progress }

func (r *reporter) Progress() component.Progress { return r.p }

type gauger struct{ gs []component.Gauge }

func (g *gauger) Gauges() []component.Gauge { return g.gs }

type both struct {
	reporter
	gauger
}

type statuses []PipelineStatus

func (s statuses) Pipelines() []PipelineStatus { return s }

func TestScrapeTimeMetrics(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	src := &both{reporter{component.Progress{Phase: "snapshot", Done: 40, Total: 100}}, gauger{[]component.Gauge{
		{Name: "sluice_postgres_slot_retained_wal_bytes", Help: "WAL retained.", Value: 4096},
		{Name: "sluice_source_events_total", Help: "a component must not take a name of package metrics", Value: 1},
		{Name: "other_prefix_bytes", Help: "not sluice_", Value: 1},
		{Name: "sluice_bad-name", Help: "invalid", Value: 1},
		{Name: "sluice_postgres_slot_wal_status", Help: "Slot WAL status.", Value: 1, Labels: [][2]string{{"slot", "s1"}, {"wal_status", "reserved"}}},
		{Name: "sluice_postgres_slot_wal_status", Help: "Slot WAL status.", Value: 0, Labels: [][2]string{{"slot", "s1"}, {"wal_status", "lost"}}},
		{Name: "sluice_postgres_slot_wal_status", Help: "other labels than the first: dropped", Value: 7, Labels: [][2]string{{"slot", "s1"}}},
		{Name: "sluice_x_bytes", Help: "a component must not redefine pipeline", Value: 1, Labels: [][2]string{{"pipeline", "p"}}},
	}}}
	p.Watch("pg", src)
	p.Watch("gen", struct{}{}) // neither: only its checkpoint age
	m.SetStatusSource(statuses{{Name: "shop", State: StateRunning}, {Name: "other", State: "WEIRD"}})
	compare(t, m, `
# HELP sluice_source_phase 1 for the phase the source reports (starting, snapshot, streaming).
# TYPE sluice_source_phase gauge
sluice_source_phase{phase="snapshot",pipeline="shop",source="pg"} 1
# HELP sluice_source_snapshot_rows_read Rows read by the running snapshot.
# TYPE sluice_source_snapshot_rows_read gauge
sluice_source_snapshot_rows_read{pipeline="shop",source="pg"} 40
# HELP sluice_source_snapshot_rows_estimated Rows the running snapshot expects (the database's estimate; 0 when unknown).
# TYPE sluice_source_snapshot_rows_estimated gauge
sluice_source_snapshot_rows_estimated{pipeline="shop",source="pg"} 100
# HELP sluice_postgres_slot_retained_wal_bytes WAL retained.
# TYPE sluice_postgres_slot_retained_wal_bytes gauge
sluice_postgres_slot_retained_wal_bytes{pipeline="shop",source="pg"} 4096
# HELP sluice_postgres_slot_wal_status Slot WAL status.
# TYPE sluice_postgres_slot_wal_status gauge
sluice_postgres_slot_wal_status{pipeline="shop",slot="s1",source="pg",wal_status="lost"} 0
sluice_postgres_slot_wal_status{pipeline="shop",slot="s1",source="pg",wal_status="reserved"} 1
# HELP sluice_pipeline_state 1 for the pipeline's current lifecycle state, 0 for the others.
# TYPE sluice_pipeline_state gauge
sluice_pipeline_state{pipeline="other",state="FAILED"} 0
sluice_pipeline_state{pipeline="other",state="PAUSED"} 0
sluice_pipeline_state{pipeline="other",state="RESTARTING"} 0
sluice_pipeline_state{pipeline="other",state="RUNNING"} 0
sluice_pipeline_state{pipeline="other",state="STOPPED"} 0
sluice_pipeline_state{pipeline="other",state="WEIRD"} 1
sluice_pipeline_state{pipeline="shop",state="FAILED"} 0
sluice_pipeline_state{pipeline="shop",state="PAUSED"} 0
sluice_pipeline_state{pipeline="shop",state="RESTARTING"} 0
sluice_pipeline_state{pipeline="shop",state="RUNNING"} 1
sluice_pipeline_state{pipeline="shop",state="STOPPED"} 0
`, "sluice_source_phase", "sluice_source_snapshot_rows_read", "sluice_source_snapshot_rows_estimated",
		"sluice_postgres_slot_retained_wal_bytes", "sluice_pipeline_state", "other_prefix_bytes", "sluice_bad-name",
		"sluice_postgres_slot_wal_status", "sluice_x_bytes")
	// The component's sluice_source_events_total was dropped: the
	// package's own series (zero, Watch made them) are the only ones.
	compare(t, m, `
# HELP sluice_source_events_total Events emitted by the source.
# TYPE sluice_source_events_total counter
sluice_source_events_total{pipeline="shop",source="gen"} 0
sluice_source_events_total{pipeline="shop",source="pg"} 0
`, "sluice_source_events_total")

	// Streaming: the snapshot gauges are gone, the phase moved.
	src.reporter.p = component.Progress{Phase: "streaming", Done: 7}
	compare(t, m, `
# HELP sluice_source_phase 1 for the phase the source reports (starting, snapshot, streaming).
# TYPE sluice_source_phase gauge
sluice_source_phase{phase="streaming",pipeline="shop",source="pg"} 1
`, "sluice_source_phase", "sluice_source_snapshot_rows_read", "sluice_source_snapshot_rows_estimated")
}

func TestCheckpointAge(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.Watch("pg", nil)
	age := func() float64 {
		t.Helper()
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "sluice_source_checkpoint_age_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no sluice_source_checkpoint_age_seconds")
		return 0
	}
	// Before any checkpoint the age counts from Watch.
	start := time.Now()
	if a := age(); a < 0 || a > time.Since(start).Seconds()+1 {
		t.Fatalf("age before the first checkpoint: %v", a)
	}
	p.ObserveCommit("pg", 0, time.Now().Add(-time.Minute))
	if a := age(); a < 60 || a > 61+time.Since(start).Seconds() {
		t.Fatalf("age a minute after the checkpoint: %v", a)
	}
}

func TestRemoveAndIndependence(t *testing.T) {
	m1, m2 := New(), New()
	m1.Pipeline("a").ObserveEmit("src", batch(1), 1*195)
	m1.Pipeline("b").ObserveEmit("src", batch(2), 2*195)
	m2.Pipeline("a").ObserveEmit("src", batch(5), 5*195)
	if m1.Pipeline("a") != m1.Pipeline("a") {
		t.Fatal("Pipeline returned a new observer for the same name: a restarted pipeline would lose its counters")
	}
	m1.Remove("a")
	compare(t, m1, `
# HELP sluice_source_events_total Events emitted by the source.
# TYPE sluice_source_events_total counter
sluice_source_events_total{pipeline="b",source="src"} 2
`, "sluice_source_events_total")
	compare(t, m2, `
# HELP sluice_source_events_total Events emitted by the source.
# TYPE sluice_source_events_total counter
sluice_source_events_total{pipeline="a",source="src"} 5
`, "sluice_source_events_total")
	if n, _ := testutil.GatherAndCount(m1.Registry(), "sluice_source_checkpoint_age_seconds"); n != 1 {
		t.Fatalf("checkpoint age series after Remove: %d, want 1 (pipeline b)", n)
	}
}

// exercise makes every metric of the package have a series.
func exercise(m *Metrics) {
	p := m.Pipeline("shop")
	p.Watch("pg", &both{reporter{component.Progress{Phase: "snapshot", Done: 1, Total: 2}},
		gauger{[]component.Gauge{{Name: "sluice_postgres_slot_retained_wal_bytes", Help: "h", Value: 1}}}})
	p.ObserveEmit("pg", batch(1), 195)
	p.ObserveCommit("pg", time.Now().UnixMilli(), time.Now())
	p.ObserveProcess("f", 1, 1, time.Millisecond)
	p.ObserveWrite("out", 1, 1, time.Millisecond, nil)
	p.ObserveRetry("out", 1, errors.New("x"))
	p.ObserveRejected("out", 1, true)
	p.ObserveChunks("pg", map[string]int{"done": 1})
	p.ObserveChunkRun("pg", "done", 1)
	m.SetStatusSource(statuses{{Name: "shop", State: StateRunning}})
}

// TestNamesGolden pins every metric's name, type and labels: renaming one
// breaks users' dashboards and alerts, so it must be a deliberate change of
// testdata/names.golden (go test -update), never an accident.
func TestNamesGolden(t *testing.T) {
	m := New()
	exercise(m)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "sluice_") || mf.GetName() == "sluice_postgres_slot_retained_wal_bytes" {
			continue // the Gauger's gauge is the source's, pinned by its own test
		}
		lines = append(lines, fmt.Sprintf("%s %s %s", mf.GetName(), strings.ToLower(mf.GetType().String()), labelNames(mf)))
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "names.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("metric names changed (a breaking change for users; if deliberate, run go test -update and say so in the commit):\ngot:\n%swant:\n%s", got, want)
	}
}

func labelNames(mf *dto.MetricFamily) string {
	var names []string
	for _, lp := range mf.GetMetric()[0].GetLabel() {
		names = append(names, lp.GetName())
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// TestLint holds the metrics to Prometheus's naming conventions (promlint:
// counters end in _total, units in base units, no _total on gauges).
func TestLint(t *testing.T) {
	m := New()
	exercise(m)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "sluice_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func BenchmarkObserveEmit(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprint(n, "events"), func(b *testing.B) {
			p := New().Pipeline("shop")
			evs := batch(n)
			p.ObserveEmit("pg", evs, int64(n)*195)
			b.ReportAllocs()
			for b.Loop() {
				p.ObserveEmit("pg", evs, int64(n)*195)
			}
		})
	}
}

func BenchmarkObserveWrite(b *testing.B) {
	p := New().Pipeline("shop")
	p.ObserveWrite("out", 1000, 195000, time.Millisecond, nil)
	b.ReportAllocs()
	for b.Loop() {
		p.ObserveWrite("out", 1000, 195000, time.Millisecond, nil)
	}
}

func BenchmarkObserveCommit(b *testing.B) {
	p := New().Pipeline("shop")
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.ObserveCommit("pg", now.UnixMilli()+int64(i), now)
	}
}

// TestConcurrent observes from several goroutines, on new and known nodes,
// while scraping and watching (run with -race): the counts add up.
func TestConcurrent(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	m.SetStatusSource(statuses{{Name: "shop", State: StateRunning}})
	const workers, rounds = 4, 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range rounds {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
				return
			}
			p.Watch(fmt.Sprint("src", i%3), &reporter{component.Progress{Phase: "snapshot"}})
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				src := fmt.Sprint("src", (w+i)%3)
				p.ObserveEmit(src, batch(1), 195)
				p.ObserveCommit(src, int64(i+1), time.Now())
				p.ObserveWrite(fmt.Sprint("sink", i%5), 1, 195, time.Millisecond, nil)
				p.ObserveRetry("sink0", 1, nil)
			}
		}()
	}
	wg.Wait()
	<-done
	var events, written float64
	for i := range 3 {
		events += testutil.ToFloat64(m.srcEvents.WithLabelValues("shop", fmt.Sprint("src", i)))
	}
	for i := range 5 {
		written += testutil.ToFloat64(m.sinkEvents.WithLabelValues("shop", fmt.Sprint("sink", i)))
	}
	if events != workers*rounds || written != workers*rounds {
		t.Fatalf("events %v, written %v, want %d each", events, written, workers*rounds)
	}
	if r := testutil.ToFloat64(m.retries.WithLabelValues("shop", "sink0")); r != workers*rounds {
		t.Fatalf("retries %v, want %d", r, workers*rounds)
	}
}

// Declared nodes have their series, at zero, before any observation.
func TestWatchSinkAndProcessor(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.WatchSink("out")
	p.WatchProcessor("f", nil)
	compare(t, m, `
# HELP sluice_sink_written_events_total Events durably written by the sink.
# TYPE sluice_sink_written_events_total counter
sluice_sink_written_events_total{pipeline="shop",sink="out"} 0
# HELP sluice_processor_events_in_total Events processed by the processor.
# TYPE sluice_processor_events_in_total counter
sluice_processor_events_in_total{pipeline="shop",processor="f"} 0
# HELP sluice_retries_total Retries of failed writes.
# TYPE sluice_retries_total counter
sluice_retries_total{node="f",pipeline="shop"} 0
sluice_retries_total{node="out",pipeline="shop"} 0
`, "sluice_sink_written_events_total", "sluice_processor_events_in_total", "sluice_retries_total")
}
