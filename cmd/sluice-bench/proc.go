package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// procs owns every child process the benchmark starts, so that all of them
// can be killed on any exit path (normal end, error, signal).
type procs struct {
	mu struct {
		sync.Mutex
		live map[*child]struct{} // children not yet reaped
	}
}

func newProcs() *procs {
	p := &procs{}
	p.mu.live = make(map[*child]struct{})
	return p
}

// child is one started process. Its waiter goroutine reaps it and closes
// done; err and state are valid once done is closed.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error
	exited  time.Time
	peakHWM atomic.Int64 // the highest VmHWM sampled while it ran
	// peakAnon is the highest RssAnon sampled while it ran: private memory
	// (heap, stacks), without the file-backed pages of the binary that
	// VmHWM also counts (about 50 MB of sluice's executable are resident
	// once it started; they are shared and the kernel can drop them).
	peakAnon atomic.Int64
}

// start runs name with args; stdout goes to stdout (nil: the log file too),
// stderr to logPath (nil path: discarded). The child gets its own process
// group so that stop and killAll reach its descendants too, and dies with
// the benchmark if the benchmark is killed (Pdeathsig).
func (p *procs) start(name string, stdout io.Writer, logPath string, env []string, args ...string) (*child, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var logf *os.File
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		logf = f
		cmd.Stderr = f
		if stdout == nil {
			cmd.Stdout = f
		}
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.mu.Lock()
	p.mu.live[c] = struct{}{}
	p.mu.Unlock()
	go c.sampleHWM()
	go func() {
		c.err = cmd.Wait()
		c.exited = time.Now()
		if logf != nil {
			logf.Close()
		}
		p.mu.Lock()
		delete(p.mu.live, c)
		p.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// wait waits up to d for the child to exit on its own; on timeout it kills
// the child and returns an error.
func (c *child) wait(ctx context.Context, d time.Duration) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		c.kill()
		return ctx.Err()
	case <-time.After(d):
		c.kill()
		return fmt.Errorf("%s did not finish within %s; killed", c.name, d)
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills the
// whole process group. It returns the exit error of a clean stop.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		// Anything the child left in its group goes too.
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		return c.err
	case <-time.After(grace):
		c.kill()
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", c.name, grace)
	}
}

// kill kills the child's process group and waits for the child to be reaped.
func (c *child) kill() {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

// exitedEarly reports whether the child has already exited.
func (c *child) exitedEarly() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// sampleHWM reads the child's VmHWM and RssAnon every 10 ms while it runs:
// VmHWM only grows, so the last reading is its peak up to 10 ms before the
// exit; RssAnon has no high-water mark of its own, so its peak is the
// highest sample (a peak shorter than 10 ms can be missed).
func (c *child) sampleHWM() {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		st := c.status()
		if st.hwm > c.peakHWM.Load() {
			c.peakHWM.Store(st.hwm)
		}
		if st.anon > c.peakAnon.Load() {
			c.peakAnon.Store(st.anon)
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

// maxRSS is the child's peak resident set size in bytes (0 before exit):
// its VmHWM as sampled while it ran, else (no /proc) rusage's maxrss, which
// Go's vfork-style exec inflates with the benchmark's own memory.
func (c *child) maxRSS() int64 {
	select {
	case <-c.done:
	default:
		return 0
	}
	if h := c.peakHWM.Load(); h > 0 {
		return h
	}
	if c.cmd.ProcessState == nil {
		return 0
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}

// cpu is the child's user plus system CPU time (0 before exit). Unlike
// wall time it hardly changes when other work competes for the cores.
func (c *child) cpu() time.Duration {
	select {
	case <-c.done:
	default:
		return 0
	}
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// killAll kills every child still running and waits briefly for each.
func (p *procs) killAll() {
	p.mu.Lock()
	live := make([]*child, 0, len(p.mu.live))
	for c := range p.mu.live {
		live = append(live, c)
	}
	p.mu.Unlock()
	for _, c := range live {
		c.kill()
	}
}

// errExited says a child exited while the benchmark still waited for it.
var errExited = errors.New("exited early")

// tailFile returns the last n bytes of a log file, for error messages.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return string(b)
}

// hwm is the running child's peak resident set size in bytes (VmHWM), read
// from /proc. Unlike maxRSS it is not inflated by the parent: with Go's
// vfork-style exec, a child's rusage starts from the parent's resident
// memory, which is large once the benchmark holds pre-built requests.
func (c *child) hwm() int64 {
	return c.status().hwm
}

// anonPeak is the child's highest sampled RssAnon in bytes, a fresh reading
// included while it runs (0 without /proc).
func (c *child) anonPeak() int64 {
	if a := c.status().anon; a > c.peakAnon.Load() {
		c.peakAnon.Store(a)
	}
	return c.peakAnon.Load()
}

// procStatus is what the benchmark reads from /proc/PID/status, in bytes.
type procStatus struct {
	hwm  int64 // VmHWM: peak resident set size, file-backed pages included
	anon int64 // RssAnon: resident private (anonymous) memory now
}

// status reads the running child's /proc/PID/status (zero once it exited
// or without /proc).
func (c *child) status() procStatus {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return procStatus{}
	}
	return parseStatus(string(b))
}

// parseStatus reads VmHWM and RssAnon from the text of /proc/PID/status
// ("VmHWM:\t   73796 kB"); a field that is missing or malformed is 0.
func parseStatus(s string) procStatus {
	var st procStatus
	for line := range strings.Lines(s) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmHWM":
			dst = &st.hwm
		case "RssAnon":
			dst = &st.anon
		default:
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(rest), "kB")
		if !ok {
			continue
		}
		if kb, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64); err == nil && kb >= 0 {
			*dst = kb * 1024
		}
	}
	return st
}

// addAnon adds, after a "peak RSS" row (key rssKey), the peak RssAnon of
// the same run as a sibling row: VmHWM counts the binary's file-backed
// pages too (about 50 MB of sluice's are resident after start-up), RssAnon
// only the private memory that the process itself allocates.
func (b *bench) addAnon(sec, rssKey, label string, anon int64) {
	if anon <= 0 {
		return // not measured (no /proc)
	}
	b.rep.add(sec, strings.TrimSuffix(rssKey, "_mb")+"_anon_mb", label, mb(anon), "MB")
}
