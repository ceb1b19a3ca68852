package main

import (
	"context"
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
	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/frontdoor/ksqldb"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/supervisor"
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
		fmt.Fprintln(stderr, `usage: sluice serve [flags]

Serves Kafka Connect's REST API (GET /connectors, PUT /connectors/NAME/config,
...) and ksqlDB's statement API (POST /ksql, /query-stream; see sluice sql)
on --http; each connector and each persistent query runs as a pipeline. Connectors are stored in
--state-dir and come back, resuming from their checkpoints, after a restart.
Stop with SIGINT/SIGTERM: every connector drains and saves its checkpoint.

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
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
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
	m := metrics.New()
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log, Observe: observe(m)})
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
	h := ksqldb.Mount(srv.Handler(), ks.Handler())
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
