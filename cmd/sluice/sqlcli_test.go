package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/frontdoor/connect"
	"github.com/sluice-dev/sluice/frontdoor/ksqldb"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// ksqlServer is sluice serve's API in process, for sluice sql's tests.
func ksqlServer(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.Default()
	sup := supervisor.New(supervisor.Options{Registry: reg, Logger: log})
	topics := connect.LogTopics{Dir: filepath.Join(state, "topics")}
	cs, err := connect.Open(connect.Options{StateDir: state, Registry: reg, Supervisor: sup, Topics: topics, Logger: log, WorkerID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ksqldb.Open(ksqldb.Options{StateDir: state, Registry: reg, Supervisor: sup, Topics: topics, LogDir: topics.Dir, Connect: cs.Handler(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ksqldb.Mount(cs.Handler(), ks.Handler()))
	t.Cleanup(func() {
		hs.Close()
		sup.Shutdown(context.Background())
	})
	return hs.URL
}

// TestSQLPrompt: statements typed at the prompt, over several lines; SET
// kept by the client; a failure printed and the prompt going on; exit.
func TestSQLPrompt(t *testing.T) {
	url := ksqlServer(t)
	in := strings.NewReader("SET 'auto.offset.reset' = 'earliest';\n" +
		"CREATE STREAM s (id STRING KEY, v INT)\n  WITH (kafka_topic = 's', value_format = 'json');\n" +
		"SHOW STREAMS;\nDROP STREAM nope;\nSHOW PROPERTIES;\nexit\nSHOW TABLES;\n")
	var out, errOut strings.Builder
	if code := cmdSQL([]string{"--server", url}, in, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := `ksql> Successfully changed local property 'auto.offset.reset' to 'earliest'. Use the UNSET command to revert your change.

ksql> > Message
---------------
 Stream created
---------------

ksql>  Stream Name | Kafka Topic | Key Format | Value Format | Windowed
-----------------------------------------------------------------
 S           | s           | KAFKA      | JSON         | false
-----------------------------------------------------------------

ksql> 
ksql>  Property          | Scope | Value
-------------------------------------
 auto.offset.reset | KSQL  | earliest
-------------------------------------

ksql> `
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if got := errOut.String(); got != "Source NOPE does not exist.\n" {
		t.Errorf("stderr: %q", got)
	}
}

// TestSQLFileStopsAtFirstError: -f runs statements in order and stops at
// the first failure, naming the file, line, statement and the server's
// message; exit 1.
func TestSQLFileStopsAtFirstError(t *testing.T) {
	url := ksqlServer(t)
	file := filepath.Join(t.TempDir(), "script.sql")
	writeTestFile(t, file, "-- a script\nSHOW STREAMS;\n\nCREATE STREAM x AS\n  SELECT * FROM nothing EMIT CHANGES;\nSHOW TABLES;\n")
	var out, errOut strings.Builder
	code := cmdSQL([]string{"--server", url, "-f", file}, strings.NewReader(""), &out, &errOut)
	if want := "sluice sql: " + file + ":4: the statement failed:\nCREATE STREAM x AS\n  SELECT * FROM nothing EMIT CHANGES;\nNOTHING does not exist.\n"; code != exitFailed || errOut.String() != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut.String(), want)
	}
	if strings.Contains(out.String(), "Table Name") {
		t.Fatalf("a statement after the failure ran:\n%s", out.String())
	}
	code = cmdSQL([]string{"--server", "http://127.0.0.1:1", "-f", file}, strings.NewReader(""), &out, &errOut)
	if code != exitFailed || !strings.Contains(errOut.String(), "cannot reach http://127.0.0.1:1") || !strings.Contains(errOut.String(), "hint: is `sluice serve` running there? --server URL") {
		t.Fatalf("unreachable: exit %d %s", code, errOut.String())
	}
}

func TestSQLHelp(t *testing.T) {
	var out, errOut strings.Builder
	code := cmdSQL([]string{"--help"}, strings.NewReader(""), &out, &errOut)
	for _, want := range []string{"usage: sluice sql [--server URL] [-f FILE] [--token TOKEN]", "SET 'auto.offset.reset' = 'earliest'", "-f string", "$SLUICE_AUTH_TOKEN"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, errOut.String())
		}
	}
	if code != exitUsage {
		t.Errorf("exit %d", code)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSQLToken: --token (or $SLUICE_AUTH_TOKEN) is sent as a bearer
// token; a 401 prints the server's message with the hint.
func TestSQLToken(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error_code":401,"message":"authentication required: send Authorization: Bearer TOKEN"}`)
			return
		}
		io.WriteString(w, `[{"@type":"streams","statementText":"SHOW STREAMS;","streams":[],"warnings":[]}]`)
	}))
	defer hs.Close()
	file := filepath.Join(t.TempDir(), "s.sql")
	writeTestFile(t, file, "SHOW STREAMS;")
	var out, errOut strings.Builder
	t.Setenv("SLUICE_AUTH_TOKEN", "")
	if code := cmdSQL([]string{"--server", hs.URL, "-f", file}, strings.NewReader(""), &out, &errOut); code != exitFailed ||
		!strings.HasSuffix(errOut.String(), "authentication required: send Authorization: Bearer TOKEN (hint: --token TOKEN or $SLUICE_AUTH_TOKEN)\n") {
		t.Fatalf("no token: exit %d %q", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := cmdSQL([]string{"--server", hs.URL, "--token", token, "-f", file}, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("--token: exit %d %s", code, errOut.String())
	}
	t.Setenv("SLUICE_AUTH_TOKEN", token)
	if code := cmdSQL([]string{"--server", hs.URL, "-f", file}, strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("$SLUICE_AUTH_TOKEN: exit %d %s", code, errOut.String())
	}
}
