package mysql

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestBinlogDrainThroughput drains N row changes (default 1,000,000;
// SLUICE_MYSQL_BENCH_ROWS) from the binlog into events and compares the
// time with mariadb-binlog reading and decoding the same range from the
// server (--read-from-remote-server --base64-output=decode-rows -v) to
// /dev/null, in the same run. Set SLUICE_MYSQL_BENCH=1 to run it; it logs
// the ratio, the ratio of CPU times (mariadb-binlog's own against this
// process's while draining: less sensitive to other load on the machine)
// and the process's peak heap.
func TestBinlogDrainThroughput(t *testing.T) {
	if os.Getenv("SLUICE_MYSQL_BENCH") == "" {
		t.Skip("set SLUICE_MYSQL_BENCH=1 to compare the binlog drain with mariadb-binlog")
	}
	rows := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_MYSQL_BENCH_ROWS")); err == nil {
		rows = n
	}
	te := newTestEnv(t)
	te.exec(`CREATE TABLE bench (id BIGINT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), amount DECIMAL(12,2),
		created DATETIME(6), active TINYINT, qty INT, note VARCHAR(100))`)
	var file string
	var pos uint64
	var gtid string
	var err error
	file, pos, gtid, err = currentPosition(context.Background(), te.db, serverInfo{mariadb: true, gtid: true})
	if err != nil {
		t.Fatal(err)
	}
	for lo := 1; lo <= rows; lo += 100_000 {
		te.exec(sprintf(`INSERT INTO bench SELECT seq, CONCAT('customer name number ', seq), CONCAT('user', seq, '@example.com'),
			(seq %% 100000) / 100.0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq %% 2, seq %% 1000,
			CONCAT(REPEAT('n', 74), seq) FROM seq_%d_to_%d`, lo, min(lo+99_999, rows)))
	}
	endFile, endPos, _, err := currentPosition(context.Background(), te.db, serverInfo{mariadb: true, gtid: true})
	if err != nil {
		t.Fatal(err)
	}

	cfg := te.config("bench")
	cfg.Snapshot = SnapshotNever
	cp := (&checkpoint{Version: 1, Phase: phaseStream, File: file, Pos: pos, GTID: gtid}).marshal()
	out := sourcetest.NewEmitter()
	out.CountOnly()
	var peak uint64
	cpu0 := processCPU()
	start := time.Now()
	r := te.start(cfg, cp, out)
	for {
		n := out.Count()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if n >= rows {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("drained %d of %d", n, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sluice := time.Since(start)
	sluiceCPU := processCPU() - cpu0
	r.stop(t)

	dc, _ := mysql.ParseDSN(te.dsn)
	host, port, _ := hostPort(dc)
	args := []string{"--read-from-remote-server", "--host=" + host, "--port=" + strconv.Itoa(int(port)), "--user=" + dc.User,
		"--base64-output=decode-rows", "-v", "--start-position=" + strconv.FormatUint(pos, 10)}
	if dc.Passwd != "" {
		args = append(args, "--password="+dc.Passwd)
	}
	if endFile == file {
		args = append(args, "--stop-position="+strconv.FormatUint(endPos, 10))
	} else {
		args = append(args, "--to-last-log")
	}
	args = append(args, file)
	start = time.Now()
	cmd := exec.Command("mariadb-binlog", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mariadb-binlog: %v\n%s", err, stderr.String())
	}
	tool := time.Since(start)
	toolCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t.Logf("%d row changes: sluice %v (%.0f rows/s), mariadb-binlog %v; ratio %.2f× (≥ 0.8 is the target); peak heap in use %d MiB",
		rows, sluice.Round(time.Millisecond), float64(rows)/sluice.Seconds(), tool.Round(time.Millisecond),
		tool.Seconds()/sluice.Seconds(), peak>>20)
	t.Logf("CPU time: sluice %v (this process while draining), mariadb-binlog %v; ratio %.2f× (less sensitive to other load)",
		sluiceCPU.Round(time.Millisecond), toolCPU.Round(time.Millisecond), toolCPU.Seconds()/sluiceCPU.Seconds())
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
