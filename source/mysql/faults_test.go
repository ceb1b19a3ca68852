package mysql

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestReconnectDeliversEachChangeOnce cuts the replication connection
// (through a proxy) while the source has emitted complete transactions and
// part of a large one that no sink has acknowledged: reading resumes at the
// last checkpoint, and every change must still arrive exactly once, the
// large transaction's emitted rows included.
//
// The source is held in Emit while 30 transactions of one batch each (one
// rows event of 4 rows: none leaves rows waiting for a quiet second, so no
// batch carries a checkpoint for having waited) and one of 300 rows of
// 100 kB commit; released, it is held again once 20 rows of the large one
// are emitted, and the connection is cut there.
func TestReconnectDeliversEachChangeOnce(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE ro (id INT PRIMARY KEY, v LONGTEXT)")
	dc, err := mysql.ParseDSN(te.dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := svctest.NewProxy(t, dc.Addr)
	dc.Addr = px.Addr()
	cfg := te.config("ro")
	cfg.DSN = dc.FormatDSN()
	cfg.BatchSize = 4
	out := newEmitter()
	r := te.start(cfg, nil, out)
	out.waitCP(t)

	out.mu.Lock()
	out.window, out.held = 1, 1 // the next Emit blocks
	out.mu.Unlock()
	for i := range 30 {
		te.exec(fmt.Sprintf("INSERT INTO ro VALUES (%d, 'small'), (%d, 'small'), (%d, 'small'), (%d, 'small')", 4*i+1, 4*i+2, 4*i+3, 4*i+4))
	}
	te.exec(`INSERT INTO ro WITH RECURSIVE s(n) AS (SELECT 1001 UNION ALL SELECT n + 1 FROM s WHERE n < 1300)
		SELECT n, REPEAT('x', 100000) FROM s`)
	waitFor(t, "the source to block in Emit", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.waiting > 0
	})
	clamped := false // guarded by out.mu
	out.mu.Lock()
	out.window = 0
	out.onEmit = func(e *fakeEmitter, evs []event.Event, _ []byte) error {
		if !clamped && slices.ContainsFunc(evs, func(ev event.Event) bool { return ev.After[0].AsInt() >= 1020 }) {
			e.window, clamped = e.held+1, true // the next Emit blocks
		}
		return nil
	}
	out.cond.Broadcast()
	out.mu.Unlock()
	waitFor(t, "the source to block in Emit with rows of the large transaction emitted", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return clamped && out.waiting > 0
	})
	px.Cut()
	px.Restore() // the cut connections stay closed; new ones go through
	out.mu.Lock()
	out.window, out.onEmit = 0, nil
	out.cond.Broadcast()
	out.mu.Unlock()

	// A row committed after the cut: once it arrives, everything before it
	// has.
	te.exec("INSERT INTO ro VALUES (5000, 'after')")
	out.waitFor(t, "the row committed after the cut", 60*time.Second, func(evs []event.Event) bool {
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
	for _, e := range out.snapshotEvents() {
		got = append(got, e.After[0].AsInt())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want %d, each row once in commit order:\n got %v\nwant %v", len(got), len(want), runs(got), runs(want))
	}
	if n := r.src.replaySkips.Load(); n < 20 {
		t.Fatalf("%d rows of the large transaction were skipped after the reconnect, want 20 or more: the cut did not fall inside it", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
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
