package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// progress draws one line per reporting source on a terminal, every
// interval, until ctx ends: a bar for work with a known total, a rate
// otherwise.
func progress(ctx context.Context, w io.Writer, names []string, reps []component.ProgressReporter, interval time.Duration) {
	if len(reps) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := make([]int64, len(reps))
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
			var b strings.Builder
			dt := now.Sub(lastT).Seconds()
			lastT = now
			for i, r := range reps {
				p := r.Progress()
				rate := float64(max(p.Done-last[i], 0)) / dt // Done restarts with each phase
				last[i] = p.Done
				if i > 0 {
					b.WriteString("  ")
				}
				b.WriteString(bar(names[i], p, rate))
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
