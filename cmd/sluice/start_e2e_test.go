package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// The start tests put a database behind a proxy (svctest.Proxy) that is cut
// when sluice starts: the database is down. sluice must wait for it as it
// waits for an outage mid-stream (WARN per attempt, naming the component),
// go on once the proxy is restored, and deliver everything; with
// engine.start_retry.fail_fast it must exit 1 at once; and SIGTERM during
// the wait must stop it at once, cleanly.

// viaProxy returns dsn (a postgres:// URL) with its host:port replaced by
// addr, and the host:port it had.
func viaProxy(t *testing.T, dsn, addr string) (proxied, target string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal("SLUICE_PG_DSN is not a URL")
	}
	target = u.Host
	u.Host = addr
	return u.String(), target
}

// connectWarnings counts the run's JSON log records "cannot connect;
// retrying" whose attribute key (source or sink) names name.
func connectWarnings(dir, key, name string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["msg"] == "cannot connect; retrying" && rec["level"] == "WARN" && rec[key] == name {
			if _, ok := rec["attempt"]; ok {
				n++
			}
		}
	}
	return n
}

// startJSON starts `sluice run --log-format json pipeline`, stderr to
// dir/stderr.log.
func startJSON(t *testing.T, dir, pipeline string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", "--log-format", "json", pipeline)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	return cmd
}

// waitExit waits up to d for the run to exit and returns its code and how
// long it took from start.
func waitExit(t *testing.T, cmd *exec.Cmd, dir string, d time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { waitRun(cmd); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("sluice did not exit within %s; stderr (tail):\n%s", d, stderrTail(dir))
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}

// failure is the err of the run's "pipeline failed" record.
func failure(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	out := ""
	for _, line := range bytes.Split(b, []byte("\n")) {
		var rec struct{ Msg, Err string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "pipeline failed" {
			out = rec.Err
		}
	}
	return out
}

const failFastSuffix = " (engine.start_retry.fail_fast is set, so sluice does not wait for the server)"

// TestStartWhileSourceDown: the PostgreSQL source's server is down when
// sluice starts.
func TestStartWhileSourceDown(t *testing.T) {
	pipeline := func(dir, retry string) string {
		return fmt.Sprintf(`state_dir: %[1]s/state
sources:
  pg:
    type: postgres
    dsn: ${SRC_DSN}
    tables: [public.*]
    slot: %[2]s
sinks:
  out:
    type: file
    inputs: [pg]
    path: %[1]s/out.jsonl
    format: debezium
engine:
  start_retry: %[3]s
`, dir, uniqueSlot(), retry)
	}

	t.Run("waits, then delivers everything", func(t *testing.T) {
		dsn, db, total := newCrashDB(t, 300)
		_, target := viaProxy(t, dsn, "x")
		px := svctest.NewProxy(t, target)
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{initial: 50ms, max: 400ms}"))
		cmd := startJSON(t, dir, p, "SRC_DSN="+proxied)
		waitFor(t, 30*time.Second, "three WARN records of connect attempts naming source pg", dir, func() bool {
			return connectWarnings(dir, "source", "pg") >= 3
		})
		if cmd.ProcessState != nil {
			t.Fatalf("sluice exited while the database was down:\n%s", stderrTail(dir))
		}
		px.Restore()
		commitMarker(t, db)
		out := filepath.Join(dir, "out.jsonl")
		stopWhen(t, cmd, dir, 60*time.Second, "the marker in the file", func() bool {
			b, _ := os.ReadFile(out)
			return bytes.Contains(b, []byte(`"table":"marker"`))
		})
		if n := checkReplay(t, db, out, "the file"); n != total+1 {
			t.Errorf("%d envelopes for %d rows and the marker: a snapshot delivers each row once", n, total)
		}
	})

	t.Run("fail_fast exits at once", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		px := svctest.NewProxy(t, "127.0.0.1:1")
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{fail_fast: true}"))
		code, took := waitExit(t, startJSON(t, dir, p, "SRC_DSN="+proxied), dir, 30*time.Second)
		err := failure(dir)
		if code != 1 || !strings.HasPrefix(err, `source pg: postgres source "pg": connect: failed to connect to `) || !strings.HasSuffix(err, failFastSuffix) {
			t.Fatalf("exit %d after %s, error %q; stderr:\n%s", code, took, err, stderrTail(dir))
		}
		if n := connectWarnings(dir, "source", "pg"); n != 0 {
			t.Fatalf("%d retries with fail_fast", n)
		}
	})

	t.Run("SIGTERM while waiting", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		px := svctest.NewProxy(t, "127.0.0.1:1")
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{initial: 10m}"))
		cmd := startJSON(t, dir, p, "SRC_DSN="+proxied)
		waitFor(t, 30*time.Second, "a WARN record of a connect attempt", dir, func() bool {
			return connectWarnings(dir, "source", "pg") >= 1
		})
		cmd.Process.Signal(syscall.SIGTERM)
		code, took := waitExit(t, cmd, dir, 30*time.Second)
		if code != 0 || took > 5*time.Second {
			t.Fatalf("exit %d after %s; want 0 at once; stderr:\n%s", code, took, stderrTail(dir))
		}
	})
}

// TestStartWhileSinkDown: the PostgreSQL sink's server is down when sluice
// starts.
func TestStartWhileSinkDown(t *testing.T) {
	const rows = 500
	pipeline := func(dir, retry string) string {
		return fmt.Sprintf(`state_dir: %[1]s/state
sources:
  gen: {type: generator, tables: [product], count: %[2]d, rate: 0, seed: 3}
sinks:
  out:
    type: postgres
    inputs: [gen]
    dsn: ${TARGET_DSN}
    auto_create: true
engine:
  start_retry: %[3]s
`, dir, rows, retry)
	}
	count := func(t *testing.T, db *pgx.Conn) int {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM product`).Scan(&n); err != nil {
			return -1 // not created yet
		}
		return n
	}

	t.Run("waits, then writes everything", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		db := pgtest.Connect(t, dsn)
		_, target := viaProxy(t, dsn, "x")
		px := svctest.NewProxy(t, target)
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{initial: 50ms, max: 400ms}"))
		cmd := startJSON(t, dir, p, "TARGET_DSN="+proxied)
		waitFor(t, 30*time.Second, "three WARN records of connect attempts naming sink out", dir, func() bool {
			return connectWarnings(dir, "sink", "out") >= 3
		})
		if cmd.ProcessState != nil || count(t, db) >= 0 {
			t.Fatalf("sluice exited, or wrote, while the database was down:\n%s", stderrTail(dir))
		}
		px.Restore()
		// Every source finished and the sink wrote everything: sluice exits.
		code, _ := waitExit(t, cmd, dir, 60*time.Second)
		if n := count(t, db); code != 0 || n != rows {
			t.Fatalf("exit %d with %d rows, want 0 with %d; stderr:\n%s", code, n, rows, stderrTail(dir))
		}
	})

	t.Run("fail_fast exits at once", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		px := svctest.NewProxy(t, "127.0.0.1:1")
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{fail_fast: true}"))
		code, took := waitExit(t, startJSON(t, dir, p, "TARGET_DSN="+proxied), dir, 30*time.Second)
		err := failure(dir)
		if code != 1 || !strings.HasPrefix(err, "sink out: postgres sink: connect: failed to connect to ") || !strings.HasSuffix(err, failFastSuffix) {
			t.Fatalf("exit %d after %s, error %q; stderr:\n%s", code, took, err, stderrTail(dir))
		}
	})

	t.Run("SIGTERM while waiting", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		px := svctest.NewProxy(t, "127.0.0.1:1")
		proxied, _ := viaProxy(t, dsn, px.Addr())
		px.Cut()
		dir := t.TempDir()
		p := writePipeline(t, dir, pipeline(dir, "{initial: 10m}"))
		cmd := startJSON(t, dir, p, "TARGET_DSN="+proxied)
		waitFor(t, 30*time.Second, "a WARN record of a connect attempt", dir, func() bool {
			return connectWarnings(dir, "sink", "out") >= 1
		})
		cmd.Process.Signal(syscall.SIGTERM)
		code, took := waitExit(t, cmd, dir, 60*time.Second)
		if code != 0 || took > 5*time.Second {
			t.Fatalf("exit %d after %s; want 0 at once (not after drain_timeout); stderr:\n%s", code, took, stderrTail(dir))
		}
	})
}
