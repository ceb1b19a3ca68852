// Package transient tells, per driver, whether an error met while
// connecting to a server may pass by itself — the server is down,
// restarting, still starting up, out of connections, or unreachable for a
// moment — or needs the user — a bad password, an unknown database, a
// missing privilege, a TLS setup that does not verify. component.Connect
// retries the first kind at start and stops at once on the second.
//
// The classifiers answer for connect steps: opening a connection and its
// first query. Network errors (refused, reset, timeouts, DNS) count as
// transient, DNS "no such host" included: a container's name resolves only
// once it runs, which is what waiting at start is for; a typo shows as one
// WARN line per attempt (and engine.start_retry.fail_fast stops at once).
// TLS verification failures are never transient; TLSFix says what to
// change for them, in every component's own keys.
//
// One classifier per database driver that several components share
// (pgx: the postgres source and sql_poll; go-sql-driver/mysql: the mysql
// source and sql_poll); connectors whose driver only they use (MongoDB,
// SQLite, S3, the search clients, franz-go in internal/kafkautil) keep
// theirs, and the SQL sinks use their dialect's Classify.
package transient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// TLS reports a TLS failure that retrying cannot fix: a certificate that
// does not verify, or a server that does not speak TLS.
func TLS(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cve) || errors.As(err, &rhe)
}

// Net reports network failures: connection refused or reset, host or
// network unreachable, timeouts (an attempt's own deadline included), DNS
// failures, and a connection closed by the server mid-handshake (EOF).
func Net(err error) bool {
	if err == nil || TLS(err) {
		return false
	}
	var (
		dns *net.DNSError
		op  *net.OpError
		ne  net.Error
	)
	switch {
	case errors.As(err, &dns), errors.As(err, &op):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ne):
		return ne.Timeout()
	}
	return false
}

// Postgres classifies errors of pgx (pgconn). Transient: SQLSTATE classes
// 08 (connection exception), 53 (insufficient resources: too many
// connections), 57 (operator intervention: the database system is
// starting up or shutting down) but 57P04 (database dropped), 40
// (serialization failure, deadlock); network errors; and any other failure
// to establish the connection (a pgconn.ConnectError that holds no server
// error). Everything else — 28 (authentication), 3D (unknown database),
// 42 (privileges, unknown objects) — is not.
func Postgres(err error) bool {
	if err == nil || TLS(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "57P04" {
			return false
		}
		switch pe.Code[:min(2, len(pe.Code))] {
		case "08", "53", "57", "40":
			return true
		}
		return false
	}
	// pgconn's own message when sslmode requires TLS and the server has
	// none: the server's setup, not an outage.
	if strings.Contains(err.Error(), "server refused TLS connection") {
		return false
	}
	var ce *pgconn.ConnectError
	return Net(err) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) || errors.As(err, &ce)
}

// MySQL classifies errors of go-sql-driver/mysql (go-mysql's replication
// client reports the same server codes: see MySQLCode). Transient server errors: too many connections (1040,
// 1203), server shutdown (1053), aborted or killed connections (1152,
// 1184, 1927), network read and write errors (1158–1161), lock waits and
// deadlocks (1205, 1213), the client idle timeout (4031); and the drivers'
// lost connections and network errors. Every other server error — access
// denied (1044, 1045, 1698), unknown database (1049), host not allowed or
// blocked (1129, 1130), privileges (1142, 1227), a missing table (1146),
// expired or locked accounts (1820, 1862, 3118) — and the drivers'
// authentication plugin errors are not.
func MySQL(err error) bool {
	if err == nil || TLS(err) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return MySQLCode(me.Number)
	}
	switch {
	case errors.Is(err, mysql.ErrNativePassword), errors.Is(err, mysql.ErrOldPassword), errors.Is(err, mysql.ErrCleartextPassword),
		errors.Is(err, mysql.ErrUnknownPlugin), errors.Is(err, mysql.ErrNoTLS):
		return false
	case errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn):
		return true
	}
	return Net(err)
}

// MySQLCode reports whether a MySQL/MariaDB server error number is
// transient (see MySQL).
func MySQLCode(code uint16) bool {
	switch code {
	case 1040, 1053, 1152, 1158, 1159, 1160, 1161, 1184, 1203, 1205, 1213, 1927, 4031:
		return true
	}
	return false
}

// TLSFix says what to change when err is a TLS setup that does not
// verify (TLS: never retried): the CA, the host name, or the
// rest of the TLS settings. caKey names the setting of the CA file,
// nameFix says what to do about a host name the certificate does not
// hold, otherKeys names the remaining TLS settings. ok is false for any
// other error. Used by every component that connects over TLS.
func TLSFix(err error, caKey, nameFix, otherKeys string) (fix string, ok bool) {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
	)
	switch {
	case errors.As(err, &ua):
		return "the server's certificate is not signed by a CA this client trusts: set " + caKey +
			" to the PEM file of the CA that signed it", true
	case errors.As(err, &he):
		return "the server's certificate does not hold the host name connected to: " + nameFix, true
	case TLS(err):
		return "check " + otherKeys + " (the server may not speak TLS there, or its certificate is not valid now)", true
	}
	return "", false
}

// NameFix is TLSFix's advice for a host name the certificate does not
// hold, where mode (a setting and its value) checks the CA only.
func NameFix(mode string) string {
	return "connect by a name it holds, or set " + mode + " (it checks the CA, not the name)"
}
