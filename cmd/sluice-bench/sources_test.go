package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The binlog phase starts every timed run from a copy of the state after
// the empty snapshot; the store is a directory, so a copy of the top-level
// files alone held no checkpoint and each run took a new snapshot instead
// of draining the binlog (the phase then waited for changes that never
// came).
func TestCopyFilesCopiesSubdirectories(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	files := map[string]string{"store.lock": "", "store/000001.log": "wal", "store/sub/MANIFEST": "m"}
	for name, data := range files {
		p := filepath.Join(from, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFiles(from, to); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(to, name))
		if err != nil || string(got) != data {
			t.Errorf("%s: %q, %v; want %q", name, got, err, data)
		}
	}
}
