package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
)

// TestSeed003CrashExactlyOnce is seed 003 through crashes: USERS polled in
// incrementing mode into MariaDB (mode: insert, auto_create) and into S3
// (JSON lines, flush_size 5, time rotation). The worst moment is made
// deterministic: a run is SIGKILLed once both sinks hold rows its
// checkpoint does not cover yet (the checkpoint is rolled back to the one
// before them, as if the commit had never happened), so the next run reads
// them all again. Then runs are SIGKILLed at random moments while rows are
// inserted. Every run must go on (a duplicate key would stop the MariaDB
// sink), and at the end every row is in MariaDB once and in exactly one S3
// object, with no object over flush_size.
func TestSeed003CrashExactlyOnce(t *testing.T) {
	target := newMariaDB(t)
	l := newLake(t)
	dsn, exec1 := seed003Users(t) // rows 1 and 2
	insert := func(from, to int) {
		t.Helper()
		exec1(fmt.Sprintf(`INSERT INTO "USERS" (index, name, email, signed_up)
			SELECT i, 'user ' || i, 'u' || i || '@example.com', '2024-03-03 00:00:00Z' FROM generate_series(%d, %d) i`, from, to))
	}
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  jdbc:
    type: sql_poll
    driver: postgres
    dsn: ${SOURCE_DSN}
    mode: incrementing
    incrementing_column: index
    tables: [USERS]
    poll_interval: 50ms
    batch_max_rows: 7
sinks:
  mariadb:
    %[2]s
    inputs: [jdbc]
    mode: insert
    auto_create: true
  lake:
    inputs: [jdbc]
%[3]s    prefix: topics
    format: row
    flush_size: 5
    rotate_schedule_interval: 1s
engine:
  max_inflight: 4
`, dir, target.sinkYAML, s3Sink))
	env := append([]string{"SOURCE_DSN=" + dsn, "TARGET_DSN=" + target.env}, l.env...)
	r := newCrashRun(t, dir, p, env...)
	q := "SELECT CONCAT_WS('|', `index`, name) FROM `USERS` ORDER BY `index`"
	inMariaDB := func(n int) bool { return len(target.rows(t, q)) >= n }
	inS3 := func(n int) bool { return len(l.records(t)) >= n }

	// Run 1 catches up with rows 1..12 and stops cleanly: its checkpoint
	// covers them. Keep that checkpoint (a copy of the stopped store).
	insert(3, 12)
	r.runUntil(time.Minute, "rows 1..12 in both sinks", func() bool { return inMariaDB(12) && inS3(12) })
	storeDir := filepath.Join(dir, "state", store.StoreDirName)
	old := t.TempDir()
	copyDir(t, storeDir, old)

	// Run 2 writes rows 13..40 to both sinks and is killed; its checkpoint
	// is rolled back to run 1's: the commit that covered 13..40 never
	// happened, so run 3 reads them again.
	insert(13, 40)
	cmd := r.start()
	waitFor(t, time.Minute, "rows 1..40 in both sinks", dir, func() bool { return inMariaDB(40) && inS3(40) })
	kill(cmd)
	if err := os.RemoveAll(storeDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, storeDir)
	insert(41, 60)
	r.runUntil(time.Minute, "rows 1..60 in both sinks after the replay", func() bool { return inMariaDB(60) && inS3(60) })
	checkSeed003Sinks(t, target.rows(t, q), l, 60)

	// Random kills while rows arrive.
	total := 60
	work := pgtest.Connect(t, dsn)
	r.killDuringWorkload(nil, 4, r.randomMoment(300*time.Millisecond, 700*time.Millisecond), func(ctx context.Context) {
		for ctx.Err() == nil && total < 400 {
			if _, err := work.Exec(context.Background(), `INSERT INTO "USERS" (index, name, signed_up)
				SELECT i, 'user ' || i, now() FROM generate_series($1::int, $2::int) i`, total+1, total+10); err != nil {
				t.Errorf("workload: %v", err)
				return
			}
			total += 10
			time.Sleep(30 * time.Millisecond) // the workload's pace, not synchronisation
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	r.runUntil(time.Minute, fmt.Sprintf("rows 1..%d in both sinks", total), func() bool { return inMariaDB(total) && inS3(total) })
	checkSeed003Sinks(t, target.rows(t, q), l, total)
	if pos := target.rows(t, "SELECT CONCAT_WS('|', sink, source, hi, lo) FROM sluice_positions"); !slices.Equal(pos, []string{
		fmt.Sprintf("mariadb|jdbc.public.USERS|1|%d", uint64(total)^1<<63)}) {
		t.Errorf("positions %q, want the last row's Seq per stream", pos)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "stderr.log")); strings.Contains(string(log), "Duplicate entry") {
		t.Errorf("a run met a duplicate key (see %s/stderr.log)", dir)
	}
}

// checkSeed003Sinks checks that MariaDB holds rows 1..n once each, and that
// the bucket's objects hold them once each, at most flush_size (5) per
// object.
func checkSeed003Sinks(t *testing.T, mariadb []string, l *lake, n int) {
	t.Helper()
	names := map[int]string{1: "Ada", 2: "Bob"}
	var want []string
	for i := 1; i <= n; i++ {
		name := names[i]
		if name == "" {
			name = fmt.Sprintf("user %d", i)
		}
		want = append(want, fmt.Sprintf("%d|%s", i, name))
	}
	if !slices.Equal(mariadb, want) {
		t.Fatalf("MariaDB has %d rows, want %d:\n%s", len(mariadb), n, strings.Join(mariadb, "\n"))
	}
	seen := map[int]string{}
	for _, k := range l.keys(t) {
		lines := strings.Split(strings.TrimSuffix(string(l.get(t, k)), "\n"), "\n")
		if len(lines) > 5 {
			t.Errorf("%s holds %d records, flush_size is 5", k, len(lines))
		}
		for _, line := range lines {
			var rec struct {
				Index int    `json:"index"`
				Name  string `json:"name"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %q: %v", k, line, err)
			}
			if prev, ok := seen[rec.Index]; ok {
				t.Errorf("row %d is in %s and in %s", rec.Index, prev, k)
			}
			seen[rec.Index] = k
		}
	}
	for i := 1; i <= n; i++ {
		if _, ok := seen[i]; !ok {
			t.Errorf("row %d is in no object", i)
		}
	}
	if len(seen) != n {
		t.Errorf("the objects hold %d rows, want %d", len(seen), n)
	}
}

// records returns the JSON-lines records of every object in the bucket.
func (l *lake) records(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, k := range l.keys(t) {
		out = append(out, strings.Split(strings.TrimSuffix(string(l.get(t, k)), "\n"), "\n")...)
	}
	return out
}
