package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// testServer is `sluice serve` in process: topics in the test Kafka (or
// the topic log, startLogServer), FileStream files in files.
type testServer struct {
	url   string
	files string
	sup   *supervisor.Supervisor
	close func()
	logs  *lockedWriter
}

func startServer(t *testing.T, stateDir, files string) *testServer {
	t.Helper()
	brokers := svctest.Need(t, svctest.Kafka)
	return startServerWith(t, stateDir, files, KafkaTopics{Brokers: strings.Split(brokers, ",")})
}

// startLogServer is `sluice serve` without --kafka: topics in the topic
// log in <state>/topics, as cmdServe sets it.
func startLogServer(t *testing.T, stateDir, files string) *testServer {
	t.Helper()
	return startServerWith(t, stateDir, files, LogTopics{Dir: filepath.Join(stateDir, "topics")})
}

func startServerWith(t *testing.T, stateDir, files string, topics Topics) *testServer {
	t.Helper()
	logs := &lockedWriter{w: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := registry.Default()
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log})
	srv, err := Open(Options{StateDir: stateDir, Registry: reg, Supervisor: sup, Topics: topics,
		FilesRoot: files, Logger: log, Version: "test", WorkerID: "127.0.0.1:8083"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ts := &testServer{url: hs.URL, files: files, sup: sup, logs: logs}
	closed := false
	ts.close = func() {
		if closed {
			return
		}
		closed = true
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
	}
	t.Cleanup(ts.close)
	return ts
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.w.Bytes())
}

// call makes a request and returns the status code and the body.
func call(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func expect(t *testing.T, method, url, body string, code int) []byte {
	t.Helper()
	got, b := call(t, method, url, body)
	if got != code {
		t.Fatalf("%s %s: %d %s, want %d", method, url, got, b, code)
	}
	return b
}

// waitState polls a connector's status until its connector and first
// task are in the given states ("" for no task).
func waitState(t *testing.T, base, name, conn, task string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last []byte
	for time.Now().Before(deadline) {
		code, b := call(t, "GET", base+"/connectors/"+name+"/status", "")
		last = b
		var st struct {
			Connector struct{ State string }
			Tasks     []struct{ State string }
		}
		if code == 200 && json.Unmarshal(b, &st) == nil && st.Connector.State == conn &&
			((task == "" && len(st.Tasks) == 0) || (len(st.Tasks) > 0 && st.Tasks[0].State == task)) {
			var m map[string]any
			json.Unmarshal(b, &m)
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("connector %s never reached %s/%s; last status %s", name, conn, task, last)
	return nil
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(path)
		if string(got) == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s holds %q, want %q", path, got, want)
}

func uniqueTopic(t *testing.T) string {
	return "sluice-connect-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + time.Now().Format("150405.000000")
}

// TestServeFileStreamLifecycle drives FileStreamSource → topic →
// FileStreamSink through the REST API, through pause, stop, restart and a
// restart of the server itself, with the topics in Kafka and in the topic
// log.
func TestServeFileStreamLifecycle(t *testing.T) {
	t.Run("kafka", func(t *testing.T) { testFileStreamLifecycle(t, startServer) })
	t.Run("topiclog", func(t *testing.T) { testFileStreamLifecycle(t, startLogServer) })
}

func testFileStreamLifecycle(t *testing.T, startServer func(t *testing.T, stateDir, files string) *testServer) {
	state, files := t.TempDir(), t.TempDir()
	s := startServer(t, state, files)
	topic := uniqueTopic(t)
	in, out := filepath.Join(files, "in.txt"), filepath.Join(files, "out.txt")
	if err := os.WriteFile(in, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `{"connector.class":"FileStreamSource","file":"in.txt","topic":"` + topic + `","tasks.max":1}`
	b := expect(t, "PUT", s.url+"/connectors/src/config", src, 201)
	if want := `{"name":"src","config":{"connector.class":"FileStreamSource","file":"in.txt","name":"src","tasks.max":"1","topic":"` + topic + `"},"tasks":[],"type":"source"}` + "\n"; string(b) != want {
		t.Errorf("create: %s\nwant %s", b, want)
	}
	expect(t, "PUT", s.url+"/connectors/src/config", src, 200)
	expect(t, "POST", s.url+"/connectors", `{"name":"sink","config":{"connector.class":"FileStreamSink","file":"out.txt","topics":"`+topic+`"}}`, 201)
	b = expect(t, "POST", s.url+"/connectors", `{"name":"sink","config":{"connector.class":"FileStreamSink","file":"out.txt","topics":"`+topic+`"}}`, 409)
	if want := `{"error_code":409,"message":"Connector sink already exists"}` + "\n"; string(b) != want {
		t.Errorf("duplicate: %s", b)
	}
	waitFile(t, out, "a\nb\n")
	if b := expect(t, "GET", s.url+"/connectors", "", 200); string(b) != `["sink","src"]`+"\n" {
		t.Errorf("list: %s", b)
	}
	st := waitState(t, s.url, "src", "RUNNING", "RUNNING")
	if want := map[string]any{"name": "src", "type": "source", "connector": map[string]any{"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
		"tasks": []any{map[string]any{"id": 0.0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}}}; !jsonEqual(st, want) {
		t.Errorf("status: %v", st)
	}

	expect(t, "PUT", s.url+"/connectors/src/pause", "", 202)
	waitState(t, s.url, "src", "PAUSED", "PAUSED")
	expect(t, "PUT", s.url+"/connectors/src/resume", "", 202)
	waitState(t, s.url, "src", "RUNNING", "RUNNING")
	expect(t, "PUT", s.url+"/connectors/sink/stop", "", 204)
	waitState(t, s.url, "sink", "STOPPED", "")
	os.WriteFile(in, []byte("a\nb\nc\n"), 0o644)
	expect(t, "PUT", s.url+"/connectors/src/pause", "", 202)

	// The server goes down and comes back: the connectors come back in
	// their target states and resume from their checkpoints.
	s.close()
	s = startServer(t, state, files)
	waitState(t, s.url, "src", "PAUSED", "PAUSED")
	waitState(t, s.url, "sink", "STOPPED", "")
	expect(t, "PUT", s.url+"/connectors/sink/resume", "", 202)
	waitState(t, s.url, "sink", "RUNNING", "RUNNING")
	expect(t, "PUT", s.url+"/connectors/src/resume", "", 202)
	waitFile(t, out, "a\nb\nc\n")

	expect(t, "POST", s.url+"/connectors/src/restart", "", 204)
	b = expect(t, "POST", s.url+"/connectors/src/restart?includeTasks=true", "", 202)
	if !strings.Contains(string(b), `"name":"src"`) {
		t.Errorf("restart: %s", b)
	}
	waitState(t, s.url, "src", "RUNNING", "RUNNING")
	expect(t, "DELETE", s.url+"/connectors/src", "", 204)
	b = expect(t, "GET", s.url+"/connectors/src", "", 404)
	if want := `{"error_code":404,"message":"Connector src not found"}` + "\n"; string(b) != want {
		t.Errorf("after delete: %s", b)
	}
	s.close()
	s = startServer(t, state, files)
	if b := expect(t, "GET", s.url+"/connectors", "", 200); string(b) != `["sink"]`+"\n" {
		t.Errorf("list after delete and restart: %s", b)
	}
}

// TestServeSecretsMasked: a canary password never appears in a response
// or a log line, even when the connector fails on it, and a PUT that sends
// the mask back keeps the stored secret.
func TestServeSecretsMasked(t *testing.T) {
	const canary = "canary-Pw/9@x"
	state := t.TempDir()
	s := startServer(t, state, t.TempDir())
	cfg := `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"` + uniqueTopic(t) + `","connection.url":"jdbc:mysql://127.0.0.1:1/nodb","connection.user":"u","connection.password":"` + canary + `"}`
	var bodies [][]byte
	bodies = append(bodies, expect(t, "PUT", s.url+"/connectors/jdbc/config", cfg, 201))
	// The sink cannot connect: it retries, logging why.
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.Contains(s.logs.Bytes(), []byte("127.0.0.1:1")) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	bodies = append(bodies, expect(t, "GET", s.url+"/connectors/jdbc/status", "", 200))
	for _, p := range []string{"/connectors/jdbc", "/connectors/jdbc/config", "/connectors/jdbc/tasks", "/connectors?expand=info&expand=status"} {
		bodies = append(bodies, expect(t, "GET", s.url+p, "", 200))
	}
	bodies = append(bodies, expect(t, "PUT", s.url+"/connector-plugins/JdbcSinkConnector/config/validate", cfg, 200))
	bad := strings.Replace(cfg, `"topics"`, `"colour":"red","topics"`, 1)
	bodies = append(bodies, expect(t, "PUT", s.url+"/connectors/jdbc/config", bad, 400))
	masked := strings.Replace(cfg, canary, Mask, 1)
	bodies = append(bodies, expect(t, "PUT", s.url+"/connectors/jdbc/config", masked, 200))
	for _, b := range append(bodies, s.logs.Bytes()) {
		if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte("canary-Pw%2F9%40x")) {
			t.Errorf("the canary leaked: %s", b)
		}
	}
	rec, err := os.ReadFile(filepath.Join(state, "connectors", "jdbc", "connector.json"))
	if err != nil || !bytes.Contains(rec, []byte(`"connection.password": "`+canary+`"`)) {
		t.Errorf("the stored record lost the secret sent back masked: %s %v", rec, err)
	}
	if !strings.Contains(string(bodies[2]), `"connection.password":"[hidden]"`) {
		t.Errorf("GET connector: %s", bodies[2])
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// A password inside a URL value (here a JDBC URL's password parameter) is
// masked like a password key's value: in every answer and log
// line; sent back masked, the stored value stands.
func TestServeURLSecretsMasked(t *testing.T) {
	const canary = "canary-Url9x"
	state := t.TempDir()
	s := startServer(t, state, t.TempDir())
	cfg := `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"` + uniqueTopic(t) + `","connection.url":"jdbc:postgresql://127.0.0.1:1/nodb?user=u&password=` + canary + `"}`
	var bodies [][]byte
	bodies = append(bodies, expect(t, "PUT", s.url+"/connectors/jdbc/config", cfg, 201))
	for _, p := range []string{"/connectors/jdbc", "/connectors/jdbc/config", "/connectors/jdbc/status", "/connectors?expand=info&expand=status"} {
		bodies = append(bodies, expect(t, "GET", s.url+p, "", 200))
	}
	bodies = append(bodies, expect(t, "PUT", s.url+"/connector-plugins/JdbcSinkConnector/config/validate", cfg, 200))
	masked := strings.Replace(cfg, canary, Mask, 1)
	bodies = append(bodies, expect(t, "PUT", s.url+"/connectors/jdbc/config", masked, 200))
	for _, b := range append(bodies, s.logs.Bytes()) {
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("the canary leaked: %s", b)
		}
	}
	if want := `"connection.url":"jdbc:postgresql://127.0.0.1:1/nodb?user=u\u0026password=[hidden]"`; !strings.Contains(string(bodies[2]), want) {
		t.Errorf("GET config: %s, want %s", bodies[2], want)
	}
	rec, err := os.ReadFile(filepath.Join(state, "connectors", "jdbc", "connector.json"))
	if err != nil || !bytes.Contains(rec, []byte("password="+canary)) {
		t.Errorf("the stored record lost the password sent back masked: %s %v", rec, err)
	}
}

func TestMaskValue(t *testing.T) {
	for in, want := range map[string]string{
		"mongodb://u:pw@h:1/?authSource=admin":                 "mongodb://u:[hidden]@h:1/?authSource=admin",
		"postgres://u@h/db":                                    "postgres://u@h/db",
		"jdbc:postgresql://h/db?user=u&password=pw&ssl=true":   "jdbc:postgresql://h/db?user=u&password=[hidden]&ssl=true",
		"jdbc:sqlserver://h;databaseName=d;user=u;password=pw": "jdbc:sqlserver://h;databaseName=d;user=u;password=[hidden]",
		"plain value": "plain value",
	} {
		if got := MaskValue(in); got != want {
			t.Errorf("MaskValue(%q) = %q, want %q", in, got, want)
		}
	}
}
