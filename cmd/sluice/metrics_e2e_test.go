package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

var updateMetrics = flag.Bool("update-metrics", false, "rewrite testdata/metrics_*.golden")

// What the metrics tests share: startHTTP runs `sluice run --http
// 127.0.0.1:0` and finds the address the run logs; scrape parses /metrics;
// a golden file pins the metric names (with type and labels) a pipeline
// exposes, so renaming one — a breaking change for dashboards and alerts —
// fails here.

var listenLine = regexp.MustCompile(`msg="serving /metrics, /healthz, /readyz, /pipelines and /console/" addr=(\S+)`)

// startHTTP starts `sluice run --http 127.0.0.1:0 pipeline` with its stderr
// appended to dir/stderr.log, and returns the run and the address it
// serves on.
func startHTTP(t *testing.T, dir, pipeline string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--http", "127.0.0.1:0", pipeline)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	var addr string
	waitFor(t, 30*time.Second, "the listen address in the log", dir, func() bool {
		log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
		if m := listenLine.FindSubmatch(log); m != nil {
			addr = string(m[1])
		}
		return addr != ""
	})
	return cmd, addr
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scraped is one scrape of /metrics.
type scraped map[string]*dto.MetricFamily

var lastBody string

func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	code, body := httpGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	lastBody = body
	return mfs
}

// value is the value of the series of name whose labels include labels
// (name=value pairs), and whether there is one; a histogram's value is its
// count.
func (s scraped) value(name string, labels ...string) (float64, bool) {
	mf, ok := s[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func (s scraped) must(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in /metrics", name, labels)
	}
	return v
}

// checkNames compares the sluice_* families of a scrape (name, type,
// labels) with testdata/<golden>.
func checkNames(t *testing.T, dir string, s scraped, golden string) {
	t.Helper()
	var lines []string
	for name, mf := range s {
		if !strings.HasPrefix(name, "sluice_") {
			continue
		}
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		slices.Sort(labels)
		lines = append(lines, fmt.Sprintf("%s %s %s", name, strings.ToLower(mf.GetType().String()), strings.Join(labels, ",")))
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", golden)
	if *updateMetrics {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		var body []string
		for _, l := range strings.Split(lastBody, "\n") {
			if strings.Contains(l, "sluice_") {
				body = append(body, l)
			}
		}
		t.Logf("the scrape's sluice_ lines:\n%s\nsluice stderr (tail):\n%s", strings.Join(body, "\n"), stderrTail(dir))
		t.Fatalf("metric names changed (a breaking change for users' dashboards and alerts; if deliberate, run go test -run %s -update-metrics and say so in the commit):\ngot:\n%swant:\n%s", t.Name(), got, want)
	}
}

// checkReady asserts /healthz and /readyz of a running pipeline.
func checkReady(t *testing.T, addr string) {
	t.Helper()
	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, body := httpGet(t, "http://"+addr+"/readyz")
	if code != 200 || !strings.Contains(body, `"state": "RUNNING"`) || !strings.Contains(body, `"ready": true`) {
		t.Fatalf("/readyz: %d\n%s", code, body)
	}
}

// TestMetricsScrape runs the generator into a file sink with --http and
// scrapes it twice: the names are the golden ones, the counters move
// between scrapes, lag and checkpoint age are small, the pipeline is
// RUNNING, /healthz and /readyz answer 200.
func TestMetricsScrape(t *testing.T) {
	dir := t.TempDir()
	cmd, addr := startHTTP(t, dir, writePipeline(t, dir, genPipeline(dir, 0, 200)))
	moving := []struct{ name, label, value string }{
		{"sluice_source_events_total", "source", "gen"},
		{"sluice_source_bytes_total", "source", "gen"},
		{"sluice_source_committed_total", "source", "gen"},
		{"sluice_sink_written_events_total", "sink", "out"},
		{"sluice_sink_written_bytes_total", "sink", "out"},
		{"sluice_sink_write_duration_seconds", "sink", "out"},
		{"sluice_sink_write_events", "sink", "out"},
	}
	// A scrape reads each metric at its own moment: one that began while
	// the run was starting may lack the series that appeared meanwhile.
	var first scraped
	waitFor(t, 30*time.Second, "a first durable checkpoint", dir, func() bool {
		first = scrape(t, addr)
		for _, c := range moving {
			if _, ok := first.value(c.name, c.label, c.value); !ok {
				return false
			}
		}
		return first.must(t, "sluice_source_committed_total", "source", "gen") > 0
	})
	checkReady(t, addr)

	// Every counter moves while the generator runs (each within the
	// deadline, not necessarily all in the same scrape).
	moved := make([]bool, len(moving))
	var second scraped
	for deadline := time.Now().Add(30 * time.Second); ; {
		second = scrape(t, addr)
		var still []string
		for i, c := range moving {
			if second.must(t, c.name, c.label, c.value) > first.must(t, c.name, c.label, c.value) {
				moved[i] = true
			}
			if !moved[i] {
				still = append(still, c.name)
			}
		}
		if len(still) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not move within 30s of the first scrape: %v; sluice stderr (tail):\n%s", still, stderrTail(dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// This scrape began after the run had committed, so every series of
	// the pipeline exists.
	checkNames(t, dir, second, "metrics_generator.golden")
	if v := second.must(t, "sluice_sink_write_errors_total", "sink", "out"); v != 0 {
		t.Errorf("sluice_sink_write_errors_total = %v, want 0", v)
	}
	// The generator's events carry their generation time, and a batch is
	// durable in milliseconds: lag and checkpoint age are small.
	if lag := second.must(t, "sluice_source_lag_seconds", "source", "gen"); lag < 0 || lag > 5 {
		t.Errorf("sluice_source_lag_seconds = %v, want between 0 and 5", lag)
	}
	if age := second.must(t, "sluice_source_checkpoint_age_seconds", "source", "gen"); age < 0 || age > 5 {
		t.Errorf("sluice_source_checkpoint_age_seconds = %v, want between 0 and 5", age)
	}
	if v := second.must(t, "sluice_pipeline_state", "pipeline", "p", "state", "RUNNING"); v != 1 {
		t.Errorf(`sluice_pipeline_state{state="RUNNING"} = %v, want 1`, v)
	}
	stopRun(t, cmd, dir)
}

// TestHTTPRefusesRemote: --http on every interface is refused without
// authentication (or --insecure-no-auth), before anything runs.
func TestHTTPRefusesRemote(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 0, 200))
	cmd := exec.Command(bin, "run", "--http", "0.0.0.0:0", p)
	cmd.Env = envWithoutAuth()
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != exitUsage {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitUsage, out)
	}
	want := `sluice: --http: listen address "0.0.0.0:0": not a loopback address, and no authentication is configured` + remoteHint + "\n"
	if string(out) != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Fatalf("the refused run created its state directory (%v)", err)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMetricsPostgres scrapes a PostgreSQL pipeline: the slot's retained
// WAL and confirmed lag gauges appear, the source reports the streaming
// phase, and changes move the counters, with a sane lag.
func TestMetricsPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	sql := func(q string) {
		t.Helper()
		if _, err := db.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sql(`CREATE TABLE item (id int PRIMARY KEY, name text)`)
	sql(`INSERT INTO item SELECT g, 'item ' || g FROM generate_series(1, 100) g`)
	dir := t.TempDir()
	pipeline := writePipeline(t, dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  shop:
    type: postgres
    dsn: ${METRICS_DSN}
    tables: [public.item]
    slot: %[2]s
    heartbeat_interval: 1s
sinks:
  out:
    type: file
    inputs: [shop]
    path: %[1]s/out.jsonl
    format: row
`, dir, uniqueSlot()))
	cmd, addr := startHTTP(t, dir, pipeline, "METRICS_DSN="+dsn)
	var first scraped
	waitFor(t, 60*time.Second, "the snapshot to be durable and the source streaming", dir, func() bool {
		first = scrape(t, addr)
		streaming, _ := first.value("sluice_source_phase", "source", "shop", "phase", "streaming")
		written, _ := first.value("sluice_sink_written_events_total", "sink", "out")
		// The gauges are measured at most every 5 s: one taken while the
		// slot was being created has no confirmed position yet.
		_, retained := first.value("sluice_postgres_slot_retained_wal_bytes", "pipeline", "p", "source", "shop")
		_, confirmed := first.value("sluice_postgres_slot_confirmed_lag_bytes", "pipeline", "p", "source", "shop")
		return streaming == 1 && written >= 100 && retained && confirmed
	})
	checkReady(t, addr)
	if v := first.must(t, "sluice_postgres_slot_retained_wal_bytes", "source", "shop"); v < first.must(t, "sluice_postgres_slot_confirmed_lag_bytes", "source", "shop") {
		t.Errorf("retained WAL %v below the confirmed lag", v)
	}

	sql(`INSERT INTO item SELECT g, 'item ' || g FROM generate_series(101, 150) g`)
	var second scraped
	waitFor(t, 30*time.Second, "the changes to be durable", dir, func() bool {
		second = scrape(t, addr)
		_, retained := second.value("sluice_postgres_slot_retained_wal_bytes", "source", "shop")
		_, confirmed := second.value("sluice_postgres_slot_confirmed_lag_bytes", "source", "shop")
		return second.must(t, "sluice_sink_written_events_total", "sink", "out") >= 150 &&
			second.must(t, "sluice_source_committed_total", "source", "shop") > first.must(t, "sluice_source_committed_total", "source", "shop") &&
			retained && confirmed
	})
	// This scrape began after the run had committed, so every series of
	// the pipeline exists.
	checkNames(t, dir, second, "metrics_postgres.golden")
	if a, b := first.must(t, "sluice_source_events_total", "source", "shop"), second.must(t, "sluice_source_events_total", "source", "shop"); b < a+50 {
		t.Errorf("sluice_source_events_total went from %v to %v after 50 inserts", a, b)
	}
	// The inserts were committed seconds ago at most, and the server's
	// clock is this machine's.
	if lag := second.must(t, "sluice_source_lag_seconds", "source", "shop"); lag < 0 || lag > 10 {
		t.Errorf("sluice_source_lag_seconds = %v, want between 0 and 10", lag)
	}
	// Heartbeats every second keep the checkpoint fresh.
	if age := second.must(t, "sluice_source_checkpoint_age_seconds", "source", "shop"); age < 0 || age > 10 {
		t.Errorf("sluice_source_checkpoint_age_seconds = %v, want between 0 and 10", age)
	}
	stopRun(t, cmd, dir)
}
