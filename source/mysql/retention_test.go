package mysql

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestBinlogRisk is the retention decision on recorded SHOW BINARY LOGS
// and expiry values: only the oldest kept file, not the one being
// written, of a server that purges by age is at risk.
func TestBinlogRisk(t *testing.T) {
	week := binlogRetention{files: []string{"binlog.000007", "binlog.000008", "binlog.000009"}, expire: 7 * 24 * time.Hour}
	never := binlogRetention{files: week.files}
	one := binlogRetention{files: []string{"binlog.000009"}, expire: time.Hour}
	for _, tc := range []struct {
		r      binlogRetention
		file   string
		behind int
		risk   bool
	}{
		{week, "binlog.000007", 2, true},
		{week, "binlog.000008", 1, false},
		{week, "binlog.000009", 0, false},
		{week, "binlog.000006", -1, false},
		{never, "binlog.000007", 2, false},
		{one, "binlog.000009", 0, false},
	} {
		behind, risk := tc.r.risk(tc.file)
		if behind != tc.behind || risk != tc.risk {
			t.Errorf("%v expire %v, %s: behind %d risk %v; want %d %v", tc.r.files, tc.r.expire, tc.file, behind, risk, tc.behind, tc.risk)
		}
	}
	want := "the checkpoint's binlog file binlog.000007 is the oldest the server keeps (2 newer) and the server purges binary logs after 168h0m0s " +
		"(binlog_expire_logs_seconds / expire_logs_days): once it is purged the position is lost and on_binlog_lost applies; " +
		"keep sluice running and its sinks healthy, or raise binlog_expire_logs_seconds"
	if got := retentionWarning(week, "binlog.000007", "checkpoint"); got != want {
		t.Errorf("warning:\n got %s\nwant %s", got, want)
	}
	if got := retentionWarning(week, "binlog.000008", "checkpoint"); got != "" {
		t.Errorf("warning for a newer file: %s", got)
	}
}

// TestBinlogGauges measures the durable position's binary log on the
// server: no file behind while streaming in the newest, one after FLUSH
// BINARY LOGS; the shared server does not purge by age, so never at risk.
func TestBinlogGauges(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE g (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	r := te.start(te.config("g"), nil, out)
	out.WaitCheckpoint(t)
	te.exec("INSERT INTO g VALUES (1)")
	out.WaitFor(t, "1 change", 20*time.Second, count(1))
	if err := r.src.Committed(context.Background(), out.Checkpoint()); err != nil {
		t.Fatal(err)
	}
	measure := func() map[string]float64 {
		r.src.binlog.mu.Lock()
		r.src.binlog.at = time.Time{}
		r.src.binlog.mu.Unlock()
		m := map[string]float64{}
		for _, g := range r.src.Gauges() {
			if !strings.HasPrefix(g.Name, "sluice_mysql_binlog_") || g.Help == "" {
				t.Fatalf("gauge %+v", g)
			}
			m[g.Name] = g.Value
		}
		return m
	}
	var files []string
	rows, err := te.db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var size any
		cols, _ := rows.Columns()
		dst := []any{&name, &size}
		for len(dst) < len(cols) {
			dst = append(dst, new(any))
		}
		if err := rows.Scan(dst...); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	rows.Close()
	var cpFile string
	r.src.mu.Lock()
	cpFile, _, _ = strings.Cut(r.src.mu.durable, ":")
	r.src.mu.Unlock()
	behind := 0
	for i, f := range files {
		if f == cpFile {
			behind = len(files) - 1 - i
		}
	}
	if got := measure(); got[gaugeFilesBehind] != float64(behind) || got[gaugeAtRisk] != 0 || len(got) != 2 {
		t.Fatalf("gauges %v; want %s %d (the durable position is in %s of %v) and %s 0", got, gaugeFilesBehind, behind, cpFile, files, gaugeAtRisk)
	}
	te.exec("FLUSH BINARY LOGS")
	if got := measure(); got[gaugeFilesBehind] != float64(behind+1) {
		t.Fatalf("after FLUSH BINARY LOGS: %v, want %s %d", got, gaugeFilesBehind, behind+1)
	}
	r.stop(t)
	if got := r.src.Gauges(); len(got) != 0 {
		t.Fatalf("gauges after Close: %v", got)
	}
}

// TestBinlogRetentionWarning: on a private MariaDB that purges binary logs
// after a day, a checkpoint in the oldest kept log (one newer) is warned
// about at start and reported at risk; after the stream moved on it is not.
func TestBinlogRetentionWarning(t *testing.T) {
	base := svctest.Private(t, svctest.MariaDB, func() bool {
		_, err := exec.LookPath("mariadbd")
		_, serr := os.Stat("/usr/sbin/mariadbd")
		return err == nil || serr == nil
	})
	te := newTestEnvAt(t, base)
	te.exec("SET GLOBAL binlog_expire_logs_seconds = 86400")
	te.exec("CREATE TABLE w (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	r := te.start(te.config("w"), nil, out)
	out.WaitCheckpoint(t)
	te.exec("INSERT INTO w VALUES (1)")
	out.WaitFor(t, "1 change", 20*time.Second, count(1))
	r.stop(t)
	cp := out.Checkpoint()
	var parsed checkpoint
	if err := json.Unmarshal(cp, &parsed); err != nil {
		t.Fatal(err)
	}
	// Every older log goes, then one newer than the checkpoint's.
	te.exec("PURGE BINARY LOGS TO '" + parsed.File + "'")
	te.exec("FLUSH BINARY LOGS")

	logs := &logLines{}
	src, err := New(te.config("w"), component.Env{Name: "my", Pipeline: "p", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out2 := sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, cp, out2) }()
	want := "the checkpoint's binlog file " + parsed.File + " is the oldest the server keeps (1 newer) and the server purges binary logs after 24h0m0s"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning %q in\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if g := src.Gauges(); len(g) != 2 || g[0].Value != 1 || g[1].Value != 1 {
		t.Fatalf("gauges %+v, want 1 file behind, at risk", g)
	}
	// The stream's checkpoint moves to the newest log: no longer at risk.
	te.exec("INSERT INTO w VALUES (2)")
	out2.WaitFor(t, "1 change", 20*time.Second, count(1))
	if err := src.Committed(context.Background(), out2.Checkpoint()); err != nil {
		t.Fatal(err)
	}
	src.binlog.mu.Lock()
	src.binlog.at = time.Time{}
	src.binlog.mu.Unlock()
	if g := src.Gauges(); len(g) != 2 || g[0].Value != 0 || g[1].Value != 0 {
		t.Fatalf("gauges after the stream moved on %+v, want 0 behind, not at risk", g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// logLines collects a source's log output.
type logLines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
