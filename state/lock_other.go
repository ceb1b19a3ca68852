//go:build windows || plan9 || solaris || aix || android

package state

import (
	"errors"
	"os"
	"time"
)

// errLocked means another process holds the file's lock.
var errLocked = errors.New("locked")

// lock does nothing here: bbolt takes the file's lock itself when it opens
// it (the file is then checked before it is locked).
func lock(*os.File, time.Duration) error { return nil }
