package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/supervisor"
	"github.com/sluice-dev/sluice/topology"
)

// Kinds of pipelines.
const (
	KindFile      = "file"
	KindConnector = "connector"
)

// Origin says where a pipeline comes from.
type Origin struct {
	Kind string // KindFile or KindConnector
	// File is the pipeline file (KindFile); Connector the connector's name
	// (KindConnector).
	File, Connector string
	// Dir is a file pipeline's directory in the server's state, where its
	// target state is stored (KindFile); empty for a pipeline of `sluice
	// run --http`, whose target lasts as long as the process.
	Dir string
}

// Options configure a Server.
type Options struct {
	Supervisor *supervisor.Supervisor
	// Origin tells where the named pipeline comes from; ok false for a
	// pipeline it does not know (shown as a connector's, without a name).
	Origin func(pipeline string) (Origin, bool)
	// History, when set, serves GET /pipelines/{name}/history (the web
	// console's charts); without it that answers 404.
	History *metrics.History
	// Scrub, when set, removes the secrets it knows from an error message.
	Scrub  func(msg string) string
	Logger *slog.Logger
	// StopTimeout bounds the drain a stop waits for (default 30s).
	StopTimeout time.Duration
	// Slots, when set, returns the last look at the server-side positions
	// the pipeline's sources hold (PostgreSQL replication slots: the slot
	// guardian's measurement); it must not query anything.
	Slots func(pipeline string) []component.Slot
}

// Server serves the pipelines API.
//
// Concurrency: mu serialises the actions, so a stored target and the
// supervisor's state change together.
type Server struct {
	opt Options
	mu  sync.Mutex
}

// New returns a Server.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.StopTimeout == 0 {
		opt.StopTimeout = 30 * time.Second
	}
	if opt.Scrub == nil {
		opt.Scrub = func(s string) string { return s }
	}
	return &Server{opt: opt}
}

// Status is a pipeline's status as served.
type Status struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	File      string    `json:"file,omitempty"`
	Connector string    `json:"connector,omitempty"`
	State     string    `json:"state"`
	Error     string    `json:"error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Restarts  int       `json:"restarts"`
	// Slots are the replication slots the pipeline's sources hold, as last
	// measured; absent when none does.
	Slots []component.Slot `json:"slots,omitempty"`
}

// Info is GET /pipelines/{name}: the status and the nodes.
type Info struct {
	Status
	Sources    []Node `json:"sources"`
	Processors []Node `json:"processors"`
	Sinks      []Node `json:"sinks"`
}

// Node is a source, processor or sink: no configuration value, only what
// draws the graph.
type Node struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Inputs []string `json:"inputs,omitempty"`
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pipelines", s.list)
	mux.HandleFunc("GET /pipelines/{name}", s.info)
	mux.HandleFunc("GET /pipelines/{name}/status", s.status)
	mux.HandleFunc("GET /pipelines/{name}/partitions", s.partitions)
	mux.HandleFunc("GET /pipelines/{name}/history", s.history)
	mux.HandleFunc("PUT /pipelines/{name}/pause", s.action("pause"))
	mux.HandleFunc("PUT /pipelines/{name}/resume", s.action("resume"))
	mux.HandleFunc("PUT /pipelines/{name}/stop", s.action("stop"))
	mux.HandleFunc("POST /pipelines/{name}/restart", s.action("restart"))
	mux.HandleFunc("POST /pipelines/{name}/snapshot", s.snapshot)
	return httpapi.JSONNoRoute(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{code, msg})
}

func (s *Server) statusOf(st supervisor.Status) Status {
	out := Status{Name: st.Name, Kind: KindConnector, State: string(st.State), Since: st.Since, Restarts: st.Restarts}
	if st.Error != "" {
		out.Error = s.opt.Scrub(st.Error)
	}
	if s.opt.Origin != nil {
		if o, ok := s.opt.Origin(st.Name); ok {
			out.Kind, out.File, out.Connector = o.Kind, o.File, o.Connector
		}
	}
	if s.opt.Slots != nil {
		out.Slots = s.opt.Slots(st.Name)
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	sts := s.opt.Supervisor.Statuses()
	out := make([]Status, len(sts))
	for i, st := range sts {
		out[i] = s.statusOf(st)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (supervisor.Status, bool) {
	name := r.PathValue("name")
	st, ok := s.opt.Supervisor.Status(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Pipeline %s not found", name))
	}
	return st, ok
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, s.statusOf(st))
	}
}

// partitions answers a coordinated pipeline's partitions in its lease
// table (app.Partitions: key, kind, owner, status, epoch, expiry,
// progress, at the store's time); 404 for a pipeline on one node.
func (s *Server) partitions(w http.ResponseWriter, r *http.Request) {
	st, ok := s.lookup(w, r)
	if !ok {
		return
	}
	if st.Graph == nil || st.Graph.Cluster.Coordination.Type == topology.CoordinationNone {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Pipeline %s runs on one node: it has no partitions (coordination: is not set)", st.Name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ps, err := app.ReadPartitions(ctx, st.Graph)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, s.opt.Scrub("the coordination store: "+err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

// history answers the pipeline's metrics.History: samples of its
// throughput and lag, its running snapshots with an estimate of the time
// left, its last errors (scrubbed as every error served).
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	st, ok := s.lookup(w, r)
	if !ok {
		return
	}
	var h metrics.PipelineHistory
	found := false
	if s.opt.History != nil {
		h, found = s.opt.History.Of(st.Name)
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Pipeline %s has no history yet (hint: it has not started)", st.Name))
		return
	}
	for i := range h.Errors {
		h.Errors[i].Message = s.opt.Scrub(h.Errors[i].Message)
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	st, ok := s.lookup(w, r)
	if !ok {
		return
	}
	out := Info{Status: s.statusOf(st), Sources: []Node{}, Processors: []Node{}, Sinks: []Node{}}
	if g := st.Graph; g != nil {
		for _, n := range g.Sources {
			out.Sources = append(out.Sources, Node{Name: n.Name, Type: n.Type})
		}
		for _, n := range g.Processors {
			out.Processors = append(out.Processors, Node{Name: n.Name, Type: n.Type, Inputs: n.Inputs})
		}
		for _, n := range g.Sinks {
			out.Sinks = append(out.Sinks, Node{Name: n.Name, Type: n.Type, Inputs: n.Inputs})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// SnapshotBody is POST /pipelines/{name}/snapshot's body: an incremental
// snapshot of tables (component.SnapshotRequest), of the pipeline's one
// source that takes them or of Source.
type SnapshotBody struct {
	Source string `json:"source,omitempty"`
	component.SnapshotRequest
}

// snapshot asks a pipeline's source for an incremental snapshot; 202 once
// the request is recorded upstream (the source acts on it in stream order).
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	st, ok := s.lookup(w, r)
	if !ok {
		return
	}
	if st.Graph == nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("Pipeline %s has no graph to build its source from", st.Name))
		return
	}
	var body SnapshotBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`Request body is not {"tables": ["schema.table", ...], "conditions": [{"table": ..., "filter": ...}], "source": ..., "stop": false}: %v`, err))
		return
	}
	if len(body.Tables) == 0 && !body.Stop {
		writeError(w, http.StatusBadRequest, `Name the tables to snapshot: {"tables": ["schema.table"]}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := app.RequestSnapshot(ctx, st.Graph, s.opt.Supervisor.Registry(), body.Source, body.SnapshotRequest, s.opt.Logger); err != nil {
		msg := s.opt.Scrub(err.Error())
		code := http.StatusBadGateway
		if errors.Is(err, app.ErrNoSnapshotter) {
			code = http.StatusConflict
		}
		s.opt.Logger.Error("incremental snapshot request failed", "pipeline", st.Name, "err", msg)
		writeError(w, code, msg)
		return
	}
	writeJSON(w, http.StatusAccepted, body)
}

// action returns the handler of pause, resume, stop or restart.
func (s *Server) action(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		st, ok := s.lookup(w, r)
		if !ok {
			return
		}
		o, known := Origin{}, false
		if s.opt.Origin != nil {
			o, known = s.opt.Origin(name)
		}
		if !known || o.Kind != KindFile {
			hint := "it is a connector's pipeline: use the Connect API"
			if o.Connector != "" {
				hint = fmt.Sprintf("it is connector %s's pipeline: %s /connectors/%s/%s", o.Connector, map[bool]string{true: "POST", false: "PUT"}[verb == "restart"], o.Connector, verb)
			}
			writeError(w, http.StatusConflict, fmt.Sprintf("Pipeline %s cannot be changed here (hint: %s)", name, hint))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var err error
		sup := s.opt.Supervisor
		switch verb {
		case "pause":
			if err = saveTarget(o.Dir, supervisor.Paused); err == nil {
				err = sup.Pause(name)
			}
		case "resume":
			if err = saveTarget(o.Dir, supervisor.Running); err == nil {
				if err = sup.Resume(name); err == nil && (st.State == supervisor.Stopped || st.State == supervisor.Failed) {
					err = sup.Start(name)
				}
			}
		case "stop":
			if err = saveTarget(o.Dir, supervisor.Stopped); err == nil {
				ctx, cancel := context.WithTimeout(r.Context(), s.opt.StopTimeout)
				err = sup.Stop(ctx, name)
				cancel()
			}
		case "restart":
			// The target stays: a paused pipeline restarts paused, a
			// stopped one is started (as Connect's restart does).
			if st.State == supervisor.Stopped {
				if err = saveTarget(o.Dir, supervisor.Running); err != nil {
					break
				}
				if err = sup.Resume(name); err == nil {
					err = sup.Start(name)
				}
				break
			}
			err = sup.RestartAsync(name)
		}
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, supervisor.ErrUnknown) {
				code = http.StatusNotFound
			}
			msg := s.opt.Scrub(err.Error())
			s.opt.Logger.Error("pipeline "+verb+" failed", "pipeline", name, "err", msg)
			writeError(w, code, strings.TrimSpace(msg))
			return
		}
		s.opt.Logger.Info("pipeline "+verb, "pipeline", name)
		w.WriteHeader(http.StatusAccepted)
	}
}
