package postgres

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE p (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO p SELECT generate_series(1, 500)`)
	te.exec(`ANALYZE p`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.p")
	cfg.SnapshotChunkRows, cfg.BatchSize = 100, 50
	r := te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 500 })
	te.exec(`INSERT INTO p VALUES (501), (502)`)
	out.WaitFor(t, "stream", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 502 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.src.Progress()
		if got == (component.Progress{Phase: "streaming", Done: 2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress %+v, want streaming with 2 events", got)
		}
		time.Sleep(time.Millisecond)
	}
	if n := r.src.estimateRows(t.Context(), nil); n != 0 {
		t.Fatalf("estimate of no tables = %d", n)
	}
}
