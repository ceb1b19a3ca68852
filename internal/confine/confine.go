// Package confine opens files either anywhere or only inside a directory,
// for components whose paths may come from an untrusted party (a connector
// config sent to `sluice serve`): inside a root, neither "..", an absolute
// symlink nor a relative one can lead out of it (os.Root, which resolves
// every component of the name itself), so checking a path when the config
// is accepted and opening it later leaves no window for a swapped symlink.
package confine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Rel returns name relative to root, for a name given either relative to
// root or as an absolute path inside it. It fails for an absolute name
// outside root and for a relative one that climbs out of it with "..";
// symlinks are not looked at here (OpenFile refuses those that lead out).
func Rel(root, name string) (string, error) {
	if root == "" {
		return name, nil
	}
	rel := name
	if filepath.IsAbs(name) {
		r, err := filepath.Rel(filepath.Clean(root), filepath.Clean(name))
		if err != nil {
			return "", fmt.Errorf("%s is not inside %s", name, root)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s is not inside %s", name, root)
	}
	return rel, nil
}

// OpenFile opens name as os.OpenFile does; with a root, only inside it
// (see Rel), and a symlink that leads out of root fails to open.
func OpenFile(root, name string, flag int, perm os.FileMode) (*os.File, error) {
	if root == "" {
		return os.OpenFile(name, flag, perm)
	}
	rel, err := Rel(root, name)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.OpenFile(rel, flag, perm)
}

// SyncDir fsyncs the directory that holds name, making a file newly
// created there durable; with a root, only inside it.
func SyncDir(root, name string) error {
	dir := filepath.Dir(name)
	var d *os.File
	var err error
	if root == "" {
		d, err = os.Open(dir)
	} else {
		var rel string
		if rel, err = Rel(root, name); err != nil {
			return err
		}
		d, err = OpenFile(root, filepath.Dir(rel), os.O_RDONLY, 0)
	}
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
