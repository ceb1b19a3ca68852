package dbauth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestTLSFix pins what each kind of TLS failure tells the user to change.
func TestTLSFix(t *testing.T) {
	key := func(k string) string { return "sinks.db." + k }
	for _, tc := range []struct {
		err    error
		pg, my string
		notTLS bool
	}{
		{err: fmt.Errorf("connect: %w", x509.UnknownAuthorityError{}),
			pg: "the server's certificate is not signed by a CA this client trusts: set sslrootcert in sinks.db.dsn to the PEM file of the CA that signed it",
			my: "the server's certificate is not signed by a CA this client trusts: set sinks.db.ssl_ca to the PEM file of the CA that signed it"},
		{err: fmt.Errorf("connect: %w", x509.HostnameError{Host: "db"}),
			pg: "the server's certificate does not hold the host name connected to: connect by a name it holds, or set sslmode=verify-ca in sinks.db.dsn (it checks the CA, not the name)",
			my: "the server's certificate does not hold the host name connected to: connect by a name it holds, or set sinks.db.ssl_mode: verify_ca (it checks the CA, not the name)"},
		{err: x509.CertificateInvalidError{Reason: x509.Expired},
			pg: "check sslmode, sslrootcert, sslcert and sslkey in sinks.db.dsn (the server may not speak TLS there, or its certificate is not valid now)",
			my: "check sinks.db.ssl_mode, sinks.db.ssl_ca, sinks.db.ssl_cert and sinks.db.ssl_key (the server may not speak TLS there, or its certificate is not valid now)"},
		{err: errors.New("connection refused"), notTLS: true},
	} {
		pg, ok := PostgresTLS(tc.err, key("dsn"))
		if ok == tc.notTLS || pg != tc.pg {
			t.Errorf("PostgresTLS(%v) = %q, %v; want %q", tc.err, pg, ok, tc.pg)
		}
		my, ok := MySQLTLS(tc.err, key)
		if ok == tc.notTLS || my != tc.my {
			t.Errorf("MySQLTLS(%v) = %q, %v; want %q", tc.err, my, ok, tc.my)
		}
	}
}

// TestMySQLSSLValidate pins the settings' checks.
func TestMySQLSSLValidate(t *testing.T) {
	for _, tc := range []struct {
		c    MySQLSSL
		want string
	}{
		{MySQLSSL{}, ""},
		{MySQLSSL{SSLMode: SSLRequired}, ""},
		{MySQLSSL{SSLMode: "on"}, `ssl_mode: "on" is not a TLS mode (hint: use disabled, preferred, required, verify_ca or verify_identity)`},
		{MySQLSSL{SSLMode: SSLRequired, SSLCA: "/dev/null"}, "ssl_ca: is set but ssl_mode does not verify certificates (hint: set ssl_mode: verify_identity (or verify_ca))"},
		{MySQLSSL{SSLMode: SSLVerifyCA, SSLCert: "/dev/null"}, "ssl_cert: and ssl_key go together (hint: set both, the PEM client certificate and its key)"},
		{MySQLSSL{SSLMode: SSLVerifyIdentity, SSLCA: "/nonexistent/ca.pem"}, "ssl_ca: stat /nonexistent/ca.pem: no such file or directory (hint: a PEM file readable by sluice)"},
	} {
		errs := tc.c.Validate()
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != tc.want || len(errs) > 1 {
			t.Errorf("%+v: %q (%d errors), want %q", tc.c, got, len(errs), tc.want)
		}
	}
}

// TestPostgresTLSFile: a DSN naming a CA file that is not there says which
// file and why, and nothing of the DSN (the parser's message quotes it).
func TestPostgresTLSFile(t *testing.T) {
	_, err := pgconn.ParseConfig("postgres://u:s3cr3t@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
	got, ok := PostgresTLSFile(err)
	if !ok || got != "cannot read /nonexistent/ca.pem: no such file or directory" {
		t.Fatalf("%q, %v (from %v)", got, ok, err)
	}
	if _, err := pgconn.ParseConfig("postgres://u:s3cr3t@h:port/db"); err == nil {
		t.Fatal("a bad port parses")
	} else if got, ok := PostgresTLSFile(err); ok {
		t.Fatalf("a bad port is a TLS file: %q", got)
	}
}
