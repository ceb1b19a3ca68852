package confine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFileStaysInsideRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "files")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(secret, []byte("canary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ok.txt"), []byte("fine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "abs-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret.txt", filepath.Join(root, "rel-link")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ok.txt", filepath.Join(root, "ok.txt")} {
		f, err := OpenFile(root, name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
	}
	for _, name := range []string{"../secret.txt", secret, "abs-link", "rel-link", filepath.Join(root, "rel-link"), "/etc/passwd"} {
		if f, err := OpenFile(root, name, os.O_RDONLY, 0); err == nil {
			f.Close()
			t.Errorf("%s opened outside the root", name)
		}
	}
	if _, err := Rel(root, secret); err == nil || err.Error() != secret+" is not inside "+root {
		t.Errorf("Rel: %v", err)
	}
	if err := SyncDir(root, "ok.txt"); err != nil {
		t.Error(err)
	}
	// Without a root it is os.OpenFile.
	f, err := OpenFile("", secret, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
