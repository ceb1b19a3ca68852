package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPeakHeapKeepsTheLargestHeap: the profile written is the one taken
// while 32 MiB were held, not the one of the drained heap at exit.
func TestPeakHeapKeepsTheLargestHeap(t *testing.T) {
	// The sampling goroutine's part, driven by hand.
	p := &peakHeap{stop: make(chan struct{}), done: make(chan struct{})}
	close(p.done)
	big := make([][]byte, 32)
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	p.sample()
	runtime.KeepAlive(big)
	big = nil
	runtime.GC()
	path := filepath.Join(t.TempDir(), "heap.pprof")
	var log bytes.Buffer
	if err := p.write(path, &log); err != nil {
		t.Fatal(err)
	}
	if p.peak < 32<<20 {
		t.Fatalf("peak %d bytes, want at least the 32 MiB held", p.peak)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s is not a gzipped pprof profile (%d bytes)", path, len(b))
	}
	if want := "sluice: --memprofile: heap profile at the peak ("; !strings.HasPrefix(log.String(), want) || !strings.Contains(log.String(), path) {
		t.Fatalf("log line %q, want it to start with %q and name %s", log.String(), want, path)
	}
}
