package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/testpki"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

const tlsSecret = "canary-TLS-pw-5521"

// TestTLS writes through a private server that speaks TLS only
// (scripts/postgres.sh with SLUICE_PG_TLS) with sslmode=verify-full and a
// password, and with verify-ca and a client certificate; a CA that did
// not sign the server's certificate, a host name the certificate does not
// hold and a wrong password each fail Connect at once with a permanent
// error that says what to fix and holds no password.
func TestTLS(t *testing.T) {
	srv := pgtest.StartTLS(t, tlsSecret)
	admin := pgtest.Connect(t, srv.DSN("postgres", "", "localhost", "verify-full"))
	ctx := context.Background()
	sink := func(t *testing.T, dsn string, logs *logtest.Recorder) *sqlsink.Pipelined {
		cfg := sqlsink.Defaults()
		cfg.DSN, cfg.AutoCreate = dsn, true
		cfg.Table = "${table}_" + strings.ReplaceAll(t.Name()[len("TestTLS/"):], "-", "_")
		s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s", Path: "sinks.s", Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		return s
	}
	for _, tc := range []struct{ name, dsn string }{
		{"verify_full_password", srv.DSN(pgtest.PasswordUser, tlsSecret, "localhost", "verify-full")},
		{"verify_ca_client_certificate", srv.DSN(pgtest.CertUser, "", "127.0.0.1", "verify-ca")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sink(t, tc.dsn, logtest.New())
			if err := s.Connect(ctx); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if err := s.Write(ctx, []event.Event{*eventtest.ProductEvent()}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			var name string
			if err := admin.QueryRow(ctx, `SELECT name FROM public.product_`+tc.name+` WHERE id = 132`).Scan(&name); err != nil || name != "Incredible Iron Pants" {
				t.Fatalf("row: %q, %v", name, err)
			}
		})
	}

	other := testpki.NewCA(t, "another CA")
	const connect = `postgres sink: connect: failed to connect to ` + "`user=sluice_pw database=sluice_test`: "
	for _, tc := range []struct {
		name, dsn, prefix, suffix string
	}{
		{"wrong_CA", strings.Replace(srv.DSN(pgtest.PasswordUser, tlsSecret, "localhost", "verify-full"),
			"sslrootcert=", "sslrootcert="+url.QueryEscape(other.CAFile())+"&x=", 1), connect,
			"tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set sslrootcert in sinks.s.dsn to the PEM file of the CA that signed it"},
		{"wrong_host_name", srv.DSN(pgtest.PasswordUser, tlsSecret, "127.0.0.1", "verify-full"), connect,
			"tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: connect by a name it holds, or set sslmode=verify-ca in sinks.s.dsn (it checks the CA, not the name)"},
		{"wrong_password", srv.DSN(pgtest.PasswordUser, "not-"+tlsSecret, "localhost", "verify-full"),
			`postgres sink: localhost:` + srv.Port + ` refused user "sluice_pw": password authentication failed for user "sluice_pw" (SQLSTATE 28P01); ` +
				"check the user and password in sinks.s.dsn (a ${VAR} there is read from the environment), " +
				"and that the role exists and may log in, and that pg_hba.conf admits it from this host", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := logtest.New()
			start := time.Now()
			err := sink(t, tc.dsn, logs).Connect(ctx)
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
