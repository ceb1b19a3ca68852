package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// storeFile returns the path of the store's file whose name matches glob
// (the largest, when several do).
func storeFile(t *testing.T, dir, glob string) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, StoreDirName, glob))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s in the store: %v", glob, err)
	}
	slices.SortFunc(paths, func(a, b string) int {
		sa, _ := os.Stat(a)
		sb, _ := os.Stat(b)
		return int(sb.Size() - sa.Size())
	})
	return paths[0]
}

func flipBytes(t *testing.T, path string, at float64, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := int(float64(len(b)) * at)
	for j := i; j < i+n && j < len(b); j++ {
		b[j] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// overwrite writes s into path at the start of the line at fraction at.
func overwrite(t *testing.T, path string, at float64, s string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := int(float64(len(b)) * at)
	for i > 0 && b[i-1] != '\n' {
		i--
	}
	copy(b[i:], s)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncateTo(t *testing.T, path string, at float64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(st.Size())*at)); err != nil {
		t.Fatal(err)
	}
}

// fill writes committed state, checkpoints and leases; flushed moves them
// from the WAL into sstables.
func fill(t *testing.T, dir string, flushed bool) {
	t.Helper()
	db := openT(t, dir)
	s := stateT(t, db, "agg")
	for e := uint64(1); e <= 40; e++ {
		s.Begin(e)
		for i := range 50 {
			must(t, s.Set(fmt.Appendf(nil, "key%05d", int(e)*50+i), []byte(strings.Repeat("value", 10))))
		}
		must(t, db.Commit(Commit{Checkpoints: map[string][]byte{"src": fmt.Append(nil, e)}, Processors: []string{"agg"}, Epoch: e}))
	}
	ls := db.Leases("ns")
	must(t, ls.Create(context.Background(), "chunk", []string{"a", "b"}))
	if flushed {
		must(t, db.pdb.Flush())
	}
	must(t, db.Close())
}

// readAll opens the store and reads everything in it; it returns the first
// error.
func readAll(dir string) error {
	db, err := Open(dir, Options{Logger: slogDiscard()})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Checkpoints(); err != nil {
		return err
	}
	s, err := db.State("agg")
	if err != nil {
		return err
	}
	n := 0
	if err := s.Scan(nil, nil, func(k, v []byte) bool { n++; return true }); err != nil {
		return err
	}
	if _, err := db.Leases("ns").List(context.Background(), ""); err != nil {
		return err
	}
	if n != 2000 {
		return fmt.Errorf("read %d keys, want 2000", n)
	}
	return nil
}

// Damaged files give an error that names the store and the recovery; never
// a panic, never a silent fresh start.
func TestCorruptFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flushed bool
		damage  func(t *testing.T, dir string)
	}{
		{"MANIFEST flipped", true, func(t *testing.T, dir string) { flipBytes(t, storeFile(t, dir, "MANIFEST-*"), 0.5, 8) }},
		{"MANIFEST truncated", true, func(t *testing.T, dir string) { truncateTo(t, storeFile(t, dir, "MANIFEST-*"), 0.5) }},
		{"MANIFEST removed", true, func(t *testing.T, dir string) { os.Remove(storeFile(t, dir, "MANIFEST-*")) }},
		{"manifest marker removed", true, func(t *testing.T, dir string) { os.Remove(storeFile(t, dir, "marker.manifest.*")) }},
		// The OPTIONS file is advisory: Pebble refuses it when it does not
		// parse or names another comparer; other values are not used to
		// read the data.
		{"OPTIONS garbled", true, func(t *testing.T, dir string) {
			overwrite(t, storeFile(t, dir, "OPTIONS-*"), 0.3, "\x00\xff garbage\n")
		}},
		{"OPTIONS comparer", true, func(t *testing.T, dir string) {
			p := storeFile(t, dir, "OPTIONS-*")
			b, err := os.ReadFile(p)
			must(t, err)
			must(t, os.WriteFile(p, []byte(strings.Replace(string(b), "comparer=leveldb.BytewiseComparator", "comparer=leveldb.BytewiseComparatoX", 1)), 0o644))
		}},
		{"sstable flipped", true, func(t *testing.T, dir string) { flipBytes(t, storeFile(t, dir, "*.sst"), 0.3, 16) }},
		{"sstable footer flipped", true, func(t *testing.T, dir string) { flipBytes(t, storeFile(t, dir, "*.sst"), 0.995, 16) }},
		{"sstable truncated", true, func(t *testing.T, dir string) { truncateTo(t, storeFile(t, dir, "*.sst"), 0.7) }},
		{"sstable removed", true, func(t *testing.T, dir string) { os.Remove(storeFile(t, dir, "*.sst")) }},
		{"WAL flipped in the middle", false, func(t *testing.T, dir string) { flipBytes(t, storeFile(t, dir, "*.log"), 0.3, 16) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, tc.flushed)
			tc.damage(t, dir)
			err := readAll(dir)
			if err == nil {
				t.Fatal("the damage went unnoticed")
			}
			path := filepath.Join(dir, StoreDirName)
			recovery := recoveryText(path)
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), recovery) {
				t.Fatalf("error without the store or the recovery:\n%v", err)
			}
			t.Logf("%v", err)
		})
	}
}

// A torn WAL tail is what a crash leaves: the store opens with the commits
// before it (Pebble cannot tell it from a lost unsynced write).
func TestTornWALTail(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, false)
	truncateTo(t, storeFile(t, dir, "*.log"), 0.9)
	db := openT(t, dir)
	cp, err := db.Checkpoint("src")
	must(t, err)
	s := stateT(t, db, "agg")
	count := 0
	must(t, s.Scan(nil, nil, func(k, v []byte) bool { count++; return true }))
	if want := fmt.Sprint(s.Committed()); string(cp) != want || count != int(s.Committed())*50 || s.Committed() >= 40 || s.Committed() < 30 {
		t.Fatalf("after a torn tail: checkpoint %q, committed %d, %d keys", cp, s.Committed(), count)
	}
}

// Damaged records (written here by hand) are errors naming the store.
func TestCorruptRecords(t *testing.T) {
	for _, tc := range []struct {
		name, key, val string
		read           func(db *DB) error
		want           string
	}{
		{"committed epoch", "eagg", "xx", func(db *DB) error { _, err := db.State("agg"); return err },
			"read the committed epoch of agg: committed epoch has 2 bytes, want 8"},
		{"undo record", "u\x03agg" + "\x00\x00\x00\x00\x00\x00\x00\x09" + "\x00\x00\x00\x00\x00\x00\x00\x00", "\x07", nil,
			"roll back uncommitted changes: undo record"},
		{"undo key", "u\x03ag", "", nil, "roll back uncommitted changes: undo key"},
		{"lease row", "l\x02nsa", "\x01\x05chunk", func(db *DB) error { _, err := db.Leases("ns").List(context.Background(), ""); return err },
			"list leases: lease a: lease row with a bad owner length"},
		{"layout", "mformat", "\x07", nil, "has layout version [7], this sluice reads 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openT(t, dir)
			must(t, db.pdb.Set([]byte(tc.key), []byte(tc.val), nil))
			must(t, db.Close())
			db, err := Open(dir, Options{})
			if err == nil {
				defer db.Close()
				err = tc.read(db)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, StoreDirName)) {
				t.Fatalf("got %v; want an error with %q naming the store", err, tc.want)
			}
			if tc.name != "layout" && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("not ErrCorrupt: %v", err)
			}
		})
	}
}
