package mysql

import (
	"context"
	"database/sql"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
)

const tlsSecret = "canary-TLS-pw-9034"

// TestTLS runs the source against a private MariaDB that requires TLS
// (scripts/mariadb.sh with SLUICE_MARIADB_TLS, its certificate valid for
// localhost only): snapshot and binlog stream with ssl_mode
// verify_identity and a password, and with verify_ca and a client
// certificate (a user REQUIRE X509); then a CA that did not sign the
// server's certificate, a host name the certificate does not hold and a
// wrong password each stop Run at once with a permanent error that says
// what to fix and holds no password.
func TestTLS(t *testing.T) {
	ca, rootDSN := svctest.MariaDBTLS(t, "localhost")
	ca.Client(t, "client")
	dc, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(dc.Addr)
	dc.MultiStatements = true
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
		"CREATE TABLE sluice_test.t (id int PRIMARY KEY, v text)",
		"INSERT INTO sluice_test.t VALUES (1, 'one')",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("setup: %v", err) // not q: it may hold the password
		}
	}
	config := func(host, user, password, mode, caFile string) *Config {
		c := DefaultConfig()
		c.Host, c.User, c.Password, c.Tables, c.HeartbeatInterval = host, user, password, []string{"sluice_test.t"}, time.Second
		c.Port, _ = strconv.Atoi(port)
		c.SSLMode, c.SSLCA = mode, caFile
		if user == "sluice_cert" {
			c.SSLCert, c.SSLKey = filepath.Join(ca.Dir, "client.pem"), filepath.Join(ca.Dir, "client-key.pem")
		}
		return c
	}
	for i, tc := range []struct {
		name string
		cfg  *Config
	}{
		{"verify_identity password", config("localhost", "sluice_pw", tlsSecret, dbauth.SSLVerifyIdentity, ca.CAFile())},
		{"verify_ca client certificate", config("127.0.0.1", "sluice_cert", "", dbauth.SSLVerifyCA, ca.CAFile())},
		// The server requires TLS: the binlog connection must take it too.
		{"preferred", config("127.0.0.1", "sluice_pw", tlsSecret, dbauth.SSLPreferred, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := sourcetest.NewEmitter()
			(&testEnv{t: t}).start(tc.cfg, nil, out)
			out.WaitFor(t, "snapshot", 20*time.Second, func(evs []event.Event) bool { return len(evs) >= 1 })
			id := 2 + i
			if _, err := admin.Exec("INSERT INTO sluice_test.t VALUES (?, 'new')", id); err != nil {
				t.Fatal(err)
			}
			out.WaitFor(t, "binlog", 20*time.Second, func(evs []event.Event) bool {
				return slices.Contains(describe(evs), "c t id="+strconv.Itoa(id)+" v=new")
			})
			if got := describe(out.Events())[0]; got != "r t id=1 v=one" {
				t.Fatalf("snapshot: %q", got)
			}
		})
	}

	other := testpki.NewCA(t, "another CA")
	for _, tc := range []struct {
		name        string
		cfg         *Config
		prefix, suf string
	}{
		{"wrong CA", config("localhost", "sluice_pw", tlsSecret, dbauth.SSLVerifyIdentity, other.CAFile()),
			`mysql source "my": `, "tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set sources.my.ssl_ca to the PEM file of the CA that signed it"},
		{"wrong host name", config("127.0.0.1", "sluice_pw", tlsSecret, dbauth.SSLVerifyIdentity, ca.CAFile()),
			`mysql source "my": `, "tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: connect by a name it holds, or set sources.my.ssl_mode: verify_ca (it checks the CA, not the name)"},
		{"wrong password", config("localhost", "sluice_pw", "not-"+tlsSecret, dbauth.SSLVerifyIdentity, ca.CAFile()),
			`mysql source "my": localhost:` + port + ` refused user "sluice_pw": error 1045: Access denied for user 'sluice_pw'@'127.0.0.1' (using password: YES); ` +
				"check the user and password in sources.my.user and sources.my.password (a ${VAR} there is read from the environment), " +
				"and that the server has this user for this client's host (CREATE USER 'user'@'host')", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := logtest.New()
			src, err := New(tc.cfg, component.Env{Name: "my", Pipeline: "p", Logger: logs.Logger(), Path: "sources.my"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			start := time.Now()
			err = src.Run(context.Background(), nil, sourcetest.NewEmitter())
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.prefix) || !strings.HasSuffix(err.Error(), tc.suf) {
				t.Fatalf("Run = %v (permanent %v)\nwant a permanent error %s … %s", err, component.IsPermanent(err), tc.prefix, tc.suf)
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

// TestSSLPreferredWithoutTLS: ssl_mode preferred against a server without
// TLS (the shared test server) snapshots and streams in the clear: the
// binlog connection falls back as the SQL ones do.
func TestSSLPreferredWithoutTLS(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id int PRIMARY KEY, v text)")
	te.exec("INSERT INTO t VALUES (1, 'one')")
	cfg := te.config("t")
	cfg.SSLMode = dbauth.SSLPreferred
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot", 20*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	te.exec("INSERT INTO t VALUES (2, 'two')")
	out.WaitFor(t, "binlog", 20*time.Second, func(evs []event.Event) bool { return len(evs) == 2 })
	if got := describe(out.Events()); !slices.Equal(got, []string{"r t id=1 v=one", "c t id=2 v=two"}) {
		t.Fatalf("events %q", got)
	}
}
