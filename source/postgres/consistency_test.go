package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestSnapshotStreamNoGapNoOverlap inserts rows while the snapshot is being
// read (the emitter holds the first snapshot batch until they are
// committed): each row must appear exactly once, in the snapshot or in the
// stream.
func TestSnapshotStreamNoGapNoOverlap(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE g (id int PRIMARY KEY, v int)`)
	te.exec(`CREATE TABLE h (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO g SELECT i, 0 FROM generate_series(1, 5000) i`)
	te.exec(`INSERT INTO h SELECT i FROM generate_series(1, 3000) i`)

	writer := pgtest.Connect(t, te.dsn)
	const during = 200
	out := sourcetest.NewEmitter()
	first := true
	out.OnEmit(func(_ int, evs []event.Event, _ []byte) error {
		if !first || len(evs) == 0 {
			return nil
		}
		first = false
		// The snapshot is in progress: commit rows now, in single-row and
		// multi-row transactions, plus an update of a snapshot row.
		ctx := context.Background()
		for i := 0; i < during; i += 2 {
			if _, err := writer.Exec(ctx, `INSERT INTO g VALUES ($1, 1), ($2, 1)`, 10001+i, 10002+i); err != nil {
				return err
			}
		}
		if _, err := writer.Exec(ctx, `INSERT INTO h VALUES (-1); UPDATE g SET v = 2 WHERE id = 1`); err != nil {
			return err
		}
		return nil
	})
	cfg := te.config("public.g", "public.h")
	cfg.SnapshotChunkRows = 700
	cfg.BatchSize = 256
	te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO g VALUES (20000, 3)`)
	total := 5000 + 3000 + during + 1 + 1 + 1
	evs := waitN(t, out, total)

	seen := map[string]int{}
	snap := 0
	for _, e := range evs {
		id := e.After[0].AsInt()
		key := fmt.Sprintf("%s/%d/%s", e.Schema.Table, id, e.Op)
		seen[key]++
		if e.Op == event.OpRead {
			snap++
			if e.Schema.Table == "g" && id > 10000 {
				t.Errorf("row %d committed after the consistent point is in the snapshot", id)
			}
		}
	}
	if snap != 8000 {
		t.Errorf("snapshot has %d rows, want 8000", snap)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", k, n)
		}
	}
	for i := 10001; i <= 10000+during; i++ {
		if seen[fmt.Sprintf("g/%d/c", i)] != 1 {
			t.Errorf("row %d inserted during the snapshot is missing from the stream", i)
		}
	}
	if seen["g/1/u"] != 1 || seen["h/-1/c"] != 1 || seen["g/20000/c"] != 1 {
		t.Errorf("stream changes missing: %v %v %v", seen["g/1/u"], seen["h/-1/c"], seen["g/20000/c"])
	}
	if evs[8000-1].Source.Snapshot != event.SnapshotLast {
		t.Errorf("last snapshot row is not marked last")
	}
}

// TestSnapshotResume stops Run after a few checkpointed chunks, restarts
// from the last checkpoint and checks that every row arrives and completed
// chunks are not read again.
func TestSnapshotResume(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE r1 (id int PRIMARY KEY, v text)`)
	te.exec(`CREATE TABLE r2 (a text, b int, PRIMARY KEY (a, b))`)
	te.exec(`INSERT INTO r1 SELECT i, 'v' || i FROM generate_series(1, 6000) i`)
	te.exec(`INSERT INTO r2 SELECT 'k' || (i % 7), i FROM generate_series(1, 4000) i`)
	cfg := te.config("public.r1", "public.r2")
	cfg.SnapshotChunkRows = 500
	cfg.BatchSize = 200

	// The first run "crashes": from the 6th checkpointed batch on, Emit
	// fails (the engine rejects it), and Run ends with that error.
	out1 := sourcetest.NewEmitter()
	cps, emitted, rowsAtCP := 0, 0, 0
	out1.OnEmit(func(_ int, evs []event.Event, cp []byte) error {
		if cps >= 5 {
			return errCrash
		}
		emitted += len(evs)
		if cp != nil {
			cps++
			rowsAtCP = emitted
		}
		return nil
	})
	r1 := te.start(cfg, nil, out1)
	select {
	case err := <-r1.done:
		if !errors.Is(err, errCrash) {
			t.Fatalf("Run: %v, want the crash", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
	r1.cancel()
	r1.cancel = nil
	if err := r1.src.Close(); err != nil {
		t.Fatal(err)
	}
	cp := out1.Checkpoint()
	parsed, err := parseCheckpoint(cp)
	if err != nil || parsed.Phase != phaseSnapshot {
		t.Fatalf("checkpoint after the crash: %s (%v)", cp, err)
	}
	// Changes between the crash and the restart.
	te.exec(`INSERT INTO r1 VALUES (7000, 'new')`)
	te.exec(`DELETE FROM r1 WHERE id = 6000`)

	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	out2.WaitFor(t, "stream events after resume", 15*time.Second, func(evs []event.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Op != event.OpRead {
				n++
			}
		}
		return n == 2
	})
	first := out1.Events()
	second := out2.Events()
	rows := map[string]bool{}
	for _, e := range append(first, second...) {
		if e.Op == event.OpRead {
			rows[e.Schema.Table+"/"+e.After[0].Text()+"/"+e.After[1].Text()] = true
		}
	}
	for i := 1; i < 6000; i++ {
		if !rows[fmt.Sprintf("r1/%d/v%d", i, i)] {
			t.Fatalf("r1 row %d never delivered", i)
		}
	}
	for i := 1; i <= 4000; i++ {
		if !rows[fmt.Sprintf("r2/k%d/%d", i%7, i)] {
			t.Fatalf("r2 row %d never delivered", i)
		}
	}
	resnap := 0
	for _, e := range second {
		if e.Op == event.OpRead {
			resnap++
		}
	}
	// The checkpoint covers exactly the rows emitted with and before it:
	// the resumed snapshot reads every other row once, none of those
	// again (a stateful processor would count them twice).
	if resnap != 10000-rowsAtCP {
		t.Errorf("resumed snapshot read %d rows, want %d: the checkpoint covered %d rows of the first run", resnap, 10000-rowsAtCP, rowsAtCP)
	}
	t.Logf("first run %d events, resumed snapshot %d rows", len(first), resnap)
}

var errCrash = errors.New("crash")

// slotLSN reads the slot's confirmed_flush_lsn.
func slotLSN(t *testing.T, conn *pgx.Conn, slot string) uint64 {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	var hi, lo uint32
	fmt.Sscanf(s, "%X/%X", &hi, &lo)
	return uint64(hi)<<32 | uint64(lo)
}

func waitCond(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConfirmedFlushOnlyAfterCommitted checks that the slot's position
// moves only when the engine reports a checkpoint durable, although status
// updates keep flowing and WAL keeps growing.
func TestConfirmedFlushOnlyAfterCommitted(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE c (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE other (id int)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.c")
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	start := slotLSN(t, te.conn, cfg.Slot)

	te.exec(`INSERT INTO c VALUES (1)`)
	te.exec(`INSERT INTO other SELECT generate_series(1, 1000)`)
	waitN(t, out, 1)
	cp := out.Checkpoint()
	parsed, _ := parseCheckpoint(cp)
	want, _ := parsed.streamLSN()
	if uint64(want) <= start {
		t.Fatalf("checkpoint LSN %s not after the start %X", parsed.LSN, start)
	}
	// Let several status updates reach the server: reply_time moves.
	replyTime := func() time.Time {
		var ts *time.Time
		_ = te.conn.QueryRow(context.Background(), `SELECT max(reply_time) FROM pg_stat_replication WHERE application_name = 'sluice'`).Scan(&ts)
		if ts == nil {
			return time.Time{}
		}
		return *ts
	}
	t0 := replyTime()
	waitCond(t, "status updates", 10*time.Second, func() bool { return replyTime().After(t0.Add(150 * time.Millisecond)) })
	if got := slotLSN(t, te.conn, cfg.Slot); got != start {
		t.Fatalf("confirmed_flush_lsn moved to %X before Committed (start %X)", got, start)
	}
	if err := r.src.Committed(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "confirmed_flush_lsn to reach the checkpoint", 10*time.Second, func() bool {
		return slotLSN(t, te.conn, cfg.Slot) == uint64(want)
	})
}

// TestHeartbeatAdvancesIdleSlot writes WAL only outside the captured tables;
// heartbeats must still move the slot once their checkpoints are durable.
func TestHeartbeatAdvancesIdleSlot(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE idle (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE busy (id int)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.idle")
	cfg.HeartbeatInterval = 100 * time.Millisecond
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	// The engine's role: report every checkpoint durable.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		var last []byte
		for ctx.Err() == nil {
			if cp := out.Checkpoint(); string(cp) != string(last) {
				last = cp
				_ = r.src.Committed(ctx, cp)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	te.exec(`INSERT INTO busy SELECT generate_series(1, 1000)`)
	var walText string
	if err := te.conn.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&walText); err != nil {
		t.Fatal(err)
	}
	var hi, lo uint32
	fmt.Sscanf(walText, "%X/%X", &hi, &lo)
	target := uint64(hi)<<32 | uint64(lo)
	waitCond(t, "heartbeats to advance the idle slot", 15*time.Second, func() bool {
		return slotLSN(t, te.conn, cfg.Slot) >= target
	})
	if n := len(out.Events()); n != 0 {
		t.Errorf("heartbeats produced %d events, want none", n)
	}
}

// A crash before the first checkpoint leaves the slot behind with nothing
// checkpointed. The next run must keep it: sinks may already hold rows of
// the first snapshot, and a row deleted in between must reach them as a
// delete, which only the slot still has.
func TestCrashBeforeFirstCheckpointKeepsTheSlot(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE k1 (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO k1 SELECT i, 'v' || i FROM generate_series(1, 3000) i`)
	cfg := te.config("public.k1")
	cfg.SnapshotChunkRows = 500
	cfg.BatchSize = 200

	// The first run "crashes" at its second checkpointed batch: rows went
	// out, and the engine never saved a checkpoint (the second run starts
	// without one).
	out1 := sourcetest.NewEmitter()
	cps := 0
	out1.OnEmit(func(_ int, _ []event.Event, cp []byte) error {
		if cp != nil {
			if cps++; cps == 2 {
				return errCrash
			}
		}
		return nil
	})
	r1 := te.start(cfg, nil, out1)
	select {
	case err := <-r1.done:
		if !errors.Is(err, errCrash) {
			t.Fatalf("Run: %v, want the crash", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
	r1.cancel()
	r1.cancel = nil
	if err := r1.src.Close(); err != nil {
		t.Fatal(err)
	}
	if len(out1.Events()) == 0 {
		t.Fatal("the first run emitted nothing; the test proves nothing")
	}
	// Changes between the crash and the restart.
	te.exec(`DELETE FROM k1 WHERE id = 5`)
	te.exec(`UPDATE k1 SET v = 'changed' WHERE id = 6`)

	out2 := sourcetest.NewEmitter()
	te.start(cfg, nil, out2)
	out2.WaitFor(t, "the delete and the update from the slot", 15*time.Second, func(evs []event.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Op != event.OpRead {
				n++
			}
		}
		return n == 2
	})
	var changes []string
	reads := 0
	for _, e := range out2.Events() {
		if e.Op == event.OpRead {
			reads++
			continue
		}
		img := e.After
		if img == nil {
			img = e.Before
		}
		changes = append(changes, fmt.Sprintf("%s %s", e.Op, img[0].Text()))
	}
	if fmt.Sprint(changes) != "[d 5 u 6]" || reads != 2999 {
		t.Fatalf("second run: %d snapshot rows and changes %v; want 2999 rows and [d 5 u 6]", reads, changes)
	}
}
