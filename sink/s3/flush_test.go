package s3

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

func writeBuffered(t *testing.T, s *Sink, evs []event.Event) {
	t.Helper()
	if err := s.WriteBuffered(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func flush(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// powerLoss abandons a sink as a power failure would: every open spool
// file keeps only what its last successful fsync covered (the page cache
// is gone), then the process is gone.
func powerLoss(t *testing.T, s *Sink) {
	t.Helper()
	s.mu.Lock()
	for _, sp := range s.open {
		if err := os.Truncate(sp.path, sp.synced.Load()); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Unlock()
	crash(s)
}

// unsynced counts the open spools with records not yet fsynced.
func unsynced(s *Sink) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sp := range s.open {
		if sp.unsynced() {
			n++
		}
	}
	return n
}

// reference returns the objects an uninterrupted Write of changes 1..20,
// two at a time, makes.
func reference(t *testing.T) map[string]string {
	t.Helper()
	ref := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), ref)
	for i := 1; i <= 20; i += 2 {
		write(t, s, changes(i, i+1))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, k := range ref.keys() {
		want[k] = string(ref.get(k))
	}
	return want
}

// TestWriteBufferedFlush: WriteBuffered leaves its records to the next
// Flush's fsync (unless it seals an object, which fsyncs every spool), and
// the objects are those Write makes.
func TestWriteBufferedFlush(t *testing.T) {
	want := reference(t)
	store := newMemStore()
	s := newTestSink(t, rowConfig(), t.TempDir(), store)
	for i := 1; i <= 20; i += 2 {
		writeBuffered(t, s, changes(i, i+1))
		// flush_size 3, two changes a batch: batches 1, 3, 4, 6, ... seal
		// an object (at changes 3, 6, 9, ...); the others leave records
		// unfsynced.
		seals := (i+1)/3 > (i-1)/3
		if n := unsynced(s); seals && n != 0 || !seals && n != 1 {
			t.Fatalf("after changes %d..%d: %d open spools not fsynced, want %d", i, i+1, n, map[bool]int{true: 0, false: 1}[seals])
		}
		if i%4 == 3 { // a Flush now and then covers two batches
			flush(t, s)
			if n := unsynced(s); n != 0 {
				t.Fatalf("after Flush: %d open spools not fsynced", n)
			}
		}
	}
	flush(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, store, want)
}

// TestBufferedPowerLoss cuts the power after each batch, before the Flush
// that would have covered it, with every upload done and its state file
// saved while that batch was still in the page cache only. The engine then
// replays from its last acknowledged batch. The objects must be exactly
// those of an uninterrupted run: the state file may only hold what was
// durable (a mark covering the lost batch would have the replay skip it).
func TestBufferedPowerLoss(t *testing.T) {
	want := reference(t)
	for k := 1; k <= 19; k += 2 {
		t.Run(fmt.Sprintf("batch%d", k), func(t *testing.T) {
			dir := t.TempDir()
			store := newMemStore()
			s := newTestSink(t, rowConfig(), dir, store)
			for i := 1; i <= k; i += 2 {
				writeBuffered(t, s, changes(i, i+1))
				if i < k {
					flush(t, s) // batches before k are acknowledged
				}
			}
			settle(s)
			writeBuffered(t, s, nil) // joins the upload: saves the state
			powerLoss(t, s)
			s = newTestSink(t, rowConfig(), dir, store)
			for i := k; i <= 20; i += 2 {
				write(t, s, changes(i, i+1))
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkObjects(t, store, want)
		})
	}
}

// TestBufferedPowerLossSnapshotRows: snapshot rows, which carry no
// position, are numbered by the sink; after a power failure each row is in
// the bucket at least once (the sink's ordinals name objects, and a replay
// renumbers the rows after the durable ones).
func TestBufferedPowerLossSnapshotRows(t *testing.T) {
	rowsOf := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i <= to; i++ {
			evs = append(evs, snapshotRow(i))
		}
		return evs
	}
	for k := 1; k <= 19; k += 2 {
		t.Run(fmt.Sprintf("batch%d", k), func(t *testing.T) {
			dir := t.TempDir()
			store := newMemStore()
			s := newTestSink(t, rowConfig(), dir, store)
			for i := 1; i <= k; i += 2 {
				writeBuffered(t, s, rowsOf(i, i+1))
				if i < k {
					flush(t, s)
				}
			}
			settle(s)
			writeBuffered(t, s, nil)
			powerLoss(t, s)
			s = newTestSink(t, rowConfig(), dir, store)
			for i := k; i <= 20; i += 2 {
				write(t, s, rowsOf(i, i+1))
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			for _, key := range store.keys() {
				all.Write(store.get(key))
			}
			for i := 1; i <= 20; i++ {
				if !strings.Contains(all.String(), fmt.Sprintf(`"name":"user %d"`, i)) {
					t.Errorf("row %d is in no object:\n%s", i, all.String())
				}
			}
		})
	}
}

// failNextFsync makes the sink's next fsync of a spool file fail.
func failNextFsync(s *Sink) {
	var mu sync.Mutex
	armed := true
	s.hook = func(step string) error {
		mu.Lock()
		defer mu.Unlock()
		if step == stepFsync && armed {
			armed = false
			return errors.New("input/output error")
		}
		return nil
	}
	s.mu.Lock()
	for _, sp := range s.open {
		sp.fault = s.fault
	}
	s.mu.Unlock()
}

// loseUnsynced overwrites what the open spools hold past their last good
// fsync with zeros: after a failed fsync, the disk need not hold what the
// page cache showed.
func loseUnsynced(t *testing.T, s *Sink) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.open {
		from, to := sp.synced.Load(), sp.written.Load()
		if to > from {
			if _, err := sp.f.WriteAt(make([]byte, to-from), from); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFlushFailure: a Flush whose fsync fails fails, and so does every
// later Flush and WriteBuffered, until the engine writes again everything
// not acknowledged with Write. That Write cuts the spool back to its last
// good fsync first (the page cache may show records the disk lost) and
// numbers snapshot rows again from the last acknowledged Flush, so the
// objects hold every event once.
func TestFlushFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   func(i int) event.Event
		want map[string]string
	}{
		{"changes", func(i int) event.Event { return change(i, event.OpCreate) }, map[string]string{key(1, 6): rows(1, 6)}},
		{"snapshot_rows", snapshotRow, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := func(from, to int) []event.Event {
				var evs []event.Event
				for i := from; i <= to; i++ {
					evs = append(evs, tc.ev(i))
				}
				return evs
			}
			cfg := rowConfig()
			cfg.FlushSize = 10
			store := newMemStore()
			s := newTestSink(t, cfg, t.TempDir(), store)
			writeBuffered(t, s, batch(1, 2))
			flush(t, s) // acknowledged
			writeBuffered(t, s, batch(3, 4))
			failNextFsync(s)
			err := s.Flush(context.Background())
			if err == nil || !strings.Contains(err.Error(), "fsync spool") || !strings.Contains(err.Error(), "input/output error") {
				t.Fatalf("Flush = %v, want the fsync's failure", err)
			}
			if err := s.Flush(context.Background()); err == nil {
				t.Fatal("a second Flush succeeded after a failed fsync")
			}
			if err := s.WriteBuffered(context.Background(), batch(5, 6)); err == nil {
				t.Fatal("WriteBuffered succeeded after a failed fsync")
			}
			loseUnsynced(t, s)
			// The engine's rewrite: everything after the last good Flush.
			write(t, s, batch(3, 4))
			write(t, s, batch(5, 6))
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				keys := store.keys()
				if len(keys) != 1 || !strings.HasSuffix(keys[0], "pg.public.users+s000000000001+s000000000006.jsonl") {
					t.Fatalf("objects %v, want one of snapshot rows 1..6", keys)
				}
				for i := 1; i <= 6; i++ {
					if n := strings.Count(string(store.get(keys[0])), fmt.Sprintf(`"name":"user %d"`, i)); n != 1 {
						t.Errorf("row %d is %d times in the object:\n%s", i, n, store.get(keys[0]))
					}
				}
				return
			}
			checkObjects(t, store, tc.want)
		})
	}
}

// TestWriteBufferedFailure: a WriteBuffered that fails (here: the fsync of
// the object it seals) is written again by the engine with everything else
// not acknowledged, from the last acknowledged Flush on — not only the
// failed batch. The snapshot rows of that rewrite are numbered from there,
// so each lands once.
func TestWriteBufferedFailure(t *testing.T) {
	cfg := rowConfig()
	cfg.FlushSize = 5
	store := newMemStore()
	s := newTestSink(t, cfg, t.TempDir(), store)
	rowsOf := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i <= to; i++ {
			evs = append(evs, snapshotRow(i))
		}
		return evs
	}
	writeBuffered(t, s, rowsOf(1, 2))
	flush(t, s) // acknowledged
	writeBuffered(t, s, rowsOf(3, 4))
	failNextFsync(s)
	if err := s.WriteBuffered(context.Background(), rowsOf(5, 6)); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("WriteBuffered = %v, want the seal's failed fsync", err)
	}
	loseUnsynced(t, s)
	write(t, s, rowsOf(3, 4))
	write(t, s, rowsOf(5, 6))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := store.keys()
	if len(keys) != 2 || !strings.HasSuffix(keys[0], "+s000000000001+s000000000005.jsonl") || !strings.HasSuffix(keys[1], "+s000000000006+s000000000006.jsonl") {
		t.Fatalf("objects %v, want rows 1..5 and row 6", keys)
	}
	for i := 1; i <= 6; i++ {
		n := 0
		for _, k := range keys {
			n += strings.Count(string(store.get(k)), fmt.Sprintf(`"name":"user %d"`, i))
		}
		if n != 1 {
			t.Errorf("row %d is %d times in the bucket", i, n)
		}
	}
}
