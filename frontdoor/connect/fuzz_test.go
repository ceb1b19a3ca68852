package connect

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// documented500 are the beginnings of the messages the API answers with
// 500, as Kafka Connect 3.9 does (package doc, TestConnectDifferential):
// a body that is not JSON, not a JSON object or with a value that is not
// a scalar, and an unknown connector class. Any other 5xx is a bug.
var documented500 = []string{
	"the request body is not valid JSON",
	"the request body has a ",
	"json: cannot unmarshal ",
	"the connector configuration must be a JSON object",
	"the value of ",
	"Failed to find any class that implements Connector and which name matches ",
}

// FuzzConnectAPI sends fuzzed bodies to the endpoints that take one
// (POST /connectors, PUT /connectors/{name}/config, PUT
// /connector-plugins/{plugin}/config/validate), and to the config of a
// connector that holds a canary password. No request may panic, answer a
// 5xx other than documented500's, or show the canary in a response, a
// header or a log line: not the one answering it, nor the listings,
// configurations and statuses read after it.
func FuzzConnectAPI(f *testing.F) {
	var b [12]byte
	rand.Read(b[:])
	canary := "canary-" + hex.EncodeToString(b[:]) + "/@:x"
	state := f.TempDir()
	logs := &lockedWriter{w: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := registry.Default()
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log})
	srv, err := Open(Options{StateDir: state, Registry: reg, Supervisor: sup, Topics: LogTopics{Dir: filepath.Join(state, "topics")},
		FilesRoot: f.TempDir(), Logger: log, Version: "test", WorkerID: "127.0.0.1:8083", StopTimeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
	})
	h := srv.Handler()
	serve := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		return rec
	}
	// The canary's connector: a JDBC sink whose database is not there, so
	// it retries (and logs why) for as long as the fuzzing goes.
	canaryCfg := `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"canary_topic","connection.url":"jdbc:mysql://127.0.0.1:1/nodb","connection.user":"u","connection.password":` + string(mustJSON(canary)) + `}`
	if r := serve("PUT", "/connectors/canary/config", canaryCfg); r.Code != 201 {
		f.Fatalf("creating the canary connector: %d %s", r.Code, r.Body)
	}
	leaks := func(b []byte) bool {
		return bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte(url.QueryEscape(canary))) ||
			bytes.Contains(b, []byte(url.PathEscape(canary))) || bytes.Contains(b, []byte(canary[:len(canary)-4]))
	}
	check := func(t *testing.T, what string, r *httptest.ResponseRecorder) {
		t.Helper()
		if leaks(r.Body.Bytes()) {
			t.Fatalf("%s: the canary is in the response: %s", what, r.Body)
		}
		for k, vs := range r.Header() {
			for _, v := range vs {
				if leaks([]byte(v)) {
					t.Fatalf("%s: the canary is in the header %s: %s", what, k, v)
				}
			}
		}
		if r.Code >= 500 {
			var e apiError
			if json.Unmarshal(r.Body.Bytes(), &e) != nil || e.Code != r.Code || !documented(e.Message) {
				t.Fatalf("%s: %d, not a documented 5xx: %s", what, r.Code, r.Body)
			}
		}
		if r.Code >= 400 && r.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d with Content-Type %q: %s", what, r.Code, r.Header().Get("Content-Type"), r.Body)
		}
	}

	for _, s := range []string{
		canaryCfg,
		strings.Replace(canaryCfg, string(mustJSON(canary)), `"[hidden]"`, 1),
		`{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"127.0.0.1","database.port":"1","database.user":"postgres","database.password":"[hidden]","database.dbname":"product_db","database.server.name":"fulfillment","plugin.name":"pgoutput","tasks.max":"1"}`,
		`{"connector.class":"io.confluent.connect.jdbc.JdbcSourceConnector","connection.url":"jdbc:postgresql://127.0.0.1:1/TEST","connection.user":"TEST","connection.password":"password","poll.interval.ms":"1000","mode":"incrementing","incrementing.column.name":"index","topic.prefix":"P_","table.whitelist":"USERS","validate.non.null":"false"}`,
		`{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","tasks.max":1,"topics":"P_USERS","insert.mode":"insert","connection.url":"jdbc:mysql://127.0.0.1:1/TEST","connection.user":"TEST","connection.password":"[hidden]","auto.create":true}`,
		`{"connector.class":"io.confluent.connect.s3.S3SinkConnector","s3.region":"ap-southeast-1","s3.bucket.name":"bucket-name","topics":"P_USERS","flush.size":"5","aws.access.key.id":"AKIA","aws.secret.access.key":"[hidden]","format.class":"io.confluent.connect.s3.format.json.JsonFormat","storage.class":"io.confluent.connect.s3.storage.S3Storage","rotate.schedule.interval.ms":"6000"}`,
		`{"connector.class":"FileStreamSource","topic":"t","file":"/etc/passwd"}`,
		`{"connector.class":"FileStreamSink","topics":"t","file":"../../out.txt"}`,
		`{"name":"fz2","config":{"connector.class":"FileStreamSink","topics":"t","file":"out.txt"}}`,
		`{"name":"canary","config":{"connector.class":"FileStreamSink","topics":"t","file":"out.txt"}}`,
		`{"name":"","config":{}}`,
		`{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","transforms":"unwrap","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState","value.converter":"io.confluent.connect.avro.AvroConverter"}`,
		`{"connector.class":"Nope","name":"other"}`,
		`{"a":{"b":1}}`, `[1,2]`, `null`, `"x"`, `{"x":1e999}`, `{"x":"\u0000\ud800"}`, ``, `{`, `{"connection.password":"[hidden]"}`,
	} {
		for kind := range uint8(4) {
			f.Add(kind, s)
		}
	}
	plugins := []string{"JdbcSinkConnector", "io.confluent.connect.jdbc.JdbcSourceConnector", "PostgresConnector", "FileStreamSink", "S3SinkConnector", "Nope"}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		logged := len(logs.Bytes())
		var method, path string
		switch kind % 4 {
		case 0:
			method, path = "PUT", "/connectors/fz/config"
		case 1:
			method, path = "POST", "/connectors"
		case 2:
			method, path = "PUT", "/connector-plugins/"+plugins[int(kind/4)%len(plugins)]+"/config/validate"
		case 3:
			method, path = "PUT", "/connectors/canary/config"
		}
		r := serve(method, path, body)
		check(t, method+" "+path, r)
		for _, p := range []string{"/connectors?expand=info&expand=status", "/connectors/canary", "/connectors/canary/config", "/connectors/canary/status", "/connectors/canary/tasks"} {
			check(t, "GET "+p, serve("GET", p, ""))
		}
		if leaks(logs.Bytes()[logged:]) {
			t.Fatalf("the canary is in the log: %s", logs.Bytes()[logged:])
		}
		// Back to the start: the canary's connector as created, no other.
		if kind%4 == 3 && r.Code < 300 {
			if r := serve("PUT", "/connectors/canary/config", canaryCfg); r.Code != 200 {
				t.Fatalf("restoring the canary connector: %d %s", r.Code, r.Body)
			}
		}
		var names []string
		if err := json.Unmarshal(serve("GET", "/connectors", "").Body.Bytes(), &names); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n != "canary" {
				if r := serve("DELETE", "/connectors/"+url.PathEscape(n), ""); r.Code != 204 {
					t.Fatalf("DELETE %q: %d %s", n, r.Code, r.Body)
				}
			}
		}
	})
}

func documented(msg string) bool {
	for _, p := range documented500 {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// TestBodyTooLarge: a body over MaxBody (1 MiB) is refused with 413, one
// of MaxBody bytes is read.
func TestBodyTooLarge(t *testing.T) {
	state := t.TempDir()
	s := startLogServer(t, state, t.TempDir())
	pad := func(n int) string {
		cfg := `{"connector.class":"Nope","x":""}`
		return strings.Replace(cfg, `""`, `"`+strings.Repeat("y", n-len(cfg))+`"`, 1)
	}
	for _, p := range []string{"/connectors/big/config", "/connector-plugins/Nope/config/validate"} {
		if code, b := call(t, "PUT", s.url+p, pad(MaxBody+1)); code != 413 || string(b) != `{"error_code":413,"message":"the request body is larger than 1048576 bytes"}`+"\n" {
			t.Errorf("PUT %s of MaxBody+1 bytes: %d %s", p, code, b)
		}
		// Read whole: the unknown class is what is wrong with it.
		if code, b := call(t, "PUT", s.url+p, pad(MaxBody)); code != 500 || !strings.Contains(string(b), "matches Nope,") {
			t.Errorf("PUT %s of MaxBody bytes: %d %.200s", p, code, b)
		}
	}
}
