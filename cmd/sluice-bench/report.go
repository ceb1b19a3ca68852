package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// figure is one reported number. Target and Pass are set for the figures
// that have a goal; Prev is the same figure from the previous report.
type figure struct {
	Section string   `json:"section"`
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Value   float64  `json:"value"`
	Unit    string   `json:"unit"`
	Target  string   `json:"target,omitempty"`
	Pass    *bool    `json:"pass,omitempty"`
	Prev    *float64 `json:"previous,omitempty"`
	// Runs holds every run's value when the figure is the best (or the
	// worst) of repeated runs, for the spread.
	Runs []float64 `json:"runs,omitempty"`
}

// params are the run's knobs, recorded so that reports of different sizes
// are not compared by accident.
type params struct {
	Rows           int     `json:"rows"`
	Updates        int     `json:"updates"`
	TxRows         int     `json:"tx_rows"`
	LatencySeconds float64 `json:"latency_seconds"`
	LatencyRate    int     `json:"latency_rate"`
	// LatencyRateHigh is the second latency run's rate (0: none).
	LatencyRateHigh int `json:"latency_rate_high,omitempty"`
	BulkDocs        int `json:"bulk_docs,omitempty"`
	SQLRows         int `json:"sql_rows,omitempty"` // orders in the sql phase (0: not run)
}

// report is what one run produces: bench/last.md and bench/last.json.
type report struct {
	When     time.Time `json:"when"`
	Command  string    `json:"command"`
	Sluice   string    `json:"sluice_commit,omitempty"`
	Params   params    `json:"params"`
	Machine  machine   `json:"machine"`
	Table    tableInfo `json:"table"`
	Figures  []figure  `json:"figures"`
	Load     []string  `json:"load,omitempty"` // "phase: 1 5 15 min load average" at each phase's start
	Problems []string  `json:"problems,omitempty"`
	// Profiles are the top frames of sluice's CPU profiles (-sluice-cpuprofile).
	Profiles []profileSummary `json:"profiles,omitempty"`
	PrevWhen string           `json:"previous_when,omitempty"`
}

func (r *report) add(section, key, label string, v float64, unit string) {
	r.Figures = append(r.Figures, figure{Section: section, Key: key, Label: label, Value: v, Unit: unit})
}

// addRuns adds a figure chosen from repeated runs (v, usually the best)
// with every run's value, so the report shows the spread.
func (r *report) addRuns(section, key, label string, runs []float64, v float64, unit string) {
	r.Figures = append(r.Figures, figure{Section: section, Key: key, Label: label, Value: v, Unit: unit, Runs: slices.Clone(runs)})
}

// setRuns attaches every run's value to the figure already added under
// key, for phases whose figures are added by shared helpers.
func (r *report) setRuns(key string, runs []float64) {
	for i := range r.Figures {
		if r.Figures[i].Key == key {
			r.Figures[i].Runs = slices.Clone(runs)
		}
	}
}

// addTarget adds a figure with a goal; pass says whether it was met.
func (r *report) addTarget(section, key, label string, v float64, unit, target string, pass bool) {
	r.Figures = append(r.Figures, figure{Section: section, Key: key, Label: label, Value: v, Unit: unit, Target: target, Pass: &pass})
}

func (r *report) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Problems = append(r.Problems, msg)
	fmt.Fprintln(os.Stderr, "sluice-bench: PROBLEM:", msg)
}

// compare fills Prev from a previous report at path, if there is one. A
// previous report with different parameters is still compared, but the
// difference is noted.
func (r *report) compare(path string) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var prev report
	if err == nil {
		err = json.Unmarshal(b, &prev)
	}
	if err != nil {
		r.problem("previous report %s unreadable: %v", path, err)
		return
	}
	r.PrevWhen = prev.When.UTC().Format(time.RFC3339)
	if prev.Params != r.Params {
		r.PrevWhen += fmt.Sprintf(" (different parameters: %+v)", prev.Params)
	}
	old := make(map[string]float64, len(prev.Figures))
	for _, f := range prev.Figures {
		old[f.Key] = f.Value
	}
	for i := range r.Figures {
		if v, ok := old[r.Figures[i].Key]; ok {
			r.Figures[i].Prev = &v
		}
	}
}

// write saves the report as markdown and JSON in dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	r.markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "last.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "last.json"), append(b, '\n'), 0o644)
}

func (r *report) markdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "# sluice benchmark, %s\n\n", r.When.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	if r.Sluice != "" {
		fmt.Fprintf(w, "- sluice: %s\n", r.Sluice)
	}
	fmt.Fprintf(w, "- Machine: %d cores, %s, Linux %s, %s\n", m.NProc, m.CPU, m.Kernel, m.GoVersion)
	fmt.Fprintf(w, "- PostgreSQL: %s (fsync on, synchronous_commit on)\n", m.Postgres)
	fmt.Fprintf(w, "- Note: %s; figures are noisy to about ±10%% on a quiet machine, more under load.\n", m.Note)
	if len(r.Load) > 0 {
		fmt.Fprintf(w, "- Load average (1, 5, 15 min) when each phase started: %s\n", strings.Join(r.Load, "; "))
	}
	p := r.Params
	fmt.Fprintf(w, "- Parameters: rows %d, updates %d in transactions of %d, latency %g s at %d commits/s", p.Rows, p.Updates, p.TxRows, p.LatencySeconds, p.LatencyRate)
	if p.LatencyRateHigh > 0 {
		fmt.Fprintf(w, " and at %d", p.LatencyRateHigh)
	}
	fmt.Fprintln(w)
	if p.SQLRows > 0 {
		fmt.Fprintf(w, "- Streaming SQL: %d orders (and shipments), %d customers and customer keys\n", p.SQLRows, sqlTableRows)
	}
	t := r.Table
	if t.Rows > 0 {
		fmt.Fprintf(w, "- Table product: %d rows, heap %.1f MB, with indexes %.1f MB", t.Rows, mb(t.TableBytes), mb(t.TotalBytes))
		if t.CopyBytes > 0 { // measured by the snapshot phase
			fmt.Fprintf(w, ", COPY text %.1f MB (%.0f bytes/row)", mb(t.CopyBytes), float64(t.CopyBytes)/float64(t.Rows))
		}
		fmt.Fprintln(w)
	}
	if r.PrevWhen != "" {
		fmt.Fprintf(w, "- Previous report: %s; \"vs prev\" is this value / previous value\n", r.PrevWhen)
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintln(w, "- sluice ran with --cpuprofile (a few per cent slower); the heaviest functions of each run are at the end")
	}
	fmt.Fprintln(w, "- MB = 10^6 bytes of COPY text output; RSS is the child's peak VmHWM, sampled from /proc every 10 ms (rusage's maxrss would count the benchmark's own memory: Go's exec starts the child from the parent's); VmHWM includes the resident file-backed pages of the executable (about 50 MB of sluice's), so each peak RSS row has a sibling \"peak RssAnon\" row: the highest RssAnon sampled, the private memory (heap, stacks) alone; CPU time is the child's own (rusage), the server's is not included")
	fmt.Fprintln(w)
	section := ""
	for _, f := range r.Figures {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(w, "\n## %s\n\n", section)
			fmt.Fprintln(w, "| figure | value | runs (spread) | target | previous | vs prev |")
			fmt.Fprintln(w, "|---|---:|---|---|---:|---:|")
		}
		target := ""
		if f.Pass != nil {
			target = f.Target + " **" + verdict(*f.Pass) + "**"
		}
		prev, vs := "", ""
		if f.Prev != nil {
			prev = formatValue(*f.Prev, f.Unit)
			if *f.Prev != 0 {
				vs = fmt.Sprintf("%.2f×", f.Value / *f.Prev)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", f.Label, formatValue(f.Value, f.Unit), spread(f.Runs, f.Unit), target, prev, vs)
	}
	profilesMarkdown(w, r.Profiles)
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "\n## Problems\n\n")
		for _, p := range r.Problems {
			first, rest, _ := strings.Cut(p, "\n")
			fmt.Fprintf(w, "- %s\n", first)
			if rest != "" {
				fmt.Fprintf(w, "\n  ```\n%s\n  ```\n", indent(rest, "  "))
			}
		}
	}
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

// spread renders repeated runs as "low–high unit (n runs, ±p %)", where p
// is half the range over the middle; empty for fewer than two runs.
func spread(runs []float64, unit string) string {
	if len(runs) < 2 {
		return ""
	}
	lo, hi := slices.Min(runs), slices.Max(runs)
	s := formatNumber(lo, unit) + "–" + formatValue(hi, unit) + fmt.Sprintf(" (%d runs", len(runs))
	if mid := (lo + hi) / 2; mid > 0 {
		s += fmt.Sprintf(", ±%.0f %%", 50*(hi-lo)/mid)
	}
	return s + ")"
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// formatValue prints a value with a precision suited to its unit.
func formatValue(v float64, unit string) string {
	n := formatNumber(v, unit)
	switch {
	case n == "n/a":
		return n
	case unit == "×":
		return n + "×"
	default:
		return n + " " + unit
	}
}

// formatNumber is formatValue without the unit.
func formatNumber(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch unit {
	case "rows/s", "changes/s", "commits/s", "rows", "lines", "samples":
		return thousands(int64(math.Round(v)))
	case "ms", "s", "×", "µs":
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix + line)
	}
	return strings.TrimRight(b.String(), "\n")
}
