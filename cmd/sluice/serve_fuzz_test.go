package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/httpapi"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// syncBuffer is a log destination written by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) since(n int) ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes()[n:]), s.b.Len()
}

// serveDocumented500 are the 5xx answers the API documents (Kafka Connect
// 3.9 answers a body that is not a JSON object, and an unknown class, with
// 500; frontdoor/connect's documented500).
var serveDocumented500 = []string{
	"the request body is not valid JSON",
	"the request body has a ",
	"json: cannot unmarshal ",
	"the connector configuration must be a JSON object",
	"the value of ",
	"Failed to find any class that implements Connector and which name matches ",
}

// apiCall sends a request to an in-process `sluice serve` API; ok is
// false for a request a client cannot send.
type apiCall func(t testing.TB, method, path, body string) (code int, h http.Header, b []byte, ok bool)

// startServeAPI serves `sluice serve`'s API in process (serveAPI behind
// httpapi.Listen with a bearer token, on a real socket) with the pipeline
// file gen, whose sink's password is canary, and returns how to call it
// and the log (debug level).
func startServeAPI(tb testing.TB, canary string) (apiCall, *syncBuffer) {
	dir := tb.TempDir()
	state := filepath.Join(dir, "state")
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := registry.Default()
	pipe := filepath.Join(dir, "gen.yaml")
	if err := os.WriteFile(pipe, []byte(`name: gen
sources:
  gen: {type: generator, tables: [product], rate: 1}
sinks:
  db: {type: mysql, inputs: [gen], dsn: "u:`+canary+`@tcp(127.0.0.1:1)/db"}
`), 0o644); err != nil {
		tb.Fatal(err)
	}
	files, err := loadServeFiles([]string{pipe}, state, reg, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
	})
	for _, sf := range files {
		if err := sup.AddState(sf.graph, sf.target); err != nil {
			tb.Fatal(err)
		}
	}
	srv, err := connect.Open(connect.Options{StateDir: state, Registry: reg, Supervisor: sup,
		Topics: connect.LogTopics{Dir: filepath.Join(state, "topics")}, Logger: log, Version: "test",
		WorkerID: "127.0.0.1:8083", StopTimeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	const token = "fuzz-token-0123456789abcdef"
	hs, err := httpapi.Listen("127.0.0.1:0", &httpapi.Security{Token: token}, serveAPI(srv, srv.Handler(), sup, files, &slotReporters{}, nil, log), log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { hs.Shutdown(context.Background()) })
	client := &http.Client{Timeout: 60 * time.Second}
	return func(t testing.TB, method, path, body string) (int, http.Header, []byte, bool) {
		req, err := http.NewRequest(method, hs.URL()+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, nil, false // not a request a client can send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %q: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b, true
	}, logs
}

// FuzzServeAPI drives `sluice serve`'s whole API — the pipelines API and
// Kafka Connect's, behind httpapi.Listen with a bearer token, on a real
// socket — with fuzzed methods, paths and bodies. It holds a pipeline file
// and a connector whose configurations carry a canary password (both
// retrying an unreachable server, and logging it, for as long as the
// fuzzing goes). No request may crash the server, answer a 5xx other than
// the documented ones, or show the canary in a response, a header or a
// log line at debug level.
func FuzzServeAPI(f *testing.F) {
	const canary = "fz-Canary-pw-0Q7"
	call, logs := startServeAPI(f, canary)
	canaryCfg := `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"canary_topic","connection.url":"jdbc:mysql://127.0.0.1:1/nodb","connection.user":"u","connection.password":"` + canary + `"}`
	if code, _, b, _ := call(f, "PUT", "/connectors/canary/config", canaryCfg); code != 201 {
		f.Fatalf("creating the canary connector: %d %s", code, b)
	}
	leaks := func(b []byte) bool {
		return bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte(url.QueryEscape(canary))) || bytes.Contains(b, []byte(canary[:len(canary)-3]))
	}
	for _, s := range []struct{ path, body string }{
		{"/pipelines", ""}, {"/pipelines/gen", ""}, {"/pipelines/gen/pause", ""}, {"/pipelines/gen/resume", ""},
		{"/pipelines/gen/stop", ""}, {"/pipelines/gen/restart", ""}, {"/pipelines/canary/restart", ""}, {"/pipelines/%2e%2e/status", ""},
		{"/connectors/canary/config", canaryCfg}, {"/connectors/canary/config", strings.Replace(canaryCfg, canary, "[hidden]", 1)},
		{"/connectors/gen/config", `{"connector.class":"FileStreamSink","topics":"t","file":"x"}`},
		{"/connectors", `{"name":"canary2","config":` + canaryCfg + `}`},
		{"/connector-plugins/JdbcSinkConnector/config/validate", canaryCfg},
		{"/connectors/canary/restart?includeTasks=true&onlyFailed=true", ""},
		{"/", ""}, {"/connectors?expand=status&expand=info", ""}, {"/readyz", ""}, {"/metrics", ""}, {"/nope", "{"},
	} {
		for m := range uint8(5) {
			f.Add(m, s.path, s.body)
		}
	}
	methods := []string{"GET", "PUT", "POST", "DELETE", "PATCH"}
	f.Fuzz(func(t *testing.T, m uint8, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
			path = "/" + strings.TrimLeft(path, "/")
		}
		_, logged := logs.since(0)
		method := methods[int(m)%len(methods)]
		code, h, b, ok := call(t, method, path, body)
		if !ok {
			return
		}
		what := method + " " + path
		if leaks(b) {
			t.Fatalf("%s: the canary is in the response: %s", what, b)
		}
		for k, vs := range h {
			for _, v := range vs {
				if leaks([]byte(v)) {
					t.Fatalf("%s: the canary is in the header %s", what, k)
				}
			}
		}
		if code >= 500 && path != "/readyz" {
			var e struct {
				Code    int    `json:"error_code"`
				Message string `json:"message"`
			}
			documented := false
			if json.Unmarshal(b, &e) == nil && e.Code == code {
				for _, p := range serveDocumented500 {
					documented = documented || strings.HasPrefix(e.Message, p)
				}
			}
			if !documented {
				t.Fatalf("%s: %d, not a documented 5xx: %s", what, code, b)
			}
		}
		if code >= 400 && (path == "/pipelines" || strings.HasPrefix(path, "/pipelines/")) {
			var e struct {
				Code int `json:"error_code"`
			}
			if json.Unmarshal(b, &e) != nil || e.Code != code || h.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: %d not in Connect's error shape: %s", what, code, b)
			}
		}
		for _, p := range []string{"/pipelines", "/pipelines/gen", "/connectors?expand=status&expand=info", "/connectors/canary/config", "/connectors/canary/status", "/readyz"} {
			if _, _, b, _ := call(t, "GET", p, ""); leaks(b) {
				t.Fatalf("after %s: GET %s shows the canary: %s", what, p, b)
			}
		}
		if l, _ := logs.since(logged); leaks(l) {
			t.Fatalf("%s: the canary is in the log: %s", what, l)
		}
		// Back to the start: only the canary connector, with its config.
		var names []string
		_, _, lb, _ := call(t, "GET", "/connectors", "")
		if err := json.Unmarshal(lb, &names); err != nil {
			t.Fatalf("GET /connectors: %s", lb)
		}
		for _, n := range names {
			if n != "canary" {
				call(t, "DELETE", "/connectors/"+url.PathEscape(n), "")
			}
		}
		if !strings.Contains(what, "/connectors/canary") {
			return
		}
		if code, _, b, _ := call(t, "PUT", "/connectors/canary/config", canaryCfg); code != 200 && code != 201 {
			t.Fatalf("restoring the canary connector: %d %s", code, b)
		}
	})
}

// TestServeAPIBodyLimit: through `sluice serve`'s whole API, a body over
// 1 MiB is refused with 413 in Connect's error shape; one of 1 MiB is read.
func TestServeAPIBodyLimit(t *testing.T) {
	call, _ := startServeAPI(t, "limit-canary-pw-1")
	pad := func(n int) string {
		cfg := `{"connector.class":"Nope","x":""}`
		return strings.Replace(cfg, `""`, `"`+strings.Repeat("y", n-len(cfg))+`"`, 1)
	}
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/connectors/big/config"}, {"PUT", "/connector-plugins/Nope/config/validate"},
	} {
		code, h, b, _ := call(t, tc.method, tc.path, pad(httpapi.MaxBody+1))
		if code != 413 || string(b) != `{"error_code":413,"message":"the request body is larger than 1048576 bytes"}`+"\n" || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s of 1 MiB + 1: %d %s %s", tc.method, tc.path, code, h.Get("Content-Type"), b)
		}
		if code, _, b, _ := call(t, tc.method, tc.path, pad(httpapi.MaxBody)); code != 500 || !strings.Contains(string(b), "matches Nope,") {
			t.Errorf("%s %s of 1 MiB: %d %.200s", tc.method, tc.path, code, b)
		}
	}
	body := `{"name":"big","config":{"connector.class":"Nope","x":""}}`
	body = strings.Replace(body, `"x":""`, `"x":"`+strings.Repeat("y", httpapi.MaxBody+1-len(body))+`"`, 1)
	if code, _, b, _ := call(t, "POST", "/connectors", body); code != 413 || !strings.Contains(string(b), `"error_code":413`) {
		t.Errorf("POST /connectors of 1 MiB + 1: %d %s", code, b)
	}
}
