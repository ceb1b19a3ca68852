package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"defaults with a dsn", func(c *Config) {}, ""},
		{"no dsn", func(c *Config) { c.DSN = "" }, "dsn: is required"},
		{"bad dsn keeps the password out", func(c *Config) { c.DSN = "postgres://u:hunter2@h:notaport/db" }, "dsn: cannot be parsed"},
		{"bad mode", func(c *Config) { c.Mode = "merge" }, "mode: must be"},
		{"long table", func(c *Config) { c.Table = strings.Repeat("t", 64) }, "longer than 63 bytes"},
		{"schema", func(c *Config) { c.Schema = "" }, "schema: identifier is empty"},
		{"positions table", func(c *Config) { c.PositionsTable = "a\x00b" }, "positions_table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DSN = "postgres://u:hunter2@h:5432/db"
			tc.mut(c)
			var msgs []string
			for _, e := range c.Validate() {
				msgs = append(msgs, e.Error())
			}
			got := strings.Join(msgs, "; ")
			if strings.Contains(got, "hunter2") {
				t.Errorf("error shows the password: %s", got)
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Validate = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMissingDatabaseIsPermanent: a DSN naming no existing database stops
// the pipeline, without the password in the message.
func TestMissingDatabaseIsPermanent(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg := sqlsink.Defaults()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("SLUICE_PG_DSN is not a URL")
	}
	u.Path = "/sluice_no_such_db"
	u.User = url.UserPassword(u.User.Username(), "hunter2")
	cfg.DSN = u.String()
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	err = s.Write(context.Background(), []event.Event{sqltest.Ev('c', sqltest.Schema("t", 1, event.Column{Name: "id", Type: event.TypeInt64, Key: true}), nil, sqltest.Row(sqltest.I(1)), 1)})
	if !component.IsPermanent(err) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Write = %v, want a permanent error without the password", err)
	}
}

// TestAuthFailureIsPermanent: credentials the server refuses stop the
// pipeline with an error that names the user, the server and the key to
// fix, not the password. (The test server trusts every password, so the
// role is one that does not exist: SQLSTATE 28000, the class of 28P01.)
func TestAuthFailureIsPermanent(t *testing.T) {
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Skip("SLUICE_PG_DSN is not a URL")
	}
	u.User = url.UserPassword("sluice_nobody", "canary-Pw-7731")
	cfg := sqlsink.Defaults()
	cfg.DSN = u.String()
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s", Path: "sinks.s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	err = s.Write(context.Background(), []event.Event{sqltest.Ev('c', sqltest.Schema("t", 1, event.Column{Name: "id", Type: event.TypeInt64, Key: true}), nil, sqltest.Row(sqltest.I(1)), 1)})
	want := "postgres sink: " + u.Host + ` refused user "sluice_nobody": role "sluice_nobody" does not exist (SQLSTATE 28000); ` +
		"check the user and password in sinks.s.dsn (a ${VAR} there is read from the environment), " +
		"and that the role exists and may log in, and that pg_hba.conf admits it from this host"
	if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), "canary") {
		t.Fatalf("Write = %v\nwant the permanent error %s", err, want)
	}
}
