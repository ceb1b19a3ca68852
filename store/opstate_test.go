package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// withLimits runs the test with small limits, so that few changes reach the
// batch flush, the bound of the recorded-keys set and several rollback
// batches.
func withLimits(t testing.TB, l limits) {
	old := defaultLimits
	defaultLimits = l
	t.Cleanup(func() { defaultLimits = old })
}

var tinyLimits = limits{flushBytes: 200, recordedKeys: 4, recordedBytes: 16, rollbackChunk: 3}

func stateT(t testing.TB, db *DB, name string) OperatorState {
	t.Helper()
	s, err := db.State(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dump returns every key and value of a state, by Scan.
func dump(t testing.TB, s OperatorState) map[string]string {
	t.Helper()
	out := map[string]string{}
	var last string
	first := true
	err := s.Scan(nil, nil, func(k, v []byte) bool {
		if !first && string(k) <= last {
			t.Fatalf("Scan out of order: %q after %q", k, last)
		}
		first, last = false, string(k)
		out[string(k)] = string(v)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStateReadYourWrites(t *testing.T) {
	for _, lim := range []limits{defaultLimits, tinyLimits} {
		t.Run(fmt.Sprint(lim.flushBytes), func(t *testing.T) {
			withLimits(t, lim)
			db := openT(t, t.TempDir())
			s := stateT(t, db, "agg")
			s.Begin(1)
			must(t, s.Set([]byte("a"), []byte("1")))
			must(t, s.Set([]byte("b"), []byte("2")))
			for i := range 40 { // past the flush size
				must(t, s.Set(fmt.Appendf(nil, "k%02d", i), []byte(strings.Repeat("v", i))))
			}
			must(t, s.Set([]byte("a"), []byte("3")))
			must(t, s.Delete([]byte("b")))
			must(t, s.Set([]byte(""), []byte("empty key")))
			must(t, s.Set([]byte("nil value"), nil))
			for _, c := range []struct {
				key, val string
				ok       bool
			}{{"a", "3", true}, {"b", "", false}, {"k07", "vvvvvvv", true}, {"", "empty key", true}, {"nil value", "", true}, {"zz", "", false}} {
				v, ok, err := s.Get([]byte(c.key))
				if err != nil || ok != c.ok || string(v) != c.val {
					t.Fatalf("Get(%q) = %q, %v, %v; want %q, %v", c.key, v, ok, err, c.val, c.ok)
				}
			}
			// Another processor's space is separate, even with a name that
			// prefixes this one's.
			o := stateT(t, db, "ag")
			o.Begin(1)
			must(t, o.Set([]byte("a"), []byte("other")))
			if v, _, _ := s.Get([]byte("a")); string(v) != "3" {
				t.Fatalf("agg's a = %q after ag's Set", v)
			}
			if got := dump(t, o); len(got) != 1 || got["a"] != "other" {
				t.Fatalf("ag holds %q", got)
			}
			if got := len(dump(t, s)); got != 43 {
				t.Fatalf("agg holds %d keys, want 43", got)
			}
		})
	}
}

func TestStateScanAndDeleteRange(t *testing.T) {
	for _, lim := range []limits{defaultLimits, tinyLimits} {
		t.Run(fmt.Sprint(lim.flushBytes), func(t *testing.T) {
			withLimits(t, lim)
			db := openT(t, t.TempDir())
			s := stateT(t, db, "win")
			s.Begin(1)
			for _, k := range []string{"w1/a", "w1/b", "w2/a", "w2/b", "w2/c", "w3/a", "x", "\xff\xff"} {
				must(t, s.Set([]byte(k), []byte("v"+k)))
			}
			scan := func(start, end string, max int) string {
				var got []string
				var e []byte
				if end != "-" {
					e = []byte(end)
				}
				must(t, s.Scan([]byte(start), e, func(k, v []byte) bool {
					if "v"+string(k) != string(v) {
						t.Fatalf("Scan: %q = %q", k, v)
					}
					got = append(got, string(k))
					return len(got) < max
				}))
				return strings.Join(got, " ")
			}
			for _, c := range []struct {
				start, end string
				max        int
				want       string
			}{
				{"", "-", 100, "w1/a w1/b w2/a w2/b w2/c w3/a x \xff\xff"},
				{"w2/", "w2/\xff", 100, "w2/a w2/b w2/c"},
				{"w2/", "w3", 2, "w2/a w2/b"},
				{"w1/b", "w2/b", 100, "w1/b w2/a"},
				{"y", "-", 100, "\xff\xff"},
				{"w3", "w2", 100, ""},
			} {
				if got := scan(c.start, c.end, c.max); got != c.want {
					t.Fatalf("Scan(%q, %q) = %q; want %q", c.start, c.end, got, c.want)
				}
			}
			must(t, s.DeleteRange([]byte("w2/"), []byte("w3")))
			if got := scan("", "-", 100); got != "w1/a w1/b w3/a x \xff\xff" {
				t.Fatalf("after DeleteRange: %q", got)
			}
			must(t, s.DeleteRange([]byte("x"), nil))
			if got := scan("", "-", 100); got != "w1/a w1/b w3/a" {
				t.Fatalf("after DeleteRange to the end: %q", got)
			}
			// fn may change the state; the scan goes on over what it saw.
			must(t, s.Scan(nil, nil, func(k, v []byte) bool {
				must(t, s.Delete(k))
				must(t, s.Set(append([]byte("z"), k...), append([]byte("vz"), k...)))
				if _, ok, err := s.Get(k); ok || err != nil {
					t.Fatalf("Get(%q) in fn after Delete: %v %v", k, ok, err)
				}
				return true
			}))
			if got := scan("", "-", 100); got != "zw1/a zw1/b zw3/a" {
				t.Fatalf("after changes in fn: %q", got)
			}
			err := s.Scan(nil, nil, func(k, v []byte) bool {
				err := s.DeleteRange(nil, nil)
				if err == nil || err.Error() != "store: processor win called DeleteRange inside Scan: collect the range in fn and delete it after Scan returns" {
					t.Fatalf("DeleteRange in fn: %v", err)
				}
				return false
			})
			must(t, err)
			// Roll back to nothing: every change above was in epoch 1.
			db.Close()
			db = openT(t, db.dir)
			s = stateT(t, db, "win")
			if got := dump(t, s); len(got) != 0 || s.Committed() != 0 {
				t.Fatalf("after reopen without commit: %q, committed %d", got, s.Committed())
			}
		})
	}
}

// The Set after a Get of the same key takes its undo record from the Get;
// a change in between, or an epoch, must not leave that stale.
func TestStateGetThenSet(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir)
	s := stateT(t, db, "p")
	s.Begin(1)
	must(t, s.Set([]byte("k"), []byte("0")))
	must(t, db.Commit(Commit{Processors: []string{"p"}, Epoch: 1}))
	s.Begin(2)
	v, _, err := s.Get([]byte("k"))
	must(t, err)
	v[0] = 'x' // the caller's copy: changing it changes nothing stored
	must(t, s.Set([]byte("k"), []byte("1")))
	s.Begin(3)
	must(t, s.Set([]byte("k"), []byte("2"))) // undo record: "1", not the Get's "0"
	must(t, db.Commit(Commit{Processors: []string{"p"}, Epoch: 2}))
	_, _, err = s.Get([]byte("k"))
	must(t, err)
	must(t, s.Delete([]byte("k")))
	s.Begin(4)
	must(t, s.Set([]byte("k"), []byte("4"))) // undo record: absent
	db.Close()
	db = openT(t, dir)
	s = stateT(t, db, "p")
	if v, ok, err := s.Get([]byte("k")); string(v) != "1" || !ok || err != nil || s.Committed() != 2 {
		t.Fatalf("after reopen: %q %v %v, committed %d; want \"1\" at 2", v, ok, err, s.Committed())
	}
}

func TestStateEpochRules(t *testing.T) {
	db := openT(t, t.TempDir())
	s := stateT(t, db, "p")
	want := "store: processor p changed its state outside an epoch: Begin an epoch above 0 first"
	if err := s.Set([]byte("a"), nil); err == nil || err.Error() != want {
		t.Fatalf("Set before Begin: %v", err)
	}
	s.Begin(3)
	must(t, s.Set([]byte("a"), []byte("1")))
	must(t, db.Commit(Commit{Processors: []string{"p"}, Epoch: 3}))
	want = "store: processor p changed its state outside an epoch: Begin an epoch above 3 first"
	if err := s.Set([]byte("a"), nil); err == nil || err.Error() != want {
		t.Fatalf("Set in a committed epoch: %v", err)
	}
	if err := db.Commit(Commit{Processors: []string{"p"}, Epoch: 2}); err == nil ||
		err.Error() != "store: commit of epoch 2 for processor p after epoch 3: commits must not go back" {
		t.Fatalf("Commit going back: %v", err)
	}
	s.Begin(3)
	want = "store: processor p: Begin(3) after epoch 3 (committed up to 3): epochs must grow"
	if err := s.Set([]byte("a"), nil); err == nil || err.Error() != want {
		t.Fatalf("Set after Begin going back: %v", err)
	}
	if err := db.Commit(Commit{Processors: []string{"p"}, Epoch: 4}); err == nil || err.Error() != want {
		t.Fatalf("Commit after Begin going back: %v", err)
	}
	if _, err := db.State(""); err == nil {
		t.Fatal("State of no name")
	}
}

// Commit while the processor is in a later epoch: the earlier epoch becomes
// durable, the later one is rolled back at reopen, and the checkpoints come
// with the commit.
func TestStatePipelinedCommit(t *testing.T) {
	for _, lim := range []limits{defaultLimits, tinyLimits} {
		t.Run(fmt.Sprint(lim.flushBytes), func(t *testing.T) {
			withLimits(t, lim)
			dir := t.TempDir()
			db := openT(t, dir)
			a, b := stateT(t, db, "a"), stateT(t, db, "b")
			a.Begin(1)
			b.Begin(1)
			must(t, a.Set([]byte("k"), []byte("a1")))
			must(t, b.Set([]byte("k"), []byte("b1")))
			a.Begin(2)
			must(t, a.Set([]byte("k"), []byte("a2")))
			must(t, a.Set([]byte("n"), []byte("a2")))
			must(t, db.Commit(Commit{Checkpoints: map[string][]byte{"src": []byte("cp1")}, Processors: []string{"a", "b"}, Epoch: 1}))
			if a.Committed() != 1 || b.Committed() != 1 {
				t.Fatalf("Committed: %d %d", a.Committed(), b.Committed())
			}
			must(t, a.Set([]byte("k"), []byte("a2'"))) // epoch 2 goes on
			must(t, a.DeleteRange(nil, nil))
			if got := dump(t, a); len(got) != 0 {
				t.Fatalf("a after DeleteRange: %q", got)
			}
			db.Close()
			db = openT(t, dir)
			a, b = stateT(t, db, "a"), stateT(t, db, "b")
			if got := dump(t, a); len(got) != 1 || got["k"] != "a1" || a.Committed() != 1 {
				t.Fatalf("a after reopen: %q, committed %d", got, a.Committed())
			}
			if got := dump(t, b); len(got) != 1 || got["k"] != "b1" || b.Committed() != 1 {
				t.Fatalf("b after reopen: %q, committed %d", got, b.Committed())
			}
			checkCheckpoints(t, db, map[string]string{"src": "cp1"})
			// A processor named in no commit keeps its committed epoch.
			a.Begin(5)
			must(t, a.Set([]byte("k"), []byte("a5")))
			must(t, db.Commit(Commit{Processors: []string{"a"}, Epoch: 5}))
			db.Close()
			db = openT(t, dir)
			a, b = stateT(t, db, "a"), stateT(t, db, "b")
			if v, _, _ := a.Get([]byte("k")); string(v) != "a5" || a.Committed() != 5 || b.Committed() != 1 {
				t.Fatalf("after the second commit: a.k=%q, committed %d, %d", v, a.Committed(), b.Committed())
			}
		})
	}
}

// model is what a processor's state must hold: its changes so far, and the
// state at the end of each epoch not yet committed.
type model struct {
	cur       map[string]string
	ends      map[uint64]map[string]string // state at the end of epoch e
	committed map[string]string
}

func newModel() *model {
	return &model{cur: map[string]string{}, ends: map[uint64]map[string]string{}, committed: map[string]string{}}
}

func (m *model) deleteRange(start, end string, toEnd bool) {
	for k := range m.cur {
		if k >= start && (toEnd || k < end) {
			delete(m.cur, k)
		}
	}
}

// TestStateModel applies random changes, epochs, commits (some while later
// epochs run) and reopens to two processors, and compares the store with a
// map after every step: reads see every change, a reopen gives exactly the
// state of the last commit.
func TestStateModel(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if seed%2 == 1 {
				withLimits(t, tinyLimits)
			}
			rng := rand.New(rand.NewPCG(seed, 99))
			dir := t.TempDir()
			db := openT(t, dir)
			names := []string{"agg", "join"}
			models := map[string]*model{"agg": newModel(), "join": newModel()}
			states := map[string]OperatorState{}
			for _, n := range names {
				states[n] = stateT(t, db, n)
			}
			var epoch, committed uint64
			begin := func() {
				for _, n := range names {
					models[n].ends[epoch] = maps.Clone(models[n].cur)
				}
				epoch++
				for _, n := range names {
					states[n].Begin(epoch)
				}
			}
			key := func() string { return fmt.Sprintf("%c%d", 'a'+rng.IntN(4), rng.IntN(8)) }
			check := func(step int) {
				for _, n := range names {
					got := dump(t, states[n])
					if !maps.Equal(got, models[n].cur) {
						t.Fatalf("step %d: %s holds\n%q\nwant\n%q", step, n, got, models[n].cur)
					}
				}
			}
			begin()
			for step := range 1500 {
				n := names[rng.IntN(2)]
				s, m := states[n], models[n]
				switch r := rng.IntN(100); {
				case r < 45:
					k, v := key(), strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(30))
					must(t, s.Set([]byte(k), []byte(v)))
					m.cur[k] = v
				case r < 60:
					k := key()
					must(t, s.Delete([]byte(k)))
					delete(m.cur, k)
				case r < 65:
					a, b := key(), key()
					if rng.IntN(4) == 0 {
						must(t, s.DeleteRange([]byte(a), nil))
						m.deleteRange(a, "", true)
					} else {
						must(t, s.DeleteRange([]byte(a), []byte(b)))
						m.deleteRange(a, b, false)
					}
				case r < 70:
					// An aggregate's update: read a key, write it back.
					k := key()
					v, ok, err := s.Get([]byte(k))
					must(t, err)
					if mv, mok := m.cur[k]; ok != mok || string(v) != mv {
						t.Fatalf("step %d: %s Get(%q) = %q %v; want %q %v", step, n, k, v, ok, mv, mok)
					}
					nv := string(v) + "+"
					must(t, s.Set([]byte(k), []byte(nv)))
					m.cur[k] = nv
				case r < 75:
					k := key()
					v, ok, err := s.Get([]byte(k))
					must(t, err)
					if mv, mok := m.cur[k]; ok != mok || string(v) != mv {
						t.Fatalf("step %d: %s Get(%q) = %q %v; want %q %v", step, n, k, v, ok, mv, mok)
					}
				case r < 85:
					begin()
				case r < 95:
					// Commit an epoch that has begun: the current one, or
					// an earlier one while the current runs.
					e := committed + 1 + rng.Uint64N(epoch-committed)
					if e > epoch {
						e = epoch
					}
					cp := fmt.Sprint(step)
					must(t, db.Commit(Commit{Checkpoints: map[string][]byte{"src": []byte(cp)}, Processors: names, Epoch: e}))
					for _, nn := range names {
						mm := models[nn]
						if e == epoch {
							mm.committed = maps.Clone(mm.cur)
						} else {
							mm.committed = mm.ends[e]
						}
						for k := range mm.ends {
							if k < e {
								delete(mm.ends, k)
							}
						}
					}
					committed = e
					if e == epoch {
						begin()
					}
				default:
					must(t, db.Close())
					db = openT(t, dir)
					for _, nn := range names {
						states[nn] = stateT(t, db, nn)
						if c := states[nn].Committed(); c != committed {
							t.Fatalf("step %d: %s committed %d; want %d", step, nn, c, committed)
						}
						models[nn].cur = maps.Clone(models[nn].committed)
						models[nn].ends = map[uint64]map[string]string{}
					}
					check(step)
					epoch = committed
					begin()
				}
				if step%25 == 0 {
					check(step)
				}
			}
			check(-1)
			keys := slices.Sorted(maps.Keys(models["agg"].cur))
			t.Logf("agg ends with %d keys %v at epoch %d, committed %d", len(keys), keys, epoch, committed)
		})
	}
}
