package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashChild is the process TestCrash kills; it runs only when
// TestCrash starts it. It opens the store in STORE_CRASH_DIR, continues the
// script of STORE_CRASH_SEED from the commit the store holds and reports on
// stdout ("CRASH commit n" before a Commit, "CRASH committed n" after it
// returned, "CRASH paused" where it waits to be killed). Modes:
// run; before:K and after:K (pause around the K-th commit of this run); bigundo (write many
// changes without a commit, sync them, pause); rollback:K (pause inside
// Open's rollback after its K-th batch).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("STORE_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	withLimits(t, tinyLimits)
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, "CRASH "+format+"\n", args...) }
	pause := func() {
		say("paused")
		time.Sleep(time.Hour) // until killed
	}
	mode, arg, _ := strings.Cut(os.Getenv("STORE_CRASH_MODE"), ":")
	k, _ := strconv.Atoi(arg)
	seed, _ := strconv.ParseUint(os.Getenv("STORE_CRASH_SEED"), 10, 64)
	if mode == "rollback" {
		testHookRollback = func(db *DB, b int) {
			if b == k {
				// Make the batches so far durable, so that the kill leaves
				// a rollback done in part.
				must(t, db.pdb.LogData([]byte("test"), pebble.Sync))
				pause()
			}
		}
	}
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, epoch, err := position(db)
	if err != nil {
		t.Fatal(err)
	}
	say("open %d", n)
	if mode == "bigundo" {
		rng := rand.New(rand.NewPCG(seed, 1))
		for i, name := range procNames {
			s := stateT(t, db, name)
			s.Begin(epoch + 1)
			for j := range 1500 {
				must(t, s.Set(fmt.Appendf(nil, "k%02d", rng.IntN(60)), fmt.Appendf(nil, "big%d.%d", i, j)))
				if j%100 == 99 {
					must(t, s.DeleteRange(fmt.Appendf(nil, "k%02d", rng.IntN(60)), nil))
				}
			}
		}
		// Another source's checkpoint: its synced write makes every
		// change above durable, uncommitted.
		must(t, db.SetCheckpoint("other", []byte("x")))
		pause()
	}
	k += n // K counts from the commit the store holds
	script := genScript(seed, n, epoch, 300)
	err = runScript(db, script, hooks{
		before: func(n int) {
			if mode == "before" && n == k {
				pause()
			}
			say("commit %d", n)
		},
		after: func(n int) {
			say("committed %d", n)
			if mode == "after" && n == k {
				pause()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	say("done")
	must(t, db.Close())
}

// countUndo counts the undo records in the store, read without Open (which
// would roll them back).
func countUndo(t *testing.T, dir string) int {
	t.Helper()
	pdb, err := pebble.Open(filepath.Join(dir, StoreDirName), &pebble.Options{ReadOnly: true, Logger: pebbleLogger{db: &DB{}, log: slogDiscard()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	it, err := pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{tagUndo}, UpperBound: []byte{tagUndo + 1}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	must(t, it.Close())
	return n
}

// TestCrash kills (SIGKILL) a process running scripts against the store at
// random moments and at chosen worst ones, reopens the store after each kill
// and checks that it holds exactly the state of the last commit the child
// saw return, or of the commit in flight when it was killed: the
// checkpoint names the commit, and the state must be that commit's.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	withLimits(t, tinyLimits)
	dir := t.TempDir()
	models := map[int]snapshot{0: emptySnapshot()}
	cur := 0 // the commit the store holds, checked
	rng := rand.New(rand.NewPCG(7, 7))

	type round struct {
		mode  string
		check bool // reopen and check after the kill
	}
	rounds := []round{
		{"after:3", true},  // right after a Commit's sync returned
		{"before:4", true}, // changes written, Commit not called
		{"after:1", true},
	}
	for range 10 {
		rounds = append(rounds, round{"run", true})
	}
	rounds = append(rounds,
		round{"before:2", true},
		// A large uncommitted undo log, then kills inside the rollback of
		// the next Opens.
		round{"bigundo", false},
		round{"rollback:2", false},
		round{"rollback:40", false},
		round{"run", true},
	)
	undo := 0
	for i, r := range rounds {
		seed := uint64(100 + i)
		n0 := cur
		runModel(models, n0, genScript(seed, n0, models[n0].epoch, 300))
		returned, inflight, paused, done := n0, n0, false, false

		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STORE_CRASH_DIR="+dir, "STORE_CRASH_MODE="+r.mode, "STORE_CRASH_SEED="+strconv.FormatUint(seed, 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		lines := bufio.NewScanner(out)
		killAfter := 2 + rng.IntN(80) // lines, for mode run
		seen, killed := 0, false
		for lines.Scan() {
			line, ok := strings.CutPrefix(lines.Text(), "CRASH ")
			if !ok {
				continue
			}
			seen++
			f := strings.Fields(line)
			switch f[0] {
			case "commit":
				inflight, _ = strconv.Atoi(f[1])
			case "committed":
				returned, _ = strconv.Atoi(f[1])
			case "paused":
				paused = true
			case "done":
				done = true
			}
			if killed {
				continue // what the child wrote before it died
			}
			if r.mode == "run" && seen >= killAfter {
				// A random moment: now, or a little later while the child
				// goes on.
				if d := rng.IntN(4000); d > 0 {
					time.Sleep(time.Duration(d) * time.Microsecond)
				}
				killed = true
			}
			if paused || done {
				killed = true
			}
			if killed {
				cmd.Process.Kill()
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if strings.HasPrefix(r.mode, "rollback") || r.mode == "bigundo" {
			if !paused {
				t.Fatalf("round %d (%s): the child never paused", i, r.mode)
			}
			n := countUndo(t, dir)
			if r.mode == "bigundo" && n < 1000 {
				t.Fatalf("bigundo left %d undo records", n)
			}
			if r.mode != "bigundo" && (n == 0 || n >= undo) {
				t.Fatalf("round %d (%s): %d undo records left, %d before: the kill was not inside the rollback", i, r.mode, n, undo)
			}
			t.Logf("round %d (%s): killed with %d undo records left (%d before)", i, r.mode, n, undo)
			undo = n
		}
		if done {
			t.Fatalf("round %d (%s): the child finished its script before the kill", i, r.mode)
		}
		if !r.check {
			continue
		}
		db := openT(t, dir)
		n, _, err := position(db)
		must(t, err)
		switch {
		case strings.HasPrefix(r.mode, "after:"):
			if n != returned || !paused {
				t.Fatalf("round %d (%s): the store holds commit %d; want %d", i, r.mode, n, returned)
			}
		case strings.HasPrefix(r.mode, "before:"):
			if n != returned || !paused {
				t.Fatalf("round %d (%s): the store holds commit %d; want %d", i, r.mode, n, returned)
			}
		default:
			if n != returned && !(n == inflight && inflight == returned+1) {
				t.Fatalf("round %d (%s): the store holds commit %d; the last returned is %d, the one in flight %d", i, r.mode, n, returned, inflight)
			}
		}
		checkSnapshot(t, db, n, models[n])
		t.Logf("round %d (%s): killed after commit %d returned (%d in flight): the store holds %d", i, r.mode, returned, inflight, n)
		must(t, db.Close())
		for m := range models {
			if m > n {
				delete(models, m) // the next child writes other commits
			}
		}
		cur = n
	}
}

// TestCrashPowerLoss runs scripts on an in-memory file system and, at random
// moments while they run, takes what a power loss would leave: everything
// synced, and none or a random half of the blocks not synced. The store
// opened on that must hold exactly the state of the commit its checkpoint
// names, which is one whose Commit had started and at least the last one
// that had returned.
func TestCrashPowerLoss(t *testing.T) {
	withLimits(t, tinyLimits)
	fsys := vfs.NewCrashableMem()
	const dir = "/state"
	models := map[int]snapshot{0: emptySnapshot()}
	rng := rand.New(rand.NewPCG(3, 3))
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for round := range rounds {
		db, err := Open(dir, Options{fs: fsys, Logger: slogDiscard()})
		must(t, err)
		n0, e0, err := position(db)
		must(t, err)
		checkSnapshot(t, db, n0, models[n0])
		for m := range models {
			if m > n0 {
				delete(models, m)
			}
		}
		seed := uint64(round)
		script := genScript(seed, n0, e0, 60)
		runModel(models, n0, script)

		var started, returned atomic.Int64
		started.Store(int64(n0))
		returned.Store(int64(n0))
		var stop atomic.Bool
		target := n0 + 1 + rng.IntN(40)
		reached := make(chan struct{})
		finished := make(chan error, 1)
		go func() {
			err := runScript(db, script, hooks{
				step:   func() bool { return !stop.Load() },
				before: func(n int) { started.Store(int64(n)) },
				after: func(n int) {
					returned.Store(int64(n))
					if n == target {
						close(reached)
					}
				},
			})
			finished <- err
		}()
		select {
		case <-reached:
		case err := <-finished:
			t.Fatalf("round %d: the script ended before commit %d: %v", round, target, err)
		}
		// Let the script run on for a random while, then crash.
		for range rng.IntN(2000) {
			runtime.Gosched()
		}
		r0 := returned.Load()
		cfg := vfs.CrashCloneCfg{}
		if round%2 == 1 {
			cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(seed, 5))}
		}
		crashed := fsys.CrashClone(cfg)
		s1 := started.Load()
		stop.Store(true)
		must(t, <-finished)
		must(t, db.Close())
		fsys = crashed

		db, err = Open(dir, Options{fs: fsys, Logger: slogDiscard()})
		must(t, err)
		n, _, err := position(db)
		must(t, err)
		if int64(n) < r0 || int64(n) > s1 {
			t.Fatalf("round %d: the store holds commit %d; commits %d..%d were possible", round, n, r0, s1)
		}
		checkSnapshot(t, db, n, models[n])
		must(t, db.Close())
	}
}
