package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// limits bound an operator state's memory; tests shrink them to reach
// every path with little data.
type limits struct {
	// flushBytes: the pending batch is applied to Pebble (without sync)
	// once it holds this many bytes.
	flushBytes int
	// recordedKeys and recordedBytes bound the set of keys whose undo
	// record the current epoch already wrote.
	recordedKeys, recordedBytes int
	// rollbackChunk is the number of undo records per rollback batch.
	rollbackChunk int
}

var defaultLimits = limits{
	flushBytes:    1 << 20,
	recordedKeys:  1 << 16,
	recordedBytes: 4 << 20,
	rollbackChunk: 4096,
}

// opState is one processor's operator state. Its State methods and Begin
// are called by the processor's goroutine (one at a time); Commit (seal)
// and Committed by the engine's, concurrently.
type opState struct {
	db         *DB
	name       string
	prefix     []byte // tagState + name: the processor's keys
	upper      []byte // the end of the processor's keys
	undoPrefix []byte // tagUndo + name: the processor's undo records

	// committed is the durable committed epoch, set after Commit's sync.
	committed atomic.Uint64

	// inScan is set while Scan calls fn. Only the processor's goroutine
	// reads or writes it: a State call that finds it set comes from fn, on
	// the goroutine that holds mu already, and must not lock again.
	inScan bool

	mu struct {
		sync.Mutex
		// batch holds the changes not yet applied to Pebble (indexed, so
		// reads see them); nil when there are none.
		batch *pebble.Batch
		// epoch is the current epoch (Begin); sealed the highest epoch a
		// Commit has taken. Changes need epoch > sealed.
		epoch, sealed uint64
		// seq numbers the undo records of the current epoch.
		seq uint64
		// recorded holds keys whose undo record the current epoch has
		// written, up to the limits; recordedBytes counts their bytes.
		recorded      map[string]struct{}
		recordedBytes int
		// err is sticky: a misuse (Begin going back) or Close.
		err error
		// last is the key the last Get read and what it found, until a
		// change: the Set that follows a Get of the same key (a counter, an
		// aggregate) takes its undo record from it instead of reading again.
		last struct {
			valid, found bool
			key, value   []byte
		}
		// Scratch buffers: kbuf a Pebble key, ubuf an undo key, vbuf an
		// undo record, out the value Get returns.
		kbuf, ubuf, vbuf, out []byte
	}
}

var _ OperatorState = (*opState)(nil)

// State returns the operator state of a processor. The first call reads its
// committed epoch; later calls return the same state. Open has already
// rolled it back to that epoch.
func (db *DB) State(processor string) (OperatorState, error) {
	s, err := db.state(processor)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (db *DB) state(processor string) (*opState, error) {
	if err := db.checkOpen(); err != nil {
		return nil, err
	}
	if processor == "" {
		return nil, errors.New("store: a processor's state needs the processor's name")
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if s, ok := db.mu.states[processor]; ok {
		return s, nil
	}
	committed, err := db.committedEpoch(processor)
	if err != nil {
		return nil, err
	}
	s := &opState{db: db, name: processor, prefix: spacePrefix(tagState, processor), undoPrefix: spacePrefix(tagUndo, processor)}
	s.upper = prefixEnd(s.prefix)
	s.committed.Store(committed)
	s.mu.epoch, s.mu.sealed = committed, committed
	s.mu.recorded = map[string]struct{}{}
	db.mu.states[processor] = s
	return s, nil
}

// committedEpoch reads a processor's committed epoch (0: none).
func (db *DB) committedEpoch(processor string) (uint64, error) {
	v, closer, err := db.pdb.Get(epochKey(processor))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, db.wrap("read the committed epoch of "+processor, err)
	}
	defer closer.Close()
	e, err := decodeEpoch(v)
	if err != nil {
		return 0, db.corrupt("read the committed epoch of "+processor, err)
	}
	return e, nil
}

// enter locks mu unless the caller is Scan's fn, whose goroutine holds it.
func (s *opState) enter() bool {
	if s.inScan {
		return false
	}
	s.mu.Lock()
	return true
}

func (s *opState) leave(locked bool) {
	if locked {
		s.mu.Unlock()
	}
}

// Committed is the last epoch a Commit made durable for this processor.
func (s *opState) Committed() uint64 { return s.committed.Load() }

// Begin starts epoch e. An epoch that does not grow is a bug of the
// caller: every later change then fails with an error saying so.
func (s *opState) Begin(e uint64) {
	locked := s.enter()
	defer s.leave(locked)
	if s.mu.err != nil {
		return
	}
	if e <= s.mu.epoch || e <= s.mu.sealed {
		s.mu.err = fmt.Errorf("store: processor %s: Begin(%d) after epoch %d (committed up to %d): epochs must grow", s.name, e, s.mu.epoch, s.mu.sealed)
		return
	}
	s.mu.epoch, s.mu.seq = e, 0
	if len(s.mu.recorded) > 0 {
		if len(s.mu.recorded) >= s.db.limits.recordedKeys/2 {
			s.mu.recorded = map[string]struct{}{} // give a large set's memory back
		} else {
			clear(s.mu.recorded)
		}
	}
	s.mu.recordedBytes = 0
}

// writable reports why the state cannot change now. Called with mu held.
func (s *opState) writable() error {
	if s.mu.err != nil {
		return s.mu.err
	}
	if s.mu.epoch <= s.mu.sealed {
		return fmt.Errorf("store: processor %s changed its state outside an epoch: Begin an epoch above %d first", s.name, s.mu.sealed)
	}
	return nil
}

func (s *opState) key(k []byte) []byte {
	s.mu.kbuf = append(append(s.mu.kbuf[:0], s.prefix...), k...)
	return s.mu.kbuf
}

// boundKey is key for iterator bounds, which must outlive later calls.
func (s *opState) boundKey(k []byte) []byte {
	return append(append(make([]byte, 0, len(s.prefix)+len(k)), s.prefix...), k...)
}

// reader reads through the pending batch when it holds changes; an empty
// one would only cost iterators.
func (s *opState) reader() pebble.Reader {
	if s.mu.batch != nil && !s.mu.batch.Empty() {
		return s.mu.batch
	}
	return s.db.pdb
}

func (s *opState) pending() *pebble.Batch {
	if s.mu.batch == nil {
		s.mu.batch = s.db.pdb.NewIndexedBatch()
	}
	return s.mu.batch
}

// Get returns the value of key, including changes not yet committed.
func (s *opState) Get(key []byte) ([]byte, bool, error) {
	locked := s.enter()
	defer s.leave(locked)
	if s.mu.err != nil {
		return nil, false, s.mu.err
	}
	v, closer, err := s.reader().Get(s.key(key))
	last := &s.mu.last
	last.valid, last.found = false, false
	if errors.Is(err, pebble.ErrNotFound) {
		last.valid, last.key = true, append(last.key[:0], key...)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.db.wrap("get a key of "+s.name, err)
	}
	last.valid, last.found = true, true
	last.key = append(last.key[:0], key...)
	last.value = append(last.value[:0], v...)
	closer.Close()
	// The caller gets its own copy: it may change it.
	s.mu.out = append(s.mu.out[:0], last.value...)
	return s.mu.out, true, nil
}

// Set stores value under key in the current epoch.
func (s *opState) Set(key, value []byte) error {
	locked := s.enter()
	defer s.leave(locked)
	if err := s.writable(); err != nil {
		return err
	}
	sk := s.key(key)
	if err := s.recordUndo(key, sk); err != nil {
		return err
	}
	if err := s.pending().Set(sk, value, nil); err != nil {
		return s.db.wrap("set a key of "+s.name, err)
	}
	return s.maybeFlush()
}

// Delete removes key in the current epoch.
func (s *opState) Delete(key []byte) error {
	locked := s.enter()
	defer s.leave(locked)
	if err := s.writable(); err != nil {
		return err
	}
	sk := s.key(key)
	if err := s.recordUndo(key, sk); err != nil {
		return err
	}
	if err := s.pending().Delete(sk, nil); err != nil {
		return s.db.wrap("delete a key of "+s.name, err)
	}
	return s.maybeFlush()
}

// recordUndo writes, for the first change of key in the current epoch, the
// value key has now (or its absence) as an undo record, into the same
// pending batch as the change that follows. A key the bounded set no longer
// holds is recorded again at each change: harmless, as rollback applies the
// records newest first, so the oldest of an epoch wins.
func (s *opState) recordUndo(key, sk []byte) error {
	last := &s.mu.last
	lastValid := last.valid
	last.valid = false // the change follows
	if _, ok := s.mu.recorded[string(key)]; ok {
		return nil
	}
	if lastValid && bytes.Equal(last.key, key) {
		s.mu.vbuf = appendUndo(s.mu.vbuf[:0], key, last.value, last.found)
		return s.writeUndo(key)
	}
	v, closer, err := s.reader().Get(sk)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		s.mu.vbuf = appendUndo(s.mu.vbuf[:0], key, nil, false)
	case err != nil:
		return s.db.wrap("read a key of "+s.name, err)
	default:
		s.mu.vbuf = appendUndo(s.mu.vbuf[:0], key, v, true)
		closer.Close()
	}
	return s.writeUndo(key)
}

// writeUndo writes s.mu.vbuf as the next undo record of the epoch and
// remembers key.
func (s *opState) writeUndo(key []byte) error {
	s.mu.ubuf = appendU64(appendU64(append(s.mu.ubuf[:0], s.undoPrefix...), s.mu.epoch), s.mu.seq)
	s.mu.seq++
	if err := s.pending().Set(s.mu.ubuf, s.mu.vbuf, nil); err != nil {
		return s.db.wrap("write an undo record of "+s.name, err)
	}
	lim := s.db.limits
	if len(s.mu.recorded) < lim.recordedKeys && s.mu.recordedBytes+len(key) <= lim.recordedBytes {
		s.mu.recorded[string(key)] = struct{}{}
		s.mu.recordedBytes += len(key)
	}
	return nil
}

// maybeFlush applies the pending batch once it is large, except inside a
// Scan, whose iterator reads the batch.
func (s *opState) maybeFlush() error {
	if s.inScan || s.mu.batch == nil || s.mu.batch.Len() < s.db.limits.flushBytes {
		return nil
	}
	return s.flush()
}

// flush applies the pending batch to Pebble without sync: the WAL has it,
// with the undo records of its changes; a Commit's synced write makes it
// durable, and a crash before that rolls it back.
func (s *opState) flush() error {
	b := s.mu.batch
	if b == nil || b.Empty() {
		return nil
	}
	if err := s.db.pdb.Apply(b, pebble.NoSync); err != nil {
		return s.db.wrap("write the state of "+s.name, err)
	}
	b.Reset()
	return nil
}

// DeleteRange deletes every key in [start, end) (end nil: to the end of the
// processor's space) in the current epoch. To be undoable it reads the
// range and writes an undo record, with the old value, for each key not yet
// recorded in the epoch: its cost is that of a Scan of the range plus a
// write of every key and value in it (written in bounded batches), then one
// Pebble range deletion. It may not be called from a Scan's fn.
func (s *opState) DeleteRange(start, end []byte) error {
	if s.inScan {
		return fmt.Errorf("store: processor %s called DeleteRange inside Scan: collect the range in fn and delete it after Scan returns", s.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	s.mu.last.valid = false
	lo, hi := s.boundKey(start), s.upper
	if end != nil {
		hi = s.boundKey(end)
	}
	// Pebble's iterator is a point-in-time view: applying the batch while
	// it runs does not disturb it.
	if err := s.flush(); err != nil {
		return err
	}
	it, err := s.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return s.db.wrap("delete a range of "+s.name, err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()[len(s.prefix):]
		if _, ok := s.mu.recorded[string(key)]; ok {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return s.db.wrap("delete a range of "+s.name, err)
		}
		s.mu.vbuf = appendUndo(s.mu.vbuf[:0], key, v, true)
		if err := s.writeUndo(key); err == nil {
			err = s.maybeFlush()
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return s.db.wrap("delete a range of "+s.name, err)
	}
	if err := s.pending().DeleteRange(lo, hi, nil); err != nil {
		return s.db.wrap("delete a range of "+s.name, err)
	}
	return s.maybeFlush()
}

// Scan calls fn for each key in [start, end) in key order (end nil: to the
// end of the processor's space) until fn returns false. It sees every
// change made before it started; fn may Get, Set and Delete (the scan does
// not see those changes), but not DeleteRange. key and value are valid
// until fn returns.
func (s *opState) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	locked := s.enter()
	defer s.leave(locked)
	if s.mu.err != nil {
		return s.mu.err
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	o := &pebble.IterOptions{LowerBound: s.boundKey(start), UpperBound: s.upper}
	if end != nil {
		o.UpperBound = s.boundKey(end)
	}
	it, err := s.reader().NewIter(o)
	if err != nil {
		return s.db.wrap("scan "+s.name, err)
	}
	outer := s.inScan
	s.inScan = true
	for valid := it.First(); valid; valid = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			err = verr
			break
		}
		if !fn(it.Key()[len(s.prefix):], v) {
			break
		}
	}
	s.inScan = outer
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.db.wrap("scan "+s.name, err)
	}
	return s.maybeFlush()
}

// seal is Commit's first step for this processor: refuse further changes
// in epochs ≤ e and apply the pending ones (without sync: Commit's synced
// write follows).
func (s *opState) seal(e uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.err != nil {
		return s.mu.err
	}
	if e < s.mu.sealed {
		return fmt.Errorf("store: commit of epoch %d for processor %s after epoch %d: commits must not go back", e, s.name, s.mu.sealed)
	}
	if err := s.flush(); err != nil {
		return err
	}
	s.mu.sealed = e
	return nil
}

// undoRange is the range of the processor's undo records of epochs ≤ e.
func (s *opState) undoRange(e uint64) (lo, hi []byte) {
	lo = s.undoPrefix
	if e == math.MaxUint64 {
		return lo, prefixEnd(s.undoPrefix)
	}
	return lo, appendU64(append([]byte(nil), s.undoPrefix...), e+1)
}
