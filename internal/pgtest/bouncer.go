package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const bouncerHowTo = "pgbouncer not found; install Debian's pgbouncer package (scripts/test.sh does)"

// Bouncer starts a PgBouncer in transaction pooling mode in front of dsn's
// server and database, with at most poolSize server connections, and
// returns a DSN through it; it is stopped at cleanup. Statements of one
// client may run on different server connections between transactions,
// so code that works through it keeps no session state (no advisory
// locks, no named prepared statements, no SET outside a transaction).
// Without the pgbouncer binary the test is skipped, or failed in CI.
func Bouncer(t testing.TB, dsn string, poolSize int) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			if os.Getenv("CI") != "" {
				t.Fatal(bouncerHowTo)
			}
			t.Skip(bouncerHowTo)
		}
		bin = "/usr/sbin/pgbouncer"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest.Bouncer: the DSN cannot be parsed")
	}
	// Not t.TempDir(): its parent is private to this user, and pgbouncer
	// refuses to run as root (it runs as postgres then).
	dir, err := os.MkdirTemp("", "pgbouncer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%d dbname=%s user=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 200
logfile = %s
pidfile = %s
ignore_startup_parameters = extra_float_digits
`, cfg.Database, cfg.Host, cfg.Port, cfg.Database, cfg.User, port,
		filepath.Join(dir, "users.txt"), poolSize, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for name, body := range map[string]string{
		"pgbouncer.ini": ini,
		"users.txt":     strconv.Quote(cfg.User) + ` ""` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		args = append([]string{"-u", "postgres"}, args...)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	through := replaceHostPort(dsn, "127.0.0.1", port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, through)
		if err == nil {
			conn.Close(ctx)
			return through
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s", log)
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer not reachable on port %d: %v\n%s", port, err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// replaceHostPort points a URL or keyword/value DSN at host:port.
func replaceHostPort(dsn, host string, port int) string {
	cfg, _ := pgx.ParseConfig(dsn)
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, host, port, cfg.Database)
}
