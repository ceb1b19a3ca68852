// Package durable holds the file-system steps that make a write survive a
// power loss, shared by the sinks that keep local files: a new directory
// or file name is durable only once its parent directory is fsynced.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Synced, when set (tests), is told of every directory SyncDir fsynced.
var Synced func(dir string)

// SyncDir fsyncs a directory, making the names created or renamed in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	if Synced != nil {
		Synced(dir)
	}
	return nil
}

// MkdirAll creates dir and its missing parents, fsyncing each parent after
// creating a directory in it.
func MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return SyncDir(parent)
}

// WriteFile replaces the file at path with data so that after a crash or
// a power loss the file holds either the old contents or data, never a
// mix: data goes to path+".tmp", which is fsynced and renamed over path,
// then the directory is fsynced. The directory must exist.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}
