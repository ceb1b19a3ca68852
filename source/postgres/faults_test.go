package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
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
// rows of the large one are emitted. Then the walsender is terminated, as
// the server does after wal_sender_timeout, and the source released: it
// meets the end of the stream and reconnects.
func TestReconnectDeliversEachChangeOnce(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE ro (id int PRIMARY KEY, v text)`)
	cfg := te.config("public.ro")
	cfg.BatchSize = 4
	out := newEmitter()
	r := te.start(cfg, nil, out)
	out.waitCP(t)
	cp := out.checkpoint()
	r.stop(t)

	te.exec(`DO $$ BEGIN
		FOR i IN 0..29 LOOP
			INSERT INTO ro SELECT g, 'small' FROM generate_series(4*i+1, 4*i+4) g;
			COMMIT;
		END LOOP;
	END $$`)
	te.exec(`INSERT INTO ro SELECT g, repeat('x', 100000) FROM generate_series(1001, 1300) g`)

	out2 := newEmitter()
	out2.window, out2.held = 1, 1 // the first Emit blocks
	r2 := te.start(cfg, cp, out2)
	waitCond(t, "the source to block in Emit", 20*time.Second, func() bool {
		out2.mu.Lock()
		defer out2.mu.Unlock()
		return out2.waiting > 0
	})
	waitCond(t, "the walsender to block on the full socket", 20*time.Second, func() bool {
		var n int
		_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots s
			JOIN pg_stat_activity a ON a.pid = s.active_pid
			WHERE s.slot_name = $1 AND a.wait_event = 'WalSenderWriteData'`, cfg.Slot).Scan(&n)
		return n == 1
	})
	// Read on from the socket until 20 rows of the large transaction are
	// emitted.
	out2.mu.Lock()
	out2.window = 0
	out2.onEmit = func(e *fakeEmitter, evs []event.Event, _ []byte) error {
		if slices.ContainsFunc(evs, func(ev event.Event) bool { return ev.After[0].AsInt() >= 1020 }) {
			e.window = e.held + 1 // the next Emit blocks
		}
		return nil
	}
	out2.cond.Broadcast()
	out2.mu.Unlock()
	waitCond(t, "the source to block in Emit with rows of the large transaction emitted", 20*time.Second, func() bool {
		out2.mu.Lock()
		defer out2.mu.Unlock()
		return out2.waiting > 0
	})
	te.exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot)
	waitCond(t, "the walsender to exit", 20*time.Second, func() bool {
		var active bool
		_ = te.conn.QueryRow(context.Background(), `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&active)
		return !active
	})
	out2.mu.Lock()
	out2.window, out2.onEmit = 0, nil
	out2.cond.Broadcast()
	out2.mu.Unlock()

	// A row committed after the reconnect: once it arrives, everything
	// before it has.
	waitCond(t, "the source to stream again", 30*time.Second, func() bool {
		var n int
		_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots s
			JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`, cfg.Slot).Scan(&n)
		return n == 1
	})
	te.exec(`INSERT INTO ro VALUES (5000, 'after')`)
	out2.waitFor(t, "the row committed after the reconnect", 60*time.Second, func(evs []event.Event) bool {
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
	for _, e := range out2.snapshotEvents() {
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
			rec := newEmitter()
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
			for _, e := range rec.snapshotEvents() {
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
