package coordination

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cuttable is a node's connection to the store that a test can cut: every
// call then fails as a dead network would, after blocking until its
// context ends.
type cuttable struct {
	store.Leases
	cut atomic.Bool
}

var errCut = errors.New("cut from the store")

func (c *cuttable) Renew(ctx context.Context, l store.Lease, p []byte, ttl time.Duration) (store.Lease, error) {
	if c.cut.Load() {
		<-ctx.Done()
		return store.Lease{}, errCut
	}
	return c.Leases.Renew(ctx, l, p, ttl)
}

func (c *cuttable) Release(ctx context.Context, l store.Lease) error {
	if c.cut.Load() {
		return errCut
	}
	return c.Leases.Release(ctx, l)
}

func wait(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// A node cut from the store stops (Lost) before another node can acquire
// the partition, and the other resumes from the last checkpoint stored.
func TestCutNodeStopsBeforeTakeover(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	const lease, renew = 900 * time.Millisecond, 300 * time.Millisecond
	opt := Options{Lease: lease, Renew: renew, Logger: quiet()}
	key := StreamKey("shop")
	a := &cuttable{Leases: db.Leases("ns")}
	ta, err := Acquire(ctx, a, key, "node-a", opt)
	if err != nil {
		t.Fatal(err)
	}
	if ta.Epoch() != 1 {
		t.Fatalf("epoch %d", ta.Epoch())
	}
	if err := ta.SetCheckpoint("pg", []byte("lsn-1")); err != nil {
		t.Fatal(err)
	}

	type acq struct {
		term *Term
		at   time.Time
		err  error
	}
	got := make(chan acq, 1)
	go func() {
		tb, err := Acquire(ctx, db.Leases("ns"), key, "node-b", Options{Lease: lease, Renew: renew / 10, Logger: quiet()})
		got <- acq{tb, time.Now(), err}
	}()
	// node-a keeps the partition while it renews: node-b waits.
	select {
	case r := <-got:
		t.Fatalf("node-b acquired while node-a renews: %+v", r)
	case <-ta.Lost():
		t.Fatalf("node-a lost a renewed lease: %v", ta.Err())
	case <-time.After(2 * lease):
	}

	a.cut.Store(true)
	cutAt := time.Now()
	wait(t, ta.Lost(), 2*lease, "node-a stops after the cut")
	lostAt := time.Now()
	if !errors.Is(ta.Err(), ErrStopDeadline) {
		t.Fatalf("loss: %v", ta.Err())
	}
	if err := ta.SetCheckpoint("pg", []byte("lsn-stale")); err == nil {
		t.Fatal("a checkpoint after the loss was stored")
	}
	var r acq
	select {
	case r = <-got:
	case <-time.After(3 * lease):
		t.Fatal("node-b never took over")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !lostAt.Before(r.at) {
		t.Fatalf("node-a stopped at %v, node-b acquired at %v: overlap", lostAt, r.at)
	}
	if lostAt.Sub(cutAt) > lease || r.at.Sub(cutAt) > lease+renew {
		t.Fatalf("cut at %v: node-a stopped %v later, node-b took over %v later (lease %v)", cutAt, lostAt.Sub(cutAt), r.at.Sub(cutAt), lease)
	}
	tb := r.term
	if tb.Epoch() != 2 {
		t.Fatalf("node-b's epoch %d", tb.Epoch())
	}
	if cp, _ := tb.Checkpoint("pg"); string(cp) != "lsn-1" {
		t.Fatalf("node-b resumes from %q", cp)
	}
	// node-a's connection comes back: its old lease is refused by the store
	// itself (fencing), not only by its own deadline.
	a.cut.Store(false)
	if _, err := a.Renew(ctx, store.Lease{Key: key, Owner: "node-a", Epoch: 1}, []byte(`{}`), lease); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("fenced renew: %v", err)
	}
	if err := tb.SetCheckpoint("pg", []byte("lsn-2")); err != nil {
		t.Fatal(err)
	}
	if err := tb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := db.Leases("ns").List(ctx, key)
	if err != nil || len(ls) != 1 || ls[0].Status != store.StatusOpen || string(ls[0].Progress) != `{"checkpoints":{"pg":"bHNuLTI="}}` {
		t.Fatalf("after release: %+v %v", ls, err)
	}
}

// A released partition is taken at once by a waiting node, well before
// the lease would have expired.
func TestReleaseHandsOver(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	const lease, renew = 10 * time.Second, 50 * time.Millisecond
	key := StreamKey("shop")
	ta, err := Acquire(ctx, db.Leases("ns"), key, "node-a", Options{Lease: lease, Renew: renew, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Term, 1)
	go func() {
		tb, err := Acquire(ctx, db.Leases("ns"), key, "node-b", Options{Lease: lease, Renew: renew, Logger: quiet()})
		if err != nil {
			t.Error(err)
		}
		got <- tb
	}()
	if err := ta.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case tb := <-got:
		if tb.Epoch() != 2 {
			t.Fatalf("epoch %d", tb.Epoch())
		}
	case <-time.After(lease / 2):
		t.Fatal("the released partition was not taken")
	}
	if err := ta.SetCheckpoint("pg", []byte("x")); err == nil {
		t.Fatal("checkpoint after release stored")
	}
	select {
	case <-ta.Lost():
		t.Fatal("release closed Lost")
	default:
	}
}

// A waiting Acquire ends with its context.
func TestAcquireCancelled(t *testing.T) {
	db := openStore(t)
	opt := Options{Lease: time.Minute, Renew: 20 * time.Millisecond, Logger: quiet()}
	if _, err := Acquire(context.Background(), db.Leases("ns"), "stream/p", "a", opt); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, db.Leases("ns"), "stream/p", "b", opt); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// flaky fails its next n Renew calls as a dropped connection would.
type flaky struct {
	store.Leases
	fails atomic.Int32
}

func (f *flaky) Renew(ctx context.Context, l store.Lease, p []byte, ttl time.Duration) (store.Lease, error) {
	if f.fails.Add(-1) >= 0 {
		return store.Lease{}, errors.New("unexpected EOF")
	}
	return f.Leases.Renew(ctx, l, p, ttl)
}

// A store error that passes before the stop deadline delays a checkpoint;
// it does not fail it (the engine would stop the pipeline).
func TestCheckpointRetriesTransientErrors(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	f := &flaky{Leases: db.Leases("ns")}
	tm, err := Acquire(ctx, f, "stream/p", "a", Options{Lease: 3 * time.Second, Renew: time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f.fails.Store(3)
	if err := tm.SetCheckpoint("pg", []byte("lsn-9")); err != nil {
		t.Fatal(err)
	}
	ls, err := db.Leases("ns").List(ctx, "stream/p")
	if err != nil || len(ls) != 1 || string(ls[0].Progress) != `{"checkpoints":{"pg":"bHNuLTk="}}` {
		t.Fatalf("%+v %v", ls, err)
	}
	if tm.Err() != nil {
		t.Fatal(tm.Err())
	}
}

// down fails every call, as a store out of reach does.
type down struct {
	store.Leases
	down atomic.Bool
}

func (d *down) Create(ctx context.Context, kind string, keys []string) error {
	if d.down.Load() {
		return errCut
	}
	return d.Leases.Create(ctx, kind, keys)
}

// A node whose store is out of reach waits for it (and the partition)
// instead of failing.
func TestAcquireWaitsForTheStore(t *testing.T) {
	db := openStore(t)
	d := &down{Leases: db.Leases("ns")}
	d.down.Store(true)
	got := make(chan error, 1)
	go func() {
		_, err := Acquire(context.Background(), d, "stream/p", "a", Options{Lease: time.Minute, Renew: 10 * time.Millisecond, Logger: quiet()})
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned with the store down: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	d.down.Store(false)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire did not return once the store was back")
	}
}
