package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// copyBatcher receives COPY text output (one row per CopyData message, in
// practice) and turns every batch_size rows into events. The raw rows of a
// batch are converted to one string at once; every field is a substring of
// it, and the Values of the whole batch live in one slab: the hot path makes
// a handful of allocations per batch, plus one per escaped or bytea field.
type copyBatcher struct {
	r      *tableReader
	ctx    context.Context
	buf    []byte
	nlines int
	fields []copyField

	rows       int      // rows in this chunk so far
	lastKey    []string // key of the chunk's last row so far
	emittedEnd bool     // the final flush pushed a non-empty chunk-end batch
	err        error
}

func newCopyBatcher(r *tableReader, ctx context.Context) *copyBatcher {
	return &copyBatcher{r: r, ctx: ctx, fields: make([]copyField, len(r.t.sch.Columns))}
}

// Write implements io.Writer for pgconn's CopyTo.
func (w *copyBatcher) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	w.nlines += bytes.Count(p, []byte{'\n'})
	if w.nlines >= w.r.sn.s.cfg.BatchSize {
		if err := w.flush(false); err != nil {
			w.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// flush decodes the complete rows buffered so far and pushes them as a
// batch; final marks the end of the chunk.
func (w *copyBatcher) flush(final bool) error {
	end := bytes.LastIndexByte(w.buf, '\n') + 1
	if final && end != len(w.buf) {
		return fmt.Errorf("snapshot of %s: COPY output ends inside a row", w.r.name)
	}
	if end == 0 {
		return nil
	}
	s := string(w.buf[:end])
	n := copy(w.buf, w.buf[end:])
	w.buf = w.buf[:n]
	w.nlines = 0

	t := w.r.t
	sch := t.sch
	ncols := len(sch.Columns)
	rows := strings.Count(s, "\n")
	slab := make([]event.Value, rows*ncols)
	evs := make([]event.Event, rows)
	now := time.Now().UnixMilli()
	src := event.Source{TsMs: now, Snapshot: event.SnapshotTrue, LSN: w.r.sn.lsn, HasLSN: true}
	for i := 0; i < rows; i++ {
		nl := strings.IndexByte(s, '\n')
		line := s[:nl]
		s = s[nl+1:]
		if err := splitCopyLine(line, w.fields); err != nil {
			return fmt.Errorf("snapshot of %s: row %d of a chunk: %w", w.r.name, w.rows+i+1, err)
		}
		vals := slab[i*ncols : (i+1)*ncols : (i+1)*ncols]
		for c := range w.fields {
			f := &w.fields[c]
			if f.null {
				continue
			}
			v, err := decodeText(t.types[c], f.s)
			if err != nil {
				col := &sch.Columns[c]
				return fmt.Errorf("snapshot of %s: column %s (%s): %w", w.r.name, col.Name, col.TypeName, err)
			}
			vals[c] = v
		}
		evs[i] = event.Event{Op: event.OpRead, Schema: sch, After: vals, Source: src, TsMs: now, Position: w.r.sn.lsnText}
	}
	if rows > 0 && len(sch.KeyIdx) > 0 {
		key := make([]string, len(sch.KeyIdx))
		for i, k := range sch.KeyIdx {
			key[i] = w.fields[k].s
		}
		w.lastKey = key
	}
	w.rows += rows
	if rows == 0 {
		return nil
	}
	b := &snapBatch{events: evs, chunkEnd: final}
	if final {
		b.lastKey = w.lastKey
		w.emittedEnd = true
	}
	return w.r.push(w.ctx, b)
}
