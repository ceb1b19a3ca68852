// Package leasetest is the one suite every implementation of store.Leases
// passes: the embedded store (package store) and the PostgreSQL lease table
// (package pgleases) run the same tests, so that one node and several nodes
// share the same semantics.
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// Target is a lease store under test.
type Target struct {
	// Leases returns the leases of a namespace. Each call may use its own
	// connection; the concurrency test gives every owner its own.
	Leases func(namespace string) store.Leases
	// Reopen closes the store and opens it again (a restart): later Leases
	// calls use the new one, and every change made before must be there.
	Reopen func()
}

// Opener opens a fresh, empty store whose leases run on clock; it closes
// it at the test's cleanup.
type Opener func(t *testing.T, clock func() time.Time) Target

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	t.Run("Semantics", func(t *testing.T) { testLeases(t, open) })
	t.Run("Exclusive", func(t *testing.T) { testExclusive(t, open) })
	t.Run("FailReopen", func(t *testing.T) { testFailReopen(t, open) })
}

// testFailReopen: a failed partition is never handed out, even once its
// lease would have expired, until Reopen (conditional on the version read)
// opens it again.
func testFailReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewFakeClock()
	s := open(t, clock.Now)
	ls := s.Leases("shop")
	const ttl = 15 * time.Second
	must(t, ls.Create(ctx, "chunk", []string{"chunk/t/1", "chunk/t/2"}))
	a, ok, err := ls.Acquire(ctx, "chunk", "node-a", ttl)
	if err != nil || !ok || a.Key != "chunk/t/1" {
		t.Fatalf("Acquire: %+v %v %v", a, ok, err)
	}
	must(t, ls.Fail(ctx, a, []byte(`{"failed":"boom"}`)))
	if err := ls.Fail(ctx, a, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Fail twice: %v", err)
	}
	if _, err := ls.Renew(ctx, a, nil, ttl); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Renew after Fail: %v", err)
	}
	clock.Advance(2 * ttl)
	b, ok, err := ls.Acquire(ctx, "chunk", "node-b", ttl)
	if err != nil || !ok || b.Key != "chunk/t/2" {
		t.Fatalf("Acquire with chunk/t/1 failed: %+v %v %v; want chunk/t/2", b, ok, err)
	}
	if _, ok, err := ls.Acquire(ctx, "chunk", "node-b", ttl); ok || err != nil {
		t.Fatalf("Acquire of a failed partition: %v %v", ok, err)
	}
	// Another owner's lease is not the caller's to fail.
	if err := ls.Fail(ctx, store.Lease{Key: b.Key, Owner: "node-a", Epoch: b.Epoch}, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Fail of another owner's lease: %v", err)
	}
	// Reopen only from the version read: a stale version is refused.
	s.Reopen()
	ls = s.Leases("shop")
	all, err := ls.List(ctx, "chunk/t/1")
	must(t, err)
	if len(all) != 1 || all[0].Status != store.StatusFailed || all[0].Owner != "node-a" || string(all[0].Progress) != `{"failed":"boom"}` || !all[0].Expires.IsZero() {
		t.Fatalf("failed lease after a restart: %+v", all)
	}
	stale := all[0]
	stale.Version--
	if err := ls.Reopen(ctx, stale, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Reopen at a stale version: %v", err)
	}
	if err := ls.Reopen(ctx, b, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Reopen of a held lease: %v", err)
	}
	must(t, ls.Reopen(ctx, all[0], []byte(`{"reopened":true}`)))
	if err := ls.Reopen(ctx, all[0], nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Reopen twice: %v", err)
	}
	c, ok, err := ls.Acquire(ctx, "chunk", "node-c", ttl)
	want := store.Lease{Key: "chunk/t/1", Kind: "chunk", Owner: "node-c", Status: store.StatusOwned, Progress: []byte(`{"reopened":true}`),
		Epoch: 2, Version: a.Version + 3, Expires: clock.Now().Add(ttl)}
	if err != nil || !ok {
		t.Fatalf("Acquire after Reopen: %v %v", ok, err)
	}
	checkLease(t, c, want)
}

// FakeClock is a clock tests move by hand.
type FakeClock struct{ ns atomic.Int64 }

// NewFakeClock starts at a fixed date (whole seconds, so that stores with
// microsecond timestamps keep every value exactly).
func NewFakeClock() *FakeClock {
	c := &FakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

// Now is the clock's time.
func (c *FakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward.
func (c *FakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testLeases(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewFakeClock()
	s := open(t, clock.Now)
	ls := s.Leases("shop")
	const ttl = 15 * time.Second

	must(t, ls.Create(ctx, "chunk", []string{"chunk/t/2", "chunk/t/1"}))
	must(t, ls.Create(ctx, "stream", []string{"stream/shop"}))
	must(t, ls.Create(ctx, "chunk", []string{"chunk/t/1", "chunk/t/3"})) // chunk/t/1 exists: left alone

	a, ok, err := ls.Acquire(ctx, "chunk", "node-a", ttl)
	if err != nil || !ok {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	want := store.Lease{Key: "chunk/t/1", Kind: "chunk", Owner: "node-a", Status: store.StatusOwned, Epoch: 1, Version: 2, Expires: clock.Now().Add(ttl)}
	checkLease(t, a, want)

	b, ok, err := ls.Acquire(ctx, "chunk", "node-b", ttl)
	if err != nil || !ok || b.Key != "chunk/t/2" || b.Epoch != 1 {
		t.Fatalf("second Acquire: %+v %v %v", b, ok, err)
	}
	clock.Advance(10 * time.Second)
	a, err = ls.Renew(ctx, a, []byte(`{"row":100}`), ttl)
	must(t, err)
	want.Version, want.Progress, want.Expires = 3, []byte(`{"row":100}`), clock.Now().Add(ttl)
	checkLease(t, a, want)
	a, err = ls.Renew(ctx, a, nil, ttl) // nil progress keeps it
	must(t, err)
	want.Version = 4
	checkLease(t, a, want)

	// node-b stops renewing; at its expiry node-c takes chunk/t/2 over
	// (chunk/t/3 is open, but comes later in key order), with a new epoch
	// and node-b's progress.
	must(t, ls.Release(ctx, b)) // released: open again
	b2, ok, err := ls.Acquire(ctx, "chunk", "node-b", ttl)
	if err != nil || !ok || b2.Key != "chunk/t/2" || b2.Epoch != 2 {
		t.Fatalf("Acquire after Release: %+v %v %v", b2, ok, err)
	}
	b2, err = ls.Renew(ctx, b2, []byte(`{"b":1}`), ttl)
	must(t, err)
	c, ok, err := ls.Acquire(ctx, "chunk", "node-c", ttl)
	if err != nil || !ok || c.Key != "chunk/t/3" {
		t.Fatalf("Acquire of the open chunk: %+v %v %v", c, ok, err)
	}
	if _, ok, err := ls.Acquire(ctx, "chunk", "node-c", ttl); ok || err != nil {
		t.Fatalf("Acquire with every chunk held: %v %v", ok, err)
	}
	clock.Advance(ttl) // b2 expires now (expiry ≤ now); a was renewed later
	a, err = ls.Renew(ctx, a, nil, ttl)
	must(t, err)
	c2, ok, err := ls.Acquire(ctx, "chunk", "node-c", ttl)
	if err != nil || !ok {
		t.Fatalf("takeover: %v %v", ok, err)
	}
	checkLease(t, c2, store.Lease{Key: "chunk/t/2", Kind: "chunk", Owner: "node-c", Status: store.StatusOwned, Progress: []byte(`{"b":1}`), Epoch: 3, Version: b2.Version + 1, Expires: clock.Now().Add(ttl)})

	// The old owner is fenced: every call fails with store.ErrLeaseLost.
	if _, err := ls.Renew(ctx, b2, nil, ttl); !errors.Is(err, store.ErrLeaseLost) || err.Error() != "store: lease chunk/t/2 of node-b at epoch 2: lease lost" {
		t.Fatalf("Renew after takeover: %v", err)
	}
	if err := ls.Complete(ctx, b2, nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Complete after takeover: %v", err)
	}
	if err := ls.Release(ctx, b2); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Release after takeover: %v", err)
	}
	// The same owner at an older epoch is fenced too.
	if _, err := ls.Renew(ctx, store.Lease{Key: "chunk/t/2", Owner: "node-c", Epoch: 2}, nil, ttl); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Renew at an older epoch: %v", err)
	}
	// A lease past its expiry that nobody took can still be renewed.
	clock.Advance(ttl + time.Second)
	a, err = ls.Renew(ctx, a, nil, ttl)
	must(t, err)

	must(t, ls.Complete(ctx, a, []byte(`{"row":"end"}`)))
	if _, err := ls.Renew(ctx, a, nil, ttl); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Renew after Complete: %v", err)
	}

	// The stream partition is of another kind.
	st, ok, err := ls.Acquire(ctx, "stream", "node-a", ttl)
	if err != nil || !ok || st.Key != "stream/shop" || st.Epoch != 1 {
		t.Fatalf("Acquire stream: %+v %v %v", st, ok, err)
	}

	// List, after a reopen: every change was durable.
	s.Reopen()
	ls = s.Leases("shop")
	all, err := ls.List(ctx, "chunk/")
	must(t, err)
	var got []string
	for _, l := range all {
		got = append(got, fmt.Sprintf("%s %s %s %s e%d v%d", l.Key, l.Kind, l.Owner, l.Status, l.Epoch, l.Version))
	}
	wantList := fmt.Sprint([]string{
		"chunk/t/1 chunk node-a done e1 v7",
		"chunk/t/2 chunk node-c owned e3 v6",
		"chunk/t/3 chunk node-c owned e1 v2",
	})
	if fmt.Sprint(got) != wantList {
		t.Fatalf("List:\n%v\nwant\n%v", got, wantList)
	}
	if string(all[0].Progress) != `{"row":"end"}` || !all[0].Expires.IsZero() {
		t.Fatalf("done lease: %+v", all[0])
	}
	if !all[1].Expires.Equal(c2.Expires) {
		t.Fatalf("expiry after reopen: %v; want %v", all[1].Expires, c2.Expires)
	}
	// Both held chunks expired while a renewed: node-d takes them over in
	// key order, then none is left.
	for _, w := range []struct {
		key   string
		epoch uint64
	}{{"chunk/t/2", 4}, {"chunk/t/3", 2}} {
		l, ok, err := ls.Acquire(ctx, "chunk", "node-d", ttl)
		if err != nil || !ok || l.Key != w.key || l.Epoch != w.epoch {
			t.Fatalf("Acquire of expired leases: %+v %v %v; want %s at epoch %d", l, ok, err, w.key, w.epoch)
		}
	}
	if _, ok, err := ls.Acquire(ctx, "chunk", "node-d", ttl); ok || err != nil {
		t.Fatalf("Acquire with one done and two held: %v %v", ok, err)
	}

	// Another namespace starts empty.
	other := s.Leases("shop2")
	if l, err := other.List(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("new namespace: %v %v", l, err)
	}
	if _, ok, err := other.Acquire(ctx, "chunk", "node-a", ttl); ok || err != nil {
		t.Fatalf("Acquire in a new namespace: %v %v", ok, err)
	}
	if _, _, err := ls.Acquire(ctx, "chunk", "node-a", 0); err == nil {
		t.Fatal("Acquire with ttl 0")
	}
}

func checkLease(t *testing.T, got, want store.Lease) {
	t.Helper()
	if got.Key != want.Key || got.Kind != want.Kind || got.Owner != want.Owner || got.Status != want.Status ||
		string(got.Progress) != string(want.Progress) || got.Epoch != want.Epoch || got.Version != want.Version || !got.Expires.Equal(want.Expires) {
		t.Fatalf("lease\n%+v\nwant\n%+v", got, want)
	}
}

// TestLeasesExclusive runs owners in goroutines that acquire, renew and
// abandon the partitions while the clock runs, and checks from what the
// store returned that no two owners ever held a partition at the same time:
// for each partition, epochs grow by one at each acquisition, and an
// acquisition happens only once every earlier holder's last successful
// expiry has passed.
func testExclusive(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewFakeClock()
	s := open(t, clock.Now)
	ls := s.Leases("ns")
	keys := []string{"p/1", "p/2", "p/3"}
	must(t, ls.Create(ctx, "part", keys))
	const ttl = 50 * time.Millisecond

	type event struct {
		owner    string
		epoch    uint64
		acquire  bool
		start    time.Time // the store's now at the event
		expiry   time.Time
		released bool
	}
	var mu sync.Mutex
	events := map[string][]event{}
	record := func(e event, key string) {
		mu.Lock()
		events[key] = append(events[key], e)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for o := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := s.Leases("ns") // each owner its own connection where the store has them
			owner := fmt.Sprintf("node-%d", o)
			for i := range 150 {
				clock.Advance(time.Duration(1+(i*7+o)%9) * time.Millisecond)
				l, ok, err := ls.Acquire(ctx, "part", owner, ttl)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				record(event{owner: owner, epoch: l.Epoch, acquire: true, start: l.Expires.Add(-ttl), expiry: l.Expires}, l.Key)
				for r := range (i + o) % 4 {
					clock.Advance(time.Duration(5+r*11) * time.Millisecond)
					nl, err := ls.Renew(ctx, l, nil, ttl)
					if errors.Is(err, store.ErrLeaseLost) {
						break
					}
					if err != nil {
						t.Error(err)
						return
					}
					l = nl
					record(event{owner: owner, epoch: l.Epoch, start: l.Expires.Add(-ttl), expiry: l.Expires}, l.Key)
				}
				if i%5 == 0 {
					if err := ls.Release(ctx, l); err == nil {
						record(event{owner: owner, epoch: l.Epoch, released: true}, l.Key)
					} else if !errors.Is(err, store.ErrLeaseLost) {
						t.Error(err)
						return
					}
				}
				// otherwise abandoned: it expires
			}
		}()
	}
	wg.Wait()
	takeovers := 0
	for _, key := range keys {
		// Per epoch: the acquisition's time, the last expiry a successful
		// call granted, and whether it was released.
		type holding struct {
			owner        string
			start, until time.Time
			released     bool
		}
		byEpoch := map[uint64]*holding{}
		for _, e := range events[key] {
			h := byEpoch[e.epoch]
			if e.acquire {
				if h != nil {
					t.Fatalf("%s: epoch %d acquired twice", key, e.epoch)
				}
				h = &holding{owner: e.owner, start: e.start}
				byEpoch[e.epoch] = h
			}
			if h == nil || h.owner != e.owner {
				t.Fatalf("%s: %s succeeded at epoch %d it never acquired", key, e.owner, e.epoch)
			}
			if e.released {
				h.released = true
			} else if e.expiry.After(h.until) {
				h.until = e.expiry
			}
		}
		for ep := uint64(2); byEpoch[ep] != nil; ep++ {
			prev, h := byEpoch[ep-1], byEpoch[ep]
			if prev == nil {
				t.Fatalf("%s: epoch %d without epoch %d", key, ep, ep-1)
			}
			if !prev.released && h.start.Before(prev.until) {
				t.Fatalf("%s: %s acquired epoch %d at %v while %s held epoch %d until %v", key, h.owner, ep, h.start, prev.owner, ep-1, prev.until)
			}
			if !prev.released {
				takeovers++
			}
		}
		if n := len(byEpoch); n < 5 || byEpoch[uint64(n)] == nil {
			t.Fatalf("%s: %d epochs, not numbered 1..n", key, n)
		}
	}
	if takeovers == 0 {
		t.Fatal("no lease was taken over after expiring: the test proves nothing")
	}
	t.Logf("%d takeovers of expired leases", takeovers)
}
