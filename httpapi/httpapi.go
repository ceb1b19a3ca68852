// Package httpapi serves sluice's HTTP endpoints for operators:
//
//	/metrics   Prometheus metrics (package metrics)
//	/healthz   200 "ok" while the process serves requests (liveness)
//	/readyz    200 when every pipeline is RUNNING or PAUSED, else 503; the
//	           JSON body gives each pipeline's state, and the error of a
//	           FAILED one (readiness)
//
// Listen serves a handler (these endpoints, or `sluice serve`'s API with
// them) as a Security says. Its invariants:
//
//   - Loopback unless told otherwise: an address other hosts can reach is
//     refused (ErrNotLoopback) unless requests are authenticated — a bearer
//     token, basic credentials, or client certificates required by TLS —
//     or the caller said Insecure explicitly (--insecure-no-auth).
//   - With a token or basic credentials, every request but /healthz and
//     /readyz must carry one (401 with WWW-Authenticate naming the schemes
//     accepted otherwise); the probes stay open for orchestrators and hold
//     no secret. Credentials are compared in constant time.
//   - TLS (1.2 or later) with a certificate and key; with a client CA,
//     every connection must present a certificate it signed.
//   - A request body is at most MaxBody (1 MiB), a header at most
//     MaxHeaderBytes; slow clients are cut by read and write timeouts.
//
// Nothing served holds a secret: errors in sluice never contain one
// (architecture invariant 5), and metrics carry names, not configuration.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/metrics"
)

// Options say what Handler serves.
type Options struct {
	// Metrics serves /metrics (metrics.Metrics.Handler); nil: 404.
	Metrics http.Handler
	// Status gives the pipelines' states for /readyz; nil: /readyz is 200
	// with no pipelines.
	Status metrics.StatusSource
}

// Handler returns the endpoints' handler.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { readyz(w, o.Status) })
	return mux
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready     bool             `json:"ready"`
	Pipelines []PipelineStatus `json:"pipelines"`
}

// PipelineStatus is one pipeline in the body of /readyz.
type PipelineStatus struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Ready bool      `json:"ready"`
	Error string    `json:"error,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

func readyz(w http.ResponseWriter, status metrics.StatusSource) {
	body := Readiness{Ready: true, Pipelines: []PipelineStatus{}}
	if status != nil {
		for _, p := range status.Pipelines() {
			ok := metrics.Ready(p.State)
			body.Ready = body.Ready && ok
			body.Pipelines = append(body.Pipelines, PipelineStatus{Name: p.Name, State: p.State, Ready: ok, Error: p.Error, Since: p.Since})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(body)
}

// ErrNotLoopback is returned by Listen for an address other hosts could
// reach when no authentication is configured and Security.Insecure is not
// set.
var ErrNotLoopback = errors.New("not a loopback address, and no authentication is configured")

// MaxBody bounds every request body Listen serves (1 MiB: a connector
// configuration is a few KiB); a handler reading more gets an
// *http.MaxBytesError.
const MaxBody = 1 << 20

// MaxHeaderBytes bounds a request's header.
const MaxHeaderBytes = 64 << 10

// Server serves a handler on a listening socket.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	scheme string
	done   chan struct{} // closed when Serve has returned
}

// Listen listens on addr (HOST:PORT; port 0 picks a free one) and serves h
// in the background until Shutdown, as sec says (nil: plain HTTP without
// authentication). An address other hosts can reach needs sec to
// authenticate (a token, basic credentials or client certificates) or to
// be Insecure; else addr must be a loopback address, or a name that
// resolves only to loopback addresses.
func Listen(addr string, sec *Security, h http.Handler, log *slog.Logger) (*Server, error) {
	if sec == nil {
		sec = &Security{}
	}
	remoteOK := sec.authenticates() || sec.Insecure
	if !remoteOK {
		if err := checkLoopback(addr); err != nil {
			return nil, err
		}
	}
	if sec.Token != "" || sec.User != "" {
		h = requireAuth(h, sec, log)
	}
	h = http.MaxBytesHandler(h, MaxBody)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !remoteOK && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf("listen address %q: bound to %s, %w", addr, ln.Addr(), ErrNotLoopback)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			TLSConfig:         sec.TLS,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:     ln,
		scheme: "http",
		done:   make(chan struct{}),
	}
	if sec.TLS != nil {
		s.scheme = "https"
	}
	go func() {
		defer close(s.done)
		var err error
		if sec.TLS != nil {
			err = s.srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http endpoints stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (with the port chosen when
// addr had port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL: http:// or https:// and Addr.
func (s *Server) URL() string { return s.scheme + "://" + s.Addr() }

// Shutdown stops accepting connections and waits for requests in progress
// until ctx ends, then closes what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w (hint: HOST:PORT, such as 127.0.0.1:9090)", addr, err)
	}
	if host == "" {
		return fmt.Errorf("listen address %q: every interface is %w", addr, ErrNotLoopback)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("listen address %q: %w", addr, ErrNotLoopback)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("listen address %q: %s resolves to %s, %w", addr, host, ip.IP, ErrNotLoopback)
		}
	}
	return nil
}
