package postgres

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestSnapshotThroughput compares the snapshot path (chunked, key-ordered
// COPY, parsed into events) with the physical limit on the same machine:
// psql -c "COPY t TO STDOUT" > /dev/null. Set SLUICE_PG_BENCH=1 (and
// SLUICE_PG_BENCH_ROWS, default 1,000,000) to run it.
func TestSnapshotThroughput(t *testing.T) {
	if os.Getenv("SLUICE_PG_BENCH") == "" {
		t.Skip("set SLUICE_PG_BENCH=1 to compare the snapshot with psql COPY")
	}
	rows := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_PG_BENCH_ROWS")); err == nil {
		rows = n
	}
	te := newTestEnv(t)
	// About 180 bytes per row in COPY text.
	te.exec(`CREATE TABLE bench (id bigint PRIMARY KEY, name text, email text, amount numeric(12,2),
		created timestamptz, active bool, qty int, note text)`)
	te.exec(`INSERT INTO bench SELECT g, 'customer name number ' || g, 'user' || g || '@example.com',
		(g % 100000) / 100.0, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, g % 1000,
		repeat('n', 74) || g FROM generate_series(1, $1) g`, rows)
	te.exec(`VACUUM ANALYZE bench`)

	psql := func() time.Duration {
		start := time.Now()
		cmd := exec.Command("psql", te.dsn, "-qc", "COPY bench TO STDOUT")
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = nil, &stderr // stdout: /dev/null
		if err := cmd.Run(); err != nil {
			t.Fatalf("psql: %v %s", err, stderr.String())
		}
		return time.Since(start)
	}
	psql() // warm the cache
	base := min(psql(), psql())

	ours := func() time.Duration {
		out := sourcetest.NewEmitter()
		out.CountOnly()
		cfg := te.config("public.bench")
		cfg.Slot = cfg.Slot[:min(len(cfg.Slot), 55)] + "_" + strconv.Itoa(int(time.Now().UnixNano()%1e6))
		cfg.DropSlotOnStop = true
		if n, err := strconv.Atoi(os.Getenv("SLUICE_PG_BENCH_CHUNK")); err == nil {
			cfg.SnapshotChunkRows = n
		}
		start := time.Now()
		var took time.Duration
		out.OnEmit(func(count int, evs []event.Event, cp []byte) error {
			if len(evs) > 0 && evs[len(evs)-1].Source.Snapshot == event.SnapshotLast {
				took = time.Since(start)
			}
			return nil
		})
		r := te.start(cfg, nil, out)
		out.WaitFor(t, "snapshot", 300*time.Second, func([]event.Event) bool { return took > 0 })
		r.stop(t)
		if n := out.Count(); n != rows {
			t.Fatalf("snapshot had %d rows, want %d", n, rows)
		}
		return took
	}
	got := min(ours(), ours())
	t.Logf("rows %d: psql COPY %s (%.0f rows/s), snapshot %s (%.0f rows/s), ratio %.2f",
		rows, base.Round(time.Millisecond), float64(rows)/base.Seconds(),
		got.Round(time.Millisecond), float64(rows)/got.Seconds(), base.Seconds()/got.Seconds())
}
