package sqlpoll

import (
	"sync/atomic"

	"github.com/sluice-dev/sluice/event"
)

// Recycled pages (component.ReleasingEmitter).
//
// In the incrementing modes (incrementing, timestamp+incrementing) every
// query reads one page and one emit hands the page over, so everything a
// page's rows are made of can be attributed to it: the text chunks their
// strings are cut from, the slabs their row images are cut from, and the
// event slices of its batches. That is a pageMem. The page's batches go to
// the engine with a release function each; once the engine has released
// all of them (every sink acknowledged them and nothing reads them any
// more: every processor on the pipeline is stateless and, like every
// sink, declares component.KeepsNoEvents), the page's memory goes to a
// bounded free list and the next pages are cut from it, instead of the
// garbage collector finding a page's worth of garbage every page. In a profile of the
// benchmark's poll phase (PostgreSQL, 1,000,000 rows into a file), the
// collector's marking and write barriers were a fifth of sluice's CPU.
//
// What is never recycled: a row's raw watermark and key values, the
// positions (the engine keeps the last one), the checkpoint, the schema.
// The page boundary is exact: a page's first string starts a chunk of its
// own and its first row a slab of its own (startPage), so no page's
// strings or images sit in memory another page gives back. The other modes
// do not recycle: a bulk read or a timestamp group without key_columns is
// one query emitted in several batches, and a keyset read holds a page
// while it reads the next, so a query and an emit do not map one to one.
//
// A batch the engine never releases (a processor, a sink that keeps
// events, a failed or stopped run) keeps its page from the free list: the
// page is the garbage collector's, as without recycling.
//
// Why a free list of our own and not sync.Pool: as for the PostgreSQL
// snapshot's batches, sync.Pool drops its items at every other collection,
// exactly when reuse matters.

const (
	// slabValues is the size of a slab, in values: 256 rows of 8 columns,
	// 80 kB. A row image wider than a slab is an allocation of its own.
	slabValues = 2048
	// The free lists' bounds: about one page of the benchmark's 10,000
	// rows of eight columns and 180 bytes of text (40 slabs, 56 chunks, 5
	// batches), 13 MB at most in all. A page's items go back when its last
	// batch is released, and the next page takes them; past a bound they
	// are dropped to the garbage collector.
	freeChunks  = 128 // 4 MiB of text
	freeSlabs   = 64  // 5.2 MB of values
	freeBatches = 8   // 2.5 MB of events
)

// memPool is the free list of the source's recycled page memory, safe for
// concurrent use: releases come from the sinks' goroutines, takes from the
// source's. A nil *memPool recycles nothing.
type memPool struct {
	chunks  chan []byte
	slabs   chan []event.Value
	batches chan []event.Event
	// reused counts the items taken from the free list (tests).
	reused atomic.Int64
	// poison, set by tests only, is called on a page's memory as it is
	// released, before it goes back to the free list.
	poison func(*pageMem)
}

func newMemPool() *memPool {
	return &memPool{
		chunks:  make(chan []byte, freeChunks),
		slabs:   make(chan []event.Value, freeSlabs),
		batches: make(chan []event.Event, freeBatches),
	}
}

// drain empties the free lists: an idle source keeps nothing of its last
// catch-up.
func (p *memPool) drain() {
	for {
		select {
		case <-p.chunks:
		case <-p.slabs:
		case <-p.batches:
		default:
			return
		}
	}
}

// pageMem is the memory one page's rows and events are made of.
type pageMem struct {
	pool    *memPool
	chunks  [][]byte
	slabs   [][]event.Value
	batches [][]event.Event
	// pending counts the page's batches the engine has not released.
	pending atomic.Int32
}

// chunk returns an empty text chunk of arenaChunk bytes' capacity.
func (m *pageMem) chunk() []byte {
	var b []byte
	select {
	case b = <-m.pool.chunks:
		m.pool.reused.Add(1)
	default:
		b = make([]byte, 0, arenaChunk)
	}
	m.chunks = append(m.chunks, b)
	return b[:0]
}

// slab returns slabValues zeroed values: the row images' NULLs (a slab
// on the free list was zeroed by release).
func (m *pageMem) slab() []event.Value {
	var s []event.Value
	select {
	case s = <-m.pool.slabs:
		m.pool.reused.Add(1)
	default:
		s = make([]event.Value, slabValues)
	}
	m.slabs = append(m.slabs, s)
	return s
}

// batch returns n zeroed events (n ≤ emitChunk; zeroed by release when
// taken from the free list). Only batches of at least
// a quarter of emitChunk are taken from and given back to the free list,
// with emitChunk's capacity: a poll that finds a few rows neither holds
// nor allocates a whole batch's worth.
func (m *pageMem) batch(n int) []event.Event {
	if n < emitChunk/4 {
		return make([]event.Event, n)
	}
	var b []event.Event
	select {
	case b = <-m.pool.batches:
		m.pool.reused.Add(1)
		b = b[:n]
	default:
		b = make([]event.Event, n, emitChunk)
	}
	m.batches = append(m.batches, b)
	return b
}

// release is each of the page's batches' release function: the last call
// gives the page's memory to the free list. Slabs and batches are zeroed
// here, not when taken: what waits on the free list points at nothing, so
// it keeps no garbage alive (a SQLite row's strings are the driver's, not
// the chunks') and gives the collector's marking nothing to follow.
func (m *pageMem) release() {
	if m.pending.Add(-1) != 0 {
		return
	}
	p := m.pool
	if p.poison != nil {
		p.poison(m)
	}
	for _, b := range m.chunks {
		select {
		case p.chunks <- b:
		default:
		}
	}
	for _, s := range m.slabs {
		clear(s)
		select {
		case p.slabs <- s:
		default:
		}
	}
	for _, b := range m.batches {
		b = b[:cap(b)]
		clear(b)
		select {
		case p.batches <- b[:0]:
		default:
		}
	}
	m.chunks, m.slabs, m.batches = nil, nil, nil
}
