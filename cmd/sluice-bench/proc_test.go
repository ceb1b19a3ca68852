package main

import (
	"os"
	"os/exec"
	"testing"
)

// A /proc/PID/status of a running sluice (Linux 6.18), cut to the lines
// around the fields the sampler reads.
const statusText = `Name:	sluice
Umask:	0022
State:	S (sleeping)
VmPeak:	 2156020 kB
VmSize:	 2156020 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	   73796 kB
VmRSS:	   73796 kB
RssAnon:	    6576 kB
RssFile:	   67220 kB
RssShmem:	       0 kB
VmData:	   95008 kB
Threads:	9
`

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want procStatus
	}{
		{"sluice", statusText, procStatus{hwm: 73796 * 1024, anon: 6576 * 1024}},
		{"empty", "", procStatus{}},
		// A kernel thread has neither field.
		{"kernel thread", "Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n", procStatus{}},
		// Fields that only start like the ones read are not taken.
		{"prefixes", "VmHWMx:\t5 kB\nRssAnonymous:\t7 kB\nVmHWM:\t9 kB\n", procStatus{hwm: 9 * 1024}},
		// No unit, not a number, negative: 0, never a guess.
		{"malformed", "VmHWM:\t12\nRssAnon:\tmany kB\n", procStatus{}},
		{"negative", "RssAnon:\t-3 kB\n", procStatus{}},
		{"no final newline", "RssAnon:\t  42 kB", procStatus{anon: 42 * 1024}},
	} {
		if got := parseStatus(tc.in); got != tc.want {
			t.Errorf("%s: parseStatus = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestChildSamplesAnon checks that a started child's RssAnon peak comes
// from its own /proc/PID/status while it runs and survives its exit (the
// status file is gone then). VmHWM is not compared with it: the kernel
// sums the counters behind VmHWM approximately, and for a process as small
// as sleep(1) it can read below RssAnon.
func TestChildSamplesAnon(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	p := newProcs()
	defer p.killAll()
	c, err := p.start(sleep, nil, "", nil, "30")
	if err != nil {
		t.Fatal(err)
	}
	anon := c.anonPeak()
	if anon <= 0 || anon > 64<<20 {
		t.Fatalf("running sleep: peak RssAnon %d bytes, want more than 0 and less than 64 MiB (its own, not the test's)", anon)
	}
	c.kill()
	if got := c.anonPeak(); got < anon {
		t.Fatalf("peak RssAnon after exit = %d, want at least the %d read while it ran", got, anon)
	}
}
