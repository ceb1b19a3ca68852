//go:build !linux

package file

import (
	"os"
	"time"
)

// created returns the file's modification time, the latest it can have
// been created (the birth time is read on Linux only).
func created(path string, fi os.FileInfo) time.Time { return fi.ModTime() }
