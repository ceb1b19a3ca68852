package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func i64(n int64) *int64 { return &n }

// TestGuardDecide walks the guardian's decisions through a series of
// measurements: one warning per upward crossing of warn_retained_wal by the
// WAL sluice has not confirmed, one note when back below, max_retained_wal
// acted on only at the second look in a row past it without shrinking,
// wal_status warnings once per change. WAL the server holds before the
// confirmed position (a fresh slot's creation point, a long-running
// transaction) gets its own warning per crossing and never the policy.
func TestGuardDecide(t *testing.T) {
	g := &guard{over: -1}
	const warnAt, maxAt = 100, 1000
	for i, step := range []struct {
		held, lag *int64 // retained = held + lag
		walStatus string
		want      verdict
	}{
		{i64(0), i64(10), "reserved", verdict{}},
		{i64(0), i64(150), "reserved", verdict{warn: true}},
		{i64(0), i64(500), "reserved", verdict{}}, // still past: no second warning
		{i64(0), i64(50), "reserved", verdict{recovered: true}},
		{i64(0), i64(120), "extended", verdict{warn: true}},
		{i64(0), i64(1500), "extended", verdict{}},                          // first look past max: wait
		{i64(0), i64(1400), "unreserved", verdict{walStatus: "unreserved"}}, // shrinking: catching up
		{i64(0), i64(1400), "unreserved", verdict{act: true}},               // not shrinking
		{i64(0), i64(2000), "unreserved", verdict{act: true}},
		{i64(0), i64(900), "reserved", verdict{}},
		{i64(0), i64(1200), "reserved", verdict{}}, // past max again: a new first look
		{i64(0), i64(10), "reserved", verdict{recovered: true}},
		// Held before the confirmed position, far past both thresholds,
		// while sluice is not behind: a warning of its own, never the policy.
		{i64(5000), i64(10), "reserved", verdict{held: true}},
		{i64(5000), i64(20), "reserved", verdict{}},
		{i64(6000), i64(20), "reserved", verdict{}},
		{i64(0), i64(30), "reserved", verdict{}}, // restart_lsn moved up: quietly reset
		{i64(5000), i64(30), "reserved", verdict{held: true}},
		{i64(5000), i64(1500), "reserved", verdict{warn: true}}, // now behind too: both count alone
		{i64(5000), i64(1600), "reserved", verdict{act: true}},
		{nil, nil, "lost", verdict{walStatus: "lost"}},
		{nil, nil, "lost", verdict{}},
	} {
		si := &SlotInfo{ConfirmedLag: step.lag, WALStatus: step.walStatus}
		if step.lag != nil {
			si.Retained = i64(*step.held + *step.lag)
		}
		if got := g.decide(si, warnAt, maxAt); got != step.want {
			t.Fatalf("step %d (held %v, unconfirmed %v, %s): %+v, want %+v", i, step.held, step.lag, step.walStatus, got, step.want)
		}
	}
	// No thresholds: nothing ever.
	g = &guard{over: -1}
	if got := g.decide(&SlotInfo{Retained: i64(1 << 41), ConfirmedLag: i64(1 << 40)}, 0, 0); got != (verdict{}) {
		t.Fatalf("without thresholds: %+v", got)
	}
}

// TestSlotCommand is the failover-slot decision: FAILOVER only when asked
// and the server is PostgreSQL 17 or later; the classic command otherwise.
func TestSlotCommand(t *testing.T) {
	for _, tc := range []struct {
		export   bool
		version  int
		failover bool
		want     string
		isFO     bool
	}{
		{true, 150004, false, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput EXPORT_SNAPSHOT", false},
		{false, 150004, false, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput NOEXPORT_SNAPSHOT", false},
		{true, 160003, true, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput EXPORT_SNAPSHOT", false},
		{true, 170000, true, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER)", true},
		{false, 170002, true, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER)", true},
		{true, 170002, false, "CREATE_REPLICATION_SLOT s LOGICAL pgoutput EXPORT_SNAPSHOT", false},
	} {
		got, fo := slotCommand("s", tc.export, tc.version, tc.failover)
		if got != tc.want || fo != tc.isFO {
			t.Errorf("slotCommand(export %v, %d, failover %v) = %q, %v; want %q, %v", tc.export, tc.version, tc.failover, got, fo, tc.want, tc.isFO)
		}
	}
}

func TestFmtBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 1 << 30: "1 GiB", 5<<40 + 1<<39: "5.5 TiB"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// streamCheckpoint runs the source until a row is streamed and returns the
// checkpoint after it and its LSN; the source is stopped.
func streamCheckpoint(t *testing.T, te *testEnv, cfg *Config, table string) ([]byte, string) {
	t.Helper()
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)
	te.exec(`INSERT INTO ` + table + ` VALUES (1)`)
	waitN(t, out, 1)
	cp := out.Checkpoint()
	r.stop(t)
	waitInactive(t, te, cfg.Slot)
	var c checkpoint
	if err := json.Unmarshal(cp, &c); err != nil || c.Phase != phaseStream || c.LSN == "" {
		t.Fatalf("checkpoint %s: %v", cp, err)
	}
	return cp, c.LSN
}

func runWith(t *testing.T, cfg *Config, cp []byte) error {
	t.Helper()
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return src.Run(ctx, cp, sourcetest.NewEmitter())
}

// TestSlotDroppedWhileStopped drops the slot while the pipeline is stopped:
// the start fails with the exact message (on_slot_lost: fail, the
// default); with on_slot_lost: resnapshot a new slot is created and the
// snapshot brings the rows as they are now, then the stream goes on.
func TestSlotDroppedWhileStopped(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE sl (id int PRIMARY KEY)`)
	cfg := te.config("public.sl")
	cp, lsn := streamCheckpoint(t, te, cfg, "sl")

	te.exec(`SELECT pg_drop_replication_slot($1)`, cfg.Slot)
	te.exec(`INSERT INTO sl VALUES (2)`)
	te.exec(`DELETE FROM sl WHERE id = 1`)
	want := fmt.Sprintf(`postgres source "pg": replication slot %q no longer exists (dropped, or the server failed over to one without it), `+
		`so the changes after the checkpoint's stream position %s are lost. Either set on_slot_lost: resnapshot on the source to create a new slot `+
		`and snapshot every table again, or stop the pipeline, drop the slot if it still exists (sluice slots drop %s) and remove the pipeline's state `+
		`(its state_dir) to start over the same way`, cfg.Slot, lsn, cfg.Slot)
	err := runWith(t, cfg, cp)
	if err == nil || err.Error() != want {
		t.Fatalf("start without the slot:\n got %v\nwant %s", err, want)
	}
	if !component.IsPermanent(err) {
		t.Fatalf("%v is not permanent: a restart cannot bring the slot back", err)
	}

	cfg.OnSlotLost = OnLostResnapshot
	out := sourcetest.NewEmitter()
	r := te.start(cfg, cp, out)
	evs := waitN(t, out, 1)
	if got := describe(evs); !slices.Equal(got, []string{"r sl id=2"}) {
		t.Fatalf("after resnapshot: %q", got)
	}
	waitStreaming(t, te, cfg.Slot)
	te.exec(`INSERT INTO sl VALUES (3)`)
	evs = waitN(t, out, 2)
	if got := describe(evs[1:]); !slices.Equal(got, []string{"c sl id=3"}) {
		t.Fatalf("stream after resnapshot: %q", got)
	}
	r.stop(t)
}

// TestSlotAheadOfCheckpoint advances the slot past the checkpoint while
// the pipeline is stopped: the start logs that the changes in between are
// skipped (advancing is the documented way past undecodable changes) and
// streams on. A checkpoint after the server's current WAL position comes
// from another server: the start fails.
func TestSlotAheadOfCheckpoint(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE sa (id int PRIMARY KEY)`)
	cfg := te.config("public.sa")
	cp, lsn := streamCheckpoint(t, te, cfg, "sa")
	te.exec(`INSERT INTO sa VALUES (2)`)
	// The insert position, not pg_current_wal_lsn(): with asynchronous
	// commit the write position can lag behind the insert's commit.
	var insertLSN string
	if err := te.conn.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn()::text`).Scan(&insertLSN); err != nil {
		t.Fatal(err)
	}
	past, _ := pglogrepl.ParseLSN(insertLSN)
	waitInactive(t, te, cfg.Slot)
	// The advance moves confirmed_flush_lsn up to the flushed WAL: repeat
	// until it is past the insert.
	var cl pglogrepl.LSN
	waitCond(t, "the slot to advance past the insert", 10*time.Second, func() bool {
		te.exec(`SELECT pg_logical_emit_message(true, 'test', '')`)
		var confirmed string
		if err := te.conn.QueryRow(context.Background(), `SELECT end_lsn::text FROM pg_replication_slot_advance($1, pg_current_wal_insert_lsn())`, cfg.Slot).Scan(&confirmed); err != nil {
			t.Fatal(err)
		}
		cl, _ = pglogrepl.ParseLSN(confirmed)
		return cl > past
	})
	src, logs := newLoggedSource(t, cfg)
	out := sourcetest.NewEmitter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, cp, out) }()
	waitStreaming(t, te, cfg.Slot)
	te.exec(`INSERT INTO sa VALUES (3)`)
	if evs := waitN(t, out, 1); !slices.Equal(describe(evs), []string{"c sa id=3"}) {
		var now string
		_ = te.conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&now)
		t.Fatalf("after the advanced slot: %q at %s; advanced to %s past %s, checkpoint %s, slot now %s\n%s", describe(evs), evs[0].Where(), cl, past, lsn, now, logs.b.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	src.Close()
	want := fmt.Sprintf(`replication slot \"%s\" has confirmed position %s, after the checkpoint's stream position %s: the server skips the changes in between`, cfg.Slot, cl, lsn)
	if logs.count(want) != 1 {
		t.Fatalf("no warning %s in\n%s", want, logs.b.String())
	}

	var c checkpoint
	_ = json.Unmarshal(cp, &c)
	c.LSN = "FF/0"
	wantErr := `postgres source "pg": the checkpoint's stream position FF/0 is after the server's current WAL position `
	waitInactive(t, te, cfg.Slot)
	err := runWith(t, cfg, c.marshal())
	if err == nil || !strings.HasPrefix(err.Error(), wantErr) || !strings.Contains(err.Error(), "changes it writes below FF/0 would be skipped (replication slot") {
		t.Fatalf("checkpoint from the future:\n got %v\nwant %s...", err, wantErr)
	}
}

// newLoggedSource is New(cfg) as source "pg" of pipeline "p", with its
// log lines collected in the logBuffer returned.
func newLoggedSource(t *testing.T, cfg *Config) (*Source, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return src, logs
}

// logBuffer collects a source's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestMaxRetainedWAL lets the slot retain more than max_retained_wal
// while nothing is confirmed: one warning past warn_retained_wal, the
// status shows it, and the source stops with the error that says what to
// do.
func TestMaxRetainedWAL(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE mr (id int PRIMARY KEY, pad text)`)
	cfg := te.config("public.mr")
	cfg.SlotCheckInterval = 20 * time.Millisecond
	cfg.WarnRetainedWAL = 512 << 10
	cfg.MaxRetainedWAL = 2 << 20
	src, logs := newLoggedSource(t, cfg)
	out := sourcetest.NewEmitter()
	done := runUntilCleanup(t, src, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)
	waitCond(t, "the guardian's first look", 10*time.Second, func() bool { return len(src.Slots()) == 1 && src.Slots()[0].Active })
	st := src.Slots()[0]
	if st.Source != "pg" || st.Name != cfg.Slot || st.WALStatus != "reserved" || st.RetainedWALBytes == nil || st.ConfirmedLagBytes == nil {
		t.Fatalf("status: %+v", st)
	}
	// Past the warning, below the maximum.
	te.exec(`INSERT INTO mr SELECT i, repeat('x', 1000) FROM generate_series(1, 700) i`)
	waitCond(t, "the warning", 10*time.Second, func() bool { return logs.count("replication slot retains much WAL") == 1 })
	if w := src.Slots()[0].Warning; w != "WAL sluice has not confirmed is past warn_retained_wal (512 KiB)" {
		t.Fatalf("status warning %q", w)
	}
	te.exec(`INSERT INTO mr SELECT i, repeat('x', 1000) FROM generate_series(701, 3000) i`)
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the source did not stop past max_retained_wal")
	}
	re := regexp.MustCompile(`^postgres source "pg": stopped: replication slot "` + cfg.Slot + `" retains [0-9.]+ MiB of WAL sluice has not confirmed, more than max_retained_wal \(2 MiB\), and is not catching up: ` +
		regexp.QuoteMeta(`the sinks do not confirm changes as fast as the database writes them. The slot keeps its position, so nothing is lost, but the server keeps `+
			`that WAL until sluice confirms it: fix the slow or failing sink and start the pipeline again so it catches up, raise max_retained_wal, `+
			`or set on_max_retained_wal: drop_and_resnapshot to drop the slot and snapshot again`) + `$`)
	if runErr == nil || !re.MatchString(runErr.Error()) || !component.IsPermanent(runErr) {
		t.Fatalf("Run: %v", runErr)
	}
	if n := logs.count("replication slot retains much WAL"); n != 1 {
		t.Fatalf("%d warnings past warn_retained_wal, want 1 (once per crossing)", n)
	}
}

// TestRetainedWALHeldByATransaction: a transaction left open on the
// server keeps the slot's restart_lsn (and the WAL after it) while sluice
// confirms every change and heartbeat at once, as a healthy pipeline does.
// That WAL is not sluice's to free: the guardian warns about it once, names
// the likely cause, shows it in the status, and neither stops the pipeline
// nor calls it behind, however far past max_retained_wal it grows.
func TestRetainedWALHeldByATransaction(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE hc (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE hx (id int PRIMARY KEY)`)
	cfg := te.config("public.hc")
	cfg.SlotCheckInterval = 20 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	// WAL is made by switching segments (16 MiB of positions each, one
	// record): the unconfirmed WAL stays below one segment plus what
	// other tests write before the next heartbeat is confirmed.
	cfg.WarnRetainedWAL = 24 << 20
	cfg.MaxRetainedWAL = 40 << 20
	src, logs := newLoggedSource(t, cfg)
	out := sourcetest.NewEmitter()
	out.CountOnly()
	// A sink that is durable at once: every checkpoint is confirmed.
	out.OnEmit(func(_ int, _ []event.Event, cp []byte) error {
		if cp != nil {
			return src.Committed(context.Background(), cp)
		}
		return nil
	})
	done := runUntilCleanup(t, src, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)

	holder := pgtest.Connect(t, te.dsn)
	tx, err := holder.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(context.Background(), `INSERT INTO hx VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	// slot is the guardian's newest look, with held and unconfirmed WAL.
	slot := func() (held, lag int64, at time.Time, ok bool) {
		sl := src.Slots()
		if len(sl) != 1 || sl[0].RetainedWALBytes == nil || sl[0].ConfirmedLagBytes == nil {
			return 0, 0, time.Time{}, false
		}
		return *sl[0].RetainedWALBytes - *sl[0].ConfirmedLagBytes, *sl[0].ConfirmedLagBytes, sl[0].MeasuredAt, true
	}
	for i := 0; ; i++ {
		if held, _, _, ok := slot(); ok && held >= cfg.MaxRetainedWAL {
			break
		}
		if i == 8 {
			t.Fatalf("the held WAL did not grow past max_retained_wal: %+v", src.Slots())
		}
		te.exec(`SELECT pg_switch_wal()`)
		var after time.Time
		waitCond(t, "the heartbeat after a segment switch to be confirmed", 20*time.Second, func() bool {
			_, lag, at, ok := slot()
			if ok && after.IsZero() {
				after = at // a look taken after the switch
				return false
			}
			return ok && at.After(after) && lag < 1<<20
		})
	}
	// Three looks in a row with the held WAL past max_retained_wal: the
	// guardian that measured restart_lsn stopped the pipeline at the second.
	var seen []time.Time
	waitCond(t, "three looks past max_retained_wal", 20*time.Second, func() bool {
		held, _, at, ok := slot()
		if !ok || held < cfg.MaxRetainedWAL {
			seen = seen[:0]
			return false
		}
		if len(seen) == 0 || !at.Equal(seen[len(seen)-1]) {
			seen = append(seen, at)
		}
		return len(seen) >= 3
	})
	select {
	case err := <-done:
		t.Fatalf("the source stopped for WAL a transaction holds: %v\n%s", err, logs.b.String())
	default:
	}
	const heldMsg = "replication slot keeps much WAL from before the position sluice confirmed: the server holds it for a transaction that was running then " +
		"(look for long-running transactions in pg_stat_activity); sluice is not behind, so max_retained_wal does not apply to it"
	if n := logs.count(heldMsg); n != 1 {
		t.Fatalf("%d warnings of held WAL, want 1:\n%s", n, logs.b.String())
	}
	if n := logs.count("replication slot retains much WAL"); n != 0 {
		t.Fatalf("%d warnings that sluice is behind while it confirmed everything:\n%s", n, logs.b.String())
	}
	st := src.Slots()[0]
	if want := "WAL held before the confirmed position (a long-running transaction?) is past warn_retained_wal (24 MiB)"; st.Warning != want {
		t.Fatalf("status warning %q, want %q", st.Warning, want)
	}
}

// TestMaxRetainedWALResnapshot: with on_max_retained_wal:
// drop_and_resnapshot the source drops its slot past max_retained_wal,
// creates a new one and reads every row again.
func TestMaxRetainedWALResnapshot(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE mz (id int PRIMARY KEY, pad text)`)
	cfg := te.config("public.mz")
	cfg.SlotCheckInterval = 20 * time.Millisecond
	cfg.MaxRetainedWAL = 2 << 20
	cfg.OnMaxRetainedWAL = OnMaxRetainedResnapshot
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)
	var before string
	_ = te.conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&before)
	const n = 3000
	te.exec(`INSERT INTO mz SELECT i, repeat('x', 1000) FROM generate_series(1, $1) i`, n)
	// The n streamed inserts, then a snapshot of the n rows.
	out.WaitFor(t, "a new snapshot", 30*time.Second, func(evs []event.Event) bool {
		read := map[string]bool{}
		for _, e := range evs {
			if e.Op == event.OpRead {
				read[e.After[0].Text()] = true
			}
		}
		return len(read) == n
	})
	var after string
	_ = te.conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&after)
	if after == before || after == "" {
		t.Fatalf("slot's position %q, before %q: not a new slot", after, before)
	}
	r.stop(t)
}

// TestSlotInvalidated lets a private server invalidate the slot
// (max_slot_wal_keep_size) while the pipeline is stopped: the start fails
// naming the slot, wal_status and the ways out; with on_slot_lost:
// resnapshot the invalidated slot is dropped, a new one created and every
// row read again.
func TestSlotInvalidated(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Private(t)
	te := &testEnv{t: t, dsn: dsn, conn: pgtest.Connect(t, dsn)}
	te.exec(`CREATE TABLE iv (id int PRIMARY KEY)`)
	cfg := te.config("public.iv")
	cp, lsn := streamCheckpoint(t, te, cfg, "iv")
	waitInactive(t, te, cfg.Slot)

	te.exec(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`)
	te.exec(`SELECT pg_reload_conf()`)
	for i := 2; ; i++ {
		var status string
		_ = te.conn.QueryRow(context.Background(), `SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&status)
		if status == "lost" {
			break
		}
		if i > 20 {
			t.Fatalf("slot not invalidated: wal_status %q", status)
		}
		te.exec(`INSERT INTO iv VALUES ($1)`, i)
		te.exec(`SELECT pg_switch_wal()`)
		te.exec(`CHECKPOINT`)
	}
	var rows int
	_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM iv`).Scan(&rows)

	want := fmt.Sprintf(`postgres source "pg": replication slot %q was invalidated by the server (wal_status lost): the WAL after its restart position was removed `+
		`(max_slot_wal_keep_size), so the changes after the checkpoint's stream position %s are lost. Either set on_slot_lost: resnapshot on the source to create `+
		`a new slot and snapshot every table again, or stop the pipeline, drop the slot if it still exists (sluice slots drop %s) and remove the pipeline's state `+
		`(its state_dir) to start over the same way`, cfg.Slot, lsn, cfg.Slot)
	if err := runWith(t, cfg, cp); err == nil || err.Error() != want {
		t.Fatalf("start on an invalidated slot:\n got %v\nwant %s", err, want)
	}

	te.exec(`ALTER SYSTEM RESET max_slot_wal_keep_size`)
	te.exec(`SELECT pg_reload_conf()`)
	cfg.OnSlotLost = OnLostResnapshot
	out := sourcetest.NewEmitter()
	r := te.start(cfg, cp, out)
	evs := waitN(t, out, rows)
	var want2 []string
	for i := 1; i <= rows; i++ {
		want2 = append(want2, fmt.Sprintf("r iv id=%d", i))
	}
	if got := describe(evs); !slices.Equal(sorted(got), sorted(want2)) {
		t.Fatalf("after resnapshot: %q, want %q", got, want2)
	}
	var status string
	_ = te.conn.QueryRow(context.Background(), `SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&status)
	if status == "lost" {
		t.Fatalf("the new slot is lost too")
	}
	r.stop(t)
}

// TestSlotInvalidatedWhileStreaming: the server invalidates the slot of a
// running source that confirms nothing (max_slot_wal_keep_size on a
// private server): the source stops with the lost-slot error, whichever
// notices first, the guardian or the reconnect.
func TestSlotInvalidatedWhileStreaming(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Private(t)
	te := &testEnv{t: t, dsn: dsn, conn: pgtest.Connect(t, dsn)}
	te.exec(`CREATE TABLE ivs (id int PRIMARY KEY)`)
	cfg := te.config("public.ivs")
	cfg.SlotCheckInterval = 20 * time.Millisecond
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	out := sourcetest.NewEmitter()
	done := runUntilCleanup(t, src, out)
	out.WaitCheckpoint(t)
	waitStreaming(t, te, cfg.Slot)
	te.exec(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`)
	te.exec(`SELECT pg_reload_conf()`)
	var runErr error
	for i := 1; runErr == nil; i++ {
		select {
		case runErr = <-done:
			continue
		default:
		}
		if i > 200 {
			t.Fatal("the source did not stop after its slot was invalidated")
		}
		te.exec(`INSERT INTO ivs VALUES ($1)`, i)
		te.exec(`SELECT pg_switch_wal()`)
		te.exec(`CHECKPOINT`)
	}
	want := fmt.Sprintf(`postgres source "pg": replication slot %q was invalidated by the server while streaming (wal_status lost): `+
		`the WAL it needed was removed (max_slot_wal_keep_size), so changes were lost. Either set on_slot_lost: resnapshot on the source `+
		`to create a new slot and snapshot every table again, or stop the pipeline, drop the slot if it still exists (sluice slots drop %s) `+
		`and remove the pipeline's state (its state_dir) to start over the same way`, cfg.Slot, cfg.Slot)
	if runErr.Error() != want || !component.IsPermanent(runErr) {
		t.Fatalf("Run:\n got %v\nwant %s", runErr, want)
	}
}

// runUntilCleanup runs src from no checkpoint; Run's error arrives on the
// channel returned. At cleanup (also after a failed wait) Run is cancelled
// and waited for before the source is closed.
func runUntilCleanup(t *testing.T, src *Source, out *sourcetest.Emitter) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- src.Run(ctx, nil, out)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
		src.Close()
	})
	return done
}
