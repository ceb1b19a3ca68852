package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	Synced = func(d string) { synced = append(synced, d) }
	t.Cleanup(func() { Synced = nil })
	p := filepath.Join(dir, "state.json")
	for _, body := range []string{"one\n", "two\n"} {
		if err := WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != body {
			t.Fatalf("%s holds %q %v, want %q", p, b, err, body)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if len(synced) != 2 || synced[0] != dir {
		t.Errorf("directories fsynced: %v, want %s twice", synced, dir)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); !os.IsNotExist(err) {
		t.Errorf("in a missing directory: %v, want not exist", err)
	}
}
