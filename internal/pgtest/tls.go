package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/svctest"
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
	dsn := svctest.StartPrivate(t, "scripts/postgres.sh", "SLUICE_PG_DSN", "SLUICE_PG_TLS="+ca.Dir, "SLUICE_PG_PORT=", "SLUICE_PG_FSYNC=off")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := &TLSServer{CA: ca, Port: u.Port(), Password: password}
	conn := Connect(t, s.DSN("postgres", "", "localhost", "verify-full"))
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN SUPERUSER REPLICATION PASSWORD '%s'`, PasswordUser, strings.ReplaceAll(password, "'", "''")),
		`CREATE ROLE ` + CertUser + ` LOGIN SUPERUSER REPLICATION`,
	} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
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
