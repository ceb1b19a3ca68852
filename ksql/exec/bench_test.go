package exec

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/store"
)

// The benchmarks run the operators over the real store as the engine
// drives it: an epoch per 1,000 input events, a synced commit every 10
// epochs. They use the test compiler (plain closures), so they measure
// the operators and the state, not expression evaluation.
const (
	benchEpochEvents = 1000
	benchCommitEvery = 10
)

type benchRun struct {
	b     *testing.B
	db    *store.DB
	st    store.OperatorState
	x     *Executor
	n     int
	epoch uint64
	out   []Row
}

func newBenchRun(b *testing.B, queries ...ir.Query) *benchRun {
	// EXEC_BENCH_CACHE_MB sets the store's cache (default: the store's).
	db, err := store.Open(b.TempDir(), store.Options{CacheSize: int64(benchSize("EXEC_BENCH_CACHE_MB", 0)) << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	st, err := db.State("sql")
	if err != nil {
		b.Fatal(err)
	}
	x, err := New(queries, st, Options{Compiler: toyCompiler{}, ParseTime: toyParseTime})
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRun{b: b, db: db, st: st, x: x, epoch: 1}
	st.Begin(1)
	return r
}

func (r *benchRun) process(ev *event.Event) {
	var err error
	r.out, err = r.x.Process(ev.Schema.Stream, ev, r.out[:0])
	if err != nil {
		r.b.Fatal(err)
	}
	r.n++
	if r.n%benchEpochEvents != 0 {
		return
	}
	if err := r.x.Flush(); err != nil {
		r.b.Fatal(err)
	}
	if r.epoch%benchCommitEvery == 0 {
		if err := r.db.Commit(store.Commit{Checkpoints: map[string][]byte{"src": []byte("cp")}, Processors: []string{"sql"}, Epoch: r.epoch}); err != nil {
			r.b.Fatal(err)
		}
	}
	r.epoch++
	r.st.Begin(r.epoch)
}

// measure runs the benchmark loop and reports CPU time per event (the
// process's, the store's background work included) and the peak RSS.
func (r *benchRun) measure(next func(i int) *event.Event) {
	b := r.b
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		r.process(next(i))
		i++
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// ring pre-builds n events so that the loop measures processing only.
func ring(n int, mk func(i int) *event.Event) func(i int) *event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = mk(i)
	}
	return func(i int) *event.Event { return evs[i%n] }
}

// BenchmarkFilterProject is SELECT id, UCASE(name) … WHERE age > 30.
func BenchmarkFilterProject(b *testing.B) {
	src := source("CUSTOMERS", "pg.public.customers", ir.Stream, customerCols)
	flt := &ir.Filter{Input: src, Pred: bin(ir.Gt, col(2, tInt), lit(event.Int(30), tInt))}
	p := &ir.Project{Input: flt, Exprs: []ir.Expr{col(0, tStr), &ir.Call{Func: "UCASE", Args: []ir.Expr{col(1, tStr)}, T: tStr}, col(2, tInt)}}
	p.S.Columns = customerCols
	r := newBenchRun(b, ir.Query{ID: "Q", Topic: "OUT", Root: p})
	rng := rand.New(rand.NewPCG(1, 1))
	r.measure(ring(1<<16, func(i int) *event.Event {
		return ins(customersEv, int64(i), fmt.Sprint(i), "name", int(rng.IntN(60)))
	}))
}

// BenchmarkStreamTableJoin joins orders with a table of EXEC_BENCH_ROWS
// (default 1,000,000) customers, loaded before the measurement.
func BenchmarkStreamTableJoin(b *testing.B) {
	rows := benchSize("EXEC_BENCH_ROWS", 1_000_000)
	r := newBenchRun(b, stJoinQuery(ir.LeftOuter))
	start := time.Now()
	for i := range rows {
		r.process(ins(customersEv, 1, fmt.Sprintf("c%07d", i), "customer name", 30))
	}
	b.Logf("loaded %d customers in %v", rows, time.Since(start))
	rng := rand.New(rand.NewPCG(1, 1))
	r.measure(ring(1<<16, func(i int) *event.Event {
		return ins(ordersEv, int64(i), fmt.Sprint("o", i), fmt.Sprintf("c%07d", rng.IntN(rows)), 5)
	}))
}

// BenchmarkStreamStreamJoin is orders JOIN shipments WITHIN 1 HOUR: every
// order has a shipment 30 minutes later; event time moves 10 ms per
// event, so each side's window holds 360,000 rows.
func BenchmarkStreamStreamJoin(b *testing.B) {
	q := ssJoinQuery(ir.Inner, time.Hour, time.Hour, 0)
	r := newBenchRun(b, q)
	const step = 10 * time.Millisecond
	lag := int(30 * time.Minute / step)
	r.measure(func(i int) *event.Event {
		n := i / 2
		if i%2 == 0 {
			e := ins(ordersEv, 0, fmt.Sprint("o", n), "c", 1)
			e.Source.TsUs = int64(n) * step.Microseconds()
			return e
		}
		o := n - lag
		if o < 0 {
			o = n + 1_000_000_000 // no order: joins nothing
		}
		e := ins(shipmentsEv, 0, fmt.Sprint("s", n), fmt.Sprint("o", o), "x")
		e.Source.TsUs = int64(n) * step.Microseconds()
		return e
	})
}

// BenchmarkGroupByLatest is seed 004's customers_by_key (GROUP BY id with
// LATEST_BY_OFFSET of two columns) over EXEC_BENCH_KEYS (default
// 1,000,000) customers changing at random.
func BenchmarkGroupByLatest(b *testing.B) {
	keys := benchSize("EXEC_BENCH_KEYS", 1_000_000)
	r := newBenchRun(b, seedQueries()[0])
	rng := rand.New(rand.NewPCG(1, 1))
	r.measure(ring(1<<16, func(i int) *event.Event {
		e := seedCustomer(i, fmt.Sprintf("c%07d", rng.IntN(keys)), "name", 30)
		return e
	}))
}
