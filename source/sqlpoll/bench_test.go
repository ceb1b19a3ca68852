package sqlpoll

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// processCPU is the process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discard counts what a source emits.
type discard struct{ n int }

func (d *discard) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	d.n += len(evs)
	return nil
}

// TestThroughputReport is a report, not a check (SLUICE_BENCH=1): rows/s of
// one incrementing-mode catch-up poll over a table against a plain SELECT
// of the same rows through the same driver (scanned, not converted), and
// against the same LIMIT-paged queries sql_poll issues, for each database,
// with the source's CPU per row (user + system of the test process while
// it polls: on shared cores the steadier figure) and the heap in use after
// each.
func TestThroughputReport(t *testing.T) {
	if os.Getenv("SLUICE_BENCH") == "" {
		t.Skip("set SLUICE_BENCH=1 for the throughput report")
	}
	rows := 300_000
	if s := os.Getenv("SLUICE_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			d := newTestDB(t, driver)
			d.exec(t, "CREATE TABLE users (id "+d.idType+" PRIMARY KEY, name "+d.textType+" NOT NULL, email "+d.textType+", score DECIMAL(10,2), updated_at "+d.tsType+")")
			const chunk, pageRows = 1000, 10_000
			for i := 0; i < rows; i += chunk {
				var q strings.Builder
				q.WriteString("INSERT INTO users VALUES ")
				for j := i + 1; j <= i+chunk && j <= rows; j++ {
					if j > i+1 {
						q.WriteString(", ")
					}
					fmt.Fprintf(&q, "(%d, 'user %d', 'u%d@example.com', %d.25, '2024-01-01 10:00:00')", j, j, j, j%10000)
				}
				d.exec(t, q.String())
			}
			ctx := context.Background()
			runtime.GC()
			start := time.Now()
			vals := make([]any, 5)
			ptrs := make([]any, 5)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			scan := func(q string, args ...any) (n int) {
				r, err := d.db.QueryContext(ctx, q, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for r.Next() {
					if err := r.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					n++
				}
				if err := r.Err(); err != nil {
					t.Fatal(err)
				}
				return n
			}
			n := scan("SELECT * FROM users ORDER BY id")
			plain := time.Since(start)
			// The same pages sql_poll asks for, scanned and dropped.
			start = time.Now()
			paged := 0
			for last := int64(0); ; last += pageRows {
				k := scan("SELECT * FROM users WHERE id > "+dialect{driver}.placeholder(1)+" ORDER BY id LIMIT "+strconv.Itoa(pageRows), last)
				paged += k
				if k < pageRows {
					break
				}
			}
			pagedTime := time.Since(start)

			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			cfg.BatchMaxRows = pageRows
			s := started(t, cfg, nil)
			var out discard
			start = time.Now()
			cpu0 := processCPU()
			if err := s.poll(ctx, &out); err != nil {
				t.Fatal(err)
			}
			polled := time.Since(start)
			cpu := processCPU() - cpu0
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if n != rows || paged != rows || out.n != rows {
				t.Fatalf("plain %d, paged %d, polled %d, want %d", n, paged, out.n, rows)
			}
			rate := func(d time.Duration) float64 { return float64(rows) / d.Seconds() }
			t.Logf("%s: %d rows: plain SELECT %.0f rows/s; the same LIMIT %d pages %.0f rows/s; sql_poll %.0f rows/s (%.2fx plain, %.2fx pages), %.2f µs of CPU a row (the process's, GC included); heap in use %d MB",
				driver, rows, rate(plain), pageRows, rate(pagedTime), rate(polled), plain.Seconds()/polled.Seconds(), pagedTime.Seconds()/polled.Seconds(),
				float64(cpu.Nanoseconds())/1e3/float64(rows), ms.HeapInuse>>20)
		})
	}
}
