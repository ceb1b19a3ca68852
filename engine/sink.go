package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// sinkRunner owns one sink: it coalesces deliveries into writes, retries
// transient failures with backoff, and acknowledges after durable writes.
type sinkRunner struct {
	r    *run
	node SinkNode
	in   chan *delivery
	buf  []event.Event
}

func (s *sinkRunner) loop(ctx context.Context) {
	max := s.r.p.Options.MaxWriteEvents
	var batch []*delivery
	for d := range s.in {
		batch = append(batch[:0], d)
		n := len(d.events)
	more:
		for n < max {
			select {
			case d2, ok := <-s.in:
				if !ok {
					break more
				}
				batch = append(batch, d2)
				n += len(d2.events)
			default:
				break more
			}
		}
		events := batch[0].events
		if len(batch) > 1 {
			s.buf = s.buf[:0]
			for _, d := range batch {
				s.buf = append(s.buf, d.events...)
			}
			events = s.buf
		}
		if err := s.write(ctx, events); err != nil {
			s.r.fatal(err)
			// Keep consuming so that Emit never blocks on a dead sink; the
			// failed batches are never acknowledged, so the checkpoint stays.
			for range s.in {
			}
			return
		}
		for i, d := range batch {
			d.t.ack()
			batch[i] = nil
		}
		clear(s.buf) // drop references so written events can be collected
	}
}

// write calls Write until it succeeds, fails permanently, or ctx ends.
func (s *sinkRunner) write(ctx context.Context, events []event.Event) error {
	opt := s.r.p.Options
	backoff := opt.RetryMin
	for attempt := 1; ; attempt++ {
		err := s.node.Sink.Write(ctx, events)
		if err == nil {
			return nil
		}
		if component.IsPermanent(err) || ctx.Err() != nil {
			return fmt.Errorf("sink %s: %w", s.node.Name, err)
		}
		// Full jitter between backoff/2 and backoff.
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		s.r.log.Warn("sink write failed; retrying", "sink", s.node.Name, "attempt", attempt, "in", d.Round(time.Millisecond), "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sink %s: gave up after %d attempts at shutdown: %w", s.node.Name, attempt, err)
		}
		backoff = min(backoff*2, opt.RetryMax)
	}
}
