package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The crash tests run scripts: random changes of two processors in epochs,
// and commits numbered n = 1, 2, … whose checkpoint "src" is n, some of
// them while a later epoch already has changes. The same script drives the
// store (in a child process or in memory) and the model, which gives the
// state every commit must leave.

type opKind int

const (
	opBegin opKind = iota
	opSet
	opDelete
	opDeleteRange
	opCommit
)

type step struct {
	kind  opKind
	proc  int
	a, b  string // key, or range [a, b) ("" b: to the end)
	val   string
	epoch uint64 // Begin's epoch, or the epoch a Commit covers
	n     int    // commit number
}

var procNames = [2]string{"p0", "p1"}

// snapshot is the state of both processors as of a commit.
type snapshot struct {
	epoch uint64
	procs [2]map[string]string
}

func emptySnapshot() snapshot {
	return snapshot{procs: [2]map[string]string{{}, {}}}
}

// genScript makes commits commits after commit n0 at epoch e0.
func genScript(seed uint64, n0 int, e0 uint64, commits int) []step {
	rng := rand.New(rand.NewPCG(seed, uint64(n0)))
	key := func() string { return fmt.Sprintf("k%02d", rng.IntN(40)) }
	epoch, lastCommit := e0, e0
	var out []step
	begin := func() {
		epoch++
		out = append(out, step{kind: opBegin, epoch: epoch})
	}
	changes := func() {
		for range rng.IntN(8) {
			p := rng.IntN(2)
			switch r := rng.IntN(20); {
			case r < 13:
				out = append(out, step{kind: opSet, proc: p, a: key(), val: strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(60))})
			case r < 18:
				out = append(out, step{kind: opDelete, proc: p, a: key()})
			case r < 19:
				out = append(out, step{kind: opDeleteRange, proc: p, a: key(), b: key()})
			default:
				out = append(out, step{kind: opDeleteRange, proc: p, a: key()})
			}
		}
	}
	begin()
	for c := 1; c <= commits; c++ {
		for range rng.IntN(3) {
			changes()
			begin()
		}
		changes()
		e := epoch
		if epoch-1 > lastCommit && rng.IntN(2) == 0 {
			e = epoch - 1 // the current epoch's changes stay uncommitted
		}
		out = append(out, step{kind: opCommit, epoch: e, n: n0 + c})
		lastCommit = e
		if e == epoch {
			begin()
		}
	}
	return out
}

func (m snapshot) apply(st step) {
	s := m.procs[st.proc]
	switch st.kind {
	case opSet:
		s[st.a] = st.val
	case opDelete:
		delete(s, st.a)
	case opDeleteRange:
		for k := range s {
			if k >= st.a && (st.b == "" || k < st.b) {
				delete(s, k)
			}
		}
	}
}

func (m snapshot) clone() snapshot {
	return snapshot{epoch: m.epoch, procs: [2]map[string]string{maps.Clone(m.procs[0]), maps.Clone(m.procs[1])}}
}

// runModel adds to models the state of every commit of script, which starts
// from the state of commit n0.
func runModel(models map[int]snapshot, n0 int, script []step) {
	cur := models[n0].clone()
	ends := map[uint64]snapshot{}
	epoch := cur.epoch
	for _, st := range script {
		switch st.kind {
		case opBegin:
			ends[epoch] = cur.clone()
			epoch = st.epoch
		case opCommit:
			var s snapshot
			if st.epoch == epoch {
				s = cur.clone()
			} else {
				s = ends[st.epoch].clone()
			}
			s.epoch = st.epoch
			models[st.n] = s
		default:
			cur.apply(st)
		}
	}
}

// hooks let a test watch a script and stop it.
type hooks struct {
	step          func() bool // false stops the script before the step
	before, after func(n int) // around each Commit
}

// runScript applies script to the store.
func runScript(db *DB, script []step, h hooks) error {
	var states [2]OperatorState
	for i, name := range procNames {
		s, err := db.State(name)
		if err != nil {
			return err
		}
		states[i] = s
	}
	for _, st := range script {
		if h.step != nil && !h.step() {
			return nil
		}
		s := states[st.proc]
		var err error
		switch st.kind {
		case opBegin:
			for _, s := range states {
				s.Begin(st.epoch)
			}
		case opSet:
			err = s.Set([]byte(st.a), []byte(st.val))
		case opDelete:
			err = s.Delete([]byte(st.a))
		case opDeleteRange:
			var end []byte
			if st.b != "" {
				end = []byte(st.b)
			}
			err = s.DeleteRange([]byte(st.a), end)
		case opCommit:
			if h.before != nil {
				h.before(st.n)
			}
			err = db.Commit(Commit{
				Checkpoints: map[string][]byte{"src": []byte(strconv.Itoa(st.n))},
				Processors:  procNames[:],
				Epoch:       st.epoch,
			})
			if err == nil && h.after != nil {
				h.after(st.n)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// position reads the commit number and epoch the store holds.
func position(db *DB) (n int, epoch uint64, err error) {
	cp, err := db.Checkpoint("src")
	if err != nil || cp == nil {
		return 0, 0, err
	}
	if n, err = strconv.Atoi(string(cp)); err != nil {
		return 0, 0, err
	}
	s, err := db.State(procNames[0])
	if err != nil {
		return 0, 0, err
	}
	return n, s.Committed(), nil
}

// checkSnapshot compares the store with the model of commit n.
func checkSnapshot(t testing.TB, db *DB, n int, want snapshot) {
	t.Helper()
	for i, name := range procNames {
		s := stateT(t, db, name)
		if s.Committed() != want.epoch {
			t.Fatalf("commit %d: %s committed epoch %d; want %d", n, name, s.Committed(), want.epoch)
		}
		if got := dump(t, s); !maps.Equal(got, want.procs[i]) {
			t.Fatalf("commit %d: %s holds\n%q\nwant\n%q", n, name, got, want.procs[i])
		}
	}
}
