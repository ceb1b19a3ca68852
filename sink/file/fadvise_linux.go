package file

import (
	"os"

	"golang.org/x/sys/unix"
)

// fadviseDontNeed asks the kernel to drop f's clean pages in [off,
// off+n) from the page cache (n == 0: to the end of the file).
func fadviseDontNeed(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
