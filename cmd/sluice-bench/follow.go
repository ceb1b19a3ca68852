package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// follower reads a growing file incrementally: each poll reads only the
// bytes appended since the last one, counts newlines, and hands complete
// lines to onLine when it is set. It is owned by one goroutine.
type follower struct {
	path    string
	onLine  func(line []byte, seen time.Time) // optional
	f       *os.File
	off     int64
	lines   int64
	buf     []byte
	partial []byte // an incomplete last line, kept only when onLine is set
}

func newFollower(path string, onLine func([]byte, time.Time)) *follower {
	return &follower{path: path, onLine: onLine, buf: make([]byte, 1<<20)}
}

// poll reads what was appended since the last poll. A file that does not
// exist yet is not an error.
func (fl *follower) poll() error {
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		fl.f = f
	}
	for {
		n, err := fl.f.ReadAt(fl.buf, fl.off)
		if n > 0 {
			chunk := fl.buf[:n]
			fl.off += int64(n)
			fl.lines += int64(bytes.Count(chunk, []byte{'\n'}))
			if fl.onLine != nil {
				fl.split(chunk, time.Now())
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if n < len(fl.buf) {
			return nil
		}
	}
}

func (fl *follower) split(chunk []byte, seen time.Time) {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			fl.partial = append(fl.partial, chunk...)
			return
		}
		if len(fl.partial) > 0 {
			fl.partial = append(fl.partial, chunk[:i]...)
			fl.onLine(fl.partial, seen)
			fl.partial = fl.partial[:0]
		} else {
			fl.onLine(chunk[:i], seen)
		}
		chunk = chunk[i+1:]
	}
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
	}
}

// waitLines polls path every interval until it holds at least n lines and
// returns the time that was first observed. It fails when the deadline
// passes, ctx ends, or c exits first.
func waitLines(ctx context.Context, path string, n int64, interval, deadline time.Duration, c *child) (time.Time, error) {
	fl := newFollower(path, nil)
	defer fl.close()
	end := time.Now().Add(deadline)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fl.poll(); err != nil {
			return time.Time{}, err
		}
		if fl.lines >= n {
			return time.Now(), nil
		}
		if c != nil && c.exitedEarly() {
			// One last look: the file may have been completed just before exit.
			if err := fl.poll(); err == nil && fl.lines >= n {
				return time.Now(), nil
			}
			return time.Time{}, fmt.Errorf("%s %w (status %v) with %d of %d lines in %s", c.name, errExited, c.err, fl.lines, n, path)
		}
		if time.Now().After(end) {
			return time.Time{}, fmt.Errorf("timed out after %s with %d of %d lines in %s", deadline, fl.lines, n, path)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-t.C:
		}
	}
}

// countLines counts the newlines in a finished file.
func countLines(path string) (int64, error) {
	fl := newFollower(path, nil)
	defer fl.close()
	err := fl.poll()
	return fl.lines, err
}

// checkLines reports a file that does not hold exactly want lines after
// the writer stopped: more means duplicates, and the rate would be off.
func (b *bench) checkLines(path string, want int64) {
	n, err := countLines(path)
	if err != nil {
		b.rep.problem("counting lines of %s: %v", path, err)
	} else if n != want {
		b.rep.problem("%s holds %d lines after sluice stopped, want exactly %d", path, n, want)
	}
}
