package main

import (
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{1234567.4, "rows/s", "1,234,567 rows/s"},
		{6.123, "×", "6.12×"},
		{7.356, "ms", "7.36 ms"},
		{4.2, "µs", "4.20 µs"},
		{84.85, "MB", "84.8 MB"},
		{3.04, "%", "3.0 %"},
	} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		runs []float64
		unit string
		want string
	}{
		{nil, "rows/s", ""},
		{[]float64{100}, "rows/s", ""},
		{[]float64{90000, 110000}, "rows/s", "90,000–110,000 rows/s (2 runs, ±10 %)"},
		{[]float64{2.5, 1.5, 2}, "×", "1.50–2.50× (3 runs, ±25 %)"},
		{[]float64{0, 0}, "s", "0.00–0.00 s (2 runs)"},
	} {
		if got := spread(c.runs, c.unit); got != c.want {
			t.Errorf("spread(%v, %q) = %q, want %q", c.runs, c.unit, got, c.want)
		}
	}
}

// TestMarkdownFigures checks a section's table: the runs' spread, the
// target's verdict, and the previous value beside the ratio to it.
func TestMarkdownFigures(t *testing.T) {
	r := &report{When: time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC), Command: "scripts/bench.sh", Params: params{Rows: 1000, Updates: 10, TxRows: 5, LatencySeconds: 1, LatencyRate: 100, LatencyRateHigh: 1000}}
	r.addRuns("Debezium 2.7.3: snapshot", "k.rate", "sluice rows/s", []float64{400000, 500000}, 500000, "rows/s")
	r.addTarget("Debezium 2.7.3: snapshot", "k.ratio", "sluice / Debezium", 5.5, "×", "≥ 6×", false)
	r.add("Other", "k.rss", "peak RSS", 80, "MB")
	r.add("Other", "k.set", "set later", 2, "×")
	r.setRuns("k.set", []float64{1, 2})
	r.Figures[0].Prev = ptr(250000.0)
	r.Figures[1].Prev = ptr(0.0)
	var b strings.Builder
	r.markdown(&b)
	got := b.String()
	want := `- Parameters: rows 1000, updates 10 in transactions of 5, latency 1 s at 100 commits/s and at 1000
`
	if !strings.Contains(got, want) {
		t.Errorf("markdown lacks %q:\n%s", want, got)
	}
	want = `
## Debezium 2.7.3: snapshot

| figure | value | runs (spread) | target | previous | vs prev |
|---|---:|---|---|---:|---:|
| sluice rows/s | 500,000 rows/s | 400,000–500,000 rows/s (2 runs, ±11 %) |  | 250,000 rows/s | 2.00× |
| sluice / Debezium | 5.50× |  | ≥ 6× **MISS** | 0.00× |  |

## Other

| figure | value | runs (spread) | target | previous | vs prev |
|---|---:|---|---|---:|---:|
| peak RSS | 80.0 MB |  |  |  |  |
| set later | 2.00× | 1.00–2.00× (2 runs, ±33 %) |  |  |  |
`
	if !strings.HasSuffix(got, want) {
		t.Errorf("markdown ends\n%s\nwant the end\n%s", got[max(0, len(got)-len(want)-200):], want)
	}
}

const pprofTop = `File: sluice
Build ID: b9b14bc13cb40217667359f4abf20a30579cf094
Type: cpu
Time: 2026-12-06 11:14:53 UTC
Duration: 3.46s, Total samples = 1380ms (39.83%)
Showing nodes accounting for 650ms, 47.10% of 1380ms total
Showing top 3 nodes out of 308
      flat  flat%   sum%        cum   cum%
     150ms 10.87% 10.87%      170ms 12.32%  github.com/parquet-go/parquet-go.Value.Level
      90ms  6.52% 17.39%       90ms  6.52%  runtime.memmove
      70ms  5.07% 22.46%      110ms  7.97%  github.com/sluice-dev/sluice/sink/s3.appendRow (inline)
`

func TestParseTop(t *testing.T) {
	ps, err := parseTop("s3-json", pprofTop)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	profilesMarkdown(&b, []profileSummary{ps})
	want := "\n## Where sluice's CPU goes\n\n" +
		"Heaviest functions (flat) of each run's CPU profile (`-sluice-cpuprofile`; `go tool pprof -top -cum FILE` for the call paths). CPU per row from rusage is in each section above.\n" +
		"\n### s3-json (1380ms (39.83%) sampled in 3.46s)\n\n" +
		"| flat | flat % | cum | cum % | function |\n" +
		"|---:|---:|---:|---:|---|\n" +
		"| 150ms | 10.87% | 170ms | 12.32% | `github.com/parquet-go/parquet-go.Value.Level` |\n" +
		"| 90ms | 6.52% | 90ms | 6.52% | `runtime.memmove` |\n" +
		"| 70ms | 5.07% | 110ms | 7.97% | `github.com/sluice-dev/sluice/sink/s3.appendRow (inline)` |\n"
	if got := b.String(); got != want {
		t.Errorf("profilesMarkdown =\n%s\nwant\n%s", got, want)
	}
}

func TestParseTopErrors(t *testing.T) {
	if _, err := parseTop("x", "File: sluice\n"); err == nil || err.Error() != "pprof -top of x printed no frame table" {
		t.Errorf("no table: err = %v", err)
	}
	bad := "      flat  flat%   sum%        cum   cum%\n  10ms 1% 1%\n"
	if _, err := parseTop("x", bad); err == nil || err.Error() != `pprof -top of x: unexpected row "10ms 1% 1%"` {
		t.Errorf("short row: err = %v", err)
	}
}

func TestReadme(t *testing.T) {
	r := &report{When: time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC), Sluice: "abc123", Machine: machine{NProc: 2}, Load: []string{"setup 1.00 2.00 3.00", "end 4.00 5.00 6.00"}}
	r.add("Snapshot", "snapshot.sluice.rows_per_s", "sluice rows/s", 400000, "rows/s")
	r.addTarget("Snapshot", "snapshot.ratio", "sluice / psql COPY", 0.61, "×", "≥ 0.80×", false)
	r.addTarget("Snapshot", "snapshot.sluice.rss_mb", "sluice peak RSS", 70, "MB", "≤ 100 MB", true)
	r.addTarget("Latency", "latency.p99_ms", "commit → line in file p99", 7.2, "ms", "≤ 10 ms", true)
	r.addTarget("Drain", "drain.sluice.rss_mb", "sluice peak RSS", 120, "MB", "≤ 100 MB", false)
	r.add("Debezium 2.7.3: drain", "debezium.drain.dbz.rss_mb", "Debezium peak RSS", 900, "MB")
	r.addTarget("Source: sql_poll", "poll.sqlite.sluice_rss_mb", "sluice peak RSS (highest of the runs)", 130, "MB", "≤ 100 MB", false)
	b := &bench{rep: r}
	b.addAnon("Snapshot", "snapshot.sluice.rss_mb", "sluice peak RssAnon (private memory)", 52_000_000)
	b.addAnon("Drain", "drain.sluice.rss_mb", "sluice peak RssAnon (private memory)", 48_000_000)
	b.addAnon("Debezium 2.7.3: drain", "debezium.drain.dbz.rss_mb", "Debezium peak RssAnon (private memory, highest run)", 800_000_000)
	b.addAnon("Drain", "drain.other.rss_mb", "not measured", 0)
	if f := r.Figures[len(r.Figures)-3]; f.Key != "snapshot.sluice.rss_anon_mb" || f.Value != 52 || f.Unit != "MB" || f.Label != "sluice peak RssAnon (private memory)" || f.Pass != nil {
		t.Errorf("addAnon's row = %+v", f)
	}
	if n := len(r.Figures); n != 10 {
		t.Errorf("%d figures, want 10 (a RssAnon of 0 is not measured: no row)", n)
	}
	r.Figures[1].Prev = ptr(0.5)
	table := readmeTable(r)
	want := "`make bench` on 2026-12-06 (2 cores, load 4.00 5.00 6.00, sluice abc123); every figure, the runs' spread and the previous run's values are in [bench/last.md](bench/last.md), how each is measured in [docs/performance.md](docs/performance.md).\n\n" +
		"| measure | this run | previous run | target |\n| --- | ---: | ---: | --- |\n" +
		"| Snapshot: sluice / psql COPY | 0.61× | 0.50× | ≥ 0.80× MISS |\n" +
		"| Latency: commit → line in file p99 | 7.20 ms |  | ≤ 10 ms PASS |\n" +
		"| highest peak RSS of any sluice run (Source: sql_poll: sluice peak RSS (highest of the runs)) | 130.0 MB |  | ≤ 100 MB MISS |\n" +
		"| highest peak RssAnon of any sluice run (Snapshot: sluice peak RssAnon (private memory)) | 52.0 MB |  |  |\n"
	if table != want {
		t.Errorf("readmeTable =\n%s\nwant\n%s", table, want)
	}
	readme := "# x\n\n## Performance\n\nintro\n\n" + readmeBegin + "\nold table\n" + readmeEnd + "\n\nmore\n"
	got, err := spliceReadme(readme, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# x\n\n## Performance\n\nintro\n\n" + readmeBegin + "\nnew\n" + readmeEnd + "\n\nmore\n"; got != want {
		t.Errorf("spliceReadme =\n%q\nwant\n%q", got, want)
	}
	if _, err := spliceReadme("# x\n", "new\n"); err == nil || !strings.HasPrefix(err.Error(), "README.md has no ") {
		t.Errorf("spliceReadme without markers: err = %v", err)
	}
}
