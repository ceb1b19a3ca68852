//go:build unix

package topiclog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes the log directory's lock: an exclusive flock on .lock,
// which holds this process's id for the message another process gets.
// The lock is the open file's: it goes with the process, kill -9 too.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if pid := strings.TrimSpace(string(b)); pid != "" {
				who = "process " + pid
			}
			return nil, fmt.Errorf("topic log: %s is in use by %s: one process owns a topic log directory at a time (run the pipelines that share it in one sluice process, or give each its own dir)", dir, who)
		}
		return nil, fmt.Errorf("topic log: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
