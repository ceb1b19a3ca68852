package sinktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// writes is what every sink of one destination was given, as the suite
// or the engine called Write: the events in order (retries and replays
// included) and every call's outcome.
type writes struct {
	mu    sync.Mutex
	evs   []event.Event
	calls []*call
}

// call is one Write.
type call struct {
	start, end time.Time // end is zero while it runs
	n          int
	err        error
}

func (w *writes) begin(evs []event.Event) *call {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evs = append(w.evs, evs...)
	c := &call{start: time.Now(), n: len(evs)}
	w.calls = append(w.calls, c)
	return c
}

func (w *writes) finish(c *call, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.end, c.err = time.Now(), err
}

// events returns every event given to Write so far.
func (w *writes) events() []event.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]event.Event(nil), w.evs...)
}

// count returns the number of Write calls and of those that failed.
func (w *writes) count() (calls, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.calls {
		if c.err != nil {
			failed++
		}
	}
	return len(w.calls), failed
}

// hit reports whether a Write that began at or after from failed, or ran
// for at least long (or still runs that long): the sink noticed that its
// destination was gone.
func (w *writes) hit(from time.Time, long time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for _, c := range w.calls {
		if c.start.Before(from) {
			continue
		}
		switch {
		case !c.end.IsZero() && c.err != nil:
			return true
		case c.end.IsZero() && now.Sub(c.start) >= long:
			return true
		case !c.end.IsZero() && c.end.Sub(c.start) >= long:
			return true
		}
	}
	return false
}

// checked wraps a sink: it records every Write in writes and checks the
// contract on every result (component.RecordErrors' indexes, no secret in
// any error).
type checked struct {
	t       *testing.T
	name    string
	s       component.Sink
	w       *writes
	secrets []string
}

func (c *checked) Write(ctx context.Context, evs []event.Event) error {
	cl := c.w.begin(evs)
	err := c.s.Write(ctx, evs)
	c.w.finish(cl, err)
	if err == nil {
		return nil
	}
	c.checkSecret("Write", err)
	var re component.RecordErrors
	if errors.As(err, &re) {
		for _, p := range recordErrorProblems(len(evs), re) {
			c.t.Errorf("%s: Write of %d events returned RecordErrors that break the contract: %s (%v)", c.name, len(evs), p, err)
		}
	}
	return err
}

// checkedConn is checked for a sink with a connect step
// (component.Connector), which the engine runs before the first Write.
type checkedConn struct{ *checked }

var _ component.Connector = checkedConn{}

func (c checkedConn) Connect(ctx context.Context) error {
	err := c.s.(component.Connector).Connect(ctx)
	if err != nil {
		c.checkSecret("Connect", err)
	}
	return err
}

// wrap returns c as a component.Sink, with Connect when the sink has it.
func (c *checked) wrap() component.Sink {
	if _, ok := c.s.(component.Connector); ok {
		return checkedConn{c}
	}
	return c
}

func (c *checked) Close(ctx context.Context) error {
	err := c.s.Close(ctx)
	if err != nil {
		c.checkSecret("Close", err)
	}
	return err
}

func (c *checked) checkSecret(what string, err error) {
	for _, s := range c.secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			c.t.Errorf("%s: %s's error holds the secret (the configured password): %s", c.name, what, strings.ReplaceAll(err.Error(), s, "<secret>"))
		}
	}
}

// recordErrorProblems checks component.RecordErrors against the contract:
// at least one entry, each naming an event of the Write (0 ≤ Index < n)
// with a reason, in strictly ascending index order.
func recordErrorProblems(n int, re component.RecordErrors) []string {
	var out []string
	if len(re) == 0 {
		out = append(out, "no entry (a Write that rejected nothing returns nil)")
	}
	for i, r := range re {
		if r.Index < 0 || r.Index >= n {
			out = append(out, fmt.Sprintf("index %d is out of range: the Write had %d events", r.Index, n))
		}
		if i > 0 && r.Index <= re[i-1].Index {
			out = append(out, fmt.Sprintf("indexes %d then %d are not strictly ascending", re[i-1].Index, r.Index))
		}
		if r.Err == nil {
			out = append(out, fmt.Sprintf("the entry of event %d has no error", r.Index))
		}
	}
	return out
}
