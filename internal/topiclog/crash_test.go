package topiclog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child of TestCrash: it appends batches of 3 records to topic t of
// the log in $TOPICLOG_CRASH_DIR (segments of 1 KiB, so appends roll
// segments), printing "ack <end offset>" after each append returns. With
// $TOPICLOG_CRASH_STEP = step:n it prints "at <step>" at the n-th time an
// append reaches that step (testHook) and waits there to be killed; step
// "torn" is "write" after half of the append's first record is written
// (a write that the crash cut short).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("TOPICLOG_CRASH_DIR")
	if dir == "" {
		t.Skip("the child of TestCrash")
	}
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	var tp *Topic
	if at := os.Getenv("TOPICLOG_CRASH_STEP"); at != "" {
		step, n, _ := strings.Cut(at, ":")
		left, _ := strconv.Atoi(n)
		torn := step == "torn"
		if torn {
			step = "write"
		}
		testHook = func(s string) error {
			if s == step {
				if left--; left == 0 {
					if torn {
						_, end, _ := tp.Offsets()
						r := rec(int(end), 100)
						b, _ := appendRecord(nil, nil, &r, end, r.Timestamp)
						if _, err := tp.w.f.Write(b[:len(b)/2]); err != nil {
							say("error %v", err)
						}
					}
					say("at %s", s)
					select {} // until killed
				}
			}
			return nil
		}
	}
	l, err := Open(dir, Options{})
	if err != nil {
		say("error %v", err)
		return
	}
	tp, err = l.CreateTopic("t", TopicConfig{SegmentBytes: 1024})
	if err != nil {
		say("error %v", err)
		return
	}
	_, end, _ := tp.Offsets()
	for {
		if _, err := tp.Append(recs(int(end), 3, 100)); err != nil {
			say("error %v", err)
			return
		}
		end += 3
		say("ack %d", end)
	}
}

// crashChild runs the child until it prints "at" (step given) or its
// acks'th ack, kills it with SIGKILL there and returns the last end offset
// it acknowledged (-1 if none).
func crashChild(t *testing.T, dir, step string, acks int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOPICLOG_CRASH_DIR="+dir, "TOPICLOG_CRASH_STEP="+step)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(stdout)
	acked := int64(-1)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ack "):
			acked, _ = strconv.ParseInt(line[4:], 10, 64)
			if n++; step == "" && n == acks {
				cmd.Process.Signal(syscall.SIGKILL)
			}
			continue
		case strings.HasPrefix(line, "at "):
			cmd.Process.Signal(syscall.SIGKILL)
			continue
		}
		if strings.HasPrefix(line, "error ") {
			t.Fatalf("child: %s", line)
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v", err)
	}
	return acked
}

// A process killed in the middle of appends — before a write, between the
// write and its fsync, right after the fsync, before a new segment file —
// — or in the middle of a write (half a record written) —
// leaves a log that opens without error and holds every acknowledged
// record, then at most the batch in flight (a prefix of it), in order;
// appends go on from there. Each kill comes after earlier kills, so the
// log is reopened after crashes many times.
func TestCrash(t *testing.T) {
	if os.Getenv("TOPICLOG_CRASH_DIR") != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	var acked int64
	check := func(what string) {
		t.Helper()
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer l.Close()
		tp, err := l.Topic("t")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := readAllErr(tp, 0)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		end := int64(len(got))
		if end < acked || end > acked+3 {
			t.Fatalf("%s: %d records after %d acknowledged (3 at most in flight)", what, end, acked)
		}
		checkRecords(t, got, 0, int(end), 100)
		acked = end // the next child goes on from here
	}
	steps := []string{"write:1", "sync:1", "synced:1", "roll:1", "write:5", "sync:4", "roll:2", "synced:7", "torn:1", "torn:3", "torn:4"}
	for _, step := range steps {
		if a := crashChild(t, dir, step, 0); a >= 0 {
			if a < acked {
				t.Fatalf("%s: the child acknowledged up to %d, below %d", step, a, acked)
			}
			acked = a
		}
		check("killed at " + step)
	}
	for _, n := range []int{1, 3, 10} {
		acked = crashChild(t, dir, "", n)
		check(fmt.Sprintf("killed after %d acks", n))
	}
}

// An append that fails — at its write, its fsync, or creating the next
// segment — is never seen by readers, returns the error, and is undone:
// the next append goes on at the same offset, and a restart finds exactly
// the acknowledged records.
func TestFailedAppend(t *testing.T) {
	for _, step := range []string{"write", "sync", "synced", "roll"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			tp := create(t, l, "t", smallTopic(1024))
			appendT(t, tp, recs(0, 3, 100))
			boom := errors.New("disk on fire")
			testHook = func(s string) error {
				if s == step {
					return boom
				}
				return nil
			}
			// 10 records span segments, so "roll" is reached too.
			_, err := tp.Append(recs(3, 10, 100))
			testHook = nil
			t.Cleanup(func() { testHook = nil })
			if !errors.Is(err, boom) {
				t.Fatalf("append: %v", err)
			}
			if _, end, _ := tp.Offsets(); end != 3 {
				t.Fatalf("end offset %d after a failed append, want 3", end)
			}
			checkRecords(t, readAll(t, tp, 0), 0, 3, 100)
			if first := appendT(t, tp, recs(3, 10, 100)); first != 3 {
				t.Fatalf("the next append starts at %d, want 3", first)
			}
			checkRecords(t, readAll(t, tp, 0), 0, 13, 100)
			l = reopen(t, l, Options{})
			tp, err = l.Topic("t")
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, readAll(t, tp, 0), 0, 13, 100)
		})
	}
}
