// Command sluice snapshots databases, streams every change after that, and
// lands it in files, indexes, tables and topics. This file only parses
// flags, loads the pipeline, wires logging and signals, and maps errors to
// exit codes; the work happens in package app and below.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/docs"
	"github.com/sluice-dev/sluice/frontdoor/dataprepper"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/internal/spec"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
	"github.com/sluice-dev/sluice/topology"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the pipeline failed while running
	exitUsage   = 2 // bad command line or invalid pipeline file
	exitAborted = 130
)

// version is set by the build (-ldflags "-X main.version=...").
var version = ""

const usage = `sluice — snapshot databases, stream every change, land it anywhere.

Usage:
  sluice run [flags] PIPELINE.yaml...  run pipelines until interrupted
  sluice serve [flags] [PIPELINE...]   serve Kafka Connect's REST API and ksqlDB's statement API
                                       (connectors and queries run as pipelines) and run pipeline files beside them
  sluice sql [--server URL] [-f FILE]  send ksqlDB statements to a sluice serve (a file or a prompt)
  sluice validate PIPELINE.yaml        check a pipeline file; print every problem
                                       (Data Prepper pipeline files too; --explain prints their translation)
  sluice status PIPELINE.yaml          a pipeline's partitions in its coordination store (several nodes)
  sluice slots list|drop ...           PostgreSQL replication slots: retained WAL, who uses them; drop orphans
  sluice verify PIPELINE.yaml          compare the source's tables with a sink: missing, extra, different keys
                                       (--repair re-snapshots them; sluice verify -h tells more)
  sluice snapshot PIPELINE.yaml TABLE... re-read tables while the pipeline streams (incremental snapshot)
  sluice version                       print the version
  sluice help [TYPE]                   this help, or the components' types

A pipeline file names sources, and sinks that take their streams as inputs:

  state_dir: .sluice               # checkpoints live here (default .sluice)
  sources:
    shop:
      type: postgres
      dsn: ${SHOP_DSN}             # ${VAR} and ${VAR:-default} come from the environment
      tables: [public.product]     # globs allowed: public.*
      snapshot: initial            # initial | never
  sinks:
    products_file:
      type: file
      inputs: [shop]               # a source, a stream (shop.public.product) or a glob
      path: out/products.jsonl
      format: debezium             # debezium | debezium+schema | row

Try it with no database at all (fake products, 100 a second):

  sources:
    gen: {type: generator, tables: [product], rate: 100}
  sinks:
    out: {type: stdout, inputs: [gen], format: row}

Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight batches are written, the
checkpoint is saved, and the next run resumes from it. A second signal
aborts at once; the checkpoint is still safe (at most the unacknowledged
window is delivered again).

Exit codes: 0 stopped cleanly, 1 the pipeline failed, 2 bad usage or an
invalid pipeline file, 130 aborted by a second signal.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	reg := registry.Default()
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 {
			return helpType(stdout, stderr, reg, strings.Join(args[1:], " "))
		}
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout)
		helpTypes(stdout, reg)
		return exitOK
	case "version", "--version":
		fmt.Fprintln(stdout, "sluice", buildVersion())
		return exitOK
	case "validate":
		fs := flag.NewFlagSet("validate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		explain := fs.Bool("explain", false, "print a Data Prepper pipeline file's translation as a sluice pipeline file")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "usage: sluice validate [--explain] PIPELINE.yaml\n\nChecks the file and prints every problem with file:line and a hint; exit 2 if any.\nA Data Prepper pipeline file is translated first; --explain prints the translation.")
		}
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
			fs.Usage()
			return exitUsage
		}
		p, tr, err := loadPipeline(fs.Arg(0), reg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitUsage
		}
		for _, d := range p.Validate() {
			if d.Warning {
				fmt.Fprintln(stderr, d)
			}
		}
		if *explain {
			if tr != nil {
				stdout.Write(tr.Explain(fs.Arg(0)))
				return exitOK
			}
			fmt.Fprintf(stderr, "%s is a sluice pipeline already: nothing to translate\n", fs.Arg(0))
		}
		if len(p.Processors) > 0 {
			fmt.Fprintf(stdout, "%s: ok (%d sources, %d processors, %d sinks)\n", fs.Arg(0), len(p.Sources), len(p.Processors), len(p.Sinks))
		} else {
			fmt.Fprintf(stdout, "%s: ok (%d sources, %d sinks)\n", fs.Arg(0), len(p.Sources), len(p.Sinks))
		}
		return exitOK
	case "run":
		return cmdRun(args[1:], reg, stderr)
	case "serve":
		return cmdServe(args[1:], reg, stderr)
	case "sql":
		return cmdSQL(args[1:], os.Stdin, stdout, stderr)
	case "status":
		return cmdStatus(args[1:], reg, stdout, stderr)
	case "slots":
		return cmdSlots(args[1:], reg, stdout, stderr)
	case "verify":
		return cmdVerify(args[1:], reg, stdout, stderr)
	case "snapshot":
		return cmdSnapshot(args[1:], reg, stdout, stderr)
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

func cmdRun(args []string, reg component.Registry, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", "", "override the pipeline's state_dir (with several pipelines: each gets DIR/<name>)")
	level := fs.String("log-level", "info", "debug | info | warn | error")
	logFormat := fs.String("log-format", "text", "text | json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance reports)")
	memProfile := fs.String("memprofile", "", "write a heap profile, taken when the heap was largest, to this file at exit (for performance reports)")
	showProgress := fs.String("progress", "auto", "progress bars on stderr: auto (when a terminal) | always | never")
	httpAddr := fs.String("http", "", "serve /metrics, /healthz, /readyz, the pipelines API (/pipelines) and the web console (/console/) on this address, e.g. 127.0.0.1:9090 (port 0: any free port; the log says which)")
	loadSecurity := securityFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: sluice run [flags] PIPELINE.yaml [PIPELINE.yaml | DIR ...]

Runs the pipelines until SIGINT/SIGTERM (or until every source of every
pipeline has finished), then drains and saves the checkpoints. A directory
stands for the *.yaml and *.yml files in it. Several pipelines run in one
process, each with its own state_dir; one that fails is reported and the
others go on. Exit 1 when any pipeline failed.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage // Parse has printed the error (or -help's usage)
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return exitUsage
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "sluice: --log-level %q: use debug, info, warn or error\n", *level)
		return exitUsage
	}
	var sec *httpapi.Security
	if *httpAddr != "" {
		var err error
		if sec, err = loadSecurity(); err != nil {
			fmt.Fprintf(stderr, "sluice: --http: %v\n", err)
			return exitUsage
		}
	} else if f := httpOnlyFlag(fs); f != "" {
		fmt.Fprintf(stderr, "sluice: --%s protects --http, which is not given (hint: add --http 127.0.0.1:9090)\n", f)
		return exitUsage
	}
	var progressTo io.Writer
	logTo := stderr
	if *showProgress == "always" || (*showProgress == "auto" && isTerminal(os.Stderr)) {
		progressTo = stderr
		logTo = clearLine{stderr} // a log line replaces the progress line; the bar redraws below it
	}
	hopts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(logTo, hopts)
	if *logFormat == "json" {
		h = slog.NewJSONHandler(logTo, hopts)
	}
	log := slog.New(h)

	// Signals are caught from here on, before anything opens: a SIGTERM
	// while pipelines start stops them cleanly, never the default action.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Info("signal received; draining (send again to abort)", "signal", s.String())
		cancel()
		<-sigs
		log.Warn("second signal: aborting without drain")
		os.Exit(exitAborted)
	}()

	files, err := pipelineFiles(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitUsage
	}
	var graphs []*topology.Graph
	bad := false
	for _, f := range files {
		g, _, err := loadPipeline(f, reg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad = true
			continue
		}
		for _, d := range g.Validate() {
			if d.Warning {
				fmt.Fprintln(stderr, d)
			}
		}
		if *stateDir != "" {
			g.StateDir = *stateDir
			if len(files) > 1 {
				g.StateDir = filepath.Join(*stateDir, g.Name)
			}
		}
		graphs = append(graphs, g)
	}
	if bad {
		return exitUsage
	}
	if err := supervisor.CheckDistinct(graphs); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitUsage
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: --cpuprofile: %v\n", err)
			return exitUsage
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *memProfile != "" {
		p := startPeakHeap(50 * time.Millisecond)
		defer func() {
			if err := p.write(*memProfile, stderr); err != nil {
				fmt.Fprintln(stderr, "sluice:", err)
			}
		}()
	}

	opts := supervisor.Options{Registry: reg, Logger: log}
	if progressTo != nil {
		bars := app.NewProgress(progressTo)
		defer bars.Close()
		opts.Started, opts.Ended = bars.Add, bars.Remove
	}
	var m *metrics.Metrics
	slots := &slotReporters{}
	if *httpAddr != "" {
		m = metrics.New()
		opts = monitored(opts, m, slots)
	}
	sup := supervisor.New(opts)
	if m != nil {
		stopHTTP, err := serveHTTP(*httpAddr, sec, m, sup, slots, log)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: --http: %v\n", err)
			return exitUsage
		}
		defer stopHTTP()
	}
	for _, g := range graphs {
		if ctx.Err() != nil {
			break // stopped before everything started: stop what did
		}
		if err := sup.Add(g); err != nil {
			fmt.Fprintln(stderr, "sluice:", err)
			sup.Shutdown(context.Background())
			return exitUsage
		}
	}
	if err := sup.Wait(ctx); err != nil {
		sup.Shutdown(context.Background())
	}
	code := exitOK
	for _, st := range sup.Statuses() {
		if st.State == supervisor.Failed {
			code = exitFailed
		}
	}
	return code
}

// pipelineFiles expands directories into their *.yaml and *.yml files.
func pipelineFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pat))
			for _, f := range m {
				if !dataprepper.IsServerConfig(f) { // read with the pipelines beside it
					found = append(found, f)
				}
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("directory %s holds no *.yaml or *.yml pipeline file", a)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func helpTypes(w io.Writer, reg component.Registry) int {
	fmt.Fprintln(w, "Source types:")
	for _, n := range sortedKeys(reg.Sources) {
		fmt.Fprintf(w, "  %-14s %s\n", n, reg.Sources[n].Doc)
	}
	if len(reg.Processors) > 0 {
		fmt.Fprintln(w, "Processor types:")
		for _, n := range sortedKeys(reg.Processors) {
			fmt.Fprintf(w, "  %-14s %s\n", n, reg.Processors[n].Doc)
		}
	}
	fmt.Fprintln(w, "Sink types:")
	for _, n := range sortedKeys(reg.Sinks) {
		fmt.Fprintf(w, "  %-14s %s\n", n, reg.Sinks[n].Doc)
	}
	fmt.Fprintln(w, "\n`sluice help TYPE` prints a type's keys; docs/reference has them all.")
	return exitOK
}

// helpType prints the keys of the component types named typ (a source and
// a sink may share a name: postgres, kafka), with "source " or "sink " as
// an optional prefix to pick one.
func helpType(stdout, stderr io.Writer, reg component.Registry, typ string) int {
	if typ == "types" {
		return helpTypes(stdout, reg)
	}
	kind, name, ok := strings.Cut(typ, " ")
	if !ok {
		kind, name = "", typ
	}
	cs, err := docs.Components()
	if err != nil {
		fmt.Fprintln(stderr, "sluice: the embedded reference is damaged:", err)
		return exitFailed
	}
	found := 0
	for _, c := range cs {
		if c.Type == name && (kind == "" || c.Kind == kind) {
			if found > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprint(stdout, spec.Help(c))
			found++
		}
	}
	if found == 0 {
		var names []string
		for _, c := range cs {
			names = append(names, c.Type)
		}
		fmt.Fprintf(stderr, "sluice: no component type %q (types: %s)\n", typ, strings.Join(sortedUnique(names), ", "))
		return exitUsage
	}
	return exitOK
}

func sortedUnique(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return strings.TrimPrefix(v+" ", "(devel) ") + s.Value[:12]
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// clearLine erases the terminal line (the progress bar) before each write.
type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
