package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestReconnectDeliversEachChangeOnce drops the replication connection
// while the source has emitted complete transactions and part of a large
// one that no sink has acknowledged (the emitter never calls Committed): the
// server re-sends from a position before them, and the source must deliver
// every change exactly once, the large transaction's emitted rows included.
//
// The source is held in its first Emit while the server streams 30
// transactions of one batch each (none leaves rows waiting for more, so no
// batch carries a checkpoint for having waited) and one of 300 rows of
// 100 kB (30 MB of messages; the values compress, so the WAL stays small),
// until the walsender blocks on the full socket. Released, the source reads
// the small transactions from the socket at once and is held again once 20
// rows of the large one are emitted. Then the walsender is terminated (as
// the server ends it after wal_sender_timeout) and the source released: it
// reads what the socket still holds, meets the end of the stream inside
// the large transaction, and reconnects.
func TestReconnectDeliversEachChangeOnce(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE ro (id int PRIMARY KEY, v text)`)
	cfg := te.config("public.ro")
	cfg.BatchSize = 4
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	cp := out.Checkpoint()
	r.stop(t)

	te.exec(`DO $$ BEGIN
		FOR i IN 0..29 LOOP
			INSERT INTO ro SELECT g, 'small' FROM generate_series(4*i+1, 4*i+4) g;
			COMMIT;
		END LOOP;
	END $$`)
	te.exec(`INSERT INTO ro SELECT g, repeat('x', 100000) FROM generate_series(1001, 1300) g`)

	out2 := sourcetest.NewEmitter()
	out2.Hold() // the first Emit blocks
	r2 := te.start(cfg, cp, out2)
	waitCond(t, "the source to block in Emit", 20*time.Second, func() bool { return out2.Waiting() > 0 })
	waitCond(t, "the walsender to block on the full socket", 20*time.Second, func() bool {
		var n int
		_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots s
			JOIN pg_stat_activity a ON a.pid = s.active_pid
			WHERE s.slot_name = $1 AND a.wait_event = 'WalSenderWriteData'`, cfg.Slot).Scan(&n)
		return n == 1
	})
	// Read on from the socket until 20 rows of the large transaction are
	// emitted.
	out2.HoldAfter(func(evs []event.Event) bool { // the next Emit blocks
		return slices.ContainsFunc(evs, func(ev event.Event) bool { return ev.After[0].AsInt() >= 1020 })
	})
	waitCond(t, "the source to block in Emit with rows of the large transaction emitted", 20*time.Second, func() bool {
		return out2.Holding() && out2.Waiting() > 0
	})
	// The walsender sends nothing more once signalled, but exits only after
	// its termination message got through: the source must read on.
	te.exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot)
	out2.Unhold()

	// A row committed after the reconnect: once it arrives, everything
	// before it has.
	waitCond(t, "the source to stream again", 30*time.Second, func() bool {
		var n int
		_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots s
			JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`, cfg.Slot).Scan(&n)
		return n == 1
	})
	te.exec(`INSERT INTO ro VALUES (5000, 'after')`)
	out2.WaitFor(t, "the row committed after the reconnect", 60*time.Second, func(evs []event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].After[0].AsInt() == 5000
	})

	var want []int64
	for id := int64(1); id <= 120; id++ {
		want = append(want, id)
	}
	for id := int64(1001); id <= 1300; id++ {
		want = append(want, id)
	}
	want = append(want, 5000)
	var got []int64
	for _, e := range out2.Events() {
		got = append(got, e.After[0].AsInt())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want %d, each row once in commit order:\n got %v\nwant %v", len(got), len(want), runs(got), runs(want))
	}
	// The connection broke inside the large transaction, after 20 or more
	// of its rows were emitted: those were re-sent and filtered.
	if n := r2.src.replaySkips.events.Load(); n < 20 {
		t.Fatalf("%d events of the large transaction were skipped after the reconnect, want 20 or more", n)
	}
}

// waitInactive waits until no walsender holds the slot.
func waitInactive(t *testing.T, te *testEnv, slot string) {
	t.Helper()
	waitCond(t, "the walsender to release the slot", 20*time.Second, func() bool {
		var active bool
		err := te.conn.QueryRow(context.Background(), `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active)
		return err == nil && !active
	})
}

// runs renders ids as ranges: [1-120 1001-1300 5000].
func runs(ids []int64) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(ids[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ids[i], ids[j]))
		}
		i = j + 1
	}
	return fmt.Sprint(parts)
}

// walMsg is one pgoutput message and the WAL position it is sent at.
type walMsg struct {
	lsn uint64
	msg []byte
}

// testWAL builds a stream of transactions: tx i has n[i] inserts into
// relation 16384 (id, v), and the first two inserts of each share an LSN, as
// the rows of one multi-insert record do.
func testWAL(n ...int) (msgs []walMsg, ends []uint64) {
	rel := msgBuilder{'R'}.u32(16384).str("public").str("t").u8('d').u16(2).
		u8(1).str("id").u32(23).u32(0xffffffff).
		u8(0).str("v").u32(25).u32(0xffffffff)
	lsn := uint64(0x1000)
	id := 0
	for i, rows := range n {
		first := lsn
		commit := first + uint64(rows+1)*0x10
		msgs = append(msgs, walMsg{first, msgBuilder{'B'}.u64(commit).u64(1).u32(uint32(700 + i))}, walMsg{first, rel})
		for r := range rows {
			at := first + uint64(r)*0x10
			if r == 1 {
				at -= 0x10 // shares the first row's LSN
			}
			id++
			msgs = append(msgs, walMsg{at, msgBuilder{'I'}.u32(16384).u8('N').u16(2).text(fmt.Sprint(id)).text("x")})
		}
		end := commit + 0x8
		msgs = append(msgs, walMsg{end, msgBuilder{'C'}.u8(0).u64(commit).u64(end).u64(1)})
		ends = append(ends, end)
		lsn = end + 0x10
	}
	return msgs, ends
}

// TestReplayFilter feeds the decoder a stream, breaks it inside a
// transaction, and feeds it again from a position before the checkpoint,
// as a server does that resends from the slot's confirmed position: every
// change comes out exactly once, also when the break falls between two
// changes of one WAL record.
func TestReplayFilter(t *testing.T) {
	msgs, ends := testWAL(3, 5, 2, 9, 4)
	total := 3 + 5 + 2 + 9 + 4
	for cut := 1; cut < len(msgs); cut++ {
		for _, from := range []int{0, 1, 2} { // resend from the start of tx 0, 1 or 2
			d, _ := fuzzDecoder()
			d.src.cfg.BatchSize = 3
			rec := sourcetest.NewEmitter()
			d.out = rec
			feed := func(ms []walMsg) {
				for _, m := range ms {
					if err := d.handle(context.Background(), m.lsn, string(m.msg)); err != nil {
						t.Fatalf("cut %d: %v", cut, err)
					}
				}
			}
			feed(msgs[:cut])
			d.reset()
			// The server resends whole transactions from its start on: at
			// most the emitted checkpoint, at least the slot's confirmed
			// position (here: the start of tx from or earlier).
			need := 0 // the first transaction not covered by the checkpoint
			for need < len(ends) && ends[need] <= d.emitted {
				need++
			}
			tx, resend := 0, 0
			for i, m := range msgs {
				if m.msg[0] == 'B' {
					if tx == min(from, need) {
						resend = i
						break
					}
					tx++
				}
			}
			feed(msgs[resend:])
			if err := d.flush(context.Background(), true); err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, e := range rec.Events() {
				ids = append(ids, e.After[0].AsInt())
			}
			want := make([]int64, total)
			for i := range want {
				want[i] = int64(i + 1)
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("cut after message %d, resent from tx %d: ids %v", cut, from, runs(ids))
			}
			if d.emitted != ends[len(ends)-1] {
				t.Fatalf("cut after message %d, resent from tx %d: checkpoint %X, want %X", cut, from, d.emitted, ends[len(ends)-1])
			}
		}
	}
}

// failure waits for Run to return by itself, which must happen within a
// minute, closes the source and returns Run's error.
func (r *running) failure(t *testing.T, what string) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.cancel()
		r.cancel = nil
		if cerr := r.src.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		return err
	case <-time.After(time.Minute):
		t.Fatalf("the source did not stop within a minute of %s", what)
		return nil
	}
}

// runErrFrom runs a source from cp until Run returns by itself, which must
// happen within a minute, and returns its error.
func runErrFrom(t *testing.T, cfg *Config, cp []byte, out *sourcetest.Emitter) error {
	t.Helper()
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = src.Run(ctx, cp, out)
	if ctx.Err() != nil {
		t.Fatalf("Run did not fail within a minute")
	}
	return err
}

// wantError checks err's exact text; {LSN} in want stands for any LSN.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want:\n%s", want)
	}
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), regexp.QuoteMeta("{LSN}"), "[0-9A-F]+/[0-9A-F]+") + "$"
	if !regexp.MustCompile(re).MatchString(err.Error()) {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
}

// cpLSN is a checkpoint's stream position.
func cpLSN(t *testing.T, b []byte) string {
	t.Helper()
	cp, err := parseCheckpoint(b)
	if err != nil || cp == nil || cp.LSN == "" {
		t.Fatalf("checkpoint %s: %v", b, err)
	}
	return cp.LSN
}

// TestTableRemovedFromPublication removes a captured table from the
// publication while the source streams: the source stops, saying what is
// lost and how to go on; a restart does not add the table back but says
// the same, while a table newly added to tables is still added; once the
// table is added back by hand, the source streams again, without the
// changes made while it was out.
func TestTableRemovedFromPublication(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	for _, tbl := range []string{"a", "b", "c"} {
		te.exec(`CREATE TABLE ` + tbl + ` (id int PRIMARY KEY)`)
	}
	cfg := te.config("public.a", "public.b")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO a VALUES (1)`)
	te.exec(`INSERT INTO b VALUES (1)`)
	waitN(t, out, 2)
	cp := out.Checkpoint()

	te.exec(`ALTER PUBLICATION sluice_p_pg DROP TABLE b`)
	te.exec(`INSERT INTO b VALUES (2)`) // never streamed
	advice := `Changes to it committed while it was out of the publication are not streamed, now or later: ` +
		`the slot decodes each change with the publication as it was when the change was made. ` +
		`To go on, either add it back (ALTER PUBLICATION "sluice_p_pg" ADD TABLE "public"."b";) and start sluice again, accepting that those changes are lost, ` +
		`then read the table again with an incremental snapshot (sluice snapshot PIPELINE.yaml public.b); ` +
		`or remove it from tables`
	err := r.failure(t, "the table's removal from the publication")
	wantError(t, err, `postgres source "pg": table public.b was removed from publication "sluice_p_pg" while streaming `+
		`(listed at WAL position {LSN}, no longer at {LSN}). `+advice+`. The source stopped; its checkpoint is intact`)
	if got := describe(out.Events()); !slices.Equal(got, []string{"c a id=1", "c b id=1"}) {
		t.Fatalf("events before the stop: %q", got)
	}

	// A restart does not add public.b back; public.c, new in tables, does
	// not count as removed.
	cfg.Tables = []string{"public.a", "public.b", "public.c"}
	err = runErrFrom(t, cfg, cp, sourcetest.NewEmitter())
	wantError(t, err, `postgres source "pg": table public.b captured (the checkpoint, at LSN `+cpLSN(t, cp)+`, records it) `+
		`but no longer in publication "sluice_p_pg": removed from it while sluice was stopped, or before the stream reached the removal. `+advice)

	// Added back by hand: the source goes on and adds public.c itself,
	// reading its existing rows by an incremental snapshot.
	te.exec(`ALTER PUBLICATION sluice_p_pg ADD TABLE b`)
	te.exec(`INSERT INTO c VALUES (1)`)
	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	waitStreaming(t, te, cfg.Slot)
	out2.WaitFor(t, "c's existing row", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 1 })
	te.exec(`INSERT INTO b VALUES (3)`)
	te.exec(`INSERT INTO c VALUES (2)`)
	out2.WaitFor(t, "the changes", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 3 })
	if got := describe(out2.Events()); !slices.Equal(got, []string{"r c id=1", "c b id=3", "c c id=2"}) {
		t.Fatalf("after adding the table back: %q", got)
	}
}

// TestPublicationDroppedWithChangesPending drops the publication while the
// source is stopped and changes are pending: the restart creates it again,
// and the stream fails at the first change made without it, saying why and
// how to go on; both ways it names work.
func TestPublicationDroppedWithChangesPending(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	cfg := te.config("public.a")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO a VALUES (1)`)
	waitN(t, out, 1)
	cp := out.Checkpoint()
	r.stop(t)
	te.exec(`DROP PUBLICATION sluice_p_pg`)
	te.exec(`INSERT INTO a VALUES (2)`) // cannot be decoded

	err := runErrFrom(t, cfg, cp, sourcetest.NewEmitter())
	slot := cfg.Slot
	wantError(t, err, `postgres source "pg": publication "sluice_p_pg" does not exist for a change at LSN {LSN} that slot "`+slot+`" has to stream `+
		`(streaming from `+cpLSN(t, cp)+`): the publication was dropped while changes were pending. `+
		`A slot decodes each change with the catalog as it was when the change was made: a change made after the drop cannot be decoded, `+
		`and a publication created again is invisible to every change made before its creation, so slot "`+slot+`" cannot stream past them. `+
		`To start over with nothing lost: stop sluice, run SELECT pg_drop_replication_slot('`+slot+`'); remove the pipeline's state (its state_dir) and start sluice: `+
		`it creates the slot (and the publication) and reads every table again. `+
		`To go on instead, losing every change not streamed yet: create the publication if it is missing, run SELECT pg_replication_slot_advance('`+slot+`', pg_current_wal_lsn()); and start sluice `+
		`(the server said: ERROR: publication "sluice_p_pg" does not exist (SQLSTATE 42704))`)

	// Going on from now: the change made without the publication is lost.
	waitInactive(t, te, slot)
	te.exec(`SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())`, slot)
	out2 := sourcetest.NewEmitter()
	r2 := te.start(cfg, cp, out2)
	waitStreaming(t, te, slot)
	te.exec(`INSERT INTO a VALUES (3)`)
	if got := describe(waitN(t, out2, 1)); !slices.Equal(got, []string{"c a id=3"}) {
		t.Fatalf("after advancing the slot: %q", got)
	}
	r2.stop(t)

	// Starting over: a new slot and a snapshot of every row.
	waitInactive(t, te, slot)
	te.exec(`SELECT pg_drop_replication_slot($1)`, slot)
	out3 := sourcetest.NewEmitter()
	te.start(cfg, nil, out3)
	if got := describe(waitN(t, out3, 3)); !slices.Equal(got, []string{"r a id=1", "r a id=2", "r a id=3"}) {
		t.Fatalf("after starting over: %q", got)
	}
}

// TestPublicationDroppedWhileStreaming drops the publication under a
// running source: it stops at once, before any change it could not decode.
func TestPublicationDroppedWhileStreaming(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	cfg := te.config("public.a")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`DROP PUBLICATION sluice_p_pg`)
	err := r.failure(t, "the publication's drop")
	slot := cfg.Slot
	wantError(t, err, `postgres source "pg": publication "sluice_p_pg" was dropped while streaming (it existed at WAL position {LSN}, no longer at {LSN}). `+
		`A slot decodes each change with the catalog as it was when the change was made: a change made after the drop cannot be decoded, `+
		`and a publication created again is invisible to every change made before its creation, so slot "`+slot+`" cannot stream past them. `+
		`To start over with nothing lost: stop sluice, run SELECT pg_drop_replication_slot('`+slot+`'); remove the pipeline's state (its state_dir) and start sluice: `+
		`it creates the slot (and the publication) and reads every table again. `+
		`To go on instead, losing every change not streamed yet: create the publication if it is missing, run SELECT pg_replication_slot_advance('`+slot+`', pg_current_wal_lsn()); and start sluice`)
}

// TestPublicationStopsPublishingDeletes narrows what the publication
// publishes under a running source: it stops, saying what is lost; started
// again, it goes on with the publication as it is.
func TestPublicationStopsPublishingDeletes(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	cfg := te.config("public.a")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	cp := out.Checkpoint()
	te.exec(`ALTER PUBLICATION sluice_p_pg SET (publish = 'insert, update')`)
	err := r.failure(t, "the publication's change")
	wantError(t, err, `postgres source "pg": publication "sluice_p_pg" stopped publishing deletes, truncates while streaming `+
		`(it did at WAL position {LSN}, no longer at {LSN}): such changes committed since are not streamed, now or later: `+
		`the slot decodes each change with the publication as it was when the change was made. The source stopped; its checkpoint is intact. `+
		`To go on, either publish them again (ALTER PUBLICATION "sluice_p_pg" SET (publish = 'insert, update, delete, truncate');) `+
		`and start sluice again, accepting that those changes are lost, then read the captured tables again with a separate pipeline that has its own slot and snapshot: initial; `+
		`or, if they are meant to be left out, start sluice again as it is`)

	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	waitStreaming(t, te, cfg.Slot)
	te.exec(`INSERT INTO a VALUES (1)`)
	te.exec(`DELETE FROM a`)
	te.exec(`INSERT INTO a VALUES (2)`)
	if got := describe(waitN(t, out2, 2)); !slices.Equal(got, []string{"c a id=1", "c a id=2"}) {
		t.Fatalf("after starting again: %q", got)
	}
}

// TestCapturedTableDroppedKeepsStreaming drops a captured table: that is no
// publication change to stop for (its changes up to the drop are
// streamed), so the source goes on with the others.
func TestCapturedTableDroppedKeepsStreaming(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE b (id int PRIMARY KEY)`)
	cfg := te.config("public.a", "public.b")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO b VALUES (1)`)
	te.exec(`DROP TABLE b`)
	checked := func() {
		n := r.src.pubChecks.Load()
		waitCond(t, "a publication check", 10*time.Second, func() bool { return r.src.pubChecks.Load() >= n+2 })
	}
	checked() // one began after the drop
	te.exec(`INSERT INTO a VALUES (1)`)
	if got := describe(waitN(t, out, 2)); !slices.Equal(got, []string{"c b id=1", "c a id=1"}) {
		t.Fatalf("events: %q", got)
	}
	checked()
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v after a captured table was dropped", err)
	default:
	}
}
