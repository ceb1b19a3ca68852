package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// peakHeap keeps the heap profile taken when the Go heap was largest, for
// --memprofile: a profile taken at exit shows a drained pipeline, while the
// question is what holds memory at the peak (peak RSS is the figure issue 15
// bounds). The heap is sampled every period; a profile is taken when the
// heap's objects exceed the largest seen by more than 5 %. A heap profile
// describes the heap as of the last completed GC cycle, so it lags the
// sample by at most one cycle.
type peakHeap struct {
	stop    chan struct{}
	done    chan struct{}
	peak    uint64 // bytes of heap objects at the kept profile; owned by run until done
	profile []byte // owned by run until done
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func startPeakHeap(period time.Duration) *peakHeap {
	p := &peakHeap{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(period)
	return p
}

func (p *peakHeap) run(period time.Duration) {
	defer close(p.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		p.sample()
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// sample takes a profile when the heap is 5 % above the kept one's.
func (p *peakHeap) sample() {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if v := s[0].Value.Uint64(); v > p.peak+p.peak/20 {
		var b bytes.Buffer
		if err := pprof.Lookup("heap").WriteTo(&b, 0); err == nil {
			p.peak, p.profile = v, b.Bytes()
		}
	}
}

// write stops sampling and writes the peak's profile to path; log gets one
// line with the peak and the process's totals, for the report beside it.
func (p *peakHeap) write(path string, log io.Writer) error {
	close(p.stop)
	<-p.done
	p.sample()
	if err := os.WriteFile(path, p.profile, 0o644); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(log, "sluice: --memprofile: heap profile at the peak (%.1f MB of heap objects) written to %s; largest heap from the OS %.1f MB, %d GC cycles, %.1f MB allocated in all\n",
		float64(p.peak)/1e6, path, float64(ms.HeapSys)/1e6, ms.NumGC, float64(ms.TotalAlloc)/1e6)
	return nil
}
