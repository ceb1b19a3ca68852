package file

import (
	"os"
	"sync"
)

// writer makes the write system calls of the encoded lines on a goroutine
// of its own, so the sink's goroutine encodes the next piece while the
// kernel copies the last one into the page cache (15 % of a snapshot's
// CPU, on the sink's one goroutine before). Pieces are written in the
// order they were handed over, each to the file it was handed over with;
// a piece's buffer comes back for reuse once it is written. At most
// maxPieces buffers are made, so a slow disk holds the encoder back
// instead of growing memory.
//
// Pieces are numbered from 1 in the order put hands them over; wait(n)
// returns once every piece up to n has been written or dropped. A failed
// write marks its file bad: the writer drops every later piece for that
// file (the file holds an unknown part of the failed one; the sink closes
// it and the engine writes the events again into a reopened file) and
// remembers the highest piece number it failed or dropped, so a Flush can
// tell whether a piece it covers never reached the file.
//
// The goroutine starts with the first put and ends with stop (at the
// sink's Close); a put after stop starts it again.
type writer struct {
	mu struct {
		sync.Mutex
		cond     sync.Cond
		queue    []piece
		free     [][]byte
		buffers  int    // buffers made, at most maxPieces
		put      uint64 // pieces handed over
		done     uint64 // pieces written or dropped
		running  bool
		stopping bool
		badFile  *os.File // the file of the last failed write
		badMax   uint64   // the highest piece failed or dropped
		err      error    // the last failed write's error
	}
	// Tests' hooks: before each write system call, and when a wait blocks.
	beforeWrite, waiting func()
}

// maxPieces bounds the buffers the writer makes: with the encoder's own,
// one being encoded into while the others wait or are being written.
const maxPieces = 3

type piece struct {
	f   *os.File
	b   []byte
	seq uint64
}

func newWriter() *writer {
	w := &writer{}
	w.mu.cond.L = &w.mu.Mutex
	return w
}

// put hands b over to be written to f and returns a buffer to encode the
// next piece into, waiting for one while maxPieces are in use.
func (w *writer) put(f *os.File, b []byte) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.mu.running {
		w.mu.running = true
		go w.run()
	}
	w.mu.put++
	w.mu.queue = append(w.mu.queue, piece{f: f, b: b, seq: w.mu.put})
	w.mu.cond.Broadcast()
	for {
		if n := len(w.mu.free); n > 0 {
			next := w.mu.free[n-1]
			w.mu.free[n-1] = nil
			w.mu.free = w.mu.free[:n-1]
			return next
		}
		if w.mu.buffers < maxPieces {
			w.mu.buffers++
			return make([]byte, 0, cap(b))
		}
		w.mu.cond.Wait()
	}
}

func (w *writer) run() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for len(w.mu.queue) == 0 {
			if w.mu.stopping {
				w.mu.running = false
				w.mu.cond.Broadcast()
				return
			}
			w.mu.cond.Wait()
		}
		p := w.mu.queue[0]
		w.mu.queue[0] = piece{}
		w.mu.queue = append(w.mu.queue[:0], w.mu.queue[1:]...)
		drop := p.f == w.mu.badFile
		w.mu.Unlock()
		var err error
		if !drop {
			if w.beforeWrite != nil {
				w.beforeWrite()
			}
			_, err = p.f.Write(p.b)
		}
		w.mu.Lock()
		if drop || err != nil {
			w.mu.badMax = p.seq
		}
		if err != nil {
			w.mu.badFile, w.mu.err = p.f, err
		}
		w.mu.done = p.seq
		if len(w.mu.free) < maxPieces {
			w.mu.free = append(w.mu.free, p.b[:0])
		}
		w.mu.cond.Broadcast()
	}
}

// last returns the number of the last piece handed over.
func (w *writer) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.put
}

// wait returns once the pieces up to n are written or dropped, with the
// highest piece number ever failed or dropped and the last write error.
func (w *writer) wait(n uint64) (badMax uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.mu.done < n {
		if w.waiting != nil {
			w.waiting()
		}
		w.mu.cond.Wait()
	}
	return w.mu.badMax, w.mu.err
}

// drain waits for every piece handed over, as wait does.
func (w *writer) drain() (badMax uint64, err error) {
	return w.wait(w.last())
}

// bad reports whether a write to f failed.
func (w *writer) bad(f *os.File) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return f != nil && f == w.mu.badFile
}

// stop writes the pieces handed over and ends the goroutine.
func (w *writer) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.stopping = true
	w.mu.cond.Broadcast()
	for w.mu.running {
		w.mu.cond.Wait()
	}
	w.mu.stopping = false
}
