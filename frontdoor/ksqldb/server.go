package ksqldb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/internal/durable"
	"github.com/sluice-dev/sluice/internal/namecheck"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/plan"
	"github.com/sluice-dev/sluice/supervisor"
	"github.com/sluice-dev/sluice/topology"
)

// Options configure a Server.
type Options struct {
	// StateDir is the server's state directory: the catalogue lives in
	// <StateDir>/ksql, each query's pipeline state in
	// <StateDir>/ksql/queries/<pipeline>.
	StateDir   string
	Registry   component.Registry
	Supervisor *supervisor.Supervisor
	// Topics carries the streams' and tables' topics (the topic log or
	// Kafka), as for connectors.
	Topics connect.Topics
	// LogDir is the topic log's directory, which pull and push queries and
	// DESCRIBE read; "" when the topics are in Kafka.
	LogDir string
	// Connect is Kafka Connect's REST API (frontdoor/connect): connector
	// statements go through it, so a connector made by either is seen by
	// both.
	Connect http.Handler
	Logger  *slog.Logger
	// StopTimeout bounds the drain of a terminated query; default 30s.
	StopTimeout time.Duration
}

// MaxBody bounds a request body, as the Connect API's.
const MaxBody = connect.MaxBody

// Server serves ksqlDB's statement API. mu serialises statements: they
// apply one after another, as ksqlDB's command topic orders them.
type Server struct {
	opt Options

	mu       sync.Mutex
	rels     map[string]*relation
	queries  map[string]*query
	seq      int // statements written to the command log (ksqlDB's command topic)
	commands []command
	pushes   int // push queries served, for their IDs
}

// relation is a stream or table of the catalogue.
type relation struct {
	Name        string
	Table       bool
	Topic       string
	KeyFormat   string
	ValueFormat string
	Timestamp   string
	Windowed    bool
	// Stmt is the statement that made it (a declaration, or the CREATE …
	// AS SELECT of a derived one), Seq its place in the command log.
	Stmt    string
	Seq     int
	Derived bool
	Query   string // the query writing it; "" for a declared or terminated one
	Columns []parse.ColumnDef
}

func (r *relation) kind() string {
	if r.Table {
		return "TABLE"
	}
	return "STREAM"
}

// query is a persistent query: one pipeline of the supervisor.
type query struct {
	ID      string
	Sink    string   // the relation it writes
	Stmt    string   // as given
	Reads   []string // the relations its FROM and JOINs name
	Closure string   // the statements its sql processor runs
	Topics  []string // the topics its pipeline reads
	Reset   string   // auto.offset.reset: earliest or latest
	Pipe    string
}

// command is one entry of the command log (<state>/ksql/commands.json):
// a statement that changed the catalogue, with the properties it ran
// with. Replayed in order at start, as ksqlDB replays its command topic.
type command struct {
	SQL   string            `json:"sql"`
	Props map[string]string `json:"props,omitempty"`
}

const commandsFile = "commands.json"

// Open loads the command log, replays it and starts every query.
func Open(opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.StopTimeout == 0 {
		opt.StopTimeout = 30 * time.Second
	}
	s := &Server{opt: opt, rels: map[string]*relation{}, queries: map[string]*query{}}
	b, err := os.ReadFile(filepath.Join(s.dir(), commandsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ksql: reading the command log: %w", err)
	}
	if err == nil {
		var cmds []command
		if err := json.Unmarshal(b, &cmds); err != nil {
			return nil, fmt.Errorf("ksql: the command log %s does not decode: %v (hint: restore it from a backup or remove it to start with an empty catalogue)", filepath.Join(s.dir(), commandsFile), err)
		}
		for _, c := range cmds {
			stmts, err := parse.Parse(c.SQL)
			if err != nil || len(stmts) != 1 {
				return nil, fmt.Errorf("ksql: the command log holds a statement that does not parse: %q", c.SQL)
			}
			props := c.Props
			if props == nil {
				props = map[string]string{}
			}
			if _, serr := s.execute(stmts[0], c.SQL, props, true); serr != nil {
				return nil, fmt.Errorf("ksql: replaying %q: %s", c.SQL, serr.msg)
			}
			s.commands = append(s.commands, c)
		}
	}
	// The queries still alive start once the whole log is replayed: one
	// that a later TERMINATE or DROP removed never runs again (it would
	// write its results a second time).
	ids := make([]string, 0, len(s.queries))
	for id := range s.queries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		q := s.queries[id]
		if err := s.start(q, s.rels[q.Sink]); err != nil {
			return nil, fmt.Errorf("ksql: %v", err)
		}
	}
	return s, nil
}

func (s *Server) dir() string { return filepath.Join(s.opt.StateDir, "ksql") }

// saveCommands writes the command log durably: a temporary file fsynced,
// renamed over the old one, the directory fsynced.
func (s *Server) saveCommands(cmds []command) error {
	dir := s.dir()
	if err := durable.MkdirAll(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cmds, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, commandsFile), append(b, '\n'), 0o600)
}

// Handler serves POST /ksql, /query and /query-stream.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ksql", s.ksql)
	mux.HandleFunc("POST /query", s.queryOld)
	mux.HandleFunc("POST /query-stream", s.queryStream)
	mux.HandleFunc("GET /info", s.info)
	return http.MaxBytesHandler(mux, MaxBody)
}

// DialectVersion is the ksqlDB version whose dialect and shapes sluice
// speaks, GET /info's version (ksql's CLI shows it and checks it).
const DialectVersion = "0.28.2"

// info serves GET /info (ServerInfo), which ksql's CLI asks first.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	id, _ := os.ReadFile(filepath.Join(s.opt.StateDir, "cluster_id"))
	type serverInfo struct {
		Version        string `json:"version"`
		KafkaClusterID string `json:"kafkaClusterId"`
		KsqlServiceID  string `json:"ksqlServiceId"`
		ServerStatus   string `json:"serverStatus"`
	}
	writeJSON(w, http.StatusOK, map[string]serverInfo{"KsqlServerInfo": {Version: DialectVersion, KafkaClusterID: strings.TrimSpace(string(id)), KsqlServiceID: "default_", ServerStatus: "RUNNING"}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeGeneric(w http.ResponseWriter, code, ecode int, msg string) {
	writeJSON(w, code, genericError{Type: "generic_error", Code: ecode, Message: msg})
}

// readBody reads a JSON body into v, answering ksqlDB's errors.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeGeneric(w, http.StatusRequestEntityTooLarge, 41300, fmt.Sprintf("the request body is larger than %d bytes", MaxBody))
			return false
		}
		writeGeneric(w, http.StatusBadRequest, errBadRequest, "reading the request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		msg := "the request body is not valid JSON"
		if errors.As(err, &se) {
			msg = fmt.Sprintf("the request body is not valid JSON at byte %d", se.Offset)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg = fmt.Sprintf("the request body has a %s where %s is expected (field %q)", te.Value, te.Type, te.Field)
		}
		writeGeneric(w, http.StatusBadRequest, errBadRequest, msg+` (hint: {"ksql": "SHOW STREAMS;", "streamsProperties": {}})`)
		return false
	}
	return true
}

// request is the body of POST /ksql (KsqlRequest).
type request struct {
	KSQL              string         `json:"ksql"`
	StreamsProperties map[string]any `json:"streamsProperties"`
	SessionVariables  map[string]any `json:"sessionVariables"`
}

// propsOf turns streamsProperties' values into text.
func propsOf(in map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// stmtErr is a failed statement: ksqlDB's statement_error.
type stmtErr struct {
	code int // HTTP status
	msg  string
}

func bad(format string, a ...any) *stmtErr {
	return &stmtErr{code: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

func (s *Server) ksql(w http.ResponseWriter, r *http.Request) {
	var req request
	if !readBody(w, r, &req) {
		return
	}
	pieces := Split(req.KSQL)
	if len(pieces) == 0 {
		writeGeneric(w, http.StatusBadRequest, errBadRequest, `the request holds no statement (hint: {"ksql": "SHOW STREAMS;"})`)
		return
	}
	props := propsOf(req.StreamsProperties)
	entities := []any{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pieces {
		stmts, err := parse.Parse(p.Text)
		if err == nil && len(stmts) != 1 {
			err = errors.New("expected one statement")
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, statementError{Type: "statement_error", Code: errBadStatement, Message: err.Error(), StatementText: masked(p.Text), Entities: entities})
			return
		}
		ent, serr := s.execute(stmts[0], p.Text, props, false)
		if serr != nil {
			ecode := errBadStatement
			if serr.code >= 500 {
				ecode = errServer
			}
			writeJSON(w, serr.code, statementError{Type: "statement_error", Code: ecode, Message: serr.msg, StatementText: masked(p.Text), Entities: entities})
			return
		}
		if ent != nil {
			entities = append(entities, ent)
		}
	}
	writeJSON(w, http.StatusOK, entities)
}

// foreign is the catalog statements are checked against when they come:
// every topic exists, its schema unknown until its records tell (as
// ksqlDB's, whose schemas a connector registers later).
type foreign struct{}

func (foreign) Stream(string) (plan.StreamInfo, bool) { return plan.StreamInfo{Assumed: true}, true }
func (foreign) Streams() []string                     { return nil }

// check plans stmts (a query's closure and the new statement) so that the
// planner's errors (unknown relations, properties) answer the request.
func check(texts []string) *stmtErr {
	stmts, err := parse.Parse(strings.Join(texts, "\n"))
	if err == nil {
		_, err = plan.Build(stmts, foreign{}, plan.Options{})
	}
	if err == nil {
		return nil
	}
	var list parse.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return bad("%s", list[len(list)-1].Msg)
	}
	return bad("%s", err.Error())
}

// execute runs one statement with props in force (SET and UNSET change
// them). replay is set when the command log is replayed at start: nothing
// is stored again and connectors (stored by the Connect API) are left.
func (s *Server) execute(st parse.Statement, text string, props map[string]string, replay bool) (any, *stmtErr) {
	switch st := st.(type) {
	case *parse.Set:
		if st.Name == "auto.offset.reset" && st.Value != "earliest" && st.Value != "latest" {
			return nil, bad("'auto.offset.reset' is 'earliest' or 'latest', got '%s'", st.Value)
		}
		props[st.Name] = st.Value
		return nil, nil
	case *parse.Unset:
		delete(props, st.Name)
		return nil, nil
	case *parse.CreateSource:
		return s.createSource(st, text, props, replay)
	case *parse.CreateAs:
		return s.createAs(st.Name.Name, st.Table, st.IfNotExists, st.OrReplace, st.Props, st.Query, text, props, replay, "")
	case *parse.InsertInto:
		rel := s.rels[st.Name.Name]
		if rel == nil {
			return nil, bad("%s does not exist.", st.Name.Name)
		}
		if rel.Derived {
			// Its pipeline would run the query writing it again (a
			// closure) and write that query's rows a second time.
			return nil, bad("sluice runs INSERT INTO into a stream declared with its columns, not into %s, which a query writes (hint: CREATE STREAM name (columns) WITH (kafka_topic = '…', partitions = 1), then INSERT INTO it from each query)", rel.Name)
		}
		return s.createAs(st.Name.Name, rel.Table, false, false, st.Props, st.Query, text, props, replay, rel.Name)
	case *parse.Drop:
		if st.What == "CONNECTOR" {
			return s.dropConnector(st, text)
		}
		return s.drop(st, text, props, replay)
	case *parse.Terminate:
		return s.terminate(st, text, props, replay)
	case *parse.CreateConnector:
		return s.createConnector(st, text)
	case *parse.Show:
		return s.show(st, text, props)
	case *parse.Describe:
		return s.describe(st, text)
	case *parse.Query:
		return nil, &stmtErr{code: http.StatusBadRequest, msg: "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT\n(hint: POST the SELECT to /query-stream or /query; `sluice sql` does)"}
	}
	return nil, bad("sluice does not run this statement type (%T) yet", st)
}

// record appends a command to the log (not when replaying) and counts it.
func (s *Server) record(text string, props map[string]string, replay bool) *stmtErr {
	if !replay {
		cmds := append(slices.Clone(s.commands), command{SQL: text, Props: maps(props)})
		if err := s.saveCommands(cmds); err != nil {
			return &stmtErr{code: http.StatusInternalServerError, msg: "storing the statement: " + err.Error()}
		}
		s.commands = cmds
	}
	s.seq++
	return nil
}

func maps(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func propMap(ps []parse.Property) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		v, _ := parse.PropString(ps, p.Name)
		out[p.Name] = v
	}
	return out
}

func status(text, cmdID, msg string, queryID string, seq int, warnings []warning) currentStatus {
	var q *string
	if queryID != "" {
		q = &queryID
	}
	if warnings == nil {
		warnings = []warning{}
	}
	return currentStatus{Type: "currentStatus", StatementText: text, CommandID: cmdID, CommandStatus: commandStatus{Status: "SUCCESS", Message: msg, QueryID: q}, CommandSeq: seq, Warnings: warnings}
}

func commandID(rel *relation, action string) string {
	return strings.ToLower(rel.kind()) + "/`" + rel.Name + "`/" + action
}

func (s *Server) createSource(st *parse.CreateSource, text string, props map[string]string, replay bool) (any, *stmtErr) {
	name := st.Name.Name
	kind := "stream"
	if st.Table {
		kind = "table"
	}
	if old := s.rels[name]; old != nil {
		if st.IfNotExists {
			return warningEntity{Type: "warning_entity", StatementText: text, Message: fmt.Sprintf("Cannot add %s %s: A %s with the same name already exists.", kind, name, strings.ToLower(old.kind())), Warnings: []warning{}}, nil
		}
		if !st.OrReplace || old.Derived {
			return nil, bad("Cannot add %s '%s': A %s with the same name already exists", kind, name, strings.ToLower(old.kind()))
		}
	}
	if serr := check([]string{text}); serr != nil {
		return nil, serr
	}
	p := propMap(st.Props)
	rel := &relation{Name: name, Table: st.Table, Topic: p["KAFKA_TOPIC"], Stmt: text, Columns: st.Columns, Timestamp: strings.ToUpper(p["TIMESTAMP"])}
	if rel.Topic == "" {
		rel.Topic = name
	}
	rel.ValueFormat = strings.ToUpper(firstOf(p["VALUE_FORMAT"], p["FORMAT"], "JSON"))
	rel.KeyFormat = strings.ToUpper(firstOf(p["KEY_FORMAT"], p["FORMAT"], "KAFKA"))
	if serr := s.record(text, props, replay); serr != nil {
		return nil, serr
	}
	rel.Seq = s.seq
	s.rels[name] = rel
	msg := "Stream created"
	if st.Table {
		msg = "Table created"
	}
	return status(text, commandID(rel, "create"), msg, "", s.seq-1, nil), nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// relationsOf lists the relations a FROM clause names.
func relationsOf(r parse.Relation) []string {
	switch r := r.(type) {
	case *parse.Table:
		return []string{r.Name.Name}
	case *parse.Join:
		return append(relationsOf(r.Left), r.Right.Name.Name)
	}
	return nil
}

// closure returns the statements a query over reads needs, in the order
// they came: the declarations of the relations it reads and, for a
// relation another query writes, that query's own closure (the query runs
// again inside this pipeline, over the same topics, instead of reading
// the other's output: its results are the same, with no schema round trip
// through a topic), and the topics those declarations read.
func (s *Server) closure(reads []string) (stmts []string, topics []string) {
	type item struct {
		seq  int
		text string
	}
	seen := map[string]bool{}
	var items []item
	tset := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		rel := s.rels[name]
		if rel == nil || seen[name] {
			return
		}
		seen[name] = true
		if rel.Derived && rel.Query != "" {
			q := s.queries[rel.Query]
			for _, r := range q.Reads {
				walk(r)
			}
			items = append(items, item{rel.Seq, q.Stmt})
			return
		}
		stmt := rel.Stmt
		if rel.Derived {
			// Its query was terminated: read what it wrote.
			stmt = fmt.Sprintf("CREATE %s %s WITH (kafka_topic = '%s', value_format = 'JSON');", rel.kind(), quoteIdent(rel.Name), strings.ReplaceAll(rel.Topic, "'", "''"))
		}
		items = append(items, item{rel.Seq, stmt})
		tset[rel.Topic] = true
	}
	for _, r := range reads {
		walk(r)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].seq < items[j].seq })
	for _, it := range items {
		stmts = append(stmts, strings.TrimSpace(it.text))
	}
	for t := range tset {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	return stmts, topics
}

func quoteIdent(name string) string {
	if regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(name) {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// createAs runs CREATE STREAM|TABLE … AS SELECT, or INSERT INTO (into
// names the existing relation).
func (s *Server) createAs(name string, table, ifNotExists, orReplace bool, ps []parse.Property, sel *parse.Select, text string, props map[string]string, replay bool, into string) (any, *stmtErr) {
	kind := "stream"
	if table {
		kind = "table"
	}
	if old := s.rels[name]; old != nil && into == "" {
		if ifNotExists {
			return warningEntity{Type: "warning_entity", StatementText: text, Message: fmt.Sprintf("Cannot add %s %s: A %s with the same name already exists.", kind, name, strings.ToLower(old.kind())), Warnings: []warning{}}, nil
		}
		if !orReplace {
			return nil, bad("Cannot add %s '%s': A %s with the same name already exists", kind, name, strings.ToLower(old.kind()))
		}
		return nil, bad("CREATE OR REPLACE of %s is not supported by sluice: TERMINATE its query and DROP it first", name)
	}
	reads := relationsOf(sel.From)
	for _, r := range reads {
		if s.rels[r] == nil {
			return nil, bad("%s does not exist.", r)
		}
	}
	stmts, topics := s.closure(reads)
	if into != "" {
		// The target's declaration comes first: INSERT INTO needs it.
		tstmts, _ := s.closure([]string{into})
		stmts = mergeStmts(tstmts, stmts)
	}
	if serr := check(append(slices.Clone(stmts), text)); serr != nil {
		return nil, serr
	}
	if len(topics) == 0 {
		return nil, bad("the query reads no topic")
	}
	p := propMap(ps)
	reset := strings.ToLower(props["auto.offset.reset"])
	if reset == "" {
		reset = "latest" // ksqlDB's default
	}
	if serr := s.record(text, props, replay); serr != nil {
		return nil, serr
	}
	seq := s.seq
	var id string
	switch {
	case into != "":
		id = fmt.Sprintf("INSERTQUERY_%d", seq-1)
	case table:
		id = fmt.Sprintf("CTAS_%s_%d", name, seq-1)
	default:
		id = fmt.Sprintf("CSAS_%s_%d", name, seq-1)
	}
	rel := s.rels[into]
	if into == "" {
		rel = &relation{Name: name, Table: table, Topic: firstOf(p["KAFKA_TOPIC"], name), Stmt: text, Seq: seq, Derived: true, Query: id,
			ValueFormat: strings.ToUpper(firstOf(p["VALUE_FORMAT"], p["FORMAT"], "JSON")), KeyFormat: strings.ToUpper(firstOf(p["KEY_FORMAT"], p["FORMAT"], "KAFKA")),
			Timestamp: strings.ToUpper(p["TIMESTAMP"]), Windowed: sel.Window != nil}
	}
	q := &query{ID: id, Sink: rel.Name, Stmt: text, Reads: reads, Closure: strings.Join(append(stmts, strings.TrimSpace(text)), "\n"), Topics: topics, Reset: reset, Pipe: pipelineName(id)}
	if err := s.startUnlessReplay(q, rel, replay); err != nil {
		if !replay {
			// Undo the command: the statement failed.
			s.commands = s.commands[:len(s.commands)-1]
			s.saveCommands(s.commands)
		}
		s.seq--
		return nil, &stmtErr{code: http.StatusBadRequest, msg: err.Error()}
	}
	s.queries[id] = q
	if into == "" {
		s.rels[name] = rel
	}
	return status(text, commandID(rel, "create"), "Created query with ID "+id, id, seq-1, nil), nil
}

// mergeStmts joins two closures, keeping the first's order and dropping
// repeated statements.
func mergeStmts(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

var pipeName = namecheck.New("A-Za-z", "A-Za-z0-9_-", 0, 62)

// pipelineName is a query's pipeline name: ksql-<ID> when valid, else a
// digest.
func pipelineName(id string) string {
	if n := "ksql-" + id; pipeName.Match(n) {
		return n
	}
	sum := sha256.Sum256([]byte(id))
	return "ksql-" + hex.EncodeToString(sum[:8])
}

// Node names of a query's pipeline.
const (
	inputNode  = "ksql_input"
	queryNode  = "ksql_query"
	outputNode = "ksql_output"
)

// graph is a query's pipeline: its topics → the sql processor (the
// closure's statements) → the topic of the relation it writes.
func (s *Server) graph(q *query, rel *relation) (*topology.Graph, error) {
	in := s.opt.Topics.Reader(q.Pipe, q.Topics, "")
	in["start_offset"] = q.Reset
	out := s.opt.Topics.Writer(q.Pipe, rel.Topic, connect.WriterOptions{Schemas: true, Tombstones: rel.Table})
	out["inputs"] = []string{rel.Topic}
	doc := map[string]any{
		"name":      q.Pipe,
		"state_dir": filepath.Join(s.dir(), "queries", q.Pipe),
		"sources":   map[string]any{inputNode: map[string]any(in)},
		"processors": map[string]any{queryNode: map[string]any{
			"type": "sql", "inputs": []string{inputNode}, "statements": q.Closure,
			// A cold start over existing topics joins every row (see
			// processor/streamsql): ksqlDB's result would depend on
			// which topic it read first.
			"hold_until_snapshot": true,
		}},
		"sinks": map[string]any{outputNode: map[string]any(out)},
	}
	return config.LoadValue("query "+q.ID, doc, s.opt.Registry)
}

// startUnlessReplay starts a new query's pipeline; during the replay of
// the command log it only checks that the pipeline loads (Open starts
// the survivors at the end).
func (s *Server) startUnlessReplay(q *query, rel *relation, replay bool) error {
	if replay {
		_, err := s.graph(q, rel)
		if err != nil {
			return fmt.Errorf("query %s: %v", q.ID, err)
		}
		return nil
	}
	return s.start(q, rel)
}

func (s *Server) start(q *query, rel *relation) error {
	g, err := s.graph(q, rel)
	if err != nil {
		return fmt.Errorf("query %s: %v", q.ID, err)
	}
	return s.opt.Supervisor.Add(g)
}

// stopQuery removes a query's pipeline and its state.
func (s *Server) stopQuery(q *query) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.StopTimeout)
	defer cancel()
	if err := s.opt.Supervisor.Remove(ctx, q.Pipe); err != nil && !errors.Is(err, supervisor.ErrUnknown) {
		return err
	}
	return os.RemoveAll(filepath.Join(s.dir(), "queries", q.Pipe))
}

// readers lists the queries that read rel directly.
func (s *Server) readers(name string) []string {
	var out []string
	for id, q := range s.queries {
		if slices.Contains(q.Reads, name) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) drop(st *parse.Drop, text string, props map[string]string, replay bool) (any, *stmtErr) {
	rel := s.rels[st.Name.Name]
	if rel == nil {
		if st.IfExists {
			return nil, nil
		}
		return nil, bad("Source %s does not exist.", st.Name.Name)
	}
	if rel.kind() != st.What {
		return nil, bad("Incompatible data source type is %s, but statement was DROP %s", rel.kind(), st.What)
	}
	if rs := s.readers(rel.Name); len(rs) > 0 {
		var writes []string
		if rel.Query != "" {
			writes = []string{rel.Query}
		}
		return nil, bad("Cannot drop %s.\nThe following queries read from this source: [%s].\nThe following queries write into this source: [%s].\nYou need to terminate them before dropping %s.",
			rel.Name, strings.Join(rs, ", "), strings.Join(writes, ", "), rel.Name)
	}
	var warnings []warning
	if st.DeleteTopic {
		warnings = append(warnings, warning{Message: fmt.Sprintf("DELETE TOPIC: sluice keeps the topic %s (its retention deletes the records)", rel.Topic)})
	}
	if serr := s.record(text, props, replay); serr != nil {
		return nil, serr
	}
	// ksqlDB (0.13 on) terminates the query writing a dropped relation.
	for id, q := range s.queries {
		if q.Sink == rel.Name {
			if err := s.stopQuery(q); err != nil {
				return nil, &stmtErr{code: http.StatusInternalServerError, msg: err.Error()}
			}
			delete(s.queries, id)
		}
	}
	delete(s.rels, rel.Name)
	return status(text, commandID(rel, "drop"), fmt.Sprintf("Source `%s` (topic: %s) was dropped.", rel.Name, rel.Topic), "", s.seq-1, warnings), nil
}

func (s *Server) terminate(st *parse.Terminate, text string, props map[string]string, replay bool) (any, *stmtErr) {
	var ids []string
	if st.All {
		for id := range s.queries {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	} else {
		id := st.ID.Name
		if s.queries[id] == nil {
			// Query IDs are case-insensitive in ksqlDB.
			for qid := range s.queries {
				if strings.EqualFold(qid, id) {
					id = qid
				}
			}
		}
		if s.queries[id] == nil {
			return nil, bad("Unknown queryId: %s", st.ID.Name)
		}
		ids = []string{id}
	}
	if serr := s.record(text, props, replay); serr != nil {
		return nil, serr
	}
	for _, id := range ids {
		q := s.queries[id]
		if err := s.stopQuery(q); err != nil {
			return nil, &stmtErr{code: http.StatusInternalServerError, msg: err.Error()}
		}
		if rel := s.rels[q.Sink]; rel != nil && rel.Query == id {
			rel.Query = ""
		}
		delete(s.queries, id)
	}
	name := "ALL"
	if !st.All {
		name = ids[0]
	}
	return status(text, "terminate/"+name+"/execute", "Query terminated.", "", s.seq-1, nil), nil
}

// callConnect calls the Connect API in process.
func (s *Server) callConnect(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.opt.Connect.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func connectMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(b))
}

func (s *Server) createConnector(st *parse.CreateConnector, text string) (any, *stmtErr) {
	if s.opt.Connect == nil {
		return nil, bad("this server has no Kafka Connect API")
	}
	cfg := map[string]string{}
	for _, p := range st.Props {
		v, _ := parse.PropString(st.Props, p.Name)
		cfg[p.Name] = v
	}
	name := st.Name.Name
	code, b := s.callConnect("POST", "/connectors", map[string]any{"name": name, "config": cfg})
	if code == http.StatusConflict && st.IfNotExists {
		return warningEntity{Type: "warning_entity", StatementText: masked(text), Message: fmt.Sprintf("Connector %s already exists", name), Warnings: []warning{}}, nil
	}
	if code != http.StatusCreated {
		return nil, bad("Failed to create connector: %s", connectMessage(b))
	}
	var info connectorInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, &stmtErr{code: http.StatusInternalServerError, msg: "the Connect API's answer does not decode: " + err.Error()}
	}
	if info.Tasks == nil {
		info.Tasks = []any{}
	}
	return connectorInfoEntity{Type: "connector_info", StatementText: masked(text), Info: info, Warnings: []warning{}}, nil
}

// secretProp matches a quoted property, 'key' = 'value' (” inside).
var secretProp = regexp.MustCompile(`'((?:[^']|'')*)'(\s*=\s*)'((?:[^']|'')*)'`)

// masked is a statement's text with the values of secret properties
// ('database.password' = '…') replaced by the mask: every statementText
// of an answer and every log line shows this, never the secret (the
// Connect API masks the config the same way).
func masked(text string) string {
	if !strings.Contains(text, "'") {
		return text
	}
	return secretProp.ReplaceAllStringFunc(text, func(m string) string {
		sub := secretProp.FindStringSubmatch(m)
		if connect.IsSecretKey(strings.ReplaceAll(sub[1], "''", "'")) {
			return "'" + sub[1] + "'" + sub[2] + "'" + connect.Mask + "'"
		}
		return "'" + sub[1] + "'" + sub[2] + "'" + connect.MaskValue(sub[3]) + "'"
	})
}

func (s *Server) dropConnector(st *parse.Drop, text string) (any, *stmtErr) {
	if s.opt.Connect == nil {
		return nil, bad("this server has no Kafka Connect API")
	}
	name := st.Name.Name
	code, b := s.callConnect("DELETE", "/connectors/"+url.PathEscape(name), nil)
	switch {
	case code == http.StatusNotFound && st.IfExists:
		return warningEntity{Type: "warning_entity", StatementText: text, Message: fmt.Sprintf("Connector %s does not exist.", name), Warnings: []warning{}}, nil
	case code == http.StatusNotFound:
		return nil, bad("Connector %s does not exist.", name)
	case code >= 300:
		return nil, bad("Failed to drop connector: %s", connectMessage(b))
	}
	return dropConnector{Type: "drop_connector", StatementText: text, ConnectorName: name, Warnings: []warning{}}, nil
}

// Mount serves ksqlDB's endpoints (POST /ksql, /query, /query-stream)
// with ksql and everything else with rest (Kafka Connect's API): both
// share `sluice serve`'s one address, as ksqlDB's embedded Connect does.
func Mount(rest, ksql http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ksql", ksql)
	mux.Handle("/query", ksql)
	mux.Handle("/query-stream", ksql)
	mux.Handle("/info", ksql)
	mux.Handle("/", rest)
	return mux
}
