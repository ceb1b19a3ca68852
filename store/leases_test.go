package store

import (
	"context"
	"testing"
	"time"
)

func leasesT(t *testing.T, clock func() time.Time) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// The default clock is the wall clock at Open advanced by the monotonic
// clock.
func TestLeasesDefaultClock(t *testing.T) {
	db, _ := leasesT(t, nil)
	before := time.Now()
	ls := db.Leases("x")
	must(t, ls.Create(context.Background(), "k", []string{"a"}))
	l, ok, err := ls.Acquire(context.Background(), "k", "me", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	after := time.Now()
	if l.Expires.Before(before.Add(time.Minute).Add(-time.Second)) || l.Expires.After(after.Add(time.Minute).Add(time.Second)) {
		t.Fatalf("expiry %v; now is %v", l.Expires, after)
	}
}
