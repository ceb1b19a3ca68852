package svctest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testpki"
)

// StartPrivate runs `script start` (a path under scripts/) with its own
// temporary SLUICE_TMP and the extra environment env (NAME=value), stops
// it at cleanup, and returns the value of the export line's variable
// name (its quotes removed). For servers configured differently from the
// shared ones (TLS, SASL); a test binary should start one and share it.
// The caller has checked that the shared service is configured (Need), so
// the script's programs are installed.
func StartPrivate(t testing.TB, script, name string, env ...string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parent is private to this user, and the servers
	// run as their own users when the test runs as root.
	base, err := os.MkdirTemp("", "sluice-private")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, arg string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, script), arg)
		cmd.Env = append(append(os.Environ(), "SLUICE_TMP="+base), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", script, arg, err, stderr.Bytes())
		}
		return out, nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := run(ctx, "stop"); err != nil {
			t.Errorf("%v", err)
		}
		os.RemoveAll(base)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := run(ctx, "start")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		for f := range strings.FieldsSeq(strings.TrimPrefix(strings.TrimSpace(line), "export ")) {
			if v, ok := strings.CutPrefix(f, name+"="); ok {
				return strings.Trim(v, "'")
			}
		}
	}
	t.Fatalf("%s start printed no %s: %q", script, name, out)
	return ""
}

// Private is StartPrivate for a service's own script and variable, for
// what must not touch the shared server: global settings, restarts,
// retention limits. have reports whether the server's binaries are
// installed; without them the test is skipped, or failed in CI.
func Private(t testing.TB, s Service, have func() bool) string {
	t.Helper()
	script, _, _ := strings.Cut(s.Script, " ")
	if !have() {
		msg := "the binaries of " + script + "'s server are not installed (scripts/test.sh installs them)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return StartPrivate(t, script, s.Env)
}

// MariaDBTLS starts a private MariaDB that requires TLS on TCP, with a
// certificate from a new test CA valid for hosts (scripts/mariadb.sh
// with SLUICE_MARIADB_TLS), and returns the CA and the DSN of root (no
// password; tls=skip-verify).
func MariaDBTLS(t testing.TB, hosts ...string) (*testpki.CA, string) {
	t.Helper()
	Need(t, MariaDB)
	ca := testpki.NewCA(t, "sluice test CA")
	ca.ServerFor(t, "server", hosts...)
	return ca, StartPrivate(t, "scripts/mariadb.sh", "SLUICE_MYSQL_DSN", "SLUICE_MARIADB_TLS="+ca.Dir, "SLUICE_MARIADB_PORT=")
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// KafkaSASL is a broker's SASL_SSL listener: user sluice with Password
// for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, a certificate valid for
// localhost only, from the CA in CAFile.
type KafkaSASL struct {
	Brokers  string // localhost:PORT
	CAFile   string
	Password string
}

// StartKafkaSASL starts a private broker with a SASL_SSL listener
// (scripts/kafka.sh with SLUICE_KAFKA_TLS; 10-30 s: a test binary should
// start one). With SLUICE_KAFKA_SASL_SSL_BROKERS, SLUICE_KAFKA_TLS_CA_FILE
// and SLUICE_KAFKA_SASL_PASSWORD set it uses that listener instead (a
// broker kept running while iterating on a test).
func StartKafkaSASL(t testing.TB, password string) KafkaSASL {
	t.Helper()
	Need(t, Kafka)
	if b := os.Getenv("SLUICE_KAFKA_SASL_SSL_BROKERS"); b != "" {
		return KafkaSASL{Brokers: b, CAFile: os.Getenv("SLUICE_KAFKA_TLS_CA_FILE"), Password: os.Getenv("SLUICE_KAFKA_SASL_PASSWORD")}
	}
	ca := testpki.NewCA(t, "sluice test CA")
	ca.ServerFor(t, "server", "localhost")
	b := StartPrivate(t, "scripts/kafka.sh", "SLUICE_KAFKA_SASL_SSL_BROKERS",
		"SLUICE_KAFKA_TLS="+ca.Dir, "SLUICE_KAFKA_SASL_PASSWORD="+password, "SLUICE_KAFKA_PORT=")
	return KafkaSASL{Brokers: b, CAFile: ca.CAFile(), Password: password}
}
