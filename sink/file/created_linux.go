//go:build linux

package file

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// created returns when the file at path was created: its birth time where
// the file system records one (ext4, xfs, btrfs, tmpfs on Linux 4.11+),
// else its modification time, the latest it can have been created.
func created(path string, fi os.FileInfo) time.Time {
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BTIME, &st) == nil && st.Mask&unix.STATX_BTIME != 0 {
		return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
	}
	return fi.ModTime()
}
