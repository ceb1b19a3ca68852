package pgleases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/leasetest"
)

func open(t *testing.T, dsn string, opt Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The lease table passes the suite the embedded store passes; every
// Leases call of the suite opens its own pool, so the concurrency test's
// owners race through separate connections.
func TestLeasesSuite(t *testing.T) {
	leasetest.Run(t, func(t *testing.T, clock func() time.Time) leasetest.Target {
		dsn := pgtest.NewDatabase(t)
		open(t, dsn, Options{Clock: clock}) // creates the table
		return leasetest.Target{
			Leases: func(ns string) store.Leases { return open(t, dsn, Options{Clock: clock, MaxConns: 1}).Leases(ns) },
			Reopen: func() {},
		}
	})
}

// Without a test clock the time is the server's now(): the expiry of a new
// lease is the server's time plus ttl, whatever this process's clock says.
func TestServerClock(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn, Options{})
	ls := s.Leases("x")
	if err := ls.Create(ctx, "k", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Connect(t, dsn)
	var before, after time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&before); err != nil {
		t.Fatal(err)
	}
	l, ok, err := ls.Acquire(ctx, "k", "me", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if got := l.Expires.Add(-time.Minute); got.Before(before) || got.After(after) {
		t.Fatalf("acquired at %v (expiry - ttl); the server's now() was %v before and %v after", got, before, after)
	}
}

// Several processes' worth of pools race for the same partitions on the
// server's clock: at any moment one owner holds each, and epochs number
// the holders without gaps.
func TestConcurrentOwnersServerClock(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn, Options{})
	if err := s.Leases("ns").Create(ctx, "part", []string{"p/1", "p/2"}); err != nil {
		t.Fatal(err)
	}
	const ttl = 300 * time.Millisecond
	type hold struct {
		owner string
		epoch uint64
	}
	var mu sync.Mutex
	held := map[string][]hold{}
	var wg sync.WaitGroup
	for o := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := open(t, dsn, Options{MaxConns: 1}).Leases("ns")
			owner := fmt.Sprintf("node-%d", o)
			for range 40 {
				l, ok, err := ls.Acquire(ctx, "part", owner, ttl)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				mu.Lock()
				held[l.Key] = append(held[l.Key], hold{owner, l.Epoch})
				mu.Unlock()
				if err := ls.Release(ctx, l); err != nil && !errors.Is(err, store.ErrLeaseLost) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for key, hs := range held {
		seen := map[uint64]string{}
		for _, h := range hs {
			if o, dup := seen[h.epoch]; dup {
				t.Fatalf("%s: epoch %d given to %s and %s", key, h.epoch, o, h.owner)
			}
			seen[h.epoch] = h.owner
		}
		for e := uint64(1); e <= uint64(len(hs)); e++ {
			if _, ok := seen[e]; !ok {
				t.Fatalf("%s: %d acquisitions but epoch %d missing", key, len(hs), e)
			}
		}
	}
	if len(held["p/1"])+len(held["p/2"]) < 10 {
		t.Fatalf("only %d acquisitions: the test proves nothing", len(held["p/1"])+len(held["p/2"]))
	}
}

// Nodes starting together all create the table; none fails.
func TestCreateTableRace(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn, Options{Table: "shared_leases"})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://u:secret@127.0.0.1:1/db", Options{Table: "Bad-Name"}); err == nil ||
		err.Error() != `pgleases: table name "Bad-Name": use lower-case letters, digits and _ (at most 51), starting with a letter or _` {
		t.Fatalf("bad table: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2", Options{})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1/db") || strings.Contains(msg, "secret") {
		t.Fatalf("error %q: must name the server and not the password", msg)
	}
}
