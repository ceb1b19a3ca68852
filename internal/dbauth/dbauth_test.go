package dbauth

import (
	"errors"
	"fmt"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestRefusals pins which server errors are refused credentials and the
// reason given for them. The real servers' answers are covered by the
// components' tests (the PostgreSQL test server trusts every password, so
// 28P01 is only built here).
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		err    error
		pg     bool
		reason string
	}{
		{fmt.Errorf("connect: %w", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app"`}), true,
			`password authentication failed for user "app" (SQLSTATE 28P01)`},
		{&pgconn.PgError{Code: "28000", Message: `no pg_hba.conf entry for host "10.0.0.5", user "app", database "shop", no encryption`}, true,
			`no pg_hba.conf entry for host "10.0.0.5", user "app", database "shop", no encryption (SQLSTATE 28000)`},
		{&pgconn.PgError{Code: "42501", Message: "permission denied for table t"}, true, ""},
		{fmt.Errorf("query: %w", &mysql.MySQLError{Number: 1045, Message: "Access denied for user 'app'@'10.0.0.5' (using password: YES)"}), false,
			"error 1045: Access denied for user 'app'@'10.0.0.5' (using password: YES)"},
		// The binlog connection's error type.
		{fmt.Errorf("dump: %w", &gomysql.MyError{Code: 1698, Message: "Access denied for user 'root'@'localhost'"}), false,
			"error 1698: Access denied for user 'root'@'localhost'"},
		{&mysql.MySQLError{Number: 1044, Message: "Access denied for user 'app'@'%' to database 'x'"}, false, ""},
		{errors.New("connection refused"), false, ""},
	} {
		var reason string
		var ok bool
		if tc.pg {
			reason, ok = Postgres(tc.err)
		} else {
			reason, ok = MySQL(tc.err)
		}
		if ok != (tc.reason != "") || reason != tc.reason {
			t.Errorf("%v: %q, %v; want %q", tc.err, reason, ok, tc.reason)
		}
	}
	if got := PostgresAddr(&pgconn.Config{Host: "/var/run/postgresql", Port: 5432}); got != "/var/run/postgresql/.s.PGSQL.5432" {
		t.Errorf("socket address %s", got)
	}
	if got := PostgresAddr(&pgconn.Config{Host: "::1", Port: 5433}); got != "[::1]:5433" {
		t.Errorf("IPv6 address %s", got)
	}
}
