package connect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/supervisor"
	"github.com/sluice-dev/sluice/topology"
)

// Options configure a Server.
type Options struct {
	StateDir   string
	Registry   component.Registry
	Supervisor *supervisor.Supervisor
	Topics     Topics
	FilesRoot  string
	Logger     *slog.Logger
	Version    string
	Commit     string
	// WorkerID is the status's worker_id (Kafka Connect's host:port).
	WorkerID string
	// StopTimeout bounds a drain a request waits for (stop, delete,
	// update); default 30s.
	StopTimeout time.Duration
	// LogLevel is the level of Logger's handler, which /admin/loggers/root
	// sets; nil: a level of the server's own (changing nothing).
	LogLevel *slog.LevelVar
}

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// Server serves Kafka Connect's REST API over a supervisor.
//
// Concurrency: mu serialises every change (create, update, delete, state
// changes) so the stored records, the supervisor and conns agree; reads
// take it for a moment.
type Server struct {
	opt       Options
	clusterID string

	mu    sync.Mutex
	conns map[string]*conn

	loggers loggers
}

type conn struct {
	rec  *record
	plan *Plan
	pipe string
}

// Open loads the stored connectors and starts them in their target
// states. A connector whose configuration no longer translates is kept
// and shown FAILED with the reason.
func Open(opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.StopTimeout == 0 {
		opt.StopTimeout = 30 * time.Second
	}
	if opt.LogLevel == nil {
		opt.LogLevel = new(slog.LevelVar)
	}
	s := &Server{opt: opt, conns: map[string]*conn{}, loggers: loggers{level: opt.LogLevel, set: map[string]loggerLevel{}}}
	id, err := clusterID(opt.StateDir)
	if err != nil {
		return nil, err
	}
	s.clusterID = id
	recs, err := loadAll(opt.StateDir)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		plan, err := s.install(rec, "")
		if err != nil {
			return nil, fmt.Errorf("connector %s: %s", rec.Name, scrub(err.Error(), secretValues(rec.Config, nil)))
		}
		s.conns[rec.Name] = &conn{rec: rec, plan: plan, pipe: pipelineName(rec.Name)}
	}
	return s, nil
}

// clusterID returns the state directory's id (GET /'s kafka_cluster_id),
// made once.
func clusterID(dir string) (string, error) {
	p := filepath.Join(dir, "cluster_id")
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return id, os.WriteFile(p, []byte(id+"\n"), 0o644)
}

// install translates rec and adds its pipeline to the supervisor in its
// target state; replace names a pipeline to remove first (an update).
func (s *Server) install(rec *record, replace string) (*Plan, error) {
	plan, g, err := s.translate(rec.Name, rec.Config)
	if err != nil {
		return nil, err
	}
	if replace != "" {
		ctx, cancel := context.WithTimeout(context.Background(), s.opt.StopTimeout)
		err := s.opt.Supervisor.Remove(ctx, replace)
		cancel()
		if err != nil && !errors.Is(err, supervisor.ErrUnknown) {
			return nil, err
		}
	}
	st := supervisor.State(rec.Target)
	if st != supervisor.Paused && st != supervisor.Stopped {
		st = supervisor.Running
	}
	return plan, s.opt.Supervisor.AddState(g, st)
}

func (s *Server) translate(name string, cfg Config) (*Plan, *topology.Graph, error) {
	plan, err := Translate(name, cfg, Env{Topics: s.opt.Topics, FilesRoot: s.opt.FilesRoot, FlatTopic: s.flatTopic})
	if err != nil {
		return nil, nil, err
	}
	for _, w := range plan.Warnings {
		s.opt.Logger.Warn("connector "+name+": "+scrub(w, secretValues(cfg, plan)), "connector", name)
	}
	dir := filepath.Join(connectorDir(s.opt.StateDir, name), "state")
	g, err := config.LoadValue("connector "+name, plan.Doc(pipelineName(name), dir), s.opt.Registry)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			ce := make(ConfigError, len(es))
			for i, e := range es {
				ce[i] = &FieldError{Key: e.Path, Msg: e.Msg + hintOf(e.Hint)}
			}
			return nil, nil, ce
		}
		return nil, nil, err
	}
	return plan, g, nil
}

func hintOf(h string) string {
	if h == "" {
		return ""
	}
	return " (hint: " + h + ")"
}

// flatTopic tells whether every source connector that writes topic writes
// rows. It is called with s.mu held or during Open.
func (s *Server) flatTopic(topic string) bool {
	found := false
	for _, c := range s.conns {
		if c.plan == nil || c.plan.Type != "source" {
			continue
		}
		lit := strings.ReplaceAll(c.plan.Topic, "$$", "$")
		match := lit == topic
		if pre, ok := strings.CutSuffix(c.plan.Topic, "${table}"); ok && !strings.Contains(pre, "${") {
			match = strings.HasPrefix(topic, strings.ReplaceAll(pre, "$$", "$"))
		}
		if match {
			if !c.plan.Flat {
				return false
			}
			found = true
		}
	}
	return found
}

// Handler returns the REST API's handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /connectors", s.list)
	mux.HandleFunc("POST /connectors", s.create)
	mux.HandleFunc("GET /connectors/{name}", s.info)
	mux.HandleFunc("DELETE /connectors/{name}", s.delete)
	mux.HandleFunc("GET /connectors/{name}/config", s.getConfig)
	mux.HandleFunc("PUT /connectors/{name}/config", s.putConfig)
	mux.HandleFunc("GET /connectors/{name}/status", s.status)
	mux.HandleFunc("POST /connectors/{name}/restart", s.restart)
	mux.HandleFunc("PUT /connectors/{name}/pause", s.pause)
	mux.HandleFunc("PUT /connectors/{name}/resume", s.resume)
	mux.HandleFunc("PUT /connectors/{name}/stop", s.stop)
	mux.HandleFunc("GET /connectors/{name}/tasks", s.tasks)
	mux.HandleFunc("GET /connectors/{name}/tasks/{task}/status", s.taskStatus)
	mux.HandleFunc("POST /connectors/{name}/tasks/{task}/restart", s.taskRestart)
	mux.HandleFunc("GET /connectors/{name}/topics", s.topics)
	mux.HandleFunc("GET /connectors/{name}/offsets", s.offsets)
	mux.HandleFunc("PATCH /connectors/{name}/offsets", s.alterOffsets)
	mux.HandleFunc("DELETE /connectors/{name}/offsets", s.resetOffsets)
	mux.HandleFunc("GET /connector-plugins", s.plugins)
	mux.HandleFunc("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	mux.HandleFunc("GET /admin/loggers", s.listLoggers)
	mux.HandleFunc("GET /admin/loggers/{name}", s.getLogger)
	mux.HandleFunc("PUT /admin/loggers/{name}", s.putLogger)
	mux.HandleFunc("PUT /connector-plugins/{plugin}/config/validate", s.validate)
	return http.MaxBytesHandler(httpapi.JSONNoRoute(mux), MaxBody)
}

// apiError is Kafka Connect's error body.
type apiError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Code: code, Message: msg})
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.opt.Version, "commit": s.opt.Commit, "kafka_cluster_id": s.clusterID})
}

// connectorInfo is GET /connectors/{name}'s body.
type connectorInfo struct {
	Name   string   `json:"name"`
	Config Config   `json:"config"`
	Tasks  []taskID `json:"tasks"`
	Type   string   `json:"type"`
}

type taskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

type stateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type connectorStatus struct {
	Name      string      `json:"name"`
	Connector stateInfo   `json:"connector"`
	Tasks     []taskState `json:"tasks"`
	Type      string      `json:"type"`
}

// masked returns cfg with every secret's value replaced by Mask.
func masked(cfg Config, plan *Plan) Config {
	out := make(Config, len(cfg))
	for k, v := range cfg {
		if isSecret(k, plan) {
			v = Mask
		}
		out[k] = MaskValue(v)
	}
	return out
}

func isSecret(k string, plan *Plan) bool {
	if IsSecretKey(k) {
		return true
	}
	if plan != nil {
		for _, s := range plan.Secrets {
			if s == k {
				return true
			}
		}
	}
	return false
}

// secretValues lists the secret values of cfg, as given and in the
// escaped forms a DSN built from them holds.
func secretValues(cfg Config, plan *Plan) []string {
	var out []string
	for k, v := range cfg {
		vals := embeddedSecrets(v)
		if v != "" && v != Mask && isSecret(k, plan) {
			vals = append(vals, v)
		}
		for _, v := range vals {
			out = append(out, v, url.QueryEscape(v), url.PathEscape(v), (&url.URL{User: url.UserPassword("u", v)}).User.String()[2:])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// scrub replaces every secret value in msg by the mask.
func scrub(msg string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, Mask)
		}
	}
	return msg
}

func (s *Server) infoOf(c *conn, withTasks bool) connectorInfo {
	tasks := []taskID{}
	if withTasks && c.rec.Target != string(supervisor.Stopped) {
		tasks = append(tasks, taskID{Connector: c.rec.Name, Task: 0})
	}
	return connectorInfo{Name: c.rec.Name, Config: masked(c.rec.Config, c.plan), Tasks: tasks, Type: c.plan.Type}
}

func (s *Server) statusOf(c *conn) connectorStatus {
	st, _ := s.opt.Supervisor.Status(c.pipe)
	out := connectorStatus{Name: c.rec.Name, Type: c.plan.Type, Connector: stateInfo{State: "RUNNING", WorkerID: s.opt.WorkerID}, Tasks: []taskState{}}
	task := taskState{ID: 0, WorkerID: s.opt.WorkerID}
	switch st.State {
	case supervisor.Running:
		task.State = "RUNNING"
	case supervisor.Paused:
		out.Connector.State, task.State = "PAUSED", "PAUSED"
	case supervisor.Restarting:
		out.Connector.State, task.State = "RESTARTING", "RESTARTING"
	case supervisor.Failed:
		// The pipeline is the connector's one task: its failure is the
		// task's, as a Connect task that throws.
		task.State = "FAILED"
		task.Trace = scrub(st.Error, secretValues(c.rec.Config, c.plan))
	case supervisor.Stopped:
		if c.rec.Target == string(supervisor.Stopped) {
			out.Connector.State = "STOPPED"
			return out
		}
		// Every source finished (a bounded source): the task is done.
		task.State = "UNASSIGNED"
	}
	out.Tasks = append(out.Tasks, task)
	return out
}

// lookup returns the named connector, or writes Connect's 404 with msg (a
// format taking the name).
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, msg string) (*conn, bool) {
	name := r.PathValue("name")
	s.mu.Lock()
	c, ok := s.conns[name]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msg, name))
	}
	return c, ok
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.conns))
	for n := range s.conns {
		names = append(names, n)
	}
	sort.Strings(names)
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, names)
		return
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		c := s.conns[n]
		m := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				m["status"] = s.statusOf(c)
			case "info":
				m["info"] = s.infoOf(c, true)
			}
		}
		out[n] = m
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// readBody reads a JSON body; a bad one is answered as Kafka Connect 3.9
// does (500 with the parser's message).
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusInternalServerError, jsonMessage(err))
		return false
	}
	return true
}

// jsonMessage describes a JSON error without quoting the body (which may
// hold a secret).
func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("the request body is not valid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("the request body has a %s where %s is expected (field %q)", te.Value, te.Type, te.Field)
	}
	return "the request body is not valid JSON"
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if len(body.Config) == 0 || string(body.Config) == "null" {
		writeError(w, http.StatusBadRequest, "the request has no config (hint: {\"name\": \"...\", \"config\": {...}})")
		return
	}
	cfg, err := ParseConfig(body.Config)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if n, ok := cfg["name"]; ok && n != body.Name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, body.Name))
		return
	}
	s.put(w, body.Name, cfg, false)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var raw json.RawMessage
	if !readBody(w, r, &raw) {
		return
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if n, ok := cfg["name"]; ok && n != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	s.put(w, name, cfg, true)
}

// put creates a connector, or updates it when upsert (PUT .../config).
func (s *Server) put(w http.ResponseWriter, name string, cfg Config, upsert bool) {
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		writeError(w, http.StatusBadRequest, "Connector name contains control characters")
		return
	}
	cfg["name"] = name
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.conns[name]
	if exists && !upsert {
		writeError(w, http.StatusConflict, fmt.Sprintf("Connector %s already exists", name))
		return
	}
	if _, taken := s.opt.Supervisor.Status(pipelineName(name)); !exists && taken {
		// A pipeline `sluice serve` loaded from a file holds the name.
		writeError(w, http.StatusConflict, fmt.Sprintf("Connector %s cannot be created: the pipeline %s, loaded from a file, runs on this server (hint: choose another connector name)", name, pipelineName(name)))
		return
	}
	if exists {
		// A secret sent back masked keeps the stored one.
		for k, v := range cfg {
			prev, ok := old.rec.Config[k]
			switch {
			case !ok:
			case v == Mask && isSecret(k, old.plan):
				cfg[k] = prev
			default:
				cfg[k] = unmaskValue(v, prev)
			}
		}
	}
	secrets := secretValues(cfg, nil)
	rec := &record{Name: name, Config: cfg, Target: string(supervisor.Running)}
	replace := ""
	if exists {
		rec.Target = old.rec.Target
		replace = old.pipe
	}
	// Translate before touching anything, so a bad config leaves the old
	// connector running.
	if _, _, err := s.translate(name, cfg); err != nil {
		s.translateError(w, err, secrets)
		return
	}
	if err := save(s.opt.StateDir, rec); err != nil {
		writeError(w, http.StatusInternalServerError, scrub("storing the connector: "+err.Error(), secrets))
		return
	}
	plan, err := s.install(rec, replace)
	if err != nil {
		if exists {
			// The old record is gone from disk; keep serving the new one
			// as failed rather than lie about what is stored.
			s.opt.Logger.Error("connector update failed", "connector", name, "err", scrub(err.Error(), secrets))
		}
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secrets))
		return
	}
	c := &conn{rec: rec, plan: plan, pipe: pipelineName(name)}
	s.conns[name] = c
	s.opt.Logger.Info("connector stored", "connector", name, "class", plan.Class, "created", !exists)
	code := http.StatusCreated
	if exists {
		code = http.StatusOK
	}
	// Connect lists no tasks for a connector just created, and the
	// existing ones for an updated one.
	writeJSON(w, code, s.infoOf(c, exists))
}

func (s *Server) translateError(w http.ResponseWriter, err error, secrets []string) {
	var uc *UnknownClassError
	var ce ConfigError
	switch {
	case errors.As(err, &uc):
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secrets))
	case errors.As(err, &ce):
		writeError(w, http.StatusBadRequest, scrub(ce.Error(), secrets))
	default:
		writeError(w, http.StatusBadRequest, scrub(err.Error(), secrets))
	}
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.infoOf(c, true))
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, masked(c.rec.Config, c.plan))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "No status found for connector %s")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.statusOf(c))
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.rec.Name] != c {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Connector %s not found", c.rec.Name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StopTimeout)
	defer cancel()
	if err := s.opt.Supervisor.Remove(ctx, c.pipe); err != nil && !errors.Is(err, supervisor.ErrUnknown) {
		writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
		return
	}
	if err := forget(s.opt.StateDir, c.rec.Name); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	delete(s.conns, c.rec.Name)
	s.opt.Logger.Info("connector deleted", "connector", c.rec.Name)
	w.WriteHeader(http.StatusNoContent)
}

// setTarget stores a connector's target state.
func (s *Server) setTarget(c *conn, t supervisor.State) error {
	if c.rec.Target == string(t) {
		return nil
	}
	rec := *c.rec
	rec.Target = string(t)
	if err := save(s.opt.StateDir, &rec); err != nil {
		return err
	}
	c.rec = &rec
	return nil
}

// retarget is the common part of pause, resume and stop: under s.mu, it
// stores the connector's new target state (so it survives a restart of the
// server) and then acts on the running pipeline.
func (s *Server) retarget(w http.ResponseWriter, r *http.Request, t supervisor.State, act func(c *conn)) {
	c, ok := s.lookup(w, r, "Unknown connector %s")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setTarget(c, t); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	act(c)
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	s.retarget(w, r, supervisor.Paused, func(c *conn) {
		s.opt.Supervisor.Pause(c.pipe)
		s.opt.Supervisor.Start(c.pipe) // a stopped connector starts paused
		w.WriteHeader(http.StatusAccepted)
	})
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	s.retarget(w, r, supervisor.Running, func(c *conn) {
		s.opt.Supervisor.Resume(c.pipe)
		if st, _ := s.opt.Supervisor.Status(c.pipe); st.State == supervisor.Stopped {
			s.opt.Supervisor.Start(c.pipe)
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	s.retarget(w, r, supervisor.Stopped, func(c *conn) {
		ctx, cancel := context.WithTimeout(r.Context(), s.opt.StopTimeout)
		defer cancel()
		if err := s.opt.Supervisor.Stop(ctx, c.pipe); err != nil {
			writeError(w, http.StatusInternalServerError, scrub(err.Error(), secretValues(c.rec.Config, c.plan)))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func queryBool(r *http.Request, key string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(key))
	return v
}

// restart restarts the connector's pipeline (its one task with it). As in
// Kafka Connect: without includeTasks and onlyFailed the answer is 204;
// with either, 202 and the status as the restart begins. onlyFailed
// restarts a failed connector only. A stopped connector stays stopped.
func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Unknown connector: %s")
	if !ok {
		return
	}
	includeTasks, onlyFailed := queryBool(r, "includeTasks"), queryBool(r, "onlyFailed")
	s.mu.Lock()
	defer s.mu.Unlock()
	st, _ := s.opt.Supervisor.Status(c.pipe)
	if c.rec.Target != string(supervisor.Stopped) && (!onlyFailed || st.State == supervisor.Failed) {
		s.opt.Supervisor.RestartAsync(c.pipe)
	}
	if !includeTasks && !onlyFailed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusAccepted, s.statusOf(c))
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	type task struct {
		ID     taskID `json:"id"`
		Config Config `json:"config"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []task{}
	if c.rec.Target != string(supervisor.Stopped) {
		cfg := masked(c.rec.Config, c.plan)
		cfg["task.class"] = c.plan.Class
		out = append(out, task{ID: taskID{Connector: c.rec.Name, Task: 0}, Config: cfg})
	}
	writeJSON(w, http.StatusOK, out)
}

// task returns the connector and checks the task id (only 0 exists: a
// connector is one pipeline).
func (s *Server) task(w http.ResponseWriter, r *http.Request, msg string) (*conn, bool) {
	name, id := r.PathValue("name"), r.PathValue("task")
	s.mu.Lock()
	c, ok := s.conns[name]
	s.mu.Unlock()
	if !ok || id != "0" || c.rec.Target == string(supervisor.Stopped) {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msg, name+"-"+id))
		return nil, false
	}
	return c, true
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	c, ok := s.task(w, r, "No status found for task %s")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statusOf(c)
	if len(st.Tasks) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No status found for task %s-0", c.rec.Name))
		return
	}
	writeJSON(w, http.StatusOK, st.Tasks[0])
}

func (s *Server) taskRestart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.task(w, r, "Unknown task: %s")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.Supervisor.RestartAsync(c.pipe)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "Connector %s not found")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]map[string][]string{c.rec.Name: {"topics": {}}})
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Plugins(s.opt.Version))
}

// validate answers PUT /connector-plugins/{plugin}/config/validate with
// Kafka Connect's shape: one entry per key given, errors attached to the
// key they concern.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if !readBody(w, r, &raw) {
		return
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	plugin := r.PathValue("plugin")
	cls := cfg["connector.class"]
	if cls == "" {
		writeError(w, http.StatusBadRequest, "Connector config "+sortedConfig(cfg)+" contains no connector type")
		return
	}
	if lookupClass(cls) == nil || lookupClass(plugin) != nil && lookupClass(plugin) != lookupClass(cls) {
		writeError(w, http.StatusInternalServerError, (&UnknownClassError{Class: cls}).Error())
		return
	}
	s.mu.Lock()
	_, _, err = s.translate(cfg["name"], cfg)
	s.mu.Unlock()
	errs := map[string][]string{}
	var ce ConfigError
	var uc *UnknownClassError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		for _, e := range ce {
			errs[e.Key] = append(errs[e.Key], e.Msg)
		}
	case errors.As(err, &uc):
		writeError(w, http.StatusInternalServerError, uc.Error())
		return
	default:
		errs["connector.class"] = append(errs["connector.class"], err.Error())
	}
	if cfg["name"] == "" {
		errs["name"] = append(errs["name"], `Missing required configuration "name" which has no default value.`)
	}
	plan := &Plan{}
	if p, err := Translate("x", cfg, Env{Topics: s.opt.Topics, FilesRoot: s.opt.FilesRoot}); err == nil {
		plan = p
	}
	secrets := secretValues(cfg, plan)
	keys := map[string]bool{"name": true, "connector.class": true}
	for k := range cfg {
		keys[k] = true
	}
	for k := range errs {
		keys[k] = true
	}
	// name and connector.class first, as Connect orders its common keys.
	names := make([]string, 0, len(keys))
	for k := range keys {
		if k != "name" && k != "connector.class" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	names = append([]string{"name", "connector.class"}, names...)
	type definition struct {
		Name          string   `json:"name"`
		Type          string   `json:"type"`
		Required      bool     `json:"required"`
		DefaultValue  *string  `json:"default_value"`
		Importance    string   `json:"importance"`
		Documentation string   `json:"documentation"`
		Group         string   `json:"group"`
		Width         string   `json:"width"`
		DisplayName   string   `json:"display_name"`
		Dependents    []string `json:"dependents"`
		Order         int      `json:"order"`
	}
	type value struct {
		Name              string   `json:"name"`
		Value             *string  `json:"value"`
		RecommendedValues []string `json:"recommended_values"`
		Errors            []string `json:"errors"`
		Visible           bool     `json:"visible"`
	}
	type entry struct {
		Definition definition `json:"definition"`
		Value      value      `json:"value"`
	}
	count := 0
	configs := make([]entry, 0, len(names))
	for _, k := range names {
		var v *string
		if x, ok := cfg[k]; ok {
			if isSecret(k, plan) {
				x = Mask
			}
			x = MaskValue(x)
			v = &x
		}
		e := errs[k]
		if e == nil {
			e = []string{}
		}
		for i := range e {
			e[i] = scrub(e[i], secrets)
		}
		count += len(e)
		typ := "STRING"
		if isSecret(k, plan) {
			typ = "PASSWORD"
		}
		configs = append(configs, entry{
			Definition: definition{Name: k, Type: typ, Required: k == "name" || k == "connector.class", Importance: "HIGH", Group: "Common", Width: "NONE", DisplayName: k, Dependents: []string{}, Order: -1},
			Value:      value{Name: k, Value: v, RecommendedValues: []string{}, Errors: e, Visible: true},
		})
	}
	short := cls
	if i := strings.LastIndexByte(short, '.'); i >= 0 {
		short = short[i+1:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": short, "error_count": count, "groups": []string{"Common", "Transforms", "Predicates", "Error Handling"}, "configs": configs})
}
