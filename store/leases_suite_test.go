package store_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/leasetest"
)

// The embedded store passes the lease suite every Leases implementation
// passes (issue 13: "the embedded store passes the same lease tests with
// one node").
func TestLeasesSuite(t *testing.T) {
	leasetest.Run(t, func(t *testing.T, clock func() time.Time) leasetest.Target {
		dir := t.TempDir()
		open := func() *store.DB {
			db, err := store.Open(dir, store.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
		db := open()
		t.Cleanup(func() { db.Close() })
		return leasetest.Target{
			Leases: func(ns string) store.Leases { return db.Leases(ns) },
			Reopen: func() {
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				db = open()
			},
		}
	})
}
