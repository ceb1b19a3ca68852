//go:build !windows && !plan9 && !solaris && !aix && !android

package state

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// errLocked means another process holds the file's lock.
var errLocked = errors.New("locked")

// lock takes the exclusive advisory lock bbolt takes (flock), waiting up
// to timeout. bbolt later locks the same descriptor again, which succeeds:
// the lock belongs to the open file, so the file is checked and opened
// under one lock, with no moment for another process to slip in.
func lock(f *os.File, timeout time.Duration) error {
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Since(start) >= timeout {
			return errLocked
		}
		time.Sleep(50 * time.Millisecond)
	}
}
