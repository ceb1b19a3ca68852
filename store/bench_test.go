package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The benchmarks drive one processor's state as the engine would: an epoch
// per 1,000 changes, a commit (synced) every 10 epochs.
const (
	benchEpochOps    = 1000
	benchCommitEvery = 10
)

type benchDriver struct {
	db     *DB
	s      OperatorState
	ops    int
	epoch  uint64
	commit error
}

func newBenchDriver(b *testing.B) *benchDriver {
	db, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s, err := db.State("agg")
	if err != nil {
		b.Fatal(err)
	}
	d := &benchDriver{db: db, s: s, epoch: 1}
	s.Begin(1)
	return d
}

// tick counts one change and moves epochs and commits along.
func (d *benchDriver) tick(b *testing.B) {
	d.ops++
	if d.ops%benchEpochOps != 0 {
		return
	}
	if d.epoch%benchCommitEvery == 0 {
		if err := d.db.Commit(Commit{Checkpoints: map[string][]byte{"src": []byte("cp")}, Processors: []string{"agg"}, Epoch: d.epoch}); err != nil {
			b.Fatal(err)
		}
	}
	d.epoch++
	d.s.Begin(d.epoch)
}

func benchKey(buf []byte, i uint64) []byte {
	return binary.BigEndian.AppendUint64(append(buf[:0], "group/"...), i)
}

// BenchmarkStateSet writes new keys (16-byte keys, 32-byte values).
func BenchmarkStateSet(b *testing.B) {
	d := newBenchDriver(b)
	val := make([]byte, 32)
	var key []byte
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		key = benchKey(key, rng.Uint64())
		if err := d.s.Set(key, val); err != nil {
			b.Fatal(err)
		}
		d.tick(b)
	}
}

// BenchmarkStateGet reads random keys of a 100,000-key state.
func BenchmarkStateGet(b *testing.B) {
	d := newBenchDriver(b)
	const n = 100_000
	var key []byte
	for i := range uint64(n) {
		key = benchKey(key, i)
		if err := d.s.Set(key, make([]byte, 32)); err != nil {
			b.Fatal(err)
		}
		d.tick(b)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		key = benchKey(key, rng.Uint64N(n))
		if _, ok, err := d.s.Get(key); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkStateUpdate is an aggregate: read a group's count, write it
// back incremented, over groups groups chosen at random.
func BenchmarkStateUpdate(b *testing.B) {
	for _, groups := range []uint64{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			d := newBenchDriver(b)
			rng := rand.New(rand.NewPCG(1, 1))
			var key, val []byte
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				key = benchKey(key, rng.Uint64N(groups))
				v, ok, err := d.s.Get(key)
				if err != nil {
					b.Fatal(err)
				}
				var n uint64
				if ok {
					n = binary.BigEndian.Uint64(v)
				}
				val = binary.BigEndian.AppendUint64(append(val[:0], make([]byte, 24)...), n+1)
				if err := d.s.Set(key, val); err != nil {
					b.Fatal(err)
				}
				d.tick(b)
			}
		})
	}
}

// The Pebble benchmarks do the same work on Pebble directly, without undo
// records or epochs (an indexed batch applied every 1,000 changes, a synced
// write every 10,000): the store's figures are read as ratios to these,
// measured in the same run on the same machine.

type rawDriver struct {
	db  *pebble.DB
	b   *pebble.Batch
	ops int
}

func newRawDriver(b *testing.B) *rawDriver {
	db, err := pebble.Open(b.TempDir(), (&DB{}).pebbleOptions(Options{MemTableSize: defaultMemTableSize, CacheSize: defaultCacheSize, Logger: slogDiscard(), fs: vfs.Default}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return &rawDriver{db: db, b: db.NewIndexedBatch()}
}

func (d *rawDriver) tick(b *testing.B) {
	d.ops++
	if d.ops%benchEpochOps != 0 {
		return
	}
	opts := pebble.NoSync
	if d.ops%(benchEpochOps*benchCommitEvery) == 0 {
		opts = pebble.Sync
	}
	if err := d.db.Apply(d.b, opts); err != nil {
		b.Fatal(err)
	}
	d.b.Reset()
}

func (d *rawDriver) get(b *testing.B, key []byte, buf []byte) ([]byte, bool) {
	v, closer, err := d.b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		b.Fatal(err)
	}
	buf = append(buf[:0], v...)
	closer.Close()
	return buf, true
}

func BenchmarkPebbleSet(b *testing.B) {
	d := newRawDriver(b)
	val := make([]byte, 32)
	var key []byte
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		key = benchKey(key, rng.Uint64())
		if err := d.b.Set(key, val, nil); err != nil {
			b.Fatal(err)
		}
		d.tick(b)
	}
}

func BenchmarkPebbleGet(b *testing.B) {
	d := newRawDriver(b)
	const n = 100_000
	var key, buf []byte
	for i := range uint64(n) {
		key = benchKey(key, i)
		if err := d.b.Set(key, make([]byte, 32), nil); err != nil {
			b.Fatal(err)
		}
		d.tick(b)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		key = benchKey(key, rng.Uint64N(n))
		var ok bool
		if buf, ok = d.get(b, key, buf); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkPebbleUpdate(b *testing.B) {
	for _, groups := range []uint64{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			d := newRawDriver(b)
			rng := rand.New(rand.NewPCG(1, 1))
			var key, val, buf []byte
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				key = benchKey(key, rng.Uint64N(groups))
				v, ok := d.get(b, key, buf)
				buf = v
				var n uint64
				if ok {
					n = binary.BigEndian.Uint64(v)
				}
				val = binary.BigEndian.AppendUint64(append(val[:0], make([]byte, 24)...), n+1)
				if err := d.b.Set(key, val, nil); err != nil {
					b.Fatal(err)
				}
				d.tick(b)
			}
		})
	}
}

// reportCPU reports the CPU time the process (with Pebble's background
// work) spends per op: on a machine whose cores other jobs share, wall
// time per op says more about them than about the store.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// rss returns the process's resident set size in bytes.
func rss(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestLargeStateRSS writes keys (600,000, or STORE_BIG_KEYS: 10,000,000 for
// the figure in the package doc) to one state in epochs and commits and
// checks that the process's RSS stays flat once the memtables and cache
// are full. Without the one malloc arena (malloc_cgo_linux.go) it grows
// by some 25 MiB by 600,000 keys. The race detector's builds allocate
// differently, and -short skips it.
func TestLargeStateRSS(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("STORE_BIG_KEYS"))
	if n == 0 {
		if testing.Short() || raceEnabled {
			t.Skip("-short or -race")
		}
		n = 600_000
	}
	db := openT(t, t.TempDir())
	s := stateT(t, db, "agg")
	val := make([]byte, 32)
	var key []byte
	rng := rand.New(rand.NewPCG(1, 1))
	epoch := uint64(1)
	s.Begin(epoch)
	var first int64
	for i := 1; i <= n; i++ {
		key = benchKey(key, rng.Uint64())
		must(t, s.Set(key, val))
		if i%benchEpochOps == 0 {
			if epoch%benchCommitEvery == 0 {
				must(t, db.Commit(Commit{Processors: []string{"agg"}, Epoch: epoch}))
			}
			epoch++
			s.Begin(epoch)
		}
		if i%(n/10) == 0 {
			runtime.GC()
			debug.FreeOSMemory()
			r := rss(t)
			m := db.pdb.Metrics()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			cgo := ""
			for _, line := range strings.Split(m.String(), "\n") {
				if strings.HasPrefix(line, "Cgo memory usage:") {
					cgo = line
				}
			}
			t.Logf("%9d keys: RSS %4d MiB (Go heap in use %d MiB, Go total %d MiB); disk %d MiB; %s",
				i, r>>20, ms.HeapInuse>>20, ms.Sys>>20, m.DiskSpaceUsage()>>20, cgo)
			// By half of the keys the memtables and the cache are full.
			if i == 5*(n/10) {
				first = r
			}
			if first > 0 && r > first+16<<20 {
				t.Fatalf("RSS grew from %d MiB to %d MiB", first>>20, r>>20)
			}
			// Pebble's budget (memtables and cache), plus the Go runtime
			// and this test binary.
			if limit := int64(defaultCacheSize + 32<<20); r > limit {
				t.Fatalf("RSS %d MiB, over %d MiB", r>>20, limit>>20)
			}
		}
	}
}
