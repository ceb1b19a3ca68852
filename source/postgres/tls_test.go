package postgres

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/testpki"
)

// tlsSecret is the password of the TLS server's password role; no error
// or log line may hold it.
const tlsSecret = "canary-TLS-pw-4417"

// TestTLS runs the source against a private server that speaks TLS only
// (scripts/postgres.sh with SLUICE_PG_TLS): snapshot and stream (the
// replication connection too) with sslmode=verify-full and a password,
// and with verify-ca and a client certificate; then a CA that did not
// sign the server's certificate, a host name the certificate does not
// hold and a wrong password each stop Run at once with a permanent error
// that says what to fix and holds no password.
func TestTLS(t *testing.T) {
	srv := pgtest.StartTLS(t, tlsSecret)
	admin := pgtest.Connect(t, srv.DSN("postgres", "", "localhost", "verify-full"))
	ctx := context.Background()
	for _, q := range []string{`CREATE TABLE tls_t (id int PRIMARY KEY, v text)`, `INSERT INTO tls_t VALUES (1, 'one')`} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	run := func(t *testing.T, dsn, slot string, insert int) {
		cfg := DefaultConfig()
		cfg.DSN, cfg.Tables, cfg.Slot, cfg.Publication = dsn, []string{"public.tls_t"}, slot, slot
		cfg.HeartbeatInterval, cfg.StatusInterval = 0, 50*time.Millisecond
		src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		out := sourcetest.NewEmitter()
		r := &running{src: src, out: out, done: make(chan error, 1)}
		rctx, cancel := context.WithCancel(ctx)
		r.cancel = cancel
		go func() { r.done <- src.Run(rctx, nil, out) }()
		defer r.stop(t)
		out.WaitFor(t, "snapshot", 20*time.Second, func(evs []event.Event) bool { return len(evs) >= 1 })
		if _, err := admin.Exec(ctx, `INSERT INTO tls_t VALUES ($1, 'new')`, insert); err != nil {
			t.Fatal(err)
		}
		out.WaitFor(t, "stream", 20*time.Second, func(evs []event.Event) bool {
			return slices.ContainsFunc(describe(evs), func(s string) bool { return strings.HasPrefix(s, "c tls_t id="+strconv.Itoa(insert)+" ") })
		})
		if got := describe(out.Events())[0]; got != "r tls_t id=1 v=one" {
			t.Fatalf("snapshot: %q", got)
		}
	}
	t.Run("verify-full password", func(t *testing.T) {
		run(t, srv.DSN(pgtest.PasswordUser, tlsSecret, "localhost", "verify-full"), "tls_pw", 2)
	})
	t.Run("verify-ca client certificate", func(t *testing.T) {
		run(t, srv.DSN(pgtest.CertUser, "", "127.0.0.1", "verify-ca"), "tls_cert", 3)
	})

	other := testpki.NewCA(t, "another CA")
	const connect = `postgres source "shop": connect: failed to connect to ` + "`user=sluice_pw database=sluice_test`: "
	for _, tc := range []struct {
		name, dsn, prefix, suffix string
	}{
		{"wrong CA", strings.Replace(srv.DSN(pgtest.PasswordUser, tlsSecret, "localhost", "verify-full"),
			"sslrootcert=", "sslrootcert="+url.QueryEscape(other.CAFile())+"&x=", 1), connect,
			"tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set sslrootcert in sources.shop.dsn to the PEM file of the CA that signed it"},
		{"wrong host name", srv.DSN(pgtest.PasswordUser, tlsSecret, "127.0.0.1", "verify-full"), connect,
			"tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: connect by a name it holds, or set sslmode=verify-ca in sources.shop.dsn (it checks the CA, not the name)"},
		{"wrong password", srv.DSN(pgtest.PasswordUser, "not-"+tlsSecret, "localhost", "verify-full"),
			`postgres source "shop": localhost:` + srv.Port + ` refused user "sluice_pw": password authentication failed for user "sluice_pw" (SQLSTATE 28P01); ` +
				"check the user and password in sources.shop.dsn (a ${VAR} there is read from the environment), " +
				"and that the role exists and may log in, and that pg_hba.conf admits it from this host", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := logtest.New()
			cfg := DefaultConfig()
			cfg.DSN, cfg.Tables, cfg.Slot = tc.dsn, []string{"public.tls_t"}, "tls_fail"
			src, err := New(cfg, component.Env{Name: "shop", Pipeline: "p", Logger: logs.Logger(), Path: "sources.shop"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			start := time.Now()
			err = src.Run(ctx, nil, sourcetest.NewEmitter())
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.prefix) || !strings.HasSuffix(err.Error(), tc.suffix) {
				t.Fatalf("Run = %v (permanent %v)\nwant a permanent error %s … %s", err, component.IsPermanent(err), tc.prefix, tc.suffix)
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
			// The snapshot chunks' connections (coordination) say the same.
			_, err = src.PlanChunks(ctx)
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), tc.prefix) || !strings.HasSuffix(err.Error(), tc.suffix) {
				t.Fatalf("PlanChunks = %v (permanent %v)\nwant a permanent error %s … %s", err, component.IsPermanent(err), tc.prefix, tc.suffix)
			}
		})
	}
}
