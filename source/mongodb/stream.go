package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// ErrHistoryLost means the checkpoint's resume token is no longer in the
// oplog: changes since then are gone.
var ErrHistoryLost = errors.New("change stream history lost")

// streamer reads the change stream from a checkpoint and emits batches.
// Run's goroutine owns it.
type streamer struct {
	s   *Source
	srv server
	w   *watchSpec
	dec *decoder
	out component.Emitter
	cp  *checkpoint // the last emitted position; updated by emit

	tok     []byte // resume token after the last processed change
	batch   []event.Event
	emitted time.Time // when the last batch was emitted
}

// stream follows changes from cp until ctx is cancelled. Lost connections
// are re-established with backoff from the last processed change; history
// lost, the end of a collection's history and permanent errors return.
func (s *Source) stream(ctx context.Context, srv server, cp *checkpoint, out component.Emitter) error {
	st := &streamer{s: s, srv: srv, w: newWatchSpec(&s.cfg), out: out, cp: cp, emitted: time.Now()}
	st.dec = &decoder{
		reg: s.reg, conv: newConverter(), fullDoc: s.cfg.FullDocument, captured: newMatcher(s.cfg.Collections),
		lookup: srv.lookup, lastCT: cp.ClusterTime, ord: cp.Ord,
	}
	tok, err := cp.token()
	if err != nil {
		return component.Permanent(err)
	}
	st.tok = tok
	s.prog.Enter(&progress.Streaming, 0)
	s.log.Info("streaming changes", "scope", st.w.scope(), "full_document", s.cfg.FullDocument, "full_document_before_change", s.cfg.FullDocumentBeforeChange)
	wait := 500 * time.Millisecond
	for {
		start := time.Now()
		err := st.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !retryable(err) {
			return err
		}
		if time.Since(start) > time.Minute {
			wait = 500 * time.Millisecond
		}
		s.log.Warn("change stream failed; reopening after the last change", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// scope names the stream's scope for logs.
func (w *watchSpec) scope() string {
	switch {
	case w.coll != "":
		return "collection " + w.db + "." + w.coll
	case w.db != "":
		return "database " + w.db
	}
	return "cluster"
}

// run opens the stream after st.tok and reads it until an error.
func (st *streamer) run(ctx context.Context) error {
	cs, err := st.srv.watch(ctx, st.w, st.tok)
	if err != nil {
		return st.classify(err)
	}
	defer cs.Close(context.Background()) //nolint:errcheck // closing a cursor; the stream is done either way
	for {
		if !cs.TryNext(ctx) {
			if err := cs.Err(); err != nil {
				if ferr := st.flush(ctx); ferr != nil {
					return ferr
				}
				return st.classify(err)
			}
			if err := st.flush(ctx); err != nil {
				return err
			}
			if err := st.idle(ctx, cs.ResumeToken()); err != nil {
				return err
			}
			continue
		}
		ch, err := parseChange(cs.Current())
		if err != nil {
			return component.Permanent(fmt.Errorf("after resume token %s: %w", tokenText(st.tok), err))
		}
		ev, oc, err := st.dec.decode(ctx, &ch, time.Now().UnixMilli())
		if err != nil {
			// Emit what came before, so the checkpoint stops right before it.
			if ferr := st.flush(ctx); ferr != nil {
				return ferr
			}
			if errors.Is(err, ErrStreamEnded) {
				return component.Permanent(err)
			}
			return err
		}
		switch oc {
		case emitted:
			st.batch = append(st.batch, ev)
		case noDocument:
			st.s.log.Debug("update skipped: its document was deleted before the lookup; the delete follows", "change", ch.where(), "skipped", st.dec.skippedUpdates)
			st.s.skippedUpdates.Add(1)
		}
		st.tok = append(st.tok[:0], cs.ResumeToken()...)
		if len(st.batch) >= st.s.cfg.BatchSize || (cs.Buffered() == 0 && len(st.batch) > 0) {
			if err := st.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// classify maps a watch or stream error: history lost, servers without
// change streams and other permanent errors stop the source; the rest is
// retried.
func (st *streamer) classify(err error) error {
	if historyLost(err) {
		return fmt.Errorf("%w: the oplog no longer holds the checkpoint's position (resume token %s%s; the server said: %v)", ErrHistoryLost, tokenText(st.tok), st.lastChange(), err)
	}
	if noChangeStreams(err) {
		return component.Permanent(fmt.Errorf("%w (%v). %s", ErrNoChangeStreams, err, noStreamsHint))
	}
	return err
}

// lastChange describes the last emitted change's cluster time for messages.
func (st *streamer) lastChange() string {
	if st.cp.ClusterTime == 0 {
		return ""
	}
	t := time.Unix(int64(st.cp.ClusterTime>>32), 0).UTC()
	return ", last change at " + t.Format(time.RFC3339)
}

// flush emits the batch with the position after its last change.
func (st *streamer) flush(ctx context.Context) error {
	if len(st.batch) == 0 {
		return nil
	}
	return st.emit(ctx)
}

func (st *streamer) emit(ctx context.Context) error {
	tj, err := tokenJSON(st.tok)
	if err != nil {
		return component.Permanent(err)
	}
	st.cp.Phase, st.cp.Token, st.cp.ClusterTime, st.cp.Ord, st.cp.Export = phaseStream, tj, st.dec.lastCT, st.dec.ord, nil
	evs := st.batch
	st.batch = nil
	st.emitted = time.Now()
	return st.out.Emit(ctx, evs, st.cp.marshal())
}

// idle checkpoints the server's newest resume token once per heartbeat
// interval while no change arrives, so that a quiet collection's position
// keeps up with the oplog.
func (st *streamer) idle(ctx context.Context, tok bson.Raw) error {
	hb := st.s.cfg.HeartbeatInterval
	if hb <= 0 || len(tok) == 0 || time.Since(st.emitted) < hb || string(tok) == string(st.tok) {
		return nil
	}
	st.tok = append(st.tok[:0], tok...)
	return st.emit(ctx)
}

// tokenText shows a resume token for messages: its _data.
func tokenText(tok []byte) string {
	if len(tok) == 0 {
		return "(none)"
	}
	if d, ok := bson.Raw(tok).Lookup("_data").StringValueOK(); ok {
		return d
	}
	if b, err := bson.MarshalExtJSON(bson.Raw(tok), true, false); err == nil {
		return string(b)
	}
	return "(unreadable)"
}
