package sourcetest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/logtest"
)

// Timeouts. Generous: the machine is shared; a wait ends as soon as its
// condition holds.
const (
	stopTimeout  = 20 * time.Second // for Run to return after cancel
	closeTimeout = 10 * time.Second // for Close
	pollEvery    = 10 * time.Millisecond
)

// running is one Run of a source in the background, with its committer.
type running struct {
	name    string // for messages: "run 2"
	src     component.Source
	rec     *recorder
	from    []byte // the checkpoint Run started from
	p       Params
	logs    *logtest.Recorder
	secrets []string
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returns
	wg      sync.WaitGroup

	mu struct {
		sync.Mutex
		result   error // Run's result once it returned
		returned bool
		errs     []commitErr // Committed errors
		// cut is when the source's connections were cut off and restored
		// (the reconnect subtest): Committed may fail meanwhile, as it
		// may have to reach the server (Kafka commits group offsets).
		cut [2]time.Time
	}
}

// start builds a source with p and runs it from checkpoint cp into rec.
func start(t *testing.T, name string, tg Target, p Params, cp []byte, rec *recorder) *running {
	t.Helper()
	logs := logtest.New()
	if p.Logger == nil {
		p.Logger = logs.Logger()
	}
	if p.Name == "" {
		p.Name = "src"
	}
	src := tg.Source(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{name: name, src: src, rec: rec, from: cp, p: p, logs: logs, secrets: tg.Secrets(), cancel: cancel, done: make(chan struct{})}
	rec.mu.Lock()
	rec.mu.cancel = cancel
	rec.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.commitLoop(ctx)
	}()
	go func() {
		err := src.Run(ctx, cp, rec)
		rec.runReturned()
		r.mu.Lock()
		r.mu.result, r.mu.returned = err, true
		r.mu.Unlock()
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// commitLoop reports the recorder's committed checkpoint to the source,
// in order, from its own goroutine, as the engine's committer does.
func (r *running) commitLoop(ctx context.Context) {
	var last []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.rec.wake:
		}
		cp := r.rec.newestCommitted()
		if cp == nil || string(cp) == string(last) {
			continue
		}
		last = cp
		if err := r.src.Committed(ctx, cp); err != nil && ctx.Err() == nil {
			r.mu.Lock()
			r.mu.errs = append(r.mu.errs, commitErr{err.Error(), time.Now()})
			r.mu.Unlock()
		}
	}
}

// commitErr is an error Committed returned, and when.
type commitErr struct {
	msg string
	at  time.Time
}

// cutOff records that the source's connections were cut off from from
// until to: Committed may fail in that span.
func (r *running) cutOff(from, to time.Time) {
	r.mu.Lock()
	r.mu.cut = [2]time.Time{from, to}
	r.mu.Unlock()
}

// returned reports whether Run has returned, and its result.
func (r *running) returned() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.returned, r.mu.result
}

// stop cancels Run, waits for it and closes the source. Run must return
// nil or report the cancellation; Close must not fail. It runs once.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	early, _ := r.returned()
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
		if _, err := r.returned(); early && err != nil {
			t.Errorf("%s: Run returned %v before it was stopped (the engine stops the pipeline on that)", r.name, err)
		} else if !stopped(err) {
			t.Errorf("%s: Run returned %v after its context was cancelled; want nil", r.name, err)
		}
	case <-time.After(stopTimeout):
		t.Errorf("%s: Run did not return within %s of its context being cancelled", r.name, stopTimeout)
		return
	}
	r.finish(t)
}

// stopped reports whether err is what Run may return when stopped.
func stopped(err error) bool {
	return err == nil || errors.Is(err, context.Canceled) || errors.Is(err, component.ErrStopped)
}

// finish closes the source after Run returned and checks the run's
// Committed errors and logs.
func (r *running) finish(t *testing.T) {
	t.Helper()
	r.wg.Wait()
	r.close(t)
	r.mu.Lock()
	errs, cut := r.mu.errs, r.mu.cut
	r.mu.Unlock()
	for _, e := range errs {
		if !e.at.Before(cut[0]) && !e.at.After(cut[1]) {
			t.Logf("%s: Committed failed while the connection was cut (the engine logs it and tells the source again with the next checkpoint): %s", r.name, e.msg)
			continue
		}
		t.Errorf("%s: Committed: %s", r.name, e.msg)
	}
	if n := r.rec.late(); n > 0 {
		t.Errorf("%s: Emit was called %d times after Run returned (a goroutine outlives Run)", r.name, n)
	}
	_, err := r.returned()
	if err != nil {
		for _, s := range r.secrets {
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("%s: Run's error holds a secret (the DSN's password)", r.name)
			}
		}
	}
	for _, ln := range r.logs.Holding(r.secrets...) {
		t.Errorf("%s: a log record holds a secret (the DSN's password): %s", r.name, ln)
	}
}

// waitCrash waits for Run to return after the recorder crashed it, then
// closes the source as the engine would.
func (r *running) waitCrash(t *testing.T) {
	t.Helper()
	deadline := time.After(waitTimeout())
	for !r.rec.crashed() {
		select {
		case <-r.done:
			if r.rec.crashed() {
				continue
			}
			_, err := r.returned()
			t.Fatalf("%s: Run returned before the crash point was reached: %v (%d events accepted)", r.name, err, r.rec.count())
		case <-deadline:
			t.Fatalf("%s: the crash point was not reached within %s (%d events accepted)", r.name, waitTimeout(), r.rec.count())
		case <-time.After(pollEvery):
		}
	}
	select {
	case <-r.done:
		if _, err := r.returned(); !stopped(err) {
			t.Errorf("%s: after the crash (Emit returned component.ErrStopped, the context was cancelled) Run returned %v; want nil", r.name, err)
		}
	case <-time.After(stopTimeout):
		t.Fatalf("%s: Run did not return within %s of the crash", r.name, stopTimeout)
	}
	r.cancel = nil
	r.finish(t)
}

func (r *running) close(t *testing.T) {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- r.src.Close() }()
	select {
	case err := <-ch:
		if err != nil {
			t.Errorf("%s: Close: %v", r.name, err)
		}
	case <-time.After(closeTimeout):
		t.Errorf("%s: Close did not return within %s", r.name, closeTimeout)
	}
}

// waitFor polls cond until it holds. It fails the test at the deadline, or
// at once when Run returns while waiting (allowed for export-only sources,
// after which cond is asked one last time).
func (r *running) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	r.waitForOr(t, what, cond, nil)
}

// waitForOr is waitFor that calls diagnose before failing.
func (r *running) waitForOr(t *testing.T, what string, cond func() bool, diagnose func()) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout())
	for !cond() {
		ok, err := r.returned()
		if ok && cond() {
			return
		}
		if ok || time.Now().After(deadline) {
			if diagnose != nil {
				diagnose()
			}
			if ok {
				t.Fatalf("%s: Run returned while waiting for %s: %v (%d events accepted)", r.name, what, err, r.rec.count())
			}
			t.Fatalf("%s: timed out after %s waiting for %s (%d events accepted)", r.name, waitTimeout(), what, r.rec.count())
		}
		time.Sleep(pollEvery)
	}
}

// waitTimeout is how long to wait for events: a minute, or
// $SOURCETEST_WAIT (a Go duration), which the suite's self-test shortens.
func waitTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SOURCETEST_WAIT")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}
