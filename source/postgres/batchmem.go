package postgres

import (
	"github.com/sluice-dev/sluice/event"
)

// batchFree is how many released batches a snapshot keeps for reuse. The
// batches alive at once are the engine's window (4 by default), each
// worker's held-back batch, the global hold, the decoder's work queue (2)
// and the batch being gathered: releases and reuses alternate in steady
// state, so a few free ones suffice; past batchFree a release drops the
// batch to the garbage collector. At most batchFree batches (each under
// batchBytes of text plus its events and values) stay allocated until the
// snapshot ends, when the pool goes with the snapshotter.
const batchFree = 16

// batchPool recycles the memory of snapshot batches the engine released
// (component.ReleasingEmitter): COPY text buffers, event slices and value
// slabs. It is a bounded free list, safe for concurrent use: releases come
// from the sinks' goroutines, gets from the decoders and the COPY readers.
// A nil *batchPool recycles nothing (every get allocates).
//
// Why a free list of our own and not sync.Pool: a snapshot allocates
// enough to keep the GC running much of the time, and sync.Pool drops its
// items at every other collection, so reuse would fall back to allocation
// exactly when it matters; the free list is bounded, so it holds no more
// than batchFree batches however the releases come.
type batchPool struct {
	texts chan []byte
	mems  chan *batchMem
}

func newBatchPool() *batchPool {
	return &batchPool{texts: make(chan []byte, batchFree), mems: make(chan *batchMem, batchFree)}
}

// text returns an empty buffer of at least n bytes' capacity.
func (p *batchPool) text(n int) []byte {
	if p != nil {
		select {
		case b := <-p.texts:
			if cap(b) >= n {
				return b[:0]
			}
			// Too small for this table's batches: let it go.
		default:
		}
	}
	return make([]byte, 0, n)
}

// putText gives back a text buffer nothing aliases any more.
func (p *batchPool) putText(b []byte) {
	if p == nil || b == nil {
		return
	}
	select {
	case p.texts <- b:
	default:
	}
}

// mem returns a batchMem for one batch.
func (p *batchPool) mem() *batchMem {
	if p != nil {
		select {
		case m := <-p.mems:
			return m
		default:
		}
	}
	return &batchMem{pool: p}
}

// batchMem is the memory of one decoded batch: the COPY text its strings
// alias (nil when the batch's text is a copy of its own, see copyText),
// its events and the slabs of their values. Once the engine released the
// batch, release gives it back to the pool for the next batch.
type batchMem struct {
	pool  *batchPool
	text  []byte
	evs   []event.Event
	slabs [][]event.Value
	used  int // slabs handed out for the current batch
}

// events returns n zeroed events (release zeroes a batch's events before
// they are reused).
func (m *batchMem) events(n int) []event.Event {
	if cap(m.evs) < n {
		m.evs = make([]event.Event, n)
		return m.evs
	}
	return m.evs[:n]
}

// slab returns n zeroed values (decodeInto needs zero memory; release
// zeroes a batch's slabs before they are reused).
func (m *batchMem) slab(n int) []event.Value {
	if m.used < len(m.slabs) && cap(m.slabs[m.used]) >= n {
		s := m.slabs[m.used][:n]
		m.used++
		return s
	}
	s := make([]event.Value, n)
	if m.used < len(m.slabs) {
		m.slabs[m.used] = s
	} else {
		m.slabs = append(m.slabs, s)
	}
	m.used++
	return s
}

// release hands the batch's memory back to the pool: the engine calls it
// once every sink acknowledged the batch (component.ReleasingEmitter).
//
// The events and slabs are zeroed here, when they are released, not when
// they are taken: memory waiting on the free list would otherwise point at
// the old rows' text, and while the collector runs (a pipeline whose map
// processor makes garbage of its own) it would follow every one of those
// pointers on each cycle. Zeroed, the free list is a plain read for it.
func (m *batchMem) release() {
	p := m.pool
	if p == nil {
		return
	}
	if m.text != nil {
		p.putText(m.text)
		m.text = nil
	}
	if len(p.mems) == cap(p.mems) {
		return // the pool is full: the garbage collector's (a race only costs a zeroing)
	}
	clear(m.evs[:cap(m.evs)])
	for _, s := range m.slabs[:m.used] {
		clear(s[:cap(s)])
	}
	m.used = 0
	select {
	case p.mems <- m:
	default:
	}
}
