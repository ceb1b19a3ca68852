package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// Progress draws one line per reporting source on a terminal, every half
// second, for the pipelines added to it: a bar for work with a known total,
// a rate otherwise. With several pipelines, sources are named
// pipeline/source.
type Progress struct {
	w    io.Writer
	stop context.CancelFunc
	done chan struct{}

	mu struct {
		sync.Mutex
		pipes []*Pipeline
	}
}

// NewProgress starts drawing on w.
func NewProgress(w io.Writer) *Progress {
	ctx, stop := context.WithCancel(context.Background())
	p := &Progress{w: w, stop: stop, done: make(chan struct{})}
	go func() { defer close(p.done); drawProgress(ctx, w, p.reporters, 500*time.Millisecond) }()
	return p
}

// Add draws pl's sources from now on.
func (p *Progress) Add(pl *Pipeline) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.pipes = append(p.mu.pipes, pl)
}

// Remove stops drawing pl's sources.
func (p *Progress) Remove(pl *Pipeline) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.mu.pipes {
		if q == pl {
			p.mu.pipes = append(p.mu.pipes[:i], p.mu.pipes[i+1:]...)
			break
		}
	}
}

// Close stops drawing and ends the line.
func (p *Progress) Close() {
	p.stop()
	<-p.done
}

func (p *Progress) reporters() []Reporter {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Reporter
	for _, pl := range p.mu.pipes {
		for _, r := range pl.Progress {
			if len(p.mu.pipes) > 1 {
				r.Name = pl.Graph.Name + "/" + r.Name
			}
			out = append(out, r)
		}
	}
	return out
}

// progress draws reps until ctx ends (one pipeline's Run).
func progress(ctx context.Context, w io.Writer, reps []Reporter) {
	drawProgress(ctx, w, func() []Reporter { return reps }, 500*time.Millisecond)
}

// drawProgress draws the reporters that list returns, every interval,
// until ctx ends.
func drawProgress(ctx context.Context, w io.Writer, list func() []Reporter, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := map[string]int64{}
	lastT := time.Now()
	drawn := 0
	for {
		select {
		case <-ctx.Done():
			if drawn > 0 {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			reps := list()
			if len(reps) == 0 {
				continue
			}
			var b strings.Builder
			dt := now.Sub(lastT).Seconds()
			lastT = now
			for i, r := range reps {
				p := r.Progress()
				rate := float64(max(p.Done-last[r.Name], 0)) / dt // Done restarts with each phase
				last[r.Name] = p.Done
				if i > 0 {
					b.WriteString("  ")
				}
				b.WriteString(bar(r.Name, p, rate))
			}
			line := b.String()
			fmt.Fprintf(w, "\r%-*s", drawn, line)
			drawn = len(line)
		}
	}
}

func bar(name string, p component.Progress, rate float64) string {
	if p.Total > 0 && p.Phase == "snapshot" {
		frac := min(float64(p.Done)/float64(p.Total), 1)
		const width = 20
		full := int(frac * width)
		return fmt.Sprintf("%s %s [%s%s] %3.0f%% %d/%d rows %s/s", name, p.Phase,
			strings.Repeat("█", full), strings.Repeat("░", width-full), frac*100, p.Done, p.Total, human(rate))
	}
	return fmt.Sprintf("%s %s %d events %s/s", name, p.Phase, p.Done, human(rate))
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
