package sqlpoll

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
)

const authCanary = "canary-Pw-7731"

// TestAuthFailureAtStart: credentials the server refuses stop Run with an
// error naming the user, the server and the key to fix, never the
// password. (The PostgreSQL test server trusts every password, so there
// the role is one that does not exist: SQLSTATE 28000, the class of
// 28P01.)
func TestAuthFailureAtStart(t *testing.T) {
	for _, driver := range []string{DriverPostgres, DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			d := newTestDB(t, driver)
			d.usersTable(t)
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			var want string
			tail := "; check the user and password in sources.poll.dsn (a ${VAR} there is read from the environment), and that "
			if driver == DriverPostgres {
				u, err := url.Parse(d.dsn)
				if err != nil {
					t.Skip("SLUICE_PG_DSN is not a URL")
				}
				u.User = url.UserPassword("sluice_nobody", authCanary)
				cfg.DSN = u.String()
				want = "sql_poll: " + u.Host + ` refused user "sluice_nobody": role "sluice_nobody" does not exist (SQLSTATE 28000)` +
					tail + "the role exists and may log in, and that pg_hba.conf admits it from this host"
			} else {
				mc, err := mysql.ParseDSN(d.dsn)
				if err != nil {
					t.Fatal(err)
				}
				mc.User, mc.Passwd = "sluice_nobody", authCanary
				cfg.DSN = mc.FormatDSN()
				host, _, _ := net.SplitHostPort(mc.Addr)
				want = "sql_poll: " + mc.Addr + ` refused user "sluice_nobody": error 1045: Access denied for user 'sluice_nobody'@'` + host + "' (using password: YES)" +
					tail + "the server has this user for this client's host (CREATE USER 'user'@'host')"
			}
			src, err := Factory.New(&cfg, component.Env{Name: "poll", Path: "sources.poll"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = src.Run(ctx, nil, &collector{})
			if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), authCanary) {
				t.Fatalf("Run = %v\nwant the permanent error %s", err, want)
			}
		})
	}
}

// TestAuthFailureWhilePolling: a password changed on the server while the
// source polls stops Run with the same error at the next reconnect,
// instead of retrying a poll that cannot succeed.
func TestAuthFailureWhilePolling(t *testing.T) {
	d := newTestDB(t, DriverMySQL)
	d.usersTable(t)
	d.exec(t, "INSERT INTO users VALUES (1, 'a', NULL)")
	mc, err := mysql.ParseDSN(d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := d.ns // sqlpoll_<hex>: unique, [a-z0-9_]
	d.exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+authCanary+"'",
		"GRANT SELECT ON "+d.ns+".* TO '"+user+"'@'%'")
	t.Cleanup(func() { d.db.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	mc.User, mc.Passwd = user, authCanary
	cfg := d.config(ModeIncrementing)
	cfg.IncrementingColumn = "id"
	cfg.DSN = mc.FormatDSN()
	cfg.PollInterval = 20 * time.Millisecond
	src, err := Factory.New(&cfg, component.Env{Name: "poll", Path: "sources.poll"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c := &collector{}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { done <- src.Run(ctx, nil, c) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.batches)
		c.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no rows polled")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A new password, and the source's connections cut: the pool
	// reconnects with the old one.
	d.exec(t, "ALTER USER '"+user+"'@'%' IDENTIFIED BY 'another-Pw-2'")
	rows, err := d.db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		d.db.Exec("KILL " + id)
	}
	host, _, _ := net.SplitHostPort(mc.Addr)
	want := "sql_poll: " + mc.Addr + ` refused user "` + user + `": error 1045: Access denied for user '` + user + `'@'` + host + "' (using password: YES)" +
		"; check the user and password in sources.poll.dsn (a ${VAR} there is read from the environment), and that the server has this user for this client's host (CREATE USER 'user'@'host')"
	select {
	case err := <-done:
		if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), authCanary) {
			t.Fatalf("Run = %v\nwant the permanent error %s", err, want)
		}
	case <-ctx.Done():
		t.Fatal("Run kept polling with refused credentials")
	}
}
