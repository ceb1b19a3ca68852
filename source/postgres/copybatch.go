package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sluice-dev/sluice/event"
)

const (
	slabBytes = 32 << 10
	valueSize = int(unsafe.Sizeof(event.Value{}))
	// batchBytes cuts a snapshot batch at this much COPY text before
	// batch_size rows: 2048 rows of 10 kB TOASTed values would be 20 MB a
	// batch, and the engine holds several batches in flight, the decoder
	// and the held-back batches a few more. The benchmark's 180-byte rows
	// (370 kB a batch) are not cut by it.
	batchBytes = 1 << 20
	// batchMemBytes cuts a snapshot batch when its text and what its
	// decoded rows will hold (an event and a value a column each: rowMem)
	// reach it, before batchBytes of text: 1 MiB of a 100-column table's
	// text decodes into 4.5 MB of values, and the batches alive outside
	// the engine's window (held back, queued for the decoder, gathered;
	// see batchFree) are counted by no byte cap. The benchmark's 180-byte
	// rows (1.5 MB a batch of 2048) are not cut by it.
	batchMemBytes = 2 << 20
	eventBytes    = int(unsafe.Sizeof(event.Event{}))
)

// rowMem is what a decoded row of cols columns holds beside its text.
func rowMem(cols int) int { return eventBytes + cols*valueSize }

// copyBatcher receives COPY text output (one row per CopyData message, in
// practice) and turns every batch_size rows, or every batchBytes of text
// (whichever comes first, in whole rows), or every batchMemBytes of text
// and decoded rows, into events.
//
// Reading and decoding overlap: Write (on the goroutine reading the socket)
// only gathers the byte stream into batches of whole rows (copyText) and
// queues each as one string; a decoder goroutine decodes every field as a
// substring of it (only escaped and bytea fields allocate) and pushes the
// events. Batches keep their order: there is one decoder per chunk.
//
// Memory: a batch's text buffer, events and value slabs come from the
// snapshot's batchPool and go back to it when the engine releases the
// batch (component.ReleasingEmitter: once every sink acknowledged it, and
// only in a pipeline that can prove nothing reads it after that); without
// a release they are the garbage collector's, as before. So that a
// released batch may be rewritten, nothing the source keeps aliases it:
// the last key (the checkpoint's progress) is a copy.
type copyBatcher struct {
	r      *tableReader
	ctx    context.Context
	text   copyText
	nlines int
	rowMem int // rowMem of the table's columns

	work chan copyWork // whole-row batches for the decoder
	done chan struct{}

	mu     sync.Mutex
	decErr error // guarded by mu: the decoder's first error

	// Owned by the decoder goroutine until done is closed.
	rows    int      // rows of this chunk
	lastKey []string // key of the chunk's last row
}

func newCopyBatcher(ctx context.Context, r *tableReader) *copyBatcher {
	w := &copyBatcher{r: r, ctx: ctx, work: make(chan copyWork, 2), done: make(chan struct{}), rowMem: rowMem(len(r.t.sch.Columns))}
	w.text.maxLen = r.textLen // a table's chunks start at the size its batches had
	w.text.pool = r.sn.pool
	go w.decodeLoop()
	return w
}

// copyWork is one batch of whole rows for the decoder: the text, and the
// buffer it aliases (nil when the text is a copy), to be recycled with
// the batch.
type copyWork struct {
	s   string
	buf []byte
}

// copyText gathers COPY text into batches of whole rows, each handed out
// as a string that aliases the bytes it was gathered in: no copy of the
// batch (the decoder's events hold substrings of it until every sink has
// written them). A buffer is never written again once its string is
// handed out, until the engine releases the batch and the buffer returns
// to the pool (batchPool): each batch is gathered in another buffer, from
// the pool or new, sized for the largest batch so far, into which only
// the partial row after the cut is copied. A batch that fills less than
// half of its buffer (a chunk's last) is handed out as a copy, and its
// buffer goes back to the pool at once, so that the slack the events keep
// alive, which event.Size and so the engine's window do not count, stays
// under the batch's own size.
type copyText struct {
	pool   *batchPool // nil: buffers are allocated, never recycled
	b      []byte     // the batch being gathered; nil before its first write
	maxLen int        // the largest batch gathered so far, with its partial row
}

func (t *copyText) len() int { return len(t.b) }

func (t *copyText) write(p []byte) {
	if t.b == nil {
		t.start()
	}
	// A buffer too small grows here, before anything aliases it.
	t.b = append(t.b, p...)
}

// start begins a batch in a buffer of its own.
func (t *copyText) start() {
	t.b = t.pool.text(t.maxLen + t.maxLen/16)
}

// cut returns the whole rows gathered so far ("" when there is none), and
// the buffer the string aliases (nil when it is a copy), and keeps the
// partial row after them for the next batch.
func (t *copyText) cut() (string, []byte) {
	b := t.b
	end := bytes.LastIndexByte(b, '\n') + 1
	if end == 0 {
		return "", nil
	}
	t.maxLen = max(t.maxLen, len(b))
	spare := cap(b) - end
	t.b = nil
	if end < len(b) {
		t.start()
		t.b = append(t.b, b[end:]...)
	}
	if spare > end {
		s := string(b[:end])
		t.pool.putText(b) // nothing aliases it
		return s, nil
	}
	return unsafe.String(&b[0], end), b
}

// endsInsideRow reports whether the text gathered so far ends inside a row.
func (t *copyText) endsInsideRow() bool {
	n := t.len()
	return n > 0 && t.b[n-1] != '\n'
}

func (w *copyBatcher) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.decErr
}

// Write implements io.Writer for pgconn's CopyTo.
func (w *copyBatcher) Write(p []byte) (int, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	w.text.write(p)
	w.nlines += bytes.Count(p, []byte{'\n'})
	if n := w.text.len(); w.nlines >= w.r.sn.s.cfg.BatchSize || n >= batchBytes || n+w.nlines*w.rowMem >= batchMemBytes {
		if err := w.send(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// send queues the gathered whole rows.
func (w *copyBatcher) send() error {
	s, buf := w.text.cut()
	if s == "" {
		return nil
	}
	select {
	case w.work <- copyWork{s, buf}:
	case <-w.done:
		return w.err()
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	w.nlines = 0
	return nil
}

// finish queues the rest, waits for the decoder and returns its error.
func (w *copyBatcher) finish(copyErr error) error {
	if copyErr == nil && w.text.len() > 0 {
		if w.text.endsInsideRow() {
			copyErr = fmt.Errorf("snapshot of %s: COPY output ends inside a row", w.r.name)
		} else {
			copyErr = w.send()
		}
	}
	close(w.work)
	<-w.done
	w.r.textLen = w.text.maxLen
	if err := w.err(); err != nil {
		return err
	}
	return copyErr
}

func (w *copyBatcher) decodeLoop() {
	defer close(w.done)
	for cw := range w.work {
		if w.err() != nil {
			continue // drain
		}
		if err := w.decode(cw); err != nil {
			w.mu.Lock()
			w.decErr = err
			w.mu.Unlock()
		}
	}
}

// decode turns the rows of cw into one batch and pushes it, with the
// release of its memory.
func (w *copyBatcher) decode(cw copyWork) error {
	sch := w.r.t.sch
	t0 := time.Now()
	src := event.Source{TsUs: t0.UnixMicro(), Snapshot: event.SnapshotTrue, LSN: w.r.sn.lsn, HasLSN: true,
		TxID: w.r.sn.txID, HasTxID: w.r.sn.hasTxID}
	m := w.r.sn.pool.mem()
	m.text = cw.buf
	evs, key, size, err := decodeCopyRows(cw.s, w.r.t, src, t0.UnixMilli(), w.r.sn.lsnText, m)
	if err != nil {
		// m is left to the garbage collector: the error may hold
		// substrings of the text.
		var re *copyRowError
		if !errors.As(err, &re) {
			return err
		}
		if re.col < 0 {
			return fmt.Errorf("snapshot of %s: row %d of a chunk: %w", w.r.name, w.rows+re.row+1, re.err)
		}
		col := &sch.Columns[re.col]
		return fmt.Errorf("snapshot of %s: column %s (%s): %w", w.r.name, col.Name, col.TypeName, re.err)
	}
	rows := len(evs)
	if rows == 0 {
		m.release()
		return nil
	}
	if key != nil {
		w.lastKey = key
	}
	w.rows += rows
	// Every batch of a keyed table carries its last row's key: once it is
	// emitted, the table's progress is that key (see snapshotter.emit).
	return w.r.push(w.ctx, &snapBatch{events: evs, lastKey: key, size: size, release: m.release})
}

// copyRowError is decodeCopyRows' error: the row (from 0) and the column
// (-1 when the line itself is malformed).
type copyRowError struct {
	row, col int
	err      error
}

func (e *copyRowError) Error() string {
	return fmt.Sprintf("row %d, column %d: %v", e.row, e.col, e.err)
}

func (e *copyRowError) Unwrap() error { return e.err }

// maxStackFields is the widest table whose fields decodeCopyRows splits
// into an array on its stack: stores there take no write barrier, while
// each string stored into a heap slice of fields took one whenever a
// collection ran (and the snapshot allocates enough to keep one running
// much of the time).
const maxStackFields = 32

// decodeCopyRows decodes the whole COPY text lines of s into read events of
// t, each with source src, processing time now and position pos, and
// returns the last row's key (nil for a keyless table or no rows; a copy,
// not a substring of s) and the events' size (event.Size summed), taken
// row by row while the row's values are still in the cache: the engine
// would otherwise read every value of the batch again at Emit
// (component.SizedEmitter). The events and their values are taken from m
// (recycled memory, zeroed here), or allocated when m is nil.
func decodeCopyRows(s string, t *capturedTable, src event.Source, now int64, pos string, m *batchMem) ([]event.Event, []string, int64, error) {
	if m == nil {
		m = &batchMem{}
	}
	sch := t.sch
	ncols := len(sch.Columns)
	var stack [maxStackFields]copyField
	fields := stack[:0]
	if ncols <= maxStackFields {
		fields = stack[:ncols]
	} else {
		fields = make([]copyField, ncols)
	}
	rows := strings.Count(s, "\n")
	// Values come in slabs of under 32 KB: small-object spans are reused
	// from the allocator's caches, while one large slab per batch would be
	// fresh memory (page faults and zeroing) every time.
	slabRows := max(1, slabBytes/(ncols*valueSize))
	var slab []event.Value
	evs := m.events(rows)
	// Every row's event.Size is rowSize plus its values' strings (and an
	// array's elements): taken from the fields just decoded, in the cache,
	// instead of a pass over the row's values.
	var size int64
	rowSize := int64((&event.Event{After: make([]event.Value, ncols), Position: pos}).Size())
	// A batch without a backslash (no NULL, no escape: the usual case) is
	// checked once, not line by line.
	// (A plain if, not a func value: fields must stay on the stack.)
	plain := strings.IndexByte(s, '\\') < 0
	for i := 0; i < rows; i++ {
		nl := strings.IndexByte(s, '\n')
		line := s[:nl]
		s = s[nl+1:]
		var err error
		if plain {
			err = splitPlainLine(line, fields)
		} else {
			err = splitCopyLine(line, fields)
		}
		if err != nil {
			return nil, nil, 0, &copyRowError{row: i, col: -1, err: err}
		}
		if len(slab) < ncols {
			slab = m.slab(min(slabRows, rows-i) * ncols)
		}
		vals := slab[:ncols:ncols]
		slab = slab[ncols:]
		for c := range fields {
			f := &fields[c]
			if f.null {
				continue
			}
			// vals is fresh (zero) memory, as decodeInto requires.
			v := &vals[c]
			if err := decodeInto(v, t.types[c], f.s); err != nil {
				return nil, nil, 0, &copyRowError{row: i, col: c, err: err}
			}
			size += int64(len(v.Str) + event.ElemsSize(v))
		}
		size += rowSize
		// Field by field: a whole-struct copy into the heap slice takes the
		// slower bulk write barrier while the GC runs.
		e := &evs[i]
		e.Op, e.Schema, e.After, e.Source, e.TsMs, e.Position = event.OpRead, sch, vals, src, now, pos
	}
	if rows == 0 || len(sch.KeyIdx) == 0 {
		return evs, nil, size, nil
	}
	key := make([]string, len(sch.KeyIdx))
	for i, k := range sch.KeyIdx {
		key[i] = strings.Clone(fields[k].s) // the text may be recycled
	}
	return evs, key, size, nil
}
