package sourcetest

import (
	"context"
	"sync"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Batch is one Emit the recorder accepted.
type Batch struct {
	Events     []event.Event
	Checkpoint []byte
}

// recorder is the suite's component.Emitter. It plays the engine: it keeps
// every accepted batch, acknowledges batches in order (at once, or lag
// batches late, as sinks still writing would), and its committed checkpoint
// is the newest one carried by an acknowledged batch, which a committer
// goroutine reports to the source's Committed, as the engine does. It can
// hold Emit (a full in-flight window: back-pressure) and crash: refuse a
// batch, cancel the run and refuse every later Emit, as a process that dies
// would; the next run then starts from the committed checkpoint. Hold
// blocks batches of events only: a checkpoint alone (MongoDB's start point,
// emitted before the export reads anything) holds no data, and a source
// blocked there has not read the rows whose memory the suite measures.
type recorder struct {
	lag int // acknowledge batch i once batch i+lag is accepted
	// crash, when set, is asked about every batch before it is accepted;
	// true crashes the run there (the batch is lost).
	crash func(accepted int, b Batch) bool

	mu struct {
		sync.Mutex
		batches   []Batch
		events    int // events in batches
		acked     int // batches acknowledged, a prefix
		committed int // batches covered by the committed checkpoint (it rides on batch committed-1); 0: none
		hold      bool
		noAck     bool // acknowledge nothing (sinks still writing) until setAckHold(false)
		// holdAfter, when set, is asked about every accepted batch; true
		// holds the next Emit of events, as setHold(true) does, and
		// clears it (see setHoldAfter).
		holdAfter func(b Batch) bool
		heldAfter bool // holdAfter said true
		waiting   int  // Emit calls blocked by hold (each with events)
		crashed   bool
		returned  bool               // Run returned: an Emit now is a contract violation
		late      int                // Emit calls after Run returned
		cancel    context.CancelFunc // the run's; set by start
	}
	cond *sync.Cond
	wake chan struct{} // the committer's: the committed checkpoint moved
}

func newRecorder(lag int) *recorder {
	r := &recorder{lag: lag, wake: make(chan struct{}, 1)}
	r.cond = sync.NewCond(&r.mu.Mutex)
	return r
}

var _ component.Emitter = (*recorder)(nil)

// Emit implements component.Emitter.
func (r *recorder) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.returned {
		r.mu.late++
		return component.ErrStopped
	}
	for r.mu.hold && len(evs) > 0 && !r.mu.crashed && ctx.Err() == nil {
		r.mu.waiting++
		r.cond.Wait()
		r.mu.waiting--
	}
	if r.mu.crashed {
		return component.ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b := Batch{Events: evs, Checkpoint: cp}
	if r.crash != nil && r.crash(r.mu.events, b) {
		r.mu.crashed = true
		if r.mu.cancel != nil {
			r.mu.cancel()
		}
		r.cond.Broadcast()
		return component.ErrStopped
	}
	r.mu.batches = append(r.mu.batches, b)
	r.mu.events += len(evs)
	r.ack()
	if r.mu.holdAfter != nil && r.mu.holdAfter(b) {
		r.mu.hold, r.mu.holdAfter, r.mu.heldAfter = true, nil, true
	}
	r.cond.Broadcast()
	return nil
}

// ack acknowledges the batches lag or more behind the newest (none while
// acknowledgements are held) and moves the committed checkpoint. r.mu is
// held.
func (r *recorder) ack() {
	if r.mu.noAck {
		return
	}
	if acked := len(r.mu.batches) - r.lag; acked > r.mu.acked {
		r.mu.acked = acked
		for i := acked - 1; i >= r.mu.committed; i-- {
			if r.mu.batches[i].Checkpoint != nil {
				r.mu.committed = i + 1
				select {
				case r.wake <- struct{}{}:
				default:
				}
				break
			}
		}
	}
}

// setHoldAfter holds Emit after the first accepted batch f says true of
// (f runs under the recorder's lock).
func (r *recorder) setHoldAfter(f func(b Batch) bool) {
	r.mu.Lock()
	r.mu.holdAfter, r.mu.heldAfter = f, false
	r.mu.Unlock()
}

// heldAfterBatch reports whether the setHoldAfter condition was met.
func (r *recorder) heldAfterBatch() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.heldAfter
}

// setAckHold stops acknowledging batches (true), as sinks that take long to
// write would, or acknowledges what was held and goes on (false).
func (r *recorder) setAckHold(h bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.noAck = h
	r.ack()
}

// runReturned records that Run has returned.
func (r *recorder) runReturned() {
	r.mu.Lock()
	r.mu.returned = true
	r.mu.Unlock()
}

// late is the number of Emit calls after Run returned.
func (r *recorder) late() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.late
}

// setHold makes Emit of events block (true) or lets blocked and later
// Emits through.
func (r *recorder) setHold(h bool) {
	r.mu.Lock()
	r.mu.hold = h
	r.cond.Broadcast()
	r.mu.Unlock()
}

// waiting is the number of Emit calls blocked by hold.
func (r *recorder) waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.waiting
}

func (r *recorder) crashed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.crashed
}

// batches returns the accepted batches.
func (r *recorder) batches() []Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Batch(nil), r.mu.batches...)
}

// events returns the accepted events from index from on.
func (r *recorder) events(from int) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	n := 0
	for _, b := range r.mu.batches {
		if n+len(b.Events) > from {
			lo := max(from-n, 0)
			out = append(out, b.Events[lo:]...)
		}
		n += len(b.Events)
	}
	return out
}

// count is the number of accepted events.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.events
}

// committed returns the committed checkpoint (nil: none) and the events it
// covers: what sinks hold durably when the run ends now.
func (r *recorder) committed() ([]byte, []event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.committed == 0 {
		return nil, nil
	}
	var evs []event.Event
	for _, b := range r.mu.batches[:r.mu.committed] {
		evs = append(evs, b.Events...)
	}
	return r.mu.batches[r.mu.committed-1].Checkpoint, evs
}

// newestCommitted is the committed checkpoint, for the committer.
func (r *recorder) newestCommitted() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.committed == 0 {
		return nil
	}
	return r.mu.batches[r.mu.committed-1].Checkpoint
}
