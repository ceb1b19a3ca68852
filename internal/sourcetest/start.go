package sourcetest

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// startOutage starts the source while its server is unreachable (the
// proxy in front of it is cut), as after a reboot where sluice comes up
// before its database: Run must not return — the engine would stop the
// pipeline — but wait, logging a WARN for each attempt
// (component.Connect), and once the server answers read what exists and
// stream what follows, exactly as after a normal start. A second run,
// started while the server is unreachable and stopped while it waits, must
// return at once, as for SIGTERM.
func (s *suite) startOutage(t *testing.T) {
	caps := s.h.Caps
	tg := s.h.Setup(t)
	if tg.Addr() == "" {
		t.Skip("the source uses no network connection (Target.Addr is empty): there is nothing to be down")
	}
	const table = "so"
	tg.CreateTable(t, table)
	m := newModel()
	apply(t, tg, m, table, m.inserts(1, 10))
	m.start()
	px := svctest.NewProxy(t, tg.Addr())
	px.Cut()
	p := Params{Table: table, BatchSize: 5, ChunkRows: 4, Via: px.Addr()}

	rec := newRecorder(0)
	r := start(t, "run", tg, p, nil, rec)
	r.waitFor(t, "two WARN logs: connect attempts while the server is unreachable", func() bool { return r.logs.since(0, slog.LevelWarn) >= 2 })
	if ok, err := r.returned(); ok {
		t.Fatalf("Run returned %v while its server was unreachable at start; it must wait for it (component.Connect)", err)
	}
	if n := len(rec.events(0)); n > 0 {
		t.Fatalf("%d events before the server was reachable", n)
	}
	px.Restore()
	s.caughtUp(t, r, m, nil)
	if caps.Stream {
		rng := rand.New(rand.NewPCG(23, 29))
		apply(t, tg, m, table, m.randomTx(rng, caps, 3, 1, 30))
		s.caughtUp(t, r, m, nil)
	}
	r.stop(t)
	s.checker(t, "after a start while the server was unreachable").verify(rec.events(0), m, false)
	s.checkRun(t, r)

	px.Cut()
	r2 := start(t, "run 2 (stopped while waiting)", tg, p, nil, newRecorder(0))
	r2.waitFor(t, "a WARN log: a connect attempt while the server is unreachable", func() bool { return r2.logs.since(0, slog.LevelWarn) >= 1 })
	began := time.Now()
	r2.stop(t)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Run took %s to return after its context was cancelled while it waited for the server", took)
	}
}
