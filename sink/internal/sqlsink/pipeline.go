package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Pipelined is a Writer that is a component.FlushingSink (the PostgreSQL
// and MySQL sinks'): WriteBuffered applies a batch in an open transaction,
// Flush commits it, and the engine hands the next batch while that commit
// runs.
// The next batch then goes into a transaction of its own, on another
// connection, so the server stores its rows while the previous
// transaction's commit (the WAL flush) runs, and sluice plans and encodes
// them meanwhile.
//
// Order and durability:
//
//   - A transaction commits only after the previous one committed: the
//     engine calls Flush again only after the previous Flush returned, and
//     after a failed Flush it writes every unacknowledged batch again with
//     Write, which first rolls the open transaction back. Nothing is
//     acknowledged before the commit that holds it.
//   - While the previous transaction commits, the open one writes only
//     inserts and upserts: on a key the previous transaction wrote, the
//     server makes them wait for its end and then see its outcome (a
//     unique violation, or ON CONFLICT's update of the newest version).
//     Before any other statement (UPDATE, DELETE, TRUNCATE), which sees
//     only committed rows, it waits for the previous commit.
//   - Positions: a positions row the previous transaction holds is not
//     locked at first (that would wait for the commit); the batch is
//     skipped against the value that transaction leaves, and after the
//     rows the row is locked (waiting for the commit's end) and must hold
//     exactly that value, or the batch fails and the engine writes it again
//     with Write, one transaction at a time.
//   - In a coordinated run (Env.Epoch > 0) each transaction locks the
//     epoch row first, as Write does, so it waits for the previous commit
//     and nothing overlaps: fencing stays exact.
//   - Batches the engine hands before the previous commit ends join the
//     open transaction (group commit); one Flush commits them all.
//   - Record errors, or any error, in WriteBuffered roll the open
//     transaction back and fail it; the engine writes those batches again
//     with Write, which reports the rejected events.
//   - A table or column to create (DDL) waits for the previous commit and
//     commits the open transaction first: DDL would otherwise wait for the
//     sink's own open transaction's locks.
type Pipelined struct {
	*Writer

	mu struct {
		sync.Mutex
		// open is the transaction WriteBuffered writes into; Flush
		// takes it.
		open *pending
		// last is the transaction most recently taken for its commit.
		last *pending
	}
}

var _ component.FlushingSink = (*Pipelined)(nil)

// NewPipelined returns a Pipelined writer; see NewWriter.
func NewPipelined(cfg Config, d Dialect, env component.Env) *Pipelined {
	return &Pipelined{Writer: NewWriter(cfg, d, env)}
}

// pending is one transaction of the writer.
type pending struct {
	tx     Tx
	fenced bool
	// pos holds, per positions row (source) this transaction has locked
	// or set, the value the row holds once it commits.
	pos map[string]event.Seq
	// prev is the transaction that was committing when this one began;
	// nil once it is known to have committed.
	prev *pending

	// mu is held by the WriteBuffered writing into tx and by its commit.
	mu     sync.Mutex
	failed error // set (under mu) by a WriteBuffered that rolled tx back
	// done is closed when the commit has ended; err is its outcome.
	done chan struct{}
	err  error
}

func newPending(tx Tx, prev *pending) *pending {
	return &pending{tx: tx, pos: map[string]event.Seq{}, prev: prev, done: make(chan struct{})}
}

// prevDone forgets p.prev once it has committed, and fails when its commit
// failed.
func (p *pending) prevDone() error {
	if p.prev == nil {
		return nil
	}
	select {
	case <-p.prev.done:
		return p.prevResult()
	default:
		return nil
	}
}

func (p *pending) prevResult() error {
	if err := p.prev.err; err != nil {
		return fmt.Errorf("the previous transaction did not commit: %w", err)
	}
	p.prev = nil
	return nil
}

// waitPrev waits for the previous transaction's commit.
func (p *pending) waitPrev(ctx context.Context) error {
	if p.prev == nil {
		return nil
	}
	select {
	case <-p.prev.done:
		return p.prevResult()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Write implements component.Sink: the open transaction, if any, is rolled
// back (the engine writes its batches again), then Writer.Write.
func (pw *Pipelined) Write(ctx context.Context, events []event.Event) error {
	if err := pw.reset(ctx); err != nil {
		return err
	}
	return pw.Writer.Write(ctx, events)
}

// reset rolls the open transaction back and waits for the last commit.
func (pw *Pipelined) reset(ctx context.Context) error {
	pw.mu.Lock()
	open, last := pw.mu.open, pw.mu.last
	pw.mu.open, pw.mu.last = nil, nil
	pw.mu.Unlock()
	if open != nil {
		open.mu.Lock()
		_ = open.tx.Rollback(context.WithoutCancel(ctx))
		open.mu.Unlock()
	}
	if last != nil {
		select {
		case <-last.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// WriteBuffered implements component.FlushingSink.
func (pw *Pipelined) WriteBuffered(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	tables, skip, rec, err := pw.resolve(ctx, events, pw.settle)
	if err != nil {
		return err
	}
	p, err := pw.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	rec, err = pw.writeIn(ctx, p, events, tables, skip, rec)
	if err == nil && len(rec) > 0 {
		err = fmt.Errorf("%s sink: %d event(s) rejected (first: %v); writing again one transaction at a time", pw.d.Server(), len(rec), rec[0].Err)
	}
	if err != nil {
		_ = p.tx.Rollback(context.WithoutCancel(ctx))
		p.failed = err
		pw.mu.Lock()
		if pw.mu.open == p {
			pw.mu.open = nil
		}
		pw.mu.Unlock()
		return err
	}
	return nil
}

// acquire returns the open transaction, beginning one when there is none,
// with its mu held.
func (pw *Pipelined) acquire(ctx context.Context) (*pending, error) {
	pw.mu.Lock()
	if p := pw.mu.open; p != nil {
		p.mu.Lock()
		pw.mu.Unlock()
		return p, nil
	}
	prev := pw.mu.last
	pw.mu.Unlock()
	tx, err := pw.d.Begin(ctx)
	if err != nil {
		return nil, pw.fail("begin", err)
	}
	p := newPending(tx, prev)
	if err := p.prevDone(); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	p.mu.Lock()
	pw.mu.Lock()
	pw.mu.open = p
	pw.mu.Unlock()
	return p, nil
}

// Flush implements component.FlushingSink: it commits the open
// transaction, or waits for the commit of the last one taken.
func (pw *Pipelined) Flush(ctx context.Context) error {
	pw.mu.Lock()
	p := pw.mu.open
	if p == nil {
		last := pw.mu.last
		pw.mu.Unlock()
		if last == nil {
			return nil
		}
		select {
		case <-last.done:
			return last.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	pw.mu.open, pw.mu.last = nil, p
	pw.mu.Unlock()
	return pw.commit(ctx, p)
}

// commit commits p, taken from open, once no WriteBuffered writes into it.
func (pw *Pipelined) commit(ctx context.Context, p *pending) error {
	p.mu.Lock()
	err := p.failed
	if err == nil {
		if err = p.tx.Commit(ctx); err != nil {
			err = pw.fail("commit", err)
		}
	}
	p.mu.Unlock()
	p.err = err
	close(p.done)
	return err
}

// settle makes every transaction end before DDL: the last commit, then the
// open transaction's (early: what it holds is durable sooner than the
// engine asked).
func (pw *Pipelined) settle(ctx context.Context) error {
	pw.mu.Lock()
	p := pw.mu.open
	if p != nil {
		pw.mu.open = nil
	}
	last := pw.mu.last
	if p != nil {
		pw.mu.last = p
	}
	pw.mu.Unlock()
	if last != nil {
		select {
		case <-last.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if last.err != nil {
			if p != nil {
				p.mu.Lock()
				_ = p.tx.Rollback(context.WithoutCancel(ctx))
				p.failed = last.err
				p.mu.Unlock()
				p.err = last.err
				close(p.done)
			}
			return fmt.Errorf("the previous transaction did not commit: %w", last.err)
		}
	}
	if p == nil {
		return nil
	}
	return pw.commit(ctx, p)
}

// Close implements component.Sink: the open transaction is rolled back.
func (pw *Pipelined) Close(ctx context.Context) error {
	err := pw.reset(ctx)
	return errors.Join(err, pw.Writer.Close(ctx))
}
