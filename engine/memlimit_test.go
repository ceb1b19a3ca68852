package engine

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

// unsetMemoryLimitEnv makes the test run without a GOMEMLIMIT in the
// environment (restored after it) and with no memory limit set.
func unsetMemoryLimitEnv(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

// TestNextLimit: the limit is base+budget while the live heap leaves a
// quarter of it free; above three quarters it is lifted (GOGC alone), and
// it comes back only once the live heap is below half of it.
func TestNextLimit(t *testing.T) {
	const base, budget = 10 << 20, 30 << 20 // limit 40 MiB
	for _, c := range []struct {
		live       int64
		lifted     bool
		wantLimit  int64
		wantLifted bool
	}{
		{live: 5 << 20, wantLimit: 40 << 20},
		{live: 30 << 20, wantLimit: 40 << 20},                                      // exactly three quarters: still bound
		{live: 30<<20 + 1, wantLimit: math.MaxInt64, wantLifted: true},             // above: lifted
		{live: 25 << 20, lifted: true, wantLimit: math.MaxInt64, wantLifted: true}, // between: stays lifted
		{live: 20 << 20, lifted: true, wantLimit: math.MaxInt64, wantLifted: true}, // half: still lifted
		{live: 20<<20 - 1, lifted: true, wantLimit: 40 << 20},                      // below half: back
		{live: 100 << 20, lifted: true, wantLimit: math.MaxInt64, wantLifted: true},
	} {
		limit, lifted := nextLimit(base, budget, c.live, c.lifted)
		if limit != c.wantLimit || lifted != c.wantLifted {
			t.Errorf("nextLimit(live %d, lifted %v) = %d, %v; want %d, %v", c.live, c.lifted, limit, lifted, c.wantLimit, c.wantLifted)
		}
	}
}

// TestRunSetsTheWindowMemoryLimit: while a pipeline runs, the Go runtime's
// memory limit is the memory the process held when it started plus
// MaxInflightBytes per source; after Run it is back to none. Two runners
// add their budgets. (The budgets are large, so that no live heap of the
// test binary lifts the limit.)
func TestRunSetsTheWindowMemoryLimit(t *testing.T) {
	unsetMemoryLimitEnv(t)
	start := func(name string, sources int) (cancel func() error) {
		p := &Pipeline{Store: &memStore{}, Options: Options{MaxInflightBytes: 256 << 20}}
		for i := range sources {
			p.Sources = append(p.Sources, SourceNode{Name: name + strconv.Itoa(i), Source: &countSource{schema: schema("a.public.t"), n: 1}})
		}
		p.Sinks = []SinkNode{{Name: name + "sink", Sink: &memSink{}, Inputs: []string{"*"}}}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- New(p).Run(ctx) }()
		return func() error { stop(); return <-done }
	}
	held := func() (base, budget int64) {
		memLimit.Lock()
		defer memLimit.Unlock()
		return memLimit.base, memLimit.budget
	}
	stopA := start("a", 2)
	waitFor(t, "the first runner's budget", func() bool { _, b := held(); return b == 512<<20 })
	base, _ := held()
	if got := debug.SetMemoryLimit(-1); got != base+512<<20 {
		t.Fatalf("memory limit with one runner of 2 sources: %d, want base %d + 512 MiB = %d", got, base, base+512<<20)
	}
	stopB := start("b", 1)
	waitFor(t, "both runners' budgets", func() bool { _, b := held(); return b == 768<<20 })
	if got := debug.SetMemoryLimit(-1); got != base+768<<20 {
		t.Fatalf("memory limit with two runners: %d, want base %d + 768 MiB = %d", got, base, base+768<<20)
	}
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != base+256<<20 {
		t.Fatalf("memory limit after the first runner ended: %d, want base %d + 256 MiB = %d", got, base, base+256<<20)
	}
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit after every runner ended: %d, want none (%d)", got, int64(math.MaxInt64))
	}
}

// TestMemoryLimitLiftedForALargeLiveHeap: when the live heap outgrows three
// quarters of the limit, the GC after it lifts the limit (GOGC alone paces
// the GC, rather than collecting back to back against a limit the live
// heap fills); once the live heap is small again, the limit returns.
func TestMemoryLimitLiftedForALargeLiveHeap(t *testing.T) {
	unsetMemoryLimitEnv(t)
	release := holdMemoryLimit(1 << 20)
	defer release()
	memLimit.Lock()
	limit := memLimit.base + 1<<20
	memLimit.Unlock()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("memory limit: %d, want %d", got, limit)
	}
	state := make([]byte, limit) // live, and larger than the limit
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatalf("memory limit still %d with a live heap of %d bytes", debug.SetMemoryLimit(-1), len(state))
		}
		runtime.GC() // the hook runs after a cycle; each GC is one more chance
		runtime.Gosched()
	}
	runtime.KeepAlive(state)
	state = nil
	for debug.SetMemoryLimit(-1) == math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatalf("memory limit still lifted after the live heap was freed")
		}
		runtime.GC()
		runtime.Gosched()
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("memory limit back: %d, want %d", got, limit)
	}
}

// TestGOMEMLIMITIsTheOperators: with GOMEMLIMIT in the environment, a run
// leaves the memory limit alone.
func TestGOMEMLIMITIsTheOperators(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	prev := debug.SetMemoryLimit(1 << 30)
	defer debug.SetMemoryLimit(prev)
	release := holdMemoryLimit(8 << 20)
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Fatalf("memory limit with GOMEMLIMIT=1GiB: %d, want %d", got, 1<<30)
	}
	release()
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Fatalf("memory limit after release: %d, want %d", got, 1<<30)
	}
}
