// Package dbauth recognises a database server refusing a client's
// credentials, for the sources and sinks that connect to PostgreSQL and
// MySQL/MariaDB: they turn it into a component.AuthError that names the
// user, the server and the pipeline keys to fix. Only the server's own
// words are returned; they never hold the password.
//
// It also holds their TLS: MySQLSSL, the ssl_* keys of the mysql source
// and sink (Debezium's modes, applied to go-sql-driver's configuration,
// which the binlog connection shares), and what to fix when a server's
// certificate does not verify (PostgresTLS, MySQLTLS: transient.TLSFix
// with the keys of each).
package dbauth

import (
	"errors"
	"net"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// MySQLHint is what else to check when MySQL/MariaDB refuses a user.
const MySQLHint = "that the server has this user for this client's host (CREATE USER 'user'@'host')"

// PostgresHint is what else to check when PostgreSQL refuses a user.
const PostgresHint = "that the role exists and may log in, and that pg_hba.conf admits it from this host"

// MySQL reports whether err is MySQL/MariaDB refusing the credentials
// (error 1045 access denied, 1698 access denied without a password),
// from database/sql's driver or from the replication protocol, and returns
// the server's message.
func MySQL(err error) (reason string, ok bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) && refusedMySQL(me.Number) {
		return "error " + strconv.Itoa(int(me.Number)) + ": " + me.Message, true
	}
	var re *gomysql.MyError
	if errors.As(err, &re) && refusedMySQL(re.Code) {
		return "error " + strconv.Itoa(int(re.Code)) + ": " + re.Message, true
	}
	return "", false
}

func refusedMySQL(code uint16) bool { return code == 1045 || code == 1698 }

// Postgres reports whether err is PostgreSQL refusing the credentials
// (SQLSTATE 28P01 invalid password, 28000 invalid authorization: no such
// role, or no pg_hba.conf entry) and returns the server's message.
func Postgres(err error) (reason string, ok bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000") {
		return pe.Message + " (SQLSTATE " + pe.Code + ")", true
	}
	return "", false
}

// PostgresAddr is the server a pgconn configuration connects to first, as
// host:port (a Unix socket directory as the path to its socket).
func PostgresAddr(c *pgconn.Config) string {
	port := strconv.Itoa(int(c.Port))
	if strings.HasPrefix(c.Host, "/") {
		return c.Host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(c.Host, port)
}
