package postgres

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// measure forces a new measurement (past the TTL) and returns the gauges
// by name.
func measure(t *testing.T, s *Source) map[string]float64 {
	t.Helper()
	s.gauges.mu.Lock()
	s.gauges.at = time.Time{}
	s.gauges.mu.Unlock()
	m := map[string]float64{}
	for _, g := range s.Gauges() {
		if len(g.Labels) == 0 || g.Labels[0] != [2]string{"slot", s.slot} {
			t.Fatalf("gauge %s labels %v, want slot=%s first", g.Name, g.Labels, s.slot)
		}
		name := g.Name
		for _, l := range g.Labels[1:] {
			name += "{" + l[0] + "=" + l[1] + "}"
		}
		m[name] = g.Value
	}
	return m
}

func currentLSN(t *testing.T, te *testEnv) uint64 {
	t.Helper()
	var s string
	if err := te.conn.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(lsn)
}

// metricsConns counts the source's measuring connections to the server.
func metricsConns(t *testing.T, te *testEnv) int {
	t.Helper()
	var n int
	if err := te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'sluice metrics' AND datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSlotGauges measures the slot's retained WAL and confirmed lag: none
// before the slot exists; the lag grows with WAL written while nothing is
// confirmed, the retained WAL is never below it; the lag falls behind the
// rows once their checkpoint is committed; a measurement is
// reused within the TTL; after Close there are none and no connection.
func TestSlotGauges(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE g (id int PRIMARY KEY, pad text)`)
	cfg := te.config("public.g")

	idle, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if g := idle.Gauges(); len(g) != 0 {
		t.Fatalf("gauges before the slot exists: %+v", g)
	}
	idle.Close()

	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)
	first := measure(t, r.src)
	// The shared server has no max_slot_wal_keep_size: no safe_wal_size.
	wantNames := []string{gaugeActive, gaugeConfirmedLag, gaugeRetainedWAL,
		gaugeWALStatus + "{wal_status=extended}", gaugeWALStatus + "{wal_status=lost}",
		gaugeWALStatus + "{wal_status=reserved}", gaugeWALStatus + "{wal_status=unreserved}"}
	if got := slices.Sorted(maps.Keys(first)); !slices.Equal(got, wantNames) {
		t.Fatalf("gauges: %v, want %v", first, wantNames)
	}
	if first[gaugeActive] != 1 || first[gaugeWALStatus+"{wal_status=reserved}"] != 1 || first[gaugeWALStatus+"{wal_status=lost}"] != 0 {
		t.Fatalf("gauges: %v, want the slot active and reserved", first)
	}
	if first[gaugeRetainedWAL] < first[gaugeConfirmedLag] {
		t.Fatalf("retained WAL %v below the confirmed lag %v: restart_lsn is never after confirmed_flush_lsn", first[gaugeRetainedWAL], first[gaugeConfirmedLag])
	}

	// WAL written while nothing new is confirmed: the confirmed lag grows
	// by at least what the test wrote (other tests write WAL too). The
	// retained WAL need not grow (the server may move restart_lsn up to
	// confirmed_flush_lsn on its own) but never falls below the lag.
	before := currentLSN(t, te)
	te.exec(`INSERT INTO g SELECT i, repeat('x', 200) FROM generate_series(1, 2000) i`)
	written := float64(currentLSN(t, te) - before)
	evs := waitN(t, out, 2000)
	second := measure(t, r.src)
	if grew := second[gaugeConfirmedLag] - first[gaugeConfirmedLag]; grew < written {
		t.Errorf("%s grew by %v after %v bytes of WAL were written", gaugeConfirmedLag, grew, written)
	}
	if second[gaugeRetainedWAL] < second[gaugeConfirmedLag] {
		t.Errorf("retained WAL %v below the confirmed lag %v", second[gaugeRetainedWAL], second[gaugeConfirmedLag])
	}

	// Within the TTL the measurement is reused: no query.
	r.src.gauges.mu.Lock()
	at := r.src.gauges.at
	r.src.gauges.mu.Unlock()
	r.src.Gauges()
	r.src.gauges.mu.Lock()
	again := r.src.gauges.at
	r.src.gauges.mu.Unlock()
	if !again.Equal(at) {
		t.Fatalf("measured again within %v", gaugeTTL)
	}

	// Committing the checkpoint after the inserts moves confirmed_flush_lsn
	// past them, as the lag tells: the measurement's current position is
	// at least one read before it, so current − lag bounds the confirmed
	// position from below. (Comparing the lag with the one before would
	// fail when the tests beside this one write more WAL meanwhile than
	// this one confirmed.)
	if err := r.src.Committed(context.Background(), out.Checkpoint()); err != nil {
		t.Fatal(err)
	}
	lastRow := float64(evs[len(evs)-1].Source.LSN)
	waitCond(t, "the confirmed lag to fall behind the inserts", 10*time.Second, func() bool {
		cur := float64(currentLSN(t, te))
		return cur-measure(t, r.src)[gaugeConfirmedLag] >= lastRow
	})

	if n := metricsConns(t, te); n != 1 {
		t.Fatalf("%d measuring connections, want 1 (reused)", n)
	}
	r.stop(t)
	if g := measure(t, r.src); len(g) != 0 {
		t.Fatalf("gauges after Close: %v", g)
	}
	waitCond(t, "the measuring connection to close", 10*time.Second, func() bool { return metricsConns(t, te) == 0 })
}
