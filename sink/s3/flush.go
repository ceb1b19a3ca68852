package s3

import (
	"context"
	"slices"

	"github.com/sluice-dev/sluice/event"
)

// Buffered writes (component.FlushingSink). The engine hands the sink a
// batch with WriteBuffered, then calls Flush on another goroutine while it
// hands over the next batches, and acknowledges a batch only after a Flush
// that covers it returned nil. So the spool's fsync overlaps the encoding
// and writing of the next batch, instead of following it (Write fsyncs
// before it returns).
//
// WriteBuffered spools its events as Write does, into the page cache, and
// records what it wrote (flushPoint: the spools with records not yet
// fsynced, and every stream's marks after the batch). Flush fsyncs those
// spools — spool.fsync, under the spool's own lock, so it cannot race with
// a seal or close — and then makes the marks durable.
//
// The state file must never record a mark above what is durable: once an
// object is uploaded its spool file is removed, and after a power failure
// the spools alone no longer say which replays to skip. Records taken by
// WriteBuffered are not durable until the next Flush, so the state file
// holds the durable marks (Sink.durable), not the current ones. Uploads
// only start from sealed spools, and a batch that seals one fsyncs every
// open spool first (syncAll), so the objects uploaded are always below the
// durable marks. Where a stream's events are spread over several open
// spools (a partition template by time or field), that is what keeps a
// durable mark from covering a record of another spool that a power
// failure could still take.
//
// Failures: an fsync that fails is recorded in syncFailed while its
// spool's lock is held, and fails every Flush from then on — Linux reports
// a writeback error to one fsync of a file, which may be the seal's rather
// than the Flush's. The next Write (the engine's retry of everything not
// acknowledged) reloads the spool after cutting the open files back to
// their last successful fsync (Sink.reload).

// streamMark is a stream's marks at one point: the highest Seq and
// snapshot ordinal taken, and the last ordinal handed out.
type streamMark struct {
	hwm          event.Seq
	snap, assign int64
}

// marksAt is every stream's marks at a point; a larger gen is a later
// point.
type marksAt struct {
	gen uint64
	m   map[string]streamMark
}

// flushPoint is what the next Flush makes durable.
type flushPoint struct {
	spools []*spool // written since the last Flush took its point
	at     marksAt  // after the last WriteBuffered
}

// marks returns the current marks as a new point (under mu).
func (s *Sink) marks() marksAt {
	s.gen++
	m := make(map[string]streamMark, len(s.streams))
	for name, st := range s.streams {
		m[name] = streamMark{hwm: st.hwm, snap: st.snap, assign: st.assign}
	}
	return marksAt{gen: s.gen, m: m}
}

// setDurable records at as durable unless a later point already is (under
// fmu).
func (s *Sink) setDurable(at marksAt) {
	if at.gen > s.durable.gen {
		s.durable = at
	}
}

// publish adds what a WriteBuffered wrote to the next Flush's point (under
// mu).
func (s *Sink) publish() {
	at := s.marks()
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.pend == nil {
		s.pend = &flushPoint{}
	}
	for _, sp := range s.open {
		if sp.unsynced() && !slices.Contains(s.pend.spools, sp) {
			s.pend.spools = append(s.pend.spools, sp)
		}
	}
	s.pend.at = at
}

// WriteBuffered implements component.FlushingSink: Write without the
// fsync, which the next Flush does. An object the batch completes is
// sealed (fsynced) and uploaded as with Write.
func (s *Sink) WriteBuffered(ctx context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.syncFailed.get(); err != nil {
		// The engine writes everything not acknowledged again, with Write.
		return err
	}
	return s.write(ctx, events, true)
}

// Flush implements component.FlushingSink: it fsyncs the spools the
// WriteBuffered calls before it wrote, then makes their marks durable.
func (s *Sink) Flush(context.Context) error {
	s.fmu.Lock()
	p := s.pend
	s.pend = nil
	s.fmu.Unlock()
	if p != nil {
		for _, sp := range p.spools {
			if sp.fsync() != nil {
				break // recorded in syncFailed
			}
		}
	}
	if err := s.syncFailed.get(); err != nil {
		return err
	}
	if p != nil {
		s.fmu.Lock()
		s.setDurable(p.at)
		s.fmu.Unlock()
	}
	return nil
}
