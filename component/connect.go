package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// StartRetry is how a component retries connecting at start (the
// pipeline's engine.start_retry): a database that is down when sluice
// starts, or still starting up, is waited for as an outage mid-stream is,
// so an ordinary restart of it needs no supervisor.
type StartRetry struct {
	// Initial is the first wait after a failed attempt; it doubles up to
	// Max, with jitter. Defaults 500ms and 30s.
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
	// MaxElapsed, when positive, gives up once connecting has failed for
	// this long. 0: retry until connected or stopped.
	MaxElapsed time.Duration `yaml:"max_elapsed"`
	// FailFast gives up at the first failure, for a supervisor that
	// restarts sluice itself.
	FailFast bool `yaml:"fail_fast"`
}

// Validate implements Validator.
func (r *StartRetry) Validate() []error {
	var errs []error
	if r.Initial < 0 {
		errs = append(errs, &FieldError{Field: "initial", Msg: "must not be negative"})
	}
	if r.Max < 0 {
		errs = append(errs, &FieldError{Field: "max", Msg: "must not be negative"})
	}
	if r.MaxElapsed < 0 {
		errs = append(errs, &FieldError{Field: "max_elapsed", Msg: "must not be negative", Hint: "0 retries until connected; fail_fast: true gives up at once"})
	}
	return errs
}

func (r StartRetry) withDefaults() StartRetry {
	if r.Initial <= 0 {
		r.Initial = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	r.Max = max(r.Max, r.Initial)
	return r
}

// Connect calls connect, the step where a component first reaches its
// server (open a connection and run a first query, or ping), until it
// succeeds. A failure that transient accepts (connection refused, a
// timeout, DNS not answering, "the database system is starting up", too
// many connections) is logged at WARN on env.Logger with the attempt and
// the wait, and retried after exponential backoff with jitter, as
// env.StartRetry says; any other failure (a bad password, an unknown
// database, a missing table or permission) is returned at once, marked
// Permanent. When ctx ends during a wait, Connect returns an error that
// wraps ctx.Err(), promptly.
//
// what names the step in log records ("connect", "replication
// connection"); the errors connect returns should name what failed, as
// they are returned as they are. Each connector passes the classifier of
// its driver; errors the connector already marked Permanent are never
// retried.
func Connect[T any](ctx context.Context, env Env, what string, transient func(error) bool, connect func(context.Context) (T, error)) (T, error) {
	policy := env.StartRetry.withDefaults()
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	backoff := policy.Initial
	for attempt := 1; ; attempt++ {
		v, err := connect(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info("connected", "step", what, "attempts", attempt, "after", time.Since(start).Round(time.Millisecond))
			}
			return v, nil
		}
		var zero T
		if ctx.Err() != nil {
			return zero, fmt.Errorf("stopped while connecting (%s): %w", what, errors.Join(ctx.Err(), err))
		}
		if IsPermanent(err) || !transient(err) {
			return zero, Permanent(err)
		}
		if policy.FailFast {
			return zero, Permanent(fmt.Errorf("%w (engine.start_retry.fail_fast is set, so sluice does not wait for the server)", err))
		}
		// Full jitter between backoff/2 and backoff.
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if policy.MaxElapsed > 0 && time.Since(start)+d > policy.MaxElapsed {
			return zero, Permanent(fmt.Errorf("%w (still failing after %d attempts in %s; engine.start_retry.max_elapsed is %s)",
				err, attempt, time.Since(start).Round(time.Millisecond), policy.MaxElapsed))
		}
		log.Warn("cannot connect; retrying", "step", what, "attempt", attempt, "in", d.Round(time.Millisecond), "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("stopped while waiting to connect (%s): %w", what, errors.Join(ctx.Err(), err))
		}
		backoff = min(backoff*2, policy.Max)
	}
}

// Connector is implemented by sinks that reach a server. The engine calls
// Connect once, before the sink's first Write (and whether or not events
// come), from the sink's goroutine, through the same retry as the sources'
// connect step (package function Connect, with engine.start_retry):
// plain errors are retried, errors wrapped with Permanent stop the
// pipeline at once. Connect should do the least that proves the
// destination answers and the credentials work (a ping, a HEAD request);
// it returns ctx.Err() promptly when ctx ends.
type Connector interface {
	Connect(ctx context.Context) error
}
