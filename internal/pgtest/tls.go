package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testpki"
)

// TLSServer is a private PostgreSQL that speaks TLS only on TCP, started by
// scripts/postgres.sh with SLUICE_PG_TLS (see there for its pg_hba.conf)
// and stopped at cleanup. Its certificate, from CA, is valid for the
// name localhost only, so verify-full to 127.0.0.1 fails the host name
// check while verify-ca passes.
type TLSServer struct {
	CA   *testpki.CA
	Port string
	// Password is the password of role PasswordUser (scram-sha-256).
	Password string
}

// Roles StartTLS creates, superusers with replication so that a source may
// run as them.
const (
	PasswordUser = "sluice_pw"
	CertUser     = "sluice_cert" // pg_hba.conf: cert authentication
)

// StartTLS starts a TLSServer under a temporary SLUICE_TMP; a test binary
// should start one and share it (initdb and start take seconds). password
// is PasswordUser's. Without PostgreSQL installed the test is skipped, or
// failed in CI.
func StartTLS(t testing.TB, password string) *TLSServer {
	t.Helper()
	DSN(t) // the same skip as every PostgreSQL test
	ca := testpki.NewCA(t, "sluice test CA")
	ca.ServerFor(t, "server", "localhost")
	ca.Client(t, CertUser)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parent is private to this user, and the server
	// runs as user postgres when the test runs as root.
	base, err := os.MkdirTemp("", "pgtls")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "postgres.sh")
	run := func(ctx context.Context, arg string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "bash", script, arg)
		cmd.Env = append(os.Environ(), "SLUICE_TMP="+base, "SLUICE_PG_TLS="+ca.Dir, "SLUICE_PG_PORT=", "SLUICE_PG_FSYNC=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/postgres.sh %s: %w: %s", arg, err, stderr.Bytes())
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := run(ctx, "start")
	if err != nil {
		t.Fatal(err)
	}
	line, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "export SLUICE_PG_DSN=")
	if !ok {
		t.Fatalf("scripts/postgres.sh start printed no SLUICE_PG_DSN: %q", out)
	}
	u, err := url.Parse(strings.Trim(line, "'"))
	if err != nil {
		t.Fatal(err)
	}
	s := &TLSServer{CA: ca, Port: u.Port(), Password: password}
	conn := Connect(t, s.DSN("postgres", "", "localhost", "verify-full"))
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN SUPERUSER REPLICATION PASSWORD '%s'`, PasswordUser, strings.ReplaceAll(password, "'", "''")),
		`CREATE ROLE ` + CertUser + ` LOGIN SUPERUSER REPLICATION`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("create the test roles: %v", err) // not q: it holds the password
		}
	}
	return s
}

// DSN is a DSN for database sluice_test as user (with password when not
// empty) at host, with sslmode and sslrootcert the test CA; user CertUser
// gets sslcert and sslkey, its client certificate.
func (s *TLSServer) DSN(user, password, host, sslmode string) string {
	u := url.URL{Scheme: "postgres", Host: host + ":" + s.Port, Path: "/sluice_test", User: url.User(user)}
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	q := url.Values{"sslmode": {sslmode}, "sslrootcert": {s.CA.CAFile()}}
	if user == CertUser {
		q.Set("sslcert", filepath.Join(s.CA.Dir, CertUser+".pem"))
		q.Set("sslkey", filepath.Join(s.CA.Dir, CertUser+"-key.pem"))
	}
	u.RawQuery = q.Encode()
	return u.String()
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
