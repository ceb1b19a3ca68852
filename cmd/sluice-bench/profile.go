package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileTop is how many of a profile's heaviest frames the report shows.
const profileTop = 10

// frame is one line of `go tool pprof -top`.
type frame struct {
	Flat    string `json:"flat"`     // e.g. "150ms"
	FlatPct string `json:"flat_pct"` // e.g. "10.87%"
	Cum     string `json:"cum"`
	CumPct  string `json:"cum_pct"`
	Name    string `json:"name"`
}

// profileSummary is the top of one sluice CPU profile (-sluice-cpuprofile).
type profileSummary struct {
	Name     string  `json:"name"`     // the run: the profile's file name without .pprof
	Duration string  `json:"duration"` // wall time profiled, e.g. "3.46s"
	Samples  string  `json:"samples"`  // CPU time sampled, e.g. "1380ms (39.83%)"
	Top      []frame `json:"top"`
}

// parseTop reads the text of `go tool pprof -top`: the Duration line and
// the rows under the "flat  flat%   sum%        cum   cum%" header.
func parseTop(name, text string) (profileSummary, error) {
	ps := profileSummary{Name: name}
	inRows := false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "Duration: "); ok {
			d, samples, _ := strings.Cut(rest, ", Total samples = ")
			ps.Duration, ps.Samples = d, samples
			continue
		}
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "flat" && f[1] == "flat%" {
			inRows = true
			continue
		}
		if !inRows || line == "" {
			continue
		}
		if len(f) < 6 {
			return ps, fmt.Errorf("pprof -top of %s: unexpected row %q", name, line)
		}
		ps.Top = append(ps.Top, frame{Flat: f[0], FlatPct: f[1], Cum: f[3], CumPct: f[4], Name: strings.Join(f[5:], " ")})
	}
	if !inRows {
		return ps, fmt.Errorf("pprof -top of %s printed no frame table", name)
	}
	return ps, nil
}

// summarizeProfiles adds the top frames of every profile in dir to the
// report, in file-name order.
func (b *bench) summarizeProfiles(dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.pprof"))
	for _, p := range paths {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", profileTop), p).CombinedOutput()
		cancel()
		name := strings.TrimSuffix(filepath.Base(p), ".pprof")
		if err != nil {
			b.rep.problem("go tool pprof -top %s: %v: %s", p, err, strings.TrimSpace(string(out)))
			continue
		}
		ps, err := parseTop(name, string(out))
		if err != nil {
			b.rep.problem("%v", err)
			continue
		}
		b.rep.Profiles = append(b.rep.Profiles, ps)
	}
}

// profileArgs are sluice's arguments for a CPU profile of run name, when
// -sluice-cpuprofile is set, and for a heap profile, when -sluice-memprofile
// is.
func (b *bench) profileArgs(name string) ([]string, error) {
	var args []string
	if b.cpuProfileDir != "" {
		if err := os.MkdirAll(b.cpuProfileDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", filepath.Join(b.cpuProfileDir, name+".pprof"))
	}
	if b.memProfileDir != "" {
		if err := os.MkdirAll(b.memProfileDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--memprofile", filepath.Join(b.memProfileDir, name+".heap"))
	}
	return args, nil
}

// profilesMarkdown renders the profile summaries.
func profilesMarkdown(w io.Writer, profiles []profileSummary) {
	if len(profiles) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## Where sluice's CPU goes\n\n")
	fmt.Fprintln(w, "Heaviest functions (flat) of each run's CPU profile (`-sluice-cpuprofile`; `go tool pprof -top -cum FILE` for the call paths). CPU per row from rusage is in each section above.")
	for _, p := range profiles {
		fmt.Fprintf(w, "\n### %s (%s sampled in %s)\n\n", p.Name, p.Samples, p.Duration)
		fmt.Fprintln(w, "| flat | flat % | cum | cum % | function |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---|")
		for _, f := range p.Top {
			fmt.Fprintf(w, "| %s | %s | %s | %s | `%s` |\n", f.Flat, f.FlatPct, f.Cum, f.CumPct, f.Name)
		}
	}
}
