package sqltest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// Gated is a pipelined sink (sink name sink1) into a fresh database whose
// commits the test can hold, so that the next batch is written,
// deterministically, while the previous transaction commits. Table items
// (ItemsSchema) and the positions table exist, items holding the row
// (100, first, 1). Overlap plays the cases' moves with its gate.
type Gated interface {
	Sink() *sqlsink.Pipelined
	// Hold makes the next commit wait at the gate; with lose it fails
	// once let go (a server whose gate fails commits by their rows
	// instead, a row named "boom", may ignore lose).
	Hold(t *testing.T, lose bool)
	// Held reports whether a commit waits at the gate.
	Held(t *testing.T) bool
	// NextWaits reports whether the open transaction waits on the server
	// for the held one (a key or the positions row it holds).
	NextWaits(t *testing.T) bool
	// Release lets the held commit go.
	Release(t *testing.T)
	// Sessions describes the server's sessions, for a failure.
	Sessions(t *testing.T) string
	// Rows returns items' rows as "id|name|qty" ordered by id, or the
	// given columns.
	Rows(t *testing.T, cols ...string) []string
	// Position returns sink1's positions row for Source as "hi.lo".
	Position(t *testing.T) string
}

// Overlap commits what g has buffered (Flush) and, while that commit is
// held, writes evs with WriteBuffered. Once the batch's transaction waits
// on the server for the committing one, or WriteBuffered has returned, it
// lets the commit go and returns both results.
func Overlap(t *testing.T, g Gated, lose bool, evs ...event.Event) (flushErr, writeErr error) {
	t.Helper()
	ctx := context.Background()
	g.Hold(t, lose)
	released := false
	defer func() {
		// A case that failed while the commit was held lets it go, so
		// that the sink's Close does not wait for it forever.
		if !released {
			g.Release(t)
		}
	}()
	flushed := make(chan error, 1)
	go func() { flushed <- g.Sink().Flush(ctx) }()
	waitFor(t, g, "the commit to wait at the gate", func() bool { return g.Held(t) })
	written := make(chan error, 1)
	go func() { written <- g.Sink().WriteBuffered(ctx, evs) }()
	// Everything the batch did before that wait ran while the previous
	// transaction committed.
	waitFor(t, g, "the next transaction to wait for the committing one", func() bool {
		select {
		case err := <-written:
			written <- err
			return true
		default:
		}
		return g.NextWaits(t)
	})
	released = true
	g.Release(t)
	return result(t, flushed, "Flush"), result(t, written, "WriteBuffered")
}

// waitFor waits until cond holds (30 s at most).
func waitFor(t *testing.T, g Gated, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; the server's sessions:\n%s", what, g.Sessions(t))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func result(t *testing.T, ch chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s hangs", what)
		return nil
	}
}

// WritePipelined writes evs in batches as the engine's flushing runner
// does: WriteBuffered for each batch, a Flush on another goroutine started
// whenever the previous one has returned, and a last Flush; for the sinks'
// throughput reports.
func WritePipelined(t testing.TB, s *sqlsink.Pipelined, evs []event.Event, batch int) {
	ctx := context.Background()
	var inFlight chan error
	for i := 0; i < len(evs); i += batch {
		if err := s.WriteBuffered(ctx, evs[i:min(i+batch, len(evs))]); err != nil {
			t.Fatal(err)
		}
		if inFlight != nil {
			select {
			case err := <-inFlight:
				if err != nil {
					t.Fatal(err)
				}
				inFlight = nil
			default:
			}
		}
		if inFlight == nil {
			inFlight = make(chan error, 1)
			go func(ch chan error) { ch <- s.Flush(ctx) }(inFlight)
		}
	}
	if inFlight != nil {
		if err := <-inFlight; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// PipelineHarness opens gated sinks of one server.
type PipelineHarness struct {
	Open func(t *testing.T) Gated
	// OutOfRange is a part of the server's error text for a qty of 2^40.
	OutOfRange string
}

// ItemsSchema is the table of the pipelined cases.
var ItemsSchema = Schema("items", 1, colID, colName, colQty)

// item is an event of ItemsSchema: the before image for a delete, the
// after image otherwise.
func item(op event.Op, id int64, name string, qty int64, seq uint64) event.Event {
	row := Row(I(id), S(name), I(qty))
	if op == 'd' {
		return Ev(op, ItemsSchema, row, nil, seq)
	}
	return Ev(op, ItemsSchema, nil, row, seq)
}

// RunPipelined runs the cases of sqlsink.Pipelined against a server: each
// batch written while the previous transaction commits.
func RunPipelined(t *testing.T, h PipelineHarness) {
	t.Run("SameKeyConsecutive", func(t *testing.T) { t.Parallel(); pipeSameKey(t, h) })
	t.Run("CommitLost", func(t *testing.T) { t.Parallel(); pipeCommitLost(t, h) })
	t.Run("RejectedWhileCommitting", func(t *testing.T) { t.Parallel(); pipeRejected(t, h) })
	t.Run("EvolveCommitsFirst", func(t *testing.T) { t.Parallel(); pipeEvolve(t, h) })
}

// pipeSameKey: consecutive batches change the same key (insert, update,
// delete, insert again, a snapshot row's upsert, a delete of a row the
// committing transaction inserted): the table ends exactly as if each
// batch had committed before the next.
func pipeSameKey(t *testing.T, h PipelineHarness) {
	g := h.Open(t)
	ctx := context.Background()
	if err := g.Sink().WriteBuffered(ctx, []event.Event{item('c', 1, "a", 1, 1), item('c', 2, "x", 2, 2)}); err != nil {
		t.Fatal(err)
	}
	batches := [][]event.Event{
		{item('u', 1, "b", 3, 3)},
		{item('d', 1, "", 0, 4)},
		{item('c', 1, "c", 5, 5), item('u', 2, "y", 6, 6)},
		{item('c', 3, "z", 7, 7)},
		{item('r', 3, "zz", 8, 0), item('r', 2, "yy", 9, 0)},
		{item('c', 4, "w", 10, 8), item('c', 5, "v", 11, 9)},
		// Deletes a row the committing transaction inserted: no snapshot
		// taken before that commit sees it.
		{item('d', 5, "", 0, 10)},
	}
	for i, b := range batches {
		flushErr, writeErr := Overlap(t, g, false, b...)
		if flushErr != nil || writeErr != nil {
			t.Fatalf("batch %d: Flush = %v, WriteBuffered = %v", i+2, flushErr, writeErr)
		}
	}
	if err := g.Sink().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	Want(t, g.Rows(t), "1|c|5", "2|yy|9", "3|zz|8", "4|w|10", "100|first|1")
	wantPosition(t, g, "10.10")
}

// pipeCommitLost: the previous transaction's commit fails while the next
// batch is written: that batch fails too (it must not commit after a lost
// one), and writing both again, as the engine does, leaves exactly their
// rows.
func pipeCommitLost(t *testing.T, h PipelineHarness) {
	g := h.Open(t)
	s := g.Sink()
	ctx := context.Background()
	b1 := []event.Event{item('c', 1, "boom", 1, 1), item('c', 2, "two", 2, 2)}
	b2 := []event.Event{item('u', 2, "two2", 3, 3), item('c', 3, "three", 4, 4)}
	if err := s.WriteBuffered(ctx, b1); err != nil {
		t.Fatal(err)
	}
	flushErr, writeErr := Overlap(t, g, true, b2...)
	if flushErr == nil || !strings.Contains(flushErr.Error(), "commit lost") {
		t.Fatalf("Flush = %v, want the lost commit", flushErr)
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "did not commit") {
		t.Fatalf("WriteBuffered = %v, want it to fail with the previous commit", writeErr)
	}
	Want(t, g.Rows(t), "100|first|1")
	// The engine writes every unacknowledged batch again, in order.
	Write(t, s, b1...)
	Write(t, s, b2...)
	Want(t, g.Rows(t), "1|boom|1", "2|two2|3", "3|three|4", "100|first|1")
	wantPosition(t, g, "4.4")
	// And the pipeline goes on.
	if err := s.WriteBuffered(ctx, []event.Event{item('u', 3, "three2", 5, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	Want(t, g.Rows(t), "1|boom|1", "2|two2|3", "3|three2|5", "100|first|1")
}

// pipeRejected: the server rejects a row of the batch written while the
// previous one commits: the previous one commits, the batch fails whole
// (nothing of it stays), and written again with Write it reports exactly
// the bad event and writes the rest.
func pipeRejected(t *testing.T, h PipelineHarness) {
	g := h.Open(t)
	s := g.Sink()
	ctx := context.Background()
	b1 := []event.Event{item('c', 1, "one", 1, 1)}
	b2 := []event.Event{item('u', 1, "one2", 2, 2), item('c', 2, "big", 1<<40, 3), item('c', 3, "three", 3, 4)}
	if err := s.WriteBuffered(ctx, b1); err != nil {
		t.Fatal(err)
	}
	flushErr, writeErr := Overlap(t, g, false, b2...)
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "1 event(s) rejected") {
		t.Fatalf("WriteBuffered = %v, want the rejected row", writeErr)
	}
	Want(t, g.Rows(t), "1|one|1", "100|first|1")
	err := s.Write(ctx, b2)
	re, ok := err.(component.RecordErrors)
	if !ok || len(re) != 1 || re[0].Index != 1 || !strings.Contains(re[0].Err.Error(), h.OutOfRange) {
		t.Fatalf("Write = %v, want one record error for event 1 (%q)", err, h.OutOfRange)
	}
	Want(t, g.Rows(t), "1|one2|2", "3|three|3", "100|first|1")
	wantPosition(t, g, "2.2") // before the rejected event
}

// pipeEvolve: a batch whose schema adds a column (auto_evolve) while the
// previous batch's transaction is open: the ALTER TABLE would wait for
// that transaction's lock on the table, which only the next Flush would
// release, so the open transaction commits first.
func pipeEvolve(t *testing.T, h PipelineHarness) {
	g := h.Open(t)
	s := g.Sink()
	ctx := context.Background()
	v2 := Schema("items", 2, colID, colName, colQty, event.Column{Name: "note", Type: event.TypeString, Optional: true})
	if err := s.WriteBuffered(ctx, []event.Event{item('c', 1, "one", 1, 1)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.WriteBuffered(ctx, []event.Event{Ev('c', v2, nil, Row(I(2), S("two"), I(2), S("added")), 2)})
	}()
	if err := result(t, done, "WriteBuffered of the evolved schema"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	Want(t, g.Rows(t, "id", "name", "note"), "1|one|NULL", "2|two|added", "100|first|NULL")
	wantPosition(t, g, "2.2")
}

// wantPosition fails t unless the sink's committed position is want.
func wantPosition(t *testing.T, g Gated, want string) {
	t.Helper()
	if got := g.Position(t); got != want {
		t.Fatalf("position %s, want %s", got, want)
	}
}
