package engine

import (
	"time"

	"github.com/sluice-dev/sluice/event"
)

// The engine reports what it does through these small interfaces; an
// Options.Observer implements those it needs (metrics, status pages). The
// calls are made on the hot path, from the goroutines named in each
// comment, so they must be cheap and must not block.

// EmitObserver sees every batch a source emits (from the source's
// goroutine, before processing), with its size in bytes (event.Size
// summed, as the engine's byte cap counts it: taken once, by the source or
// the engine). The events are the observer's to read during the call
// only: it keeps nothing of them (their memory may be reused by the source
// once the sinks acknowledged them; see "Releasing batches" in the package
// doc).
type EmitObserver interface {
	ObserveEmit(source string, events []event.Event, size int64)
}

// ProcessObserver sees every batch a processor handles.
type ProcessObserver interface {
	ObserveProcess(processor string, in, out int, took time.Duration)
}

// WriteObserver sees every sink write attempt that ends (from the sink's
// runner): err is nil when the events are durable.
type WriteObserver interface {
	ObserveWrite(sink string, events int, bytes int64, took time.Duration, err error)
}

// RetryObserver sees every retry of a failed write.
type RetryObserver interface {
	ObserveRetry(node string, attempt int, err error)
}

// RejectObserver sees events rejected one by one by a sink or processor;
// deadLettered tells whether they went to a dead letter (else the
// pipeline stops).
type RejectObserver interface {
	ObserveRejected(node string, events int, deadLettered bool)
}

// CommitObserver sees every durable checkpoint of a source: newestMs is the
// source commit time (ms since the epoch) of the newest event it covers,
// so at-newestMs is how far the sinks are behind the source.
type CommitObserver interface {
	ObserveCommit(source string, newestMs int64, at time.Time)
}

type observers struct {
	emit     EmitObserver
	process  ProcessObserver
	write    WriteObserver
	retry    RetryObserver
	rejected RejectObserver
	commit   CommitObserver
}

func findObservers(o any) observers {
	var obs observers
	if o == nil {
		return obs
	}
	obs.emit, _ = o.(EmitObserver)
	obs.process, _ = o.(ProcessObserver)
	obs.write, _ = o.(WriteObserver)
	obs.retry, _ = o.(RetryObserver)
	obs.rejected, _ = o.(RejectObserver)
	obs.commit, _ = o.(CommitObserver)
	return obs
}
