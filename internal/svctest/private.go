package svctest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Private starts a server of the test's own with the service's script (in
// a new SLUICE_TMP) and returns the value the script exports in the
// service's environment variable; the server is stopped and removed at
// cleanup. Use it for what must not touch the shared server: global
// settings, restarts, retention limits. Starting one takes a few seconds.
// have reports whether the server's binaries are installed; without them
// the test is skipped, or failed in CI.
func Private(t testing.TB, s Service, have func() bool) string {
	t.Helper()
	script, _, _ := strings.Cut(s.Script, " ")
	if !have() {
		msg := "the binaries of " + script + "'s server are not installed (scripts/test.sh installs them)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", script)
	// Not t.TempDir(): its parent is private to this user, and servers run
	// as their own user (postgres, mysql) when the tests run as root.
	dir, err := os.MkdirTemp("", "svctest-private")
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
		cmd := exec.CommandContext(ctx, "bash", path, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s stop: %v\n%s", script, err, out)
		}
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", path, "start")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		stop()
		t.Fatalf("%s start: %v\n%s", script, err, out)
	}
	t.Cleanup(stop)
	m := regexp.MustCompile(regexp.QuoteMeta(s.Env) + `='?([^'\s]+)'?`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s start printed no %s: %q", script, s.Env, out)
	}
	return string(m[1])
}
