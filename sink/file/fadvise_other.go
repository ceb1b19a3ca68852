//go:build !linux

package file

import "os"

// fadviseDontNeed does nothing where posix_fadvise is not used.
func fadviseDontNeed(*os.File, int64, int64) {}
