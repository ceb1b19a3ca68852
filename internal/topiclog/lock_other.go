//go:build !unix

package topiclog

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens the lock file; without flock, nothing keeps a second
// process out.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	return f, nil
}
