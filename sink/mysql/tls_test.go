package mysql

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/eventtest"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

const tlsSecret = "canary-TLS-pw-6170"

// TestTLS writes through a private MariaDB that requires TLS
// (scripts/mariadb.sh with SLUICE_MARIADB_TLS, its certificate valid for
// localhost only) with ssl_mode verify_identity and a password, and with
// verify_ca and a client certificate; a CA that did not sign the server's
// certificate, a host name the certificate does not hold and a wrong
// password each fail Connect at once with a permanent error that says
// what to fix and holds no password.
func TestTLS(t *testing.T) {
	ca, rootDSN := svctest.MariaDBTLS(t, "localhost")
	ca.Client(t, "client")
	dc, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		"CREATE USER 'sluice_pw'@'127.0.0.1' IDENTIFIED BY '" + tlsSecret + "'",
		"GRANT ALL PRIVILEGES ON *.* TO 'sluice_pw'@'127.0.0.1'",
		"CREATE USER 'sluice_cert'@'127.0.0.1' REQUIRE X509",
		"GRANT ALL PRIVILEGES ON *.* TO 'sluice_cert'@'127.0.0.1'",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("setup: %v", err) // not q: it holds the password
		}
	}
	addr := strings.TrimPrefix(dc.Addr, "127.0.0.1")
	sink := func(t *testing.T, host, user, password, mode, caFile string, logs *logtest.Recorder) *sqlsink.Pipelined {
		u := mysql.NewConfig()
		u.Net, u.Addr, u.User, u.Passwd, u.DBName = "tcp", host+addr, user, password, "sluice_test"
		cfg := Config{Config: sqlsink.Defaults()}
		cfg.DSN, cfg.AutoCreate = u.FormatDSN(), true
		cfg.Table = "${table}_" + user
		cfg.SSLMode, cfg.SSLCA = mode, caFile
		if user == "sluice_cert" {
			cfg.SSLCert, cfg.SSLKey = filepath.Join(ca.Dir, "client.pem"), filepath.Join(ca.Dir, "client-key.pem")
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("config: %v", errs)
		}
		s, err := New(cfg, component.Env{Name: "s", Path: "sinks.s", Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, host, user, password, mode string }{
		{"verify_identity password", "localhost", "sluice_pw", tlsSecret, dbauth.SSLVerifyIdentity},
		{"verify_ca client certificate", "127.0.0.1", "sluice_cert", "", dbauth.SSLVerifyCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sink(t, tc.host, tc.user, tc.password, tc.mode, ca.CAFile(), logtest.New())
			if err := s.Connect(ctx); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if err := s.Write(ctx, []event.Event{*eventtest.ProductEvent()}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			var name string
			if err := admin.QueryRow("SELECT name FROM sluice_test.product_" + tc.user + " WHERE id = 132").Scan(&name); err != nil || name != "Incredible Iron Pants" {
				t.Fatalf("row: %q, %v", name, err)
			}
		})
	}

	other := testpki.NewCA(t, "another CA")
	for _, tc := range []struct {
		name, host, password, caFile, prefix, suffix string
	}{
		{"wrong CA", "localhost", tlsSecret, other.CAFile(), "mysql sink: connect: ",
			"tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set sinks.s.ssl_ca to the PEM file of the CA that signed it"},
		{"wrong host name", "127.0.0.1", tlsSecret, ca.CAFile(), "mysql sink: connect: ",
			"tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: connect by a name it holds, or set sinks.s.ssl_mode: verify_ca (it checks the CA, not the name)"},
		{"wrong password", "localhost", "not-" + tlsSecret, ca.CAFile(),
			`mysql sink: localhost` + addr + ` refused user "sluice_pw": error 1045: Access denied for user 'sluice_pw'@'127.0.0.1' (using password: YES); ` +
				"check the user and password in sinks.s.dsn (a ${VAR} there is read from the environment), " +
				"and that the server has this user for this client's host (CREATE USER 'user'@'host')", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := logtest.New()
			start := time.Now()
			err := sink(t, tc.host, "sluice_pw", tc.password, dbauth.SSLVerifyIdentity, tc.caFile, logs).Connect(ctx)
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.prefix) || !strings.HasSuffix(err.Error(), tc.suffix) {
				t.Fatalf("Connect = %v (permanent %v)\nwant a permanent error %s … %s", err, component.IsPermanent(err), tc.prefix, tc.suffix)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed after %s, want at once", d)
			}
			if strings.Contains(err.Error(), tlsSecret) {
				t.Errorf("the error holds the password: %v", err)
			}
			if h := logs.Holding(tlsSecret); len(h) > 0 {
				t.Errorf("logs hold the password: %q", h)
			}
		})
	}
}
