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
