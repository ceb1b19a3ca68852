package engine

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The window's memory limit: see "Memory" in the package doc. The limit is
// process-wide, so the runners of one process (sluice run with several
// pipelines, sluice serve) share it: each adds its budget while it runs.

// windowBudget is the memory a runner's windows may need beside what the
// process already held when it started: per source, MaxInflightBytes. The
// batches in flight take far less than that cap with ordinary rows (the
// benchmark's 4 batches of 2048 rows: 5 MiB of event.Size), which leaves
// room for the sinks' encoded copies of them and for what the sources read
// ahead; rows that do fill the cap make the live heap outgrow the limit,
// and GOGC takes over.
func windowBudget(o *Options, sources int) int64 {
	return int64(max(sources, 1)) * o.MaxInflightBytes
}

// memLimit is the process-wide state of the window's memory limit.
var memLimit struct {
	sync.Mutex
	users  int    // runners holding a budget
	budget int64  // their budgets, summed
	base   int64  // runtime memory when the first of them started
	lifted bool   // the live heap outgrew the limit: GOGC alone
	prev   int64  // the limit before the first runner set one
	cycle  uint64 // incremented per holder generation; stale GC hooks stop
}

// holdMemoryLimit adds budget to the process's memory limit until the
// returned release is called.
func holdMemoryLimit(budget int64) (release func()) {
	m := &memLimit
	m.Lock()
	defer m.Unlock()
	if os.Getenv("GOMEMLIMIT") != "" || budget <= 0 {
		return func() {}
	}
	if m.users == 0 {
		m.base = runtimeMemory()
		m.prev = debug.SetMemoryLimit(-1)
		m.lifted = false
		m.cycle++
		armGCHook(m.cycle)
	}
	m.users++
	m.budget += budget
	applyLimitLocked(heapLive())
	var once sync.Once
	return func() {
		once.Do(func() {
			m.Lock()
			defer m.Unlock()
			m.users--
			m.budget -= budget
			if m.users == 0 {
				m.cycle++ // the GC hook stops at its next run
				debug.SetMemoryLimit(m.prev)
				return
			}
			applyLimitLocked(heapLive())
		})
	}
}

// nextLimit is the limit for a live heap: base+budget while the live heap
// leaves a quarter of it free, none (math.MaxInt64: GOGC alone) above
// that, back once the live heap is below half of it.
func nextLimit(base, budget, live int64, lifted bool) (limit int64, nowLifted bool) {
	l := base + budget
	switch {
	case !lifted && live > l/4*3:
		lifted = true
	case lifted && live < l/2:
		lifted = false
	}
	if lifted {
		return math.MaxInt64, true
	}
	return l, false
}

func applyLimitLocked(live int64) {
	m := &memLimit
	var limit int64
	limit, m.lifted = nextLimit(m.base, m.budget, live, m.lifted)
	debug.SetMemoryLimit(min(limit, max(m.prev, 0)))
}

// gcSentinel is garbage as soon as it is allocated: its cleanup runs after
// each GC cycle, which re-arms it.
type gcSentinel struct{ _ *int }

// armGCHook re-evaluates the limit after the next GC cycle, and after each
// one after it while cycle is the current generation.
func armGCHook(cycle uint64) {
	runtime.AddCleanup(new(gcSentinel), func(cycle uint64) {
		m := &memLimit
		m.Lock()
		defer m.Unlock()
		if m.cycle != cycle || m.users == 0 {
			return
		}
		applyLimitLocked(heapLive())
		armGCHook(cycle)
	}, cycle)
}

var (
	liveSample  = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	totalSample = []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
)

// heapLive is the heap marked live by the last GC cycle.
func heapLive() int64 {
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(liveSample[0].Value.Uint64())
}

// runtimeMemory is the memory the Go runtime holds from the OS and has not
// returned: what a memory limit counts.
func runtimeMemory() int64 {
	metrics.Read(totalSample)
	var v [2]int64
	for i, s := range totalSample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = int64(s.Value.Uint64())
		}
	}
	return v[0] - v[1]
}
