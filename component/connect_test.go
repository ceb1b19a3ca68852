package component

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf collects log records as text.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testEnv(r StartRetry) (Env, *logBuf) {
	var buf logBuf
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "in" || a.Key == "after" {
			return slog.Attr{}
		}
		return a
	}})
	return Env{Name: "db", Logger: slog.New(h).With("source", "db"), StartRetry: r}, &buf
}

var (
	errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	errAuth    = errors.New("password authentication failed for user \"sluice\"")
)

func transient(err error) bool { return errors.Is(err, errRefused) }

// failing returns a connect step that fails n times with err, then
// succeeds, and counts its calls.
func failing(n int, err error, calls *int) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		*calls++
		if *calls <= n {
			return "", err
		}
		return "conn", nil
	}
}

func TestConnectRetriesTransientFailures(t *testing.T) {
	env, logs := testEnv(StartRetry{Initial: time.Millisecond, Max: 4 * time.Millisecond})
	calls := 0
	v, err := Connect(context.Background(), env, "connect", transient, failing(3, errRefused, &calls))
	if err != nil || v != "conn" || calls != 4 {
		t.Fatalf("got %q, %v after %d calls", v, err, calls)
	}
	want := `level=WARN msg="cannot connect; retrying" source=db step=connect attempt=1 err="dial tcp 127.0.0.1:5432: connect: connection refused"
level=WARN msg="cannot connect; retrying" source=db step=connect attempt=2 err="dial tcp 127.0.0.1:5432: connect: connection refused"
level=WARN msg="cannot connect; retrying" source=db step=connect attempt=3 err="dial tcp 127.0.0.1:5432: connect: connection refused"
level=INFO msg=connected source=db step=connect attempts=4
`
	if logs.String() != want {
		t.Fatalf("logs:\n%s\nwant:\n%s", logs, want)
	}
}

func TestConnectStopsAtPermanentFailures(t *testing.T) {
	for name, err := range map[string]error{
		"not transient":    errAuth,
		"marked permanent": Permanent(errRefused),
	} {
		t.Run(name, func(t *testing.T) {
			env, logs := testEnv(StartRetry{Initial: time.Millisecond})
			calls := 0
			_, got := Connect(context.Background(), env, "connect", transient, failing(10, err, &calls))
			if calls != 1 || !IsPermanent(got) || got.Error() != err.Error() || logs.String() != "" {
				t.Fatalf("after %d calls: %v (permanent %v); logs %q", calls, got, IsPermanent(got), logs)
			}
		})
	}
}

func TestConnectFailFast(t *testing.T) {
	env, logs := testEnv(StartRetry{FailFast: true})
	calls := 0
	_, err := Connect(context.Background(), env, "connect", transient, failing(10, errRefused, &calls))
	want := "dial tcp 127.0.0.1:5432: connect: connection refused (engine.start_retry.fail_fast is set, so sluice does not wait for the server)"
	if calls != 1 || !IsPermanent(err) || err.Error() != want || logs.String() != "" {
		t.Fatalf("after %d calls: %v; logs %q", calls, err, logs)
	}
}

// TestConnectMaxElapsed: connecting gives up, retried, once another wait
// would end past max_elapsed — it never plans to wait past it. (Wall time
// is not the measure: a timer fires late on a busy machine, and the last
// attempt takes its own time.)
func TestConnectMaxElapsed(t *testing.T) {
	env, _ := testEnv(StartRetry{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond, MaxElapsed: 50 * time.Millisecond})
	waits := &waitLog{}
	env.Logger = slog.New(waits)
	calls := 0
	_, err := Connect(context.Background(), env, "connect", transient, failing(1000, errRefused, &calls))
	if err == nil || !IsPermanent(err) || !strings.HasPrefix(err.Error(), "dial tcp 127.0.0.1:5432: connect: connection refused (still failing after ") ||
		!strings.HasSuffix(err.Error(), "; engine.start_retry.max_elapsed is 50ms)") {
		t.Fatalf("got %v", err)
	}
	var total time.Duration
	for _, d := range waits.in {
		total += d
	}
	// The logged waits are rounded to the millisecond.
	if calls < 2 || len(waits.in) != calls-1 || total > 50*time.Millisecond+time.Duration(len(waits.in))*time.Millisecond/2 {
		t.Fatalf("%d calls, waits %v (%s in all); want a retry and waits within max_elapsed (50ms)", calls, waits.in, total)
	}
}

// waitLog records the "in" attribute (the planned wait) of each record.
type waitLog struct{ in []time.Duration }

func (w *waitLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *waitLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "in" {
			w.in = append(w.in, a.Value.Duration())
		}
		return true
	})
	return nil
}
func (w *waitLog) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *waitLog) WithGroup(string) slog.Handler      { return w }

// TestConnectCancelledWhileWaiting: a stop (SIGINT/SIGTERM cancels the
// context) ends the wait at once, however long the backoff.
func TestConnectCancelledWhileWaiting(t *testing.T) {
	env, logs := testEnv(StartRetry{Initial: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error)
	go func() {
		_, err := Connect(ctx, env, "connect", transient, failing(10, errRefused, &calls))
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "attempt=1") {
		if time.Now().After(deadline) {
			t.Fatal("no retry logged")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || IsPermanent(err) || time.Since(start) > time.Second {
		t.Fatalf("after cancel: %v (permanent %v) in %s", err, IsPermanent(err), time.Since(start))
	}
}

func TestStartRetryValidate(t *testing.T) {
	errs := (&StartRetry{Initial: -1, MaxElapsed: -1}).Validate()
	if len(errs) != 2 || errs[0].Error() != "initial: must not be negative" ||
		errs[1].Error() != "max_elapsed: must not be negative (hint: 0 retries until connected; fail_fast: true gives up at once)" {
		t.Fatalf("got %v", errs)
	}
}
