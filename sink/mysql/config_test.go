package mysql

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string // substring of the joined errors; "" for none
	}{
		{"defaults with a dsn", func(c *Config) {}, ""},
		{"no dsn", func(c *Config) { c.DSN = "" }, "dsn: is required"},
		{"no database", func(c *Config) { c.DSN = "u:p@tcp(h:3306)/" }, "dsn: names no database"},
		{"bad dsn keeps the password out", func(c *Config) { c.DSN = "u:hunter2@tcp(h:3306/db" }, "dsn: cannot be parsed"},
		{"bad mode", func(c *Config) { c.Mode = "merge" }, "mode: must be insert, upsert or update"},
		{"bad delete mode", func(c *Config) { c.DeleteMode = "hard" }, "delete_mode: must be delete, soft or none"},
		{"bad template", func(c *Config) { c.Table = "${tabel}" }, "unknown placeholder ${tabel}"},
		{"long table", func(c *Config) { c.Table = strings.Repeat("t", 65) }, "longer than 64 characters"},
		{"empty key column", func(c *Config) { c.KeyColumns = []string{""} }, "key_columns: identifier is empty"},
		{"soft column", func(c *Config) { c.DeleteMode = "soft"; c.SoftDeleteColumn = "" }, "soft_delete_column"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DSN = "u:hunter2@tcp(h:3306)/db"
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

// TestAuthFailureIsPermanent: a wrong password stops the pipeline with an
// error that names the user, the server and the key to fix, not the
// password.
func TestAuthFailureIsPermanent(t *testing.T) {
	base := svctest.Need(t, svctest.MariaDB)
	mc, _ := mysql.ParseDSN(base)
	mc.User, mc.Passwd = "sluice_nobody", "canary-Pw-7731"
	cfg := sqlsink.Defaults()
	cfg.DSN = mc.FormatDSN()
	s, err := New(Config{Config: cfg}, component.Env{Name: "s", Path: "sinks.s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	err = s.Write(context.Background(), []event.Event{sqltest.Ev('c', sqltest.Schema("t", 1, event.Column{Name: "id", Type: event.TypeInt64, Key: true}), nil, sqltest.Row(sqltest.I(1)), 1)})
	host, _, _ := net.SplitHostPort(mc.Addr)
	want := "mysql sink: " + mc.Addr + ` refused user "sluice_nobody": error 1045: Access denied for user 'sluice_nobody'@'` + host + `' (using password: YES); ` +
		"check the user and password in sinks.s.dsn (a ${VAR} there is read from the environment), " +
		"and that the server has this user for this client's host (CREATE USER 'user'@'host')"
	if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), "canary") {
		t.Fatalf("Write = %v\nwant the permanent error %s", err, want)
	}
}
