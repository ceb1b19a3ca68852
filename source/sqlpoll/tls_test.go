package sqlpoll

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
)

// TestTLSMySQL: polling a MariaDB that requires TLS (scripts/mariadb.sh
// with SLUICE_MARIADB_TLS, its certificate valid for localhost only) with
// ssl_mode verify_identity and ssl_ca; another CA stops Run at once with
// what to fix.
func TestTLSMySQL(t *testing.T) {
	ca, rootDSN := svctest.MariaDBTLS(t, "localhost")
	mc, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{"CREATE TABLE sluice_test.users (id int PRIMARY KEY, name text)", "INSERT INTO sluice_test.users VALUES (1, 'a')"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mc.Addr = strings.Replace(mc.Addr, "127.0.0.1", "localhost", 1)
	mc.TLSConfig = ""
	config := func(caFile string) *Config {
		c := DefaultConfig()
		c.Driver, c.DSN, c.Mode, c.Tables, c.IncrementingColumn = DriverMySQL, mc.FormatDSN(), ModeIncrementing, []string{"users"}, "id"
		c.SSLMode, c.SSLCA = dbauth.SSLVerifyIdentity, caFile
		c.PollInterval = 50 * time.Millisecond
		return c
	}
	src, err := Factory.New(config(ca.CAFile()), component.Env{Name: "poll", Path: "sources.poll"})
	if err != nil {
		t.Fatal(err)
	}
	out := sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, nil, out) }()
	out.WaitFor(t, "the row", 20*time.Second, func(evs []event.Event) bool { return len(evs) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	src.Close()

	other := testpki.NewCA(t, "another CA")
	src, err = Factory.New(config(other.CAFile()), component.Env{Name: "poll", Path: "sources.poll"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	err = src.Run(context.Background(), nil, sourcetest.NewEmitter())
	want := "x509: certificate signed by unknown authority; the server's certificate is not signed by a CA this client trusts: " +
		"set sources.poll.ssl_ca to the PEM file of the CA that signed it"
	if !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "sql_poll: ") || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("Run = %v\nwant a permanent error … %s", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %s, want at once", d)
	}
}
