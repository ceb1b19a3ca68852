package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestServeSecretsOnFailure: a canary password in a connector's config, in
// a YAML pipeline file and in a Data Prepper file, each refused by its
// server (MariaDB: access denied; FerretDB: no SCRAM), so all three FAIL.
// The failures are shown (the connector's task FAILED with its trace, the
// pipelines FAILED with their errors, naming the user and the key that
// holds the password) and the canary is in no response — configs,
// statuses, /pipelines (and their history), /readyz, /metrics — and in no line of the server's
// log at debug level.
func TestServeSecretsOnFailure(t *testing.T) {
	myDSN := svctest.Need(t, svctest.MariaDB)
	ferret := svctest.Need(t, svctest.FerretDB)
	cfg, err := mysql.ParseDSN(myDSN)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fu, err := url.Parse(ferret)
	if err != nil {
		t.Fatal(err)
	}
	const canary = "Canary-Pw-93xQ"
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(pipes, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("to-mysql.yaml", fmt.Sprintf(`name: tomysql
sources:
  gen: {type: generator, tables: [product], count: 10}
sinks:
  db:
    type: mysql
    inputs: [gen]
    dsn: "%s:%s@tcp(%s)/%s"
engine:
  start_retry: {fail_fast: true}
`, cfg.User, canary, cfg.Addr, cfg.DBName))
	write("dp.yaml", fmt.Sprintf(`dp:
  source:
    mongodb:
      host: %q
      port: %s
      insecure: true
      authentication:
        username: "dbuser"
        password: %q
      collections:
        - collection: "demo.c"
          stream: false
  sink:
    - opensearch:
        hosts: ["http://127.0.0.1:1"]
        index: x
`, fu.Hostname(), fu.Port(), canary))
	s := startServe(t, dir, nil, "--state-dir", filepath.Join(dir, "state"), "--log-level", "debug", pipes)
	s.expect(t, "PUT", "/connectors/jdbc/config", `{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":"jdbc:mysql://`+net.JoinHostPort(host, port)+`/`+cfg.DBName+`","connection.username":"`+cfg.User+`",
		"connection.password":"`+canary+`","topics":"t","insert.mode":"upsert"}`, 201)

	waitFor(t, 90*time.Second, "the connector's task FAILED", dir, func() bool {
		_, b := s.call(t, "GET", "/connectors/jdbc/status", "")
		return strings.Contains(string(b), `"state":"FAILED"`)
	})
	st := s.waitPipeline(t, "tomysql", "FAILED")
	if !strings.Contains(st.Error, `refused user "`+cfg.User+`"`) || !strings.Contains(st.Error, "sinks.db.dsn") {
		t.Errorf("tomysql's error does not say what was refused and where: %s", st.Error)
	}
	st = s.waitPipeline(t, "dp", "FAILED")
	if !strings.HasPrefix(st.Error, `source dp: mongodb source "dp": `+fu.Host+` refused user "dbuser": `) || !strings.Contains(st.Error, "sources.dp.authentication.password") {
		t.Errorf("dp's error does not say what was refused and where: %s", st.Error)
	}
	status := s.expect(t, "GET", "/connectors/jdbc/status", "", 200)
	if !strings.Contains(string(status), `"trace":"sink sink: mysql sink: `+cfg.Addr+` refused user \"`+cfg.User+`\": error 1045: Access denied`) {
		t.Errorf("the failed task's trace does not say why: %s", status)
	}
	for _, p := range []string{"/connectors?expand=status&expand=info", "/connectors/jdbc", "/connectors/jdbc/config",
		"/connectors/jdbc/status", "/connectors/jdbc/tasks", "/connectors/jdbc/tasks/0/status",
		"/pipelines", "/pipelines/tomysql", "/pipelines/dp/status", "/pipelines/jdbc", "/readyz", "/metrics",
		"/pipelines/tomysql/history", "/pipelines/dp/history", "/pipelines/jdbc/history"} {
		code, b := s.call(t, "GET", p, "")
		if code >= 500 && p != "/readyz" {
			t.Errorf("GET %s: %d %s", p, code, b)
		}
		if strings.Contains(string(b), canary) {
			t.Errorf("GET %s shows the password:\n%s", p, b)
		}
	}
	// Restarting a failed one fails again the same way, still without it.
	s.expect(t, "POST", "/pipelines/tomysql/restart", "", 202)
	waitFor(t, 60*time.Second, "tomysql restarted and FAILED", dir, func() bool {
		st := s.pipelines(t)["tomysql"]
		return st.Restarts == 1 && st.State == "FAILED"
	})
	s.stop(t)
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	if strings.Contains(string(log), canary) {
		t.Fatalf("the log shows the password:\n%s", log)
	}
	for _, want := range []string{"pipeline=tomysql", "pipeline=dp", "connector=jdbc"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log has no line with %s", want)
		}
	}
}
