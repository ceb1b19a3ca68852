package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/store"
)

// StreamKey is the key of a pipeline's stream partition. A stream
// partition is also its own kind, so that Acquire takes exactly it even
// when pipelines share a namespace.
func StreamKey(pipeline string) string { return "stream/" + pipeline }

// Options tune a Term.
type Options struct {
	// Lease is the lease's duration; Renew how often it is renewed. The
	// holder stops writing once it could not renew for Lease - Renew.
	Lease, Renew time.Duration
	// Logger receives the term's events (acquired, renew failures, lost).
	Logger *slog.Logger
	// Now is the local clock (tests); default time.Now, whose monotonic
	// reading makes every local deadline immune to wall-clock steps.
	Now func() time.Time
	// After is time.After (tests).
	After func(time.Duration) <-chan time.Time
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
}

// progress is the stream partition's progress: the checkpoint of every
// source of the pipeline (JSON encodes the bytes in base64).
type progress struct {
	Checkpoints map[string][]byte `json:"checkpoints,omitempty"`
}

// ErrStopDeadline is the cause of a term lost because it could not renew
// before its stop deadline (the store is unreachable, or too slow).
var ErrStopDeadline = errors.New("could not renew the lease before its stop deadline")

// Term is one node's hold of a stream partition, from its acquisition to
// its loss or release. While it holds, a goroutine renews the lease every
// Renew. The stop deadline is the local (monotonic) time at which the last
// successful renewal was sent, plus Lease - Renew: the server computed the
// expiry from its now(), which is later than the send, so the deadline
// comes Renew before any other node can acquire the partition (with the
// clocks' rates equal within that margin). Past the deadline, or when the
// store says the lease is lost, Lost is closed and every later
// SetCheckpoint is refused without reaching the store; the caller stops
// its sources and aborts its sink writes on Lost.
//
// Checkpoints live in the partition's progress and are written with
// Renew, i.e. WHERE owner = me AND epoch = mine: a node that lost the
// partition can never store a checkpoint over its successor's (fencing).
type Term struct {
	ls    store.Leases
	opt   Options
	log   *slog.Logger
	epoch uint64
	what  string // "stream partition" or "chunk", for messages

	// write serialises the store writes of checkpoints, so that a later
	// checkpoint's write never lands before an earlier one's.
	write sync.Mutex

	mu struct {
		sync.Mutex
		lease    store.Lease
		cps      map[string][]byte
		deadline time.Time // local: stop writing at this time
		lostErr  error
	}
	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{} // closed by Release or at loss: the renewer exits
	stopOnce sync.Once
	done     chan struct{} // closed when the renewer has exited
}

// Acquire creates the stream partition key (of kind key) if missing and waits
// until this owner holds it (trying every Renew), or ctx ends. Then the
// term renews it in the background until Release or its loss.
func Acquire(ctx context.Context, ls store.Leases, key, owner string, opt Options) (*Term, error) {
	opt.defaults()
	waiting := false
	for {
		var l store.Lease
		var ok bool
		sent := opt.Now()
		err := ls.Create(ctx, key, []string{key})
		if err == nil {
			l, ok, err = ls.Acquire(ctx, key, owner, opt.Lease)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The store is unreachable (a node cut off waits here until
			// it is back) or refuses: retried every Renew, logged.
			opt.Logger.Warn("coordination store: acquire failed; retrying", "partition", key, "err", err)
		}
		if ok {
			t, err := newTerm(ls, l, sent, opt, "stream partition")
			if err != nil {
				ls.Release(context.WithoutCancel(ctx), l)
				return nil, err
			}
			opt.Logger.Info("acquired the stream partition", "partition", key, "epoch", l.Epoch, "lease_expires", l.Expires)
			go t.renewer()
			return t, nil
		}
		if !waiting && err == nil {
			opt.Logger.Info("waiting for the stream partition: another node holds it", "partition", key)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-opt.After(opt.Renew):
		}
	}
}

func newTerm(ls store.Leases, l store.Lease, sent time.Time, opt Options, what string) (*Term, error) {
	t := &Term{ls: ls, opt: opt, log: opt.Logger.With("partition", l.Key, "epoch", l.Epoch), epoch: l.Epoch, what: what,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	var p progress
	if len(l.Progress) > 0 {
		if err := json.Unmarshal(l.Progress, &p); err != nil {
			return nil, fmt.Errorf("coordination: the progress of partition %s does not decode (%v); remove its row to start the pipeline afresh", l.Key, err)
		}
	}
	t.mu.lease, t.mu.cps, t.mu.deadline = l, p.Checkpoints, sent.Add(opt.Lease-opt.Renew)
	if t.mu.cps == nil {
		t.mu.cps = map[string][]byte{}
	}
	return t, nil
}

// Epoch is the partition's epoch for this term: it grows with every
// acquisition, so writes carrying it can be fenced.
func (t *Term) Epoch() uint64 { return t.epoch }

// Lost is closed when the term stops holding the partition (not at
// Release).
func (t *Term) Lost() <-chan struct{} { return t.lost }

// Err says why the term was lost; nil while it holds.
func (t *Term) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.lostErr
}

func (t *Term) lose(err error) {
	t.lostOnce.Do(func() {
		t.mu.Lock()
		t.mu.lostErr = fmt.Errorf("coordination: %s %s at epoch %d: %w", t.what, t.mu.lease.Key, t.epoch, err)
		t.mu.Unlock()
		t.log.Error("lost the "+t.what+": stopping every write", "err", err)
		close(t.lost)
		t.stopOnce.Do(func() { close(t.stop) })
	})
}

// holding returns the lease and the time left before the stop deadline, or
// the loss.
func (t *Term) holding() (store.Lease, time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.lostErr != nil {
		return store.Lease{}, 0, t.mu.lostErr
	}
	left := t.mu.deadline.Sub(t.opt.Now())
	if left <= 0 {
		return store.Lease{}, 0, ErrStopDeadline
	}
	return t.mu.lease, left, nil
}

// renewed records a successful renewal sent at sent.
func (t *Term) renewed(l store.Lease, sent time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.lease = l
	if d := sent.Add(t.opt.Lease - t.opt.Renew); d.After(t.mu.deadline) {
		t.mu.deadline = d
	}
}

// renew renews once (with progress, or nil to keep it), bounded by the
// stop deadline; a lost lease loses the term.
func (t *Term) renew(progress []byte) error {
	l, left, err := t.holding()
	if err != nil {
		t.lose(err)
		return t.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	sent := t.opt.Now()
	nl, err := t.ls.Renew(ctx, l, progress, t.opt.Lease)
	switch {
	case err == nil:
		t.renewed(nl, sent)
		return nil
	case errors.Is(err, store.ErrLeaseLost):
		t.lose(err)
		return t.Err()
	}
	if _, _, herr := t.holding(); herr != nil {
		t.lose(herr)
		return t.Err()
	}
	return err
}

// renewer renews every Renew (every Renew/4 after a failure) and loses
// the term at the stop deadline.
func (t *Term) renewer() {
	defer close(t.done)
	every := t.opt.Renew
	next := t.opt.Now().Add(every)
	for {
		_, left, err := t.holding()
		if err != nil {
			t.lose(err)
			return
		}
		wait := min(next.Sub(t.opt.Now()), left)
		select {
		case <-t.stop:
			return
		case <-t.opt.After(max(wait, 0)):
		}
		if t.opt.Now().Before(next) {
			continue // woke for the deadline check: holding() decides
		}
		if err := t.renew(nil); err != nil {
			if t.Err() != nil {
				return
			}
			t.log.Warn("coordination store: renewal failed; retrying until the stop deadline", "err", err)
			next = t.opt.Now().Add(max(t.opt.Renew/4, time.Millisecond))
			continue
		}
		next = t.opt.Now().Add(every)
	}
}

// Checkpoint returns a source's checkpoint as of the acquisition (and the
// term's own writes since).
func (t *Term) Checkpoint(source string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.cps[source], nil
}

// SetCheckpoint stores a source's checkpoint in the partition's progress
// (SetCheckpoints with one).
func (t *Term) SetCheckpoint(source string, cp []byte) error {
	return t.SetCheckpoints(map[string][]byte{source: cp})
}

// SetCheckpoints stores checkpoints of several sources (a nil one removes
// the source's) in one write of the partition's progress,
// fenced by the epoch: after the term's loss it fails without reaching
// the store, and the store refuses it once another node holds the
// partition. It returns only once stored or lost (an error then).
func (t *Term) SetCheckpoints(cps map[string][]byte) error {
	t.write.Lock()
	defer t.write.Unlock()
	t.mu.Lock()
	next := maps.Clone(t.mu.cps)
	t.mu.Unlock()
	for k, v := range cps {
		if v == nil {
			delete(next, k) // a record no longer needed (a done snapshot plan)
		} else {
			next[k] = v
		}
	}
	b, err := json.Marshal(progress{Checkpoints: next})
	if err != nil {
		return err
	}
	source := strings.Join(slices.Sorted(maps.Keys(cps)), ", ")
	// A failure that is not the loss (the store unreachable for a moment)
	// is retried until the stop deadline, which ends every attempt: the
	// engine would treat an error here as a failed pipeline.
	for {
		err := t.renew(b)
		if err == nil {
			break
		}
		if t.Err() != nil {
			return fmt.Errorf("store the checkpoint of source %s: %w", source, t.Err())
		}
		t.log.Warn("coordination store: storing a checkpoint failed; retrying until the stop deadline", "source", source, "err", err)
		select {
		case <-t.lost:
		case <-t.opt.After(max(t.opt.Renew/10, time.Millisecond)):
		}
	}
	t.mu.Lock()
	t.mu.cps = next
	t.mu.Unlock()
	return nil
}

// Release stops renewing and gives the partition back at once (a graceful
// stop), so that another node need not wait for the lease to expire. After
// a loss it does nothing.
func (t *Term) Release(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	l, _, err := t.holding()
	if err != nil {
		return nil
	}
	t.lostOnce.Do(func() {
		t.mu.Lock()
		t.mu.lostErr = errors.New("coordination: released")
		t.mu.Unlock()
	})
	if err := t.ls.Release(ctx, l); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	t.log.Info("released the " + t.what)
	return nil
}

// TryAcquire takes one partition of kind (open, or whose lease expired)
// for owner, without waiting: ok is false when none is available. The
// term renews it in the background until Complete, Release or its loss,
// under the same stop deadline as a stream partition's.
func TryAcquire(ctx context.Context, ls store.Leases, kind, owner string, opt Options) (_ *Term, ok bool, err error) {
	opt.defaults()
	sent := opt.Now()
	l, ok, err := ls.Acquire(ctx, kind, owner, opt.Lease)
	if err != nil || !ok {
		return nil, false, err
	}
	t := &Term{ls: ls, opt: opt, log: opt.Logger.With("partition", l.Key, "epoch", l.Epoch), epoch: l.Epoch, what: "chunk",
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	t.mu.lease, t.mu.cps, t.mu.deadline = l, map[string][]byte{}, sent.Add(opt.Lease-opt.Renew)
	go t.renewer()
	return t, true, nil
}

// Lease is the partition as of the last acquisition or renewal.
func (t *Term) Lease() store.Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.lease
}

// SetProgress stores the partition's progress as it is (a JSON text),
// fenced by the epoch like SetCheckpoint.
func (t *Term) SetProgress(p []byte) error {
	t.write.Lock()
	defer t.write.Unlock()
	return t.renew(p)
}

// Complete stops renewing and marks the partition done with its final
// progress (nil keeps it), fenced by the epoch: ErrLeaseLost (wrapped)
// when another node took it over, or when the stop deadline has passed.
func (t *Term) Complete(ctx context.Context, p []byte) error {
	return t.finish(ctx, p, t.ls.Complete, "completed")
}

// Fail stops renewing and marks the partition failed with its final
// progress (a chunk that cannot be read as configured): no node acquires
// it again until it is reopened. Fenced like Complete.
func (t *Term) Fail(ctx context.Context, p []byte) error {
	return t.finish(ctx, p, t.ls.Fail, "failed")
}

func (t *Term) finish(ctx context.Context, p []byte, end func(context.Context, store.Lease, []byte) error, what string) error {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	l, _, err := t.holding()
	if err != nil {
		return err
	}
	if err := end(ctx, l, p); err != nil {
		return err
	}
	t.lostOnce.Do(func() {
		t.mu.Lock()
		t.mu.lostErr = errors.New("coordination: " + what)
		t.mu.Unlock()
	})
	return nil
}
