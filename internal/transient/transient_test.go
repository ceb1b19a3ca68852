package transient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// refusedAddr is a local address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hangup accepts connections and closes them at once: a server going away
// mid-handshake (and what svctest.Proxy does while cut).
func hangup(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func pgConnect(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err == nil {
		c.Close(ctx)
	}
	return err
}

func TestPostgres(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("connect: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"})
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused (real)", pgConnect("postgres://u@" + refusedAddr(t) + "/db?sslmode=disable&connect_timeout=5"), true},
		{"hang-up mid-handshake (real)", pgConnect("postgres://u@" + hangup(t) + "/db?sslmode=disable&connect_timeout=5"), true},
		{"the database system is starting up 57P03", pg("57P03"), true},
		{"shutting down 57P01", pg("57P01"), true},
		{"too many connections 53300", pg("53300"), true},
		{"connection failure 08006", pg("08006"), true},
		{"deadlock 40P01", pg("40P01"), true},
		{"database dropped 57P04", pg("57P04"), false},
		{"bad password 28P01", pg("28P01"), false},
		{"no such role 28000", pg("28000"), false},
		{"unknown database 3D000", pg("3D000"), false},
		{"permission denied 42501", pg("42501"), false},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, true},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}, true},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), true},
		{"eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"unknown authority", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false},
		{"hostname mismatch", &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "db"}}, false},
		{"server refused TLS", errors.New("failed to connect to `user=u database=db`: 127.0.0.1:5432 (127.0.0.1): server refused TLS connection"), false},
		{"not a connect error", errors.New("some other problem"), false},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := Postgres(c.err); got != c.want {
			t.Errorf("%s: Postgres(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func mysqlPing(dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

func TestMySQL(t *testing.T) {
	my := func(n uint16) error { return fmt.Errorf("query: %w", &mysql.MySQLError{Number: n, Message: "m"}) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused (real)", mysqlPing("u@tcp(" + refusedAddr(t) + ")/db"), true},
		{"hang-up mid-handshake (real)", mysqlPing("u@tcp(" + hangup(t) + ")/db"), true},
		{"too many connections 1040", my(1040), true},
		{"server shutdown 1053", my(1053), true},
		{"user connections 1203", my(1203), true},
		{"connection killed 1927", my(1927), true},
		{"deadlock 1213", my(1213), true},
		{"access denied 1045", my(1045), false},
		{"unknown database 1049", my(1049), false},
		{"db access denied 1044", my(1044), false},
		{"host not allowed 1130", my(1130), false},
		{"no such table 1146", my(1146), false},
		{"privilege 1227", my(1227), false},
		{"invalid connection", mysql.ErrInvalidConn, true},
		{"bad connection", driver.ErrBadConn, true},
		{"native password", mysql.ErrNativePassword, false},
		{"no tls", mysql.ErrNoTLS, false},
		{"unknown authority", x509.UnknownAuthorityError{}, false},
		{"dns", &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}, true},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := MySQL(c.err); got != c.want {
			t.Errorf("%s: MySQL(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// TestServerErrors: the servers' own answers to an unknown database.
func TestServerErrors(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/sluice_no_such_database"
		err = pgConnect(u.String())
		if err == nil || Postgres(err) {
			t.Fatalf("unknown database: %v; transient %v", err, Postgres(err))
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(svctest.Need(t, svctest.MariaDB))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = "sluice_no_such_database"
		err = mysqlPing(cfg.FormatDSN())
		if err == nil || MySQL(err) {
			t.Fatalf("unknown database: %v; transient %v", err, MySQL(err))
		}
	})
}
