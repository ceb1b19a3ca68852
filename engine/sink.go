package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// DefaultMaxBytes is a sink's default Batch.MaxBytes.
const DefaultMaxBytes = 64 << 20

// sinkRunner owns one sink (and its dead-letter sink): it coalesces
// deliveries into writes, retries transient failures with backoff, routes
// rejected events to the dead-letter sink, and acknowledges after durable
// writes.
type sinkRunner struct {
	r    *Runner
	node SinkNode
	in   chan *delivery
	buf  []event.Event

	batch Batch
	retry Retry
	dl    *deadLetters // when node.DeadLetter is set
}

func (s *sinkRunner) init() {
	o := s.r.p.Options
	s.batch, s.retry = s.node.Batch, s.node.Retry
	if s.batch.MaxEvents <= 0 {
		s.batch.MaxEvents = o.MaxWriteEvents
	}
	if s.batch.MaxBytes <= 0 {
		s.batch.MaxBytes = DefaultMaxBytes
	}
	if s.retry.Initial <= 0 {
		s.retry.Initial = o.RetryMin
	}
	if s.retry.Max <= 0 {
		s.retry.Max = o.RetryMax
	}
	if s.retry.Max < s.retry.Initial {
		s.retry.Max = s.retry.Initial
	}
}

func deliverySize(d *delivery) int64 {
	if d.size == 0 {
		for i := range d.events {
			d.size += int64(d.events[i].Size())
		}
		d.size++ // never 0 again, even for an empty delivery
	}
	return d.size
}

// gather collects deliveries after first until the batch limits are reached,
// the linger time has passed, or (without linger) nothing more is waiting.
// ok is false when the input channel closed.
func (s *sinkRunner) gather(batch []*delivery, first *delivery) (_ []*delivery, ok bool) {
	batch = append(batch[:0], first)
	n, size := len(first.events), deliverySize(first)
	var linger <-chan time.Time
	if s.batch.Linger > 0 {
		t := time.NewTimer(s.batch.Linger)
		defer t.Stop()
		linger = t.C
	}
	for n < s.batch.MaxEvents && size < s.batch.MaxBytes {
		var d *delivery
		if linger == nil {
			select {
			case d, ok = <-s.in:
			default:
				return batch, true
			}
		} else {
			select {
			case d, ok = <-s.in:
			case <-linger:
				return batch, true
			case <-s.r.draining:
				linger = nil // write what is there, as without linger
				continue
			}
		}
		if !ok {
			return batch, false
		}
		batch = append(batch, d)
		n += len(d.events)
		size += deliverySize(d)
	}
	return batch, true
}

func (s *sinkRunner) loop(ctx, startCtx context.Context) {
	s.init()
	if err := s.connect(startCtx); err != nil {
		s.r.fatal(err)
		// As after a failed write: nothing is acknowledged, Emit never
		// blocks on this sink.
		for range s.in {
		}
		return
	}
	if fs, ok := s.node.Sink.(component.FlushingSink); ok {
		s.loopFlushing(ctx, fs)
		return
	}
	var batch []*delivery
	for d := range s.in {
		batch, _ = s.gather(batch, d)
		// A closed channel ends the range loop after this batch is written.
		err := s.writeAll(ctx, batch, s.write)
		if err != nil {
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
	}
}

// loopFlushing is loop for a FlushingSink: each batch is written with
// WriteBuffered and made durable by a Flush that runs on its own goroutine
// while the next batches are written, so encoding and writing overlap the
// fsync. One Flush at a time covers everything written before it started;
// the deliveries written while it runs wait for the next one. Deliveries
// are acknowledged, in order, only after a Flush that covers them returned
// nil. After a failed Flush or WriteBuffered, every delivery not yet
// acknowledged is written again with the retrying Write path, in order
// (component.FlushingSink), and the loop goes on.
func (s *sinkRunner) loopFlushing(ctx context.Context, fs component.FlushingSink) {
	var (
		batch    []*delivery
		written  []*delivery // written, for the next Flush
		flushing []*delivery // covered by the Flush in flight
		done     = make(chan error, 1)
		inFlight bool
	)
	buffered := func(ctx context.Context, events []event.Event, size int64) error {
		if o := s.r.obs.write; o != nil {
			start := time.Now()
			err := fs.WriteBuffered(ctx, events)
			o.ObserveWrite(s.node.Name, len(events), size, time.Since(start), err)
			return err
		}
		return fs.WriteBuffered(ctx, events)
	}
	startFlush := func() {
		flushing, written = written, flushing[:0]
		inFlight = true
		go func() { done <- fs.Flush(ctx) }()
	}
	ack := func(ds []*delivery) {
		for i, d := range ds {
			d.t.ack()
			ds[i] = nil
		}
	}
	// rewrite writes every delivery not yet acknowledged again, in
	// order, with the retrying Write path; no Flush is in flight.
	rewrite := func(cause error) error {
		pending := append(append([]*delivery(nil), flushing...), written...)
		clear(flushing)
		clear(written)
		flushing, written = flushing[:0], written[:0]
		if len(pending) == 0 {
			return nil
		}
		s.r.log.Warn("sink failed to make buffered writes durable; writing them again", "sink", s.node.Name, "events", countEvents(pending), "err", cause)
		if err := s.writeAll(ctx, pending, s.write); err != nil {
			return err
		}
		ack(pending)
		return nil
	}
	// settle waits for the Flush in flight and acknowledges what it
	// covered, or writes it again.
	// flushed takes a Flush's result: what it covered is acknowledged, or
	// written again.
	flushed := func(err error) error {
		inFlight = false
		if err != nil {
			return rewrite(err)
		}
		ack(flushing)
		flushing = flushing[:0]
		return nil
	}
	settle := func() error {
		if !inFlight {
			return nil
		}
		return flushed(<-done)
	}
	fail := func(err error) {
		s.r.fatal(err)
		// Nothing more is acknowledged; Emit never blocks on a dead sink.
		if inFlight {
			<-done
		}
		for range s.in {
		}
	}
	open := true
	for open {
		var d *delivery
		if inFlight {
			select {
			case d, open = <-s.in:
			case err := <-done:
				if err := flushed(err); err != nil {
					fail(err)
					return
				}
				if len(written) > 0 {
					startFlush()
				}
				continue
			}
		} else {
			d, open = <-s.in
		}
		if !open {
			break
		}
		batch, open = s.gather(batch, d)
		if err := s.writeAll(ctx, batch, buffered); err != nil {
			// Settle the Flush in flight first, then write this batch
			// again with everything else not yet acknowledged.
			written = append(written, batch...)
			if serr := settle(); serr != nil {
				fail(serr)
				return
			}
			if err := rewrite(err); err != nil {
				fail(err)
				return
			}
		} else {
			written = append(written, batch...)
		}
		clear(batch)
		if !inFlight && len(written) > 0 {
			startFlush()
		}
	}
	// The input closed: make the rest durable before returning.
	if err := settle(); err != nil {
		fail(err)
		return
	}
	if len(written) > 0 {
		startFlush()
		if err := settle(); err != nil {
			fail(err)
		}
	}
}

func countEvents(ds []*delivery) int {
	n := 0
	for _, d := range ds {
		n += len(d.events)
	}
	return n
}

// errNotConnected ends a sink's connect step at shutdown: a clean stop,
// not a failure.
var errNotConnected = errors.New("stopped before it could connect")

// connect runs the Connect step (component.Connector) of the sink and of
// its dead-letter sink, retried as engine.start_retry says, before the
// first write.
func (s *sinkRunner) connect(ctx context.Context) error {
	steps := []struct {
		name string
		sink component.Sink
	}{{s.node.Name, s.node.Sink}, {s.node.Name + " dead_letter", s.node.DeadLetter}}
	for _, st := range steps {
		c, ok := st.sink.(component.Connector)
		if !ok {
			continue
		}
		env := component.Env{Name: st.name, Logger: s.r.log.With("sink", st.name), StartRetry: s.r.p.Options.StartRetry}
		_, err := component.Connect(ctx, env, "connect", func(error) bool { return true }, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.Connect(ctx)
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("sink %s: %w", st.name, errNotConnected)
			}
			return fmt.Errorf("sink %s: %w", st.name, err)
		}
	}
	return nil
}

// writeAll writes the deliveries' events in order, in writes within the
// batch limits, with write (s.write, or a FlushingSink's WriteBuffered),
// which gets each write's size in bytes (event.Size summed) for the
// observers, taken here once rather than again per write.
func (s *sinkRunner) writeAll(ctx context.Context, batch []*delivery, write func(context.Context, []event.Event, int64) error) error {
	s.buf = s.buf[:0]
	var size int64
	flush := func() error {
		if len(s.buf) == 0 {
			return nil
		}
		err := write(ctx, s.buf, size)
		clear(s.buf) // drop references so written events can be collected
		s.buf, size = s.buf[:0], 0
		return err
	}
	if d := batch[0]; len(batch) == 1 && len(d.events) <= s.batch.MaxEvents && deliverySize(d) <= s.batch.MaxBytes {
		// The common case: one delivery makes the write, without copying.
		return write(ctx, d.events, deliverySize(d)-1)
	}
	var n int
	for _, d := range batch {
		n += len(d.events)
		size += deliverySize(d) - 1
	}
	if n <= s.batch.MaxEvents && size <= s.batch.MaxBytes {
		// The deliveries make one write: no event's size to take again.
		for _, d := range batch {
			s.buf = append(s.buf, d.events...)
		}
		return flush()
	}
	size = 0
	for _, d := range batch {
		for i := range d.events {
			es := int64(d.events[i].Size())
			if len(s.buf) > 0 && (len(s.buf) >= s.batch.MaxEvents || size+es > s.batch.MaxBytes) {
				if err := flush(); err != nil {
					return err
				}
			}
			s.buf = append(s.buf, d.events[i])
			size += es
		}
	}
	return flush()
}

// write calls Write until it succeeds, fails permanently, or ctx ends. Events
// the sink rejects one by one go to the dead-letter sink, or fail the
// pipeline when there is none.
func (s *sinkRunner) write(ctx context.Context, events []event.Event, size int64) error {
	err := retryLoop(ctx, s.r, s.retry, s.node.Name, func() error {
		if o := s.r.obs.write; o != nil {
			start := time.Now()
			err := s.node.Sink.Write(ctx, events)
			o.ObserveWrite(s.node.Name, len(events), size, time.Since(start), err)
			return err
		}
		return s.node.Sink.Write(ctx, events)
	})
	var rejected component.RecordErrors
	if err == nil || !errors.As(err, &rejected) {
		if err != nil {
			return fmt.Errorf("sink %s: %w", s.node.Name, err)
		}
		return nil
	}
	for _, re := range rejected {
		if re.Index < 0 || re.Index >= len(events) {
			return fmt.Errorf("sink %s: rejected event index %d out of range (a bug in the sink): %w", s.node.Name, re.Index, err)
		}
	}
	if o := s.r.obs.rejected; o != nil {
		o.ObserveRejected(s.node.Name, len(rejected), s.node.DeadLetter != nil)
	}
	if s.node.DeadLetter == nil {
		re := rejected[0]
		e := &events[re.Index]
		return fmt.Errorf("sink %s rejected %s (key %s): %v; %d event(s) rejected in this write; stopping with the checkpoint before it (hint: fix the cause and restart, or set dead_letter: on the sink to set rejected events aside and go on)",
			s.node.Name, e.String(), keyText(e), re.Err, len(rejected))
	}
	dl := make([]event.Event, len(rejected))
	for i, re := range rejected {
		dl[i] = s.dl.wrap(s.node.Name, &events[re.Index], re.Err)
	}
	name := s.node.Name + " dead_letter"
	if err := retryLoop(ctx, s.r, s.retry, name, func() error { return s.node.DeadLetter.Write(ctx, dl) }); err != nil {
		return fmt.Errorf("sink %s: %w", name, err)
	}
	s.r.log.Warn("events rejected by the sink were written to its dead letter", "sink", s.node.Name, "count", len(rejected), "first", events[rejected[0].Index].String(), "err", rejected[0].Err)
	return nil
}

// retryLoop calls f until it returns nil, a permanent error or
// RecordErrors, or ctx ends, sleeping with exponential backoff and full
// jitter between attempts.
func retryLoop(ctx context.Context, r *Runner, retry Retry, name string, f func() error) error {
	backoff := retry.Initial
	for attempt := 1; ; attempt++ {
		err := f()
		var rejected component.RecordErrors
		if err == nil || errors.As(err, &rejected) || component.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if o := r.obs.retry; o != nil {
			o.ObserveRetry(name, attempt, err)
		}
		// Full jitter between backoff/2 and backoff.
		d := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		r.log.Warn("write failed; retrying", "node", name, "attempt", attempt, "in", d.Round(time.Millisecond), "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up after %d attempts at shutdown: %w", attempt, err)
		}
		backoff = min(backoff*2, retry.Max)
	}
}

func eventsSize(events []event.Event) int64 {
	var n int64
	for i := range events {
		n += int64(events[i].Size())
	}
	return n
}

func keyText(e *event.Event) string {
	k := e.Key()
	if k == nil {
		return "none"
	}
	s := ""
	for i, v := range k {
		if i > 0 {
			s += ","
		}
		s += v.Text()
	}
	return s
}
