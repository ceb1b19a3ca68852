package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-dev/sluice/state"
)

// openT opens the store in dir and closes it at the end of the test (a
// test that closes it itself is fine: Close is idempotent).
func openT(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir)
	if cp, err := db.Checkpoint("pg"); err != nil || cp != nil {
		t.Fatalf("fresh store: got %q, %v; want nil, nil", cp, err)
	}
	for _, c := range []struct{ src, cp string }{
		{"pg", `{"lsn":"0/1"}`},
		{"my", `{"file":"binlog.000001","pos":4}`},
		{"pg", `{"lsn":"0/2"}`},
		{"", "empty name"},
		{"bin\x00ary", "\x00\xff"},
	} {
		if err := db.SetCheckpoint(c.src, []byte(c.cp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openT(t, dir)
	all, err := db.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pg": `{"lsn":"0/2"}`, "my": `{"file":"binlog.000001","pos":4}`, "": "empty name", "bin\x00ary": "\x00\xff"}
	if len(all) != len(want) {
		t.Fatalf("Checkpoints: %q; want %q", all, want)
	}
	for src, cp := range want {
		got, err := db.Checkpoint(src)
		if err != nil || string(got) != cp || string(all[src]) != cp {
			t.Fatalf("checkpoint of %q: %q, %v (all: %q); want %q", src, got, err, all[src], cp)
		}
	}
	if cp, err := db.Checkpoint("missing"); err != nil || cp != nil {
		t.Fatalf("missing source: %q, %v", cp, err)
	}
	must(t, db.DeleteCheckpoint("pg"))
	if cp, err := db.Checkpoint("pg"); err != nil || cp != nil {
		t.Fatalf("after DeleteCheckpoint: %q, %v", cp, err)
	}
	if all, _ := db.Checkpoints(); len(all) != 3 {
		t.Fatalf("after DeleteCheckpoint: %q", all)
	}
}

func TestClosedStore(t *testing.T) {
	db := openT(t, t.TempDir())
	db.Close()
	if _, err := db.Checkpoint("pg"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Checkpoint after Close: %v", err)
	}
	if err := db.Commit(Commit{Epoch: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v", err)
	}
	if _, err := db.State("p"); !errors.Is(err, ErrClosed) {
		t.Fatalf("State after Close: %v", err)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	db := openT(t, dir)
	_, err := Open(dir, Options{})
	want := "store: " + dir + " is locked by another sluice process (stop it, or give this pipeline its own state_dir)"
	if err == nil || err.Error() != want {
		t.Fatalf("second Open: %v; want %q", err, want)
	}
	// With a timeout, Open waits for the holder to close.
	done := make(chan error, 1)
	go func() {
		db2, err := Open(dir, Options{LockTimeout: time.Minute})
		if err == nil {
			err = db2.Close()
		}
		done <- err
	}()
	db.Close()
	if err := <-done; err != nil {
		t.Fatalf("Open with LockTimeout after the holder closed: %v", err)
	}
}

// A crash while the store is first created leaves store.tmp, never a store
// directory without its MANIFEST: the next Open starts afresh.
func TestUnfinishedCreation(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "store.tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store.tmp", "MANIFEST-000001"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openT(t, dir)
	if err := db.SetCheckpoint("pg", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("store.tmp left: %v", err)
	}
}

// writeStateDB makes the state.db of an older sluice with checkpoints.
func writeStateDB(t *testing.T, dir string, cps map[string]string) {
	t.Helper()
	st, err := state.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for src, cp := range cps {
		if err := st.SetCheckpoint(src, []byte(cp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func checkCheckpoints(t *testing.T, db *DB, want map[string]string) {
	t.Helper()
	all, err := db.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("checkpoints %q; want %q", all, want)
	}
	for src, cp := range want {
		if string(all[src]) != cp {
			t.Fatalf("checkpoint of %s: %q; want %q", src, all[src], cp)
		}
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// The migration from state.db, interrupted after each of its steps (the
// steps run by hand, then the store is closed as a crash would leave it),
// ends the same way: the checkpoints in the store, state.db renamed.
func TestMigrateStateDB(t *testing.T) {
	cps := map[string]string{"pg": `{"lsn":"0/16B3748"}`, "my": `{"gtid":"x:1-7"}`}
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, dir string) // the steps done before the crash
	}{
		{"no crash", func(t *testing.T, dir string) {}},
		{"crash before the import", func(t *testing.T, dir string) {
			// The store exists (created empty), nothing imported.
			db := openBare(t, dir)
			db.Close()
		}},
		{"crash after the import, before the rename", func(t *testing.T, dir string) {
			db := openBare(t, dir)
			if err := db.importStateDB(filepath.Join(dir, state.FileName)); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"crash after the rename", func(t *testing.T, dir string) {
			db := openBare(t, dir)
			if err := db.importStateDB(filepath.Join(dir, state.FileName)); err != nil {
				t.Fatal(err)
			}
			if err := finishMigration(vfs.Default, dir); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeStateDB(t, dir, cps)
			tc.crash(t, dir)
			for range 2 { // and once more: a finished migration is not redone
				db := openT(t, dir)
				checkCheckpoints(t, db, cps)
				if exists(t, filepath.Join(dir, state.FileName)) || !exists(t, filepath.Join(dir, state.FileName+".migrated")) {
					t.Fatal("state.db not renamed to state.db.migrated")
				}
				if err := db.SetCheckpoint("pg", []byte("later")); err != nil {
					t.Fatal(err)
				}
				cps["pg"] = "later"
				db.Close()
			}
			cps["pg"] = `{"lsn":"0/16B3748"}`
		})
	}
}

func TestMigrateEmptyStateDB(t *testing.T) {
	dir := t.TempDir()
	writeStateDB(t, dir, nil)
	db := openT(t, dir)
	checkCheckpoints(t, db, map[string]string{})
	if exists(t, filepath.Join(dir, state.FileName)) {
		t.Fatal("state.db not renamed")
	}
}

// A state.db whose checkpoints differ from the store's (an older sluice ran
// again after the migration) is an error naming both; nothing is dropped.
func TestMigrateConflict(t *testing.T) {
	dir := t.TempDir()
	writeStateDB(t, dir, map[string]string{"pg": "old"})
	db := openT(t, dir)
	if err := db.SetCheckpoint("pg", []byte("new")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	writeStateDB(t, dir, map[string]string{"pg": "older binary"})
	_, err := Open(dir, Options{})
	old, store := filepath.Join(dir, "state.db"), filepath.Join(dir, "store")
	want := "store: " + old + " (the checkpoints of an older sluice) and " + store + ` both hold checkpoints, and they differ (source "pg"): remove ` + old + " to keep the store's, or remove " + store + " to import the older file"
	if err == nil || err.Error() != want {
		t.Fatalf("Open: %v\nwant %s", err, want)
	}
	if !exists(t, old) {
		t.Fatal("state.db renamed after a conflict")
	}
}

// A state.db another process holds: state.Open's error comes through.
func TestMigrateStateDBLocked(t *testing.T) {
	dir := t.TempDir()
	writeStateDB(t, dir, map[string]string{"pg": "1"})
	st, err := state.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "store: import the checkpoints of "+filepath.Join(dir, "state.db")+": state: ") ||
		!strings.Contains(err.Error(), "is locked by another sluice process") {
		t.Fatalf("Open: %v", err)
	}
}

// openBare opens the Pebble store without the migration, as the first steps
// of Open do before a crash.
func openBare(t *testing.T, dir string) *DB {
	t.Helper()
	lock, err := lockDir(vfs.Default, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{fs: vfs.Default, dir: dir, path: filepath.Join(dir, StoreDirName), lock: lock, clock: time.Now, limits: defaultLimits}
	db.mu.states = map[string]*opState{}
	opts := Options{MemTableSize: defaultMemTableSize, CacheSize: defaultCacheSize, fs: vfs.Default}
	opts.Logger = slogDiscard()
	tmp := db.path + ".tmp"
	if !exists(t, db.path) {
		if err := db.create(tmp, opts); err != nil {
			t.Fatal(err)
		}
	}
	po := db.pebbleOptions(opts)
	po.ErrorIfNotExists = true
	db.pdb, err = pebbleOpen(db.path, po)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestOptionsCacheBelowMemtables(t *testing.T) {
	_, err := Open(t.TempDir(), Options{MemTableSize: 8 << 20, CacheSize: 16 << 20})
	want := "store: cache size 16777216 must exceed twice the memtable size 8388608 by 4 MiB at least: Pebble reserves the memtables inside the cache"
	if err == nil || err.Error() != want {
		t.Fatalf("Open: %v", err)
	}
}
