package exec

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/store"
)

// storeRun drives an Executor over the real store as the engine does: an
// epoch per batch (Begin, Process…, Flush), a Commit every commitEvery
// batches.
type storeRun struct {
	t       *testing.T
	dir     string
	db      *store.DB
	st      store.OperatorState
	x       *Executor
	queries []ir.Query
	epoch   uint64
}

func openStoreRun(t *testing.T, dir string, queries []ir.Query) *storeRun {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.State("sql")
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(queries, st, Options{Compiler: toyCompiler{}, ParseTime: toyParseTime, HoldUntilSnapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	return &storeRun{t: t, dir: dir, db: db, st: st, x: x, queries: queries, epoch: st.Committed()}
}

// batch processes one batch in a new epoch and returns its outputs.
func (s *storeRun) batch(evs []*event.Event) []string {
	s.t.Helper()
	s.epoch++
	s.st.Begin(s.epoch)
	var out []string
	for _, ev := range evs {
		rows, err := s.x.Process(ev.Schema.Stream, ev, nil)
		if err != nil {
			if !isRecord(err) {
				s.t.Fatal(err)
			}
			out = append(out, "error: "+err.Error())
		}
		for _, r := range rows {
			out = append(out, rowText(r))
		}
	}
	if err := s.x.Flush(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *storeRun) commit() {
	s.t.Helper()
	if err := s.db.Commit(store.Commit{Checkpoints: map[string][]byte{"src": []byte(fmt.Sprint(s.epoch))}, Processors: []string{"sql"}, Epoch: s.epoch}); err != nil {
		s.t.Fatal(err)
	}
}

// TestStoreCrashReplay runs every query shape over the real store, closes
// it without committing the last batches (as a crash would), reopens it
// and replays from the last commit: the outputs are those of one
// uninterrupted run (over the in-memory state).
func TestStoreCrashReplay(t *testing.T) {
	names := make([]string, 0)
	all := shapes()
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		queries := all[name]
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, uint64(len(name))))
			var evs []*event.Event
			if name == "seed004" {
				evs = seedEvents(rng)
			} else {
				evs = randomEvents(rng, 200)
			}
			const size = 10
			var batches [][]*event.Event
			for i := 0; i < len(evs); i += size {
				batches = append(batches, evs[i:min(i+size, len(evs))])
			}
			// The reference: one run, per batch.
			ref := newHarness(t, nil, Options{HoldUntilSnapshot: true}, queries...)
			var want [][]string
			for _, b := range batches {
				var out []string
				for _, ev := range b {
					rows, err := ref.x.Process(ev.Schema.Stream, ev, nil)
					if err != nil {
						if !isRecord(err) {
							t.Fatal(err)
						}
						out = append(out, "error: "+err.Error())
					}
					for _, r := range rows {
						out = append(out, rowText(r))
					}
				}
				if err := ref.x.Flush(); err != nil {
					t.Fatal(err)
				}
				want = append(want, out)
			}

			dir := t.TempDir()
			s := openStoreRun(t, dir, queries)
			next := 0 // the first batch not committed
			for i := 0; i < len(batches); {
				got := s.batch(batches[i])
				if fmt.Sprint(got) != fmt.Sprint(want[i]) {
					t.Fatalf("batch %d: outputs differ:\n%s", i, diff(want[i], got))
				}
				i++
				switch rng.IntN(4) {
				case 0:
					s.commit()
					next = i
				case 1:
					// Crash: the batches since the last commit are lost
					// and come again.
					if err := s.db.Close(); err != nil {
						t.Fatal(err)
					}
					s = openStoreRun(t, dir, queries)
					i = next
				}
			}
			if err := s.db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
