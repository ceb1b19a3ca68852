package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPostgresCrashRecovery is the crash test: a randomized insert, update
// and delete workload on several tables (multi-row transactions, TOAST-sized
// values, primary-key updates, delete then re-insert) while sluice is
// SIGKILLed at random moments, during the snapshot and during streaming.
// Afterwards the last image per key in the output file must equal the table.
//
// SLUICE_CRASH_FULL=1 runs the full version (20 kills during the snapshot,
// 50 during streaming); the default is a shorter run for CI.
func TestPostgresCrashRecovery(t *testing.T) {
	snapKills, streamKills, seedRows := 5, 12, 90000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		snapKills, streamKills, seedRows = 20, 50, 500000
	}
	dsn, db, _ := newCrashDB(t, seedRows)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	r := newCrashRun(t, dir, writePipeline(t, dir, crashPipeline(dir, "pg", fmt.Sprintf(`    type: file
    path: %s
    format: debezium
`, out))), "CRASH_DSN="+dsn)
	t.Logf("seed rows %d; kills: %d during snapshot, %d during streaming", seedRows, snapKills, streamKills)

	// Phase 1: kills during the snapshot (no writes yet).
	r.killDuringSnapshot(snapshotKills{
		kills: snapKills, tries: snapKills * 4,
		done: func() bool {
			b, _ := os.ReadFile(out)
			return strings.Contains(string(b), `"snapshot":"last"`)
		},
		// A random moment, but before this run has written half of what
		// the snapshot has left (lines, re-deliveries included, so left is
		// at most what is left): the snapshot into a file can end sooner
		// than most random moments on an idle machine.
		moment: r.randomMomentBefore(30*time.Millisecond, 300*time.Millisecond, func() func() bool {
			w := &lineWatch{path: out}
			before := w.count()
			target := before + 1 + r.rng.IntN(max(2, seedRows-before)/2)
			return func() bool { return w.count() >= target }
		}),
	})

	// Phase 2: a concurrent workload while sluice is killed again and again.
	var txs atomic.Int64
	r.killDuringWorkload(nil, streamKills, r.randomMoment(100*time.Millisecond, 700*time.Millisecond), func(ctx context.Context) {
		workload(ctx, t, dsn, seedRows, &txs)
	})
	t.Logf("workload committed %d transactions", txs.Load())

	// Final run: catch up to a marker committed after the workload.
	commitMarker(t, db)
	r.finalRun(3*time.Minute, "the marker", func() bool { return markerSeen(out) })
	lines := checkReplay(t, db, out, "output")
	t.Logf("%d output lines verified", lines)
}

// markerSeen reports whether the marker row arrived as a streamed insert. A
// snapshot that resumes after a kill may read the marker table too, before
// the stream has caught up with the workload; that sighting does not count.
func markerSeen(path string) bool {
	b, _ := os.ReadFile(path)
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, `"table":"marker"`) && strings.Contains(line, `"op":"c"`) {
			return true
		}
	}
	return false
}
