package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/console"
	"github.com/sluice-dev/sluice/controlapi"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/supervisor"
)

// The wiring of `sluice run --http`: the supervisor's pipelines report to
// one metrics.Metrics (observe), whose registry, with the supervisor's
// states, is served by package httpapi.

// observe returns the supervisor's Observe hook: each start of a pipeline
// gets the pipeline's metrics as its engine observer, with its nodes
// declared and its sources watched (progress, gauges). A restarted pipeline
// keeps its series.
func observe(m *metrics.Metrics) func(p *app.Pipeline) any {
	return func(p *app.Pipeline) any {
		pm := m.Pipeline(p.Graph.Name)
		for name, s := range p.Sources {
			pm.Watch(name, s)
		}
		for name, pr := range p.Processors {
			pm.WatchProcessor(name, pr)
		}
		for name := range p.Sinks {
			pm.WatchSink(name)
		}
		return pm
	}
}

// monitored sets opt's hooks that keep m and slots in step with the
// supervisor's pipelines: each start observed (observe) and its slot
// reporters noted (for the status's slots), each removed pipeline's series
// (and history) deleted, so a server whose connectors come and go keeps
// no series of the gone ones.
func monitored(opt supervisor.Options, m *metrics.Metrics, slots *slotReporters) supervisor.Options {
	obs := observe(m)
	opt.Observe = func(p *app.Pipeline) any {
		slots.set(p)
		return obs(p)
	}
	opt.Removed = m.Remove
	return opt
}

// supervisorStatus is the supervisor's states as a metrics.StatusSource.
type supervisorStatus struct{ s *supervisor.Supervisor }

func (s supervisorStatus) Pipelines() []metrics.PipelineStatus {
	sts := s.s.Statuses()
	out := make([]metrics.PipelineStatus, len(sts))
	for i, st := range sts {
		out[i] = metrics.PipelineStatus{Name: st.Name, State: string(st.State), Error: st.Error, Since: st.Since}
	}
	return out
}

// securityFlags adds the flags that protect --http (shared by `sluice
// serve` and `sluice run`) to fs; load reads them into an
// httpapi.Security.
func securityFlags(fs *flag.FlagSet) (load func() (*httpapi.Security, error)) {
	var c httpapi.SecurityConfig
	fs.StringVar(&c.TokenFile, "auth-token-file", "", "require `FILE`'s bearer token (Authorization: Bearer TOKEN, at least 16 characters) of every request but /healthz and /readyz; without it, $"+httpapi.EnvToken+" if set")
	fs.StringVar(&c.BasicFile, "auth-basic-file", "", "require (or, with a token, accept instead) basic credentials: `FILE`'s first line is USER:PASSWORD; without it, $"+httpapi.EnvBasic+" if set")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `FILE` (chain); needs --tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the PEM private key `FILE` of --tls-cert")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "require a client certificate signed by a CA in this PEM `FILE` on every connection (needs --tls-cert)")
	fs.BoolVar(&c.Insecure, "insecure-no-auth", false, "let --http listen on an address other hosts can reach WITHOUT any authentication (anyone reaching it controls the server)")
	removed := fs.Bool("http-allow-remote", false, "removed: an address other hosts can reach needs authentication (--auth-token-file, --auth-basic-file, --tls-client-ca) or --insecure-no-auth")
	return func() (*httpapi.Security, error) {
		if *removed {
			return nil, errors.New("--http-allow-remote is gone: an address other hosts can reach needs authentication (--auth-token-file FILE, --auth-basic-file FILE or --tls-client-ca FILE), or --insecure-no-auth to serve it without any")
		}
		return httpapi.LoadSecurity(c, os.Getenv)
	}
}

// httpOnlyFlag returns the first security flag set on fs, which has no
// effect without --http.
func httpOnlyFlag(fs *flag.FlagSet) string {
	name := ""
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "auth-token-file", "auth-basic-file", "tls-cert", "tls-key", "tls-client-ca", "insecure-no-auth", "http-allow-remote":
			if name == "" {
				name = f.Name
			}
		}
	})
	return name
}

// listenHint completes httpapi.ErrNotLoopback with the flags that lift it.
func listenHint(err error) error {
	if errors.Is(err, httpapi.ErrNotLoopback) {
		return fmt.Errorf("%w (hint: use 127.0.0.1:PORT; to serve other hosts, require a bearer token (--auth-token-file FILE or $%s), basic credentials (--auth-basic-file FILE or $%s) or client certificates (--tls-client-ca FILE), or add --insecure-no-auth)", err, httpapi.EnvToken, httpapi.EnvBasic)
	}
	return err
}

// warnClearText logs when credentials would cross the network unencrypted.
func warnClearText(sec *httpapi.Security, srv *httpapi.Server, log *slog.Logger) {
	if sec.TLS == nil && (sec.Token != "" || sec.User != "") {
		if tcp, err := net.ResolveTCPAddr("tcp", srv.Addr()); err == nil && !tcp.IP.IsLoopback() {
			log.Warn("--http serves plain HTTP: credentials cross the network in clear text (hint: add --tls-cert and --tls-key)", "addr", srv.Addr())
		}
	}
}

// serveHTTP serves /metrics, /healthz and /readyz of sup's pipelines on
// addr, as sec says, with the pipelines API (package controlapi: their
// status, history, pause, resume, stop, restart) and the web console on
// /console/ (where / leads), until stop is called (after the pipelines
// have drained).
func serveHTTP(addr string, sec *httpapi.Security, m *metrics.Metrics, sup *supervisor.Supervisor, slots *slotReporters, log *slog.Logger) (stop func(), err error) {
	status := supervisorStatus{sup}
	m.SetStatusSource(status)
	hist := m.NewHistory(0, 0)
	pipes := controlapi.New(controlapi.Options{
		Supervisor: sup, Logger: log, History: hist, Slots: slots.get,
		// Every pipeline of `sluice run` is a file's; its target is not
		// stored (Dir ""): it lasts as long as the process.
		Origin: func(p string) (controlapi.Origin, bool) {
			st, ok := sup.Status(p)
			if !ok || st.Graph == nil {
				return controlapi.Origin{}, false
			}
			return controlapi.Origin{Kind: controlapi.KindFile, File: st.Graph.File}, true
		},
	}).Handler()
	mux := http.NewServeMux()
	mux.Handle("/", httpapi.Handler(httpapi.Options{Metrics: m.Handler(log), Status: status}))
	mux.Handle("GET /{$}", console.Redirect())
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("/pipelines", pipes)
	mux.Handle("/pipelines/", pipes)
	srv, err := httpapi.Listen(addr, sec, mux, log)
	if err != nil {
		return nil, listenHint(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go hist.Run(ctx)
	warnClearText(sec, srv, log)
	log.Info("serving /metrics, /healthz, /readyz, /pipelines and /console/", "addr", srv.Addr(), "url", srv.URL(), "console", srv.URL()+console.Prefix)
	return func() {
		cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
