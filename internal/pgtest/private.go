package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

const privateHowTo = "PostgreSQL binaries (initdb) not found; install Debian's postgresql package (scripts/test.sh does)"

// Private starts a PostgreSQL server of the test's own with
// scripts/postgres.sh (in a new SLUICE_TMP) and returns the DSN of its
// database sluice_test; the server is stopped and removed at cleanup. Use
// it for what must not touch the shared server: server settings (ALTER
// SYSTEM), restarts, WAL limits. Starting one takes a few seconds. Without
// initdb the test is skipped, or failed in CI.
func Private(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("initdb"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
			if os.Getenv("CI") != "" {
				t.Fatal(privateHowTo)
			}
			t.Skip(privateHowTo)
		}
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "postgres.sh")
	// Not t.TempDir(): its parent is private to this user, and the server
	// runs as user postgres when the tests run as root.
	dir, err := os.MkdirTemp("", "pgtest-private")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SLUICE_TMP="+dir)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", script, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("scripts/postgres.sh stop: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		stop()
		t.Fatalf("scripts/postgres.sh start: %v\n%s", err, out)
	}
	t.Cleanup(stop)
	m := regexp.MustCompile(`SLUICE_PG_DSN=(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("scripts/postgres.sh start printed no SLUICE_PG_DSN: %q", out)
	}
	return string(m[1])
}
