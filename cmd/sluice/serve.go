package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/console"
	"github.com/sluice-dev/sluice/controlapi"
	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/frontdoor/ksqldb"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/supervisor"
	"github.com/sluice-dev/sluice/topology"
)

// cmdServe runs `sluice serve`: a long-lived server whose connectors are
// created, changed and removed over Kafka Connect's REST API (package
// frontdoor/connect), stored in the state directory and started again, in
// their last state, when the server starts.
func cmdServe(args []string, reg component.Registry, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", ".sluice-serve", "the server's state: connectors, their checkpoints, the topic log")
	httpAddr := fs.String("http", "127.0.0.1:8083", "the REST API's address (port 0: any free port; the log says which)")
	loadSecurity := securityFlags(fs)
	kafka := fs.String("kafka", "", "carry connectors' topics in this Kafka cluster (brokers, comma-separated) instead of the local topic log")
	files := fs.String("files", "", "the directory FileStream connectors' files are confined to (default: none; they are refused)")
	level := fs.String("log-level", "info", "debug | info | warn | error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: sluice serve [flags] [PIPELINE.yaml | DIR ...]

Serves Kafka Connect's REST API (GET /connectors, PUT /connectors/NAME/config,
...) and ksqlDB's statement API (POST /ksql, /query-stream; see sluice sql)
on --http; each connector and each persistent query runs as a pipeline. Connectors are stored in
--state-dir and come back, resuming from their checkpoints, after a restart.
Pipeline files (sluice's or Data Prepper's; a directory stands for its *.yaml
and *.yml files) run beside them, with their state in
--state-dir/pipelines/NAME; GET /pipelines lists every pipeline, PUT
/pipelines/NAME/pause|resume|stop and POST /pipelines/NAME/restart drive a
file's. The web console, /console/, shows them all. Stop with
SIGINT/SIGTERM: every pipeline drains and saves its checkpoint.

Security: --http listens on loopback by default. Any other address needs
authentication: a bearer token (--auth-token-file FILE or $SLUICE_AUTH_TOKEN),
basic credentials (--auth-basic-file FILE or $SLUICE_AUTH_BASIC, USER:PASSWORD)
or client certificates (--tls-client-ca FILE); requests without it get 401
with WWW-Authenticate (/healthz and /readyz stay open). --tls-cert and
--tls-key serve HTTPS. --insecure-no-auth serves other hosts without any
authentication. Request bodies are limited to 1 MiB.

  openssl rand -hex 32 > token && chmod 600 token
  sluice serve --http 0.0.0.0:8083 --auth-token-file token \
    --tls-cert server.pem --tls-key server-key.pem
  curl --cacert ca.pem -H "Authorization: Bearer $(cat token)" \
    https://HOST:8083/connectors

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage // Parse has printed the error (or -help's usage)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "sluice: --log-level %q: use debug, info, warn or error\n", *level)
		return exitUsage
	}
	sec, err := loadSecurity()
	if err != nil {
		fmt.Fprintln(stderr, "sluice: --http:", err)
		return exitUsage
	}
	logLevel := new(slog.LevelVar) // PUT /admin/loggers/root sets it
	logLevel.Set(lv)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	dir, err := filepath.Abs(*stateDir)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitUsage
	}
	logDir := filepath.Join(dir, "topics")
	var topics connect.Topics = connect.LogTopics{Dir: logDir}
	if *kafka != "" {
		topics, logDir = connect.KafkaTopics{Brokers: strings.Split(*kafka, ",")}, ""
	}
	filesRoot := ""
	if *files != "" {
		if filesRoot, err = filepath.Abs(*files); err != nil {
			fmt.Fprintln(stderr, "sluice:", err)
			return exitUsage
		}
	}
	pfiles, err := loadServeFiles(fs.Args(), dir, reg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitUsage
	}
	m := metrics.New()
	slots := &slotReporters{}
	sup := supervisor.New(monitored(supervisor.Options{Registry: reg, Logger: log}, m, slots))
	status := supervisorStatus{sup}
	m.SetStatusSource(status)
	// The listener comes first: the worker id is the address it is bound
	// to (as Connect's rest.advertised.host.name:port), which port 0 only
	// tells once bound. Until the connectors are loaded the API answers
	// 503, as a Connect worker that has not joined its group yet.
	var api atomic.Pointer[http.Handler]
	mux := http.NewServeMux()
	ops := httpapi.Handler(httpapi.Options{Metrics: m.Handler(log), Status: status})
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle(p, ops)
	}
	mux.Handle(console.Prefix, console.Handler()) // "/" stays Connect's root
	hist := m.NewHistory(0, 0)
	go hist.Run(ctx)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := api.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error_code":503,"message":"the server is starting: loading its connectors"}`+"\n")
	}))
	hs, err := httpapi.Listen(*httpAddr, sec, mux, log)
	if err != nil {
		fmt.Fprintln(stderr, "sluice: --http:", listenHint(err))
		sup.Shutdown(context.Background())
		return exitUsage
	}
	warnClearText(sec, hs, log)
	for _, f := range pfiles {
		if err := sup.AddState(f.graph, f.target); err != nil {
			fmt.Fprintln(stderr, "sluice:", err)
			hs.Shutdown(context.Background())
			sup.Shutdown(context.Background())
			return exitUsage
		}
		log.Info("pipeline loaded", "pipeline", f.graph.Name, "file", f.path, "target", f.target)
	}
	srv, err := connect.Open(connect.Options{
		StateDir: dir, Registry: reg, Supervisor: sup, Topics: topics, FilesRoot: filesRoot,
		Logger: log, LogLevel: logLevel, Version: buildVersion(), Commit: "", WorkerID: hs.Addr(),
	})
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		hs.Shutdown(context.Background())
		sup.Shutdown(context.Background())
		return exitFailed
	}
	ks, err := ksqldb.Open(ksqldb.Options{
		StateDir: dir, Registry: reg, Supervisor: sup, Topics: topics, LogDir: logDir,
		Connect: srv.Handler(), Logger: log,
	})
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		hs.Shutdown(context.Background())
		sup.Shutdown(context.Background())
		return exitFailed
	}
	h := serveAPI(srv, ksqldb.Mount(srv.Handler(), ks.Handler()), sup, pfiles, slots, hist, log)
	api.Store(&h)
	log.Info("serving the Kafka Connect REST API", "addr", hs.Addr(), "url", hs.URL(), "state_dir", dir)
	<-ctx.Done()
	log.Info("stopping: draining every connector")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	hs.Shutdown(sctx)
	scancel()
	if err := sup.Shutdown(context.Background()); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitFailed
	}
	return exitOK
}

// serveFile is a pipeline file `sluice serve` runs beside its connectors.
type serveFile struct {
	path   string
	graph  *topology.Graph
	dir    string           // <state-dir>/pipelines/<name>: its target state and, in state/, its checkpoints
	target supervisor.State // stored by the pipelines API; RUNNING when none
}

// loadServeFiles loads the pipeline files named by args (directories
// expanded as `sluice run` does), puts each pipeline's state under
// stateDir/pipelines/<name>, and checks that no name is a stored
// connector's pipeline: a clash is refused at start, naming both.
func loadServeFiles(args []string, stateDir string, reg component.Registry, stderr io.Writer) (map[string]*serveFile, error) {
	out := map[string]*serveFile{}
	if len(args) == 0 {
		return out, nil
	}
	paths, err := pipelineFiles(args)
	if err != nil {
		return nil, err
	}
	var graphs []*topology.Graph
	var problems []string
	for _, p := range paths {
		g, _, err := loadPipeline(p, reg, stderr)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, d := range g.Validate() {
			if d.Warning {
				fmt.Fprintln(stderr, d)
			}
		}
		f := &serveFile{path: p, graph: g, dir: filepath.Join(stateDir, "pipelines", g.Name)}
		// The server's state holds every pipeline's: the file's own
		// state_dir would make two files (both .sluice by default) clash.
		g.StateDir = filepath.Join(f.dir, "state")
		if prev, ok := out[g.Name]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s both name their pipeline %s (hint: set name: in one of the files)", prev.path, p, g.Name))
			continue
		}
		out[g.Name] = f
		graphs = append(graphs, g)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if err := supervisor.CheckDistinct(graphs); err != nil {
		return nil, err
	}
	stored, err := connect.StoredPipelines(stateDir)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		for name, f := range out {
			if f.path != p {
				continue
			}
			if c, ok := stored[name]; ok {
				return nil, fmt.Errorf("%s: its pipeline %s has the name of connector %s stored in %s (hint: set another name: in the file, or DELETE /connectors/%s)", p, name, c, stateDir, c)
			}
			if f.target, err = controlapi.LoadTarget(f.dir); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// serveAPI is the API `sluice serve` serves once its connectors are
// loaded: the pipelines API (package controlapi) on /pipelines, base on
// the rest (Kafka Connect's REST API, with ksqlDB's mounted on it). hist
// (nil: none) serves /pipelines/NAME/history.
func serveAPI(srv *connect.Server, base http.Handler, sup *supervisor.Supervisor, files map[string]*serveFile, slots *slotReporters, hist *metrics.History, log *slog.Logger) http.Handler {
	pipes := controlapi.New(controlapi.Options{
		Supervisor: sup, Logger: log, Scrub: srv.Scrub, Slots: slots.get, History: hist,
		Origin: func(p string) (controlapi.Origin, bool) {
			if f, ok := files[p]; ok {
				return controlapi.Origin{Kind: controlapi.KindFile, File: f.path, Dir: f.dir}, true
			}
			if c, ok := srv.ConnectorOf(p); ok {
				return controlapi.Origin{Kind: controlapi.KindConnector, Connector: c}, true
			}
			return controlapi.Origin{}, false
		},
	}).Handler()
	mux := http.NewServeMux()
	mux.Handle("/pipelines", pipes)
	mux.Handle("/pipelines/", pipes)
	mux.Handle("/", base)
	return mux
}
