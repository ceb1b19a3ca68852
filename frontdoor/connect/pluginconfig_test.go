package connect

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// TestPluginConfig: every translated class lists the keys its translation
// reads, with types, defaults and required flags, then Connect's common
// keys; transforms list their options; an unknown plugin is Connect's 404.
func TestPluginConfig(t *testing.T) {
	s := startLogServer(t, t.TempDir(), t.TempDir())
	for _, cls := range append(ClassNames(), "FileStreamSink", "PostgresConnector") {
		b := expect(t, "GET", s.url+"/connector-plugins/"+cls+"/config", "", 200)
		var keys []configKeyInfo
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		if len(keys) < 16 || keys[len(keys)-1].Name == "" {
			t.Errorf("%s: %d keys", cls, len(keys))
		}
	}
	b := expect(t, "GET", s.url+"/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config", "", 200)
	var keys []configKeyInfo
	json.Unmarshal(b, &keys)
	byName := map[string]configKeyInfo{}
	var names []string
	for _, k := range keys {
		byName[k.Name] = k
		names = append(names, k.Name)
	}
	want := "database.hostname,database.port,database.user,database.password,database.dbname,topic.prefix,database.server.name,database.sslmode,database.sslrootcert,database.sslcert,database.sslkey,table.include.list,table.whitelist,plugin.name,slot.name,publication.name,publication.autocreate.mode,snapshot.mode,slot.drop.on.stop,heartbeat.interval.ms,max.batch.size,signal.data.collection,signal.enabled.channels,decimal.handling.mode,include.unknown.datatypes,time.precision.mode,tombstones.on.delete,schema.include.list,schema.whitelist," +
		"name,connector.class,tasks.max,tasks.max.enforce,key.converter,value.converter,header.converter,transforms,predicates,config.action.reload,errors.retry.timeout,errors.retry.delay.max.ms,errors.tolerance,errors.log.enable,errors.log.include.messages"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("PostgresConnector keys:\n got %s\nwant %s", got, want)
	}
	for _, c := range []struct {
		name, typ, def string
		required       bool
	}{
		{"database.hostname", "STRING", "", true},
		{"database.password", "PASSWORD", "", false},
		{"database.port", "STRING", "5432", false},
		{"slot.drop.on.stop", "BOOLEAN", "false", false},
		{"heartbeat.interval.ms", "LONG", "0", false},
		{"snapshot.mode", "STRING", "initial", false},
	} {
		k := byName[c.name]
		def := ""
		if k.DefaultValue != nil {
			def = *k.DefaultValue
		}
		if k.Type != c.typ || def != c.def || k.Required != c.required {
			t.Errorf("%s: %s %q required %v, want %s %q %v", c.name, k.Type, def, k.Required, c.typ, c.def, c.required)
		}
	}
	if b := expect(t, "GET", s.url+"/connector-plugins/org.apache.kafka.connect.transforms.RegexRouter/config", "", 200); !strings.HasPrefix(string(b), `[{"name":"regex","type":"STRING","required":true,"default_value":null,"importance":"HIGH"`) {
		t.Errorf("RegexRouter: %s", b)
	}
	if b := expect(t, "GET", s.url+"/connector-plugins/Nope/config", "", 404); string(b) != `{"error_code":404,"message":"Unknown plugin Nope."}`+"\n" {
		t.Errorf("unknown: %s", b)
	}
}

// TestLoggers: /admin/loggers in Connect's shapes; root sets the server's
// slog level.
func TestLoggers(t *testing.T) {
	s := startLogServer(t, t.TempDir(), t.TempDir())
	if b := expect(t, "GET", s.url+"/admin/loggers", "", 200); string(b) != `{"root":{"level":"INFO","last_modified":null}}`+"\n" {
		t.Errorf("list: %s", b)
	}
	if b := expect(t, "PUT", s.url+"/admin/loggers/root", `{"level":"debug"}`, 200); string(b) != `["root"]`+"\n" {
		t.Errorf("PUT root: %s", b)
	}
	if b := expect(t, "GET", s.url+"/admin/loggers/root", "", 200); string(b) != `{"level":"DEBUG","last_modified":null}`+"\n" {
		t.Errorf("GET root: %s", b)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"PUT", "/admin/loggers/org.apache.kafka.connect", `{"level":"NOPE"}`, 404, `{"error_code":404,"message":"invalid log level 'NOPE'."}`},
		{"PUT", "/admin/loggers/org.apache.kafka.connect", `{}`, 400, `{"error_code":400,"message":"Desired 'level' parameter was not specified in request."}`},
		{"GET", "/admin/loggers/org.apache.kafka.connect", ``, 404, `{"error_code":404,"message":"Logger org.apache.kafka.connect not found."}`},
		{"PUT", "/admin/loggers/org.apache.kafka.connect", `{"level":"WARN"}`, 200, `["org.apache.kafka.connect"]`},
		{"PUT", "/admin/loggers/org.apache.kafka?scope=cluster", `{"level":"ERROR"}`, 204, ``},
	} {
		code, b := call(t, tc.method, s.url+tc.path, tc.body)
		if code != tc.code || strings.TrimSuffix(string(b), "\n") != tc.want {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, code, b, tc.code, tc.want)
		}
	}
	if !strings.Contains(string(s.logs.Bytes()), "logger org.apache.kafka.connect set to WARN: sluice has no such logger, so this changes nothing") {
		t.Errorf("no warning in the log:\n%s", s.logs.Bytes())
	}
}

// TestLoggerRootSetsLevel: PUT /admin/loggers/root sets the level of the
// server's log handler (sluice serve passes its LevelVar).
func TestLoggerRootSetsLevel(t *testing.T) {
	lv := new(slog.LevelVar)
	reg := registry.Default()
	srv, err := Open(Options{StateDir: t.TempDir(), Registry: reg, Supervisor: supervisor.New(supervisor.Options{Registry: reg}), Topics: LogTopics{Dir: t.TempDir()}, LogLevel: lv, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, tc := range []struct {
		level string
		want  slog.Level
	}{{"TRACE", slog.LevelDebug}, {"WARN", slog.LevelWarn}, {"fatal", slog.LevelError}, {"OFF", slog.LevelError + 8}, {"INFO", slog.LevelInfo}} {
		expect(t, "PUT", hs.URL+"/admin/loggers/root", `{"level":"`+tc.level+`"}`, 200)
		if lv.Level() != tc.want {
			t.Errorf("%s: level %v, want %v", tc.level, lv.Level(), tc.want)
		}
	}
}
