package sqlpoll

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// poll reads every table until it is caught up, emitting a batch per page.
//
// A batch's Emit runs on its own goroutine while the source reads the next
// page (see emit): ctx's reads are cancelled once an Emit fails, and every
// table's poll ends by waiting for its last Emit (settle), so the watermark
// restored after an error is the one the last accepted checkpoint holds.
func (s *Source) poll(ctx context.Context, out component.Emitter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancelReads = cancel
	for _, t := range s.tables {
		var err error
		switch s.cfg.Mode {
		case ModeBulk:
			err = s.pollBulk(ctx, t, out)
		case ModeTimestamp:
			err = s.pollTimestamp(ctx, t, out)
		default:
			err = s.pollIncrementing(ctx, t, out)
		}
		// An Emit's error comes first: run serially, the source would have
		// stopped on it before the read that failed after it.
		if e := s.settle(); e != nil {
			err = e
		}
		if err != nil {
			*t.wm = t.saved
			return err
		}
	}
	s.pool.drain()
	return nil
}

// pendingEmit is a batch whose Emit runs on its own goroutine, and what
// the table's state becomes once the Emit has taken it.
type pendingEmit struct {
	done  chan error // Emit's result
	t     *table
	n     int        // events
	last  event.Seq  // the table's lastSeq after the batch
	saved *watermark // the watermark the batch's checkpoint holds; nil: none
}

// settle waits for the pending Emit, if any, and applies its outcome to
// its table: lastSeq, the rows counted and, when the batch carried a
// checkpoint, the saved watermark a failed poll goes back to.
func (s *Source) settle() error {
	p := s.pending
	if p == nil {
		return nil
	}
	s.pending = nil
	if err := <-p.done; err != nil {
		return err
	}
	p.t.lastSeq = p.last
	s.emitted.Add(int64(p.n))
	if p.saved != nil {
		p.t.saved = *p.saved
	}
	return nil
}

// row is one read row with the raw values its watermark comes from.
type row struct {
	vals []event.Value
	ts   any   // raw timestamp expression value (timestamp modes)
	keys []any // raw key_columns values, when set
	id   any   // incrementing column value, when not an integer (vals has those)
}

// query runs q and calls fn for every row, converted into event values of
// the table's current schema (refreshed from the result's column types); an
// error from fn ends the read and is returned as is. PostgreSQL rows are
// decoded from pgx's wire values (queryPG), MySQL's and SQLite's from the
// driver's own rows (queryDriver); both give exactly what database/sql's
// Scan and convert would (TestFastReadIsReference).
func (s *Source) query(ctx context.Context, t *table, q string, args []any, fn func(r row) error) error {
	if s.onQuery != nil {
		fn = s.onQuery(q, fn)
	}
	if s.cfg.Driver == DriverPostgres {
		return s.queryPG(ctx, t, q, args, fn)
	}
	return s.queryDriver(ctx, t, q, args, fn)
}

// rowReader turns one result row, scanned into its cells, into a row of
// the table's current schema.
type rowReader struct {
	s     *Source
	t     *table
	n     int // columns of the schema; the timestamp expression follows
	cells []cell
	// Row images are cut from slabs of slabRows rows: one allocation per
	// slab instead of one per row. A slab is reused only as part of a
	// recycled page (mem.go).
	slab []event.Value
}

const slabRows = 256

func (s *Source) newRowReader(t *table) *rowReader {
	n := len(t.schema.Columns)
	width := n
	if t.tsExpr != "" {
		width++
	}
	rr := &rowReader{s: s, t: t, n: n, cells: make([]cell, width)}
	for i := range rr.cells {
		c := &rr.cells[i]
		c.keep = i >= n || i == t.incIdx
		if t.keyOrder != "" {
			for _, k := range t.schema.KeyIdx {
				c.keep = c.keep || i == k
			}
		}
		if i < n {
			c.col = &t.schema.Columns[i]
		}
	}
	return rr
}

// image cuts a row image of n values from the slab: zeroed (NULL)
// memory, which put fills field by field.
func (rr *rowReader) image() []event.Value {
	n := rr.n
	if len(rr.slab) < n {
		rr.slab = rr.s.arena.slab(n)
	}
	v := rr.slab[:n:n]
	rr.slab = rr.slab[n:]
	return v
}

// take moves cell c's value into *p, a NULL of a fresh row image.
func (rr *rowReader) take(p *event.Value, c *cell) {
	if c.text != nil {
		p.Kind = c.v.Kind
		if len(c.text) > 0 {
			p.Str = rr.s.arena.str(c.text)
		}
		c.text = nil // the driver's buffer: not past this row
		return
	}
	put(p, c.v)
}

// finish adds to r, whose image is built, the raw values its watermark
// and keys come from (the kept cells').
func (rr *rowReader) finish(r row) row {
	t, n, cells := rr.t, rr.n, rr.cells
	if t.tsExpr != "" {
		r.ts = cells[n].raw
		if b, ok := r.ts.([]byte); ok {
			r.ts = string(b) // Scan into *any copies, but keep one type
		}
	}
	if t.keyOrder != "" {
		r.keys = make([]any, len(t.schema.KeyIdx))
		for i, k := range t.schema.KeyIdx {
			r.keys[i] = cells[k].raw
		}
	}
	if t.incIdx >= 0 && r.vals[t.incIdx].Kind != event.KindInt {
		r.id = cells[t.incIdx].raw
	}
	return r
}

// put stores v into *p, which holds NULL (the zero Value, as a fresh row
// image does), writing only the fields v sets. Copying a whole Value,
// which holds pointers, is a typedmemmove with a bulk write barrier
// whenever the GC is marking (a third of the row assembly's CPU in a
// profile of MySQL rows), where a number needs no barrier at all and a
// text one pointer write. sqlpoll builds no arrays (convert returns
// none); one is copied whole all the same.
func put(p *event.Value, v event.Value) {
	if v.Kind == event.KindArray {
		*p = v
		return
	}
	p.Kind, p.Num = v.Kind, v.Num
	if v.Str != "" {
		p.Str = v.Str
	}
}

// cell is a scan destination (sql.Scanner) that converts the driver's
// value straight into the column's event value: database/sql hands a
// Scanner the driver's value as is, where scanning into an *any copies
// every []byte and leaves a second pass to convert. Text-like []byte values
// (go-sql-driver/mysql's strings and decimals, valid until the next Scan)
// are only referenced here; query copies them into its text arena.
type cell struct {
	col  *event.Column // nil for the timestamp expression
	keep bool          // keep the driver's value (watermark, key)
	raw  any           // the driver's value, as a Scan into *any gives it
	v    event.Value
	text []byte // pending text of v (v.Str is set by query)
	err  error  // a value convert refused: fatal, unlike a Scan error
}

func (c *cell) Scan(src any) error {
	c.text, c.err = nil, nil
	if c.keep {
		if b, ok := src.([]byte); ok {
			src = bytes.Clone(b) // as database/sql's Scan into *any
		}
		c.raw = src
	}
	if c.col == nil {
		return nil
	}
	if b, ok := src.([]byte); ok && !c.keep {
		kind := event.KindString
		switch c.col.Type {
		case event.TypeString, event.TypeJSON, event.TypeUUID, event.TypeUnknown:
		case event.TypeDecimal:
			kind = event.KindDecimal
		case event.TypeBytes:
			kind = event.KindBytes
		default:
			kind = event.KindNull
		}
		if kind != event.KindNull {
			c.v, c.text = event.Value{Kind: kind}, b
			if c.text == nil {
				c.text = []byte{} // an empty value is not NULL
			}
			return nil
		}
	}
	c.v, c.err = convert(c.col, src)
	return nil
}

// setWM moves the table's watermark to row r.
func (s *Source) setWM(t *table, r row) error {
	if t.tsExpr != "" {
		v, ok := newWM(r.ts)
		if !ok {
			return fatal{fmt.Errorf("%s: timestamp %T cannot be a watermark", t.key, r.ts)}
		}
		t.wm.TS = v
	}
	if t.incIdx >= 0 {
		id := r.id
		if v := r.vals[t.incIdx]; v.Kind == event.KindInt {
			id = v.AsInt()
		}
		if id == nil {
			return fatal{fmt.Errorf("%s: incrementing column %q is NULL in a row; it must be NOT NULL (the row cannot be placed after the watermark)", t.key, s.cfg.IncrementingColumn)}
		}
		v, ok := newWM(id)
		if !ok {
			return fatal{fmt.Errorf("%s: incrementing column %q value %T cannot be a watermark", t.key, s.cfg.IncrementingColumn, id)}
		}
		t.wm.ID = v
	}
	return nil
}

// position describes the table's watermark: "id 42", "ts 2024-…,id 42".
func (t *table) position() string {
	switch {
	case t.wm.TS != nil && t.wm.ID != nil:
		return "ts " + t.wm.TS.String() + ",id " + t.wm.ID.String()
	case t.wm.TS != nil:
		return "ts " + t.wm.TS.String()
	case t.wm.ID != nil:
		return "id " + t.wm.ID.String()
	}
	return ""
}

// emit hands rows over as events; with cp the checkpoint after them. It
// waits for the previous batch's Emit (settle), builds the events and the
// checkpoint here, on the source's goroutine, from the table's state as of
// these rows, then starts their Emit on a goroutine of its own and
// returns: the source reads its next page while the engine takes this one
// (or blocks it, its window full), so the database's work for the next page
// overlaps the pipeline's for this one. Emits stay one at a time and in
// order; rows, events and checkpoint bytes are exactly those of a serial
// Emit. rows may be reused once emit returns; their row images may not.
func (s *Source) emit(ctx context.Context, out component.Emitter, t *table, rows []row, pos []string, op event.Op, withCP bool) error {
	if len(rows) == 0 && !withCP {
		return nil
	}
	if err := s.settle(); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	last := t.lastSeq // moves only once the batch is handed over
	mem := s.arena.takePage()
	batches := newBatches(mem, len(rows))
	for i, r := range rows {
		e := &batches[i/emitChunk][i%emitChunk]
		e.Schema = t.schema
		e.After = r.vals
		e.Op = op
		e.TsMs = now
		// The batches are fresh, zeroed memory: only the fields that are not zero
		// are written (a whole event.Source, which holds a pointer, would
		// be copied with a write barrier while the GC marks).
		e.Source.TsUs = event.UsFromMs(now)
		if op == event.OpRead {
			e.Source.Snapshot = event.SnapshotTrue
		} else if seq := s.seqOf(t, r); !seq.IsZero() {
			if seq.Compare(last) > 0 {
				// event.Seq reads the two words from here; HasLSN stays
				// false: they are no log position.
				e.Source.CommitLSN, e.Source.LSN = seq.Hi, seq.Lo
				last = seq
			} else if !t.seqWarned {
				t.seqWarned = true
				s.logger.Warn("sql_poll: the database returned rows out of the order sluice derives from their watermark values; such rows get no position and sinks write them at least once",
					"table", t.key, "position", pos[i])
			}
		}
		e.Position = pos[i]
	}
	p := &pendingEmit{done: make(chan error, 1), t: t, n: len(rows), last: last}
	var cp []byte
	if withCP {
		cp = s.cp.encode()
		w := *t.wm // its values are replaced, never changed in place
		p.saved = &w
	}
	cancelReads := s.cancelReads
	go func() {
		err := emitBatches(ctx, out, batches, cp, mem)
		if err != nil && cancelReads != nil {
			cancelReads() // the page being read will not be emitted
		}
		p.done <- err
	}()
	s.pending = p
	return nil
}

// emitChunk is the most events one Emit takes: a page of batch_max_rows
// rows (10,000 in the benchmark, a whole table in bulk mode) goes to the
// engine in batches of this many, as the PostgreSQL source's batch_size,
// so that the engine's window of in-flight batches holds thousands of rows,
// not several pages, while the next page is read.
const emitChunk = 2048

// newBatches allocates n events as batches of emitChunk events, the last
// with the rest (an empty one when n is 0), each an allocation of its own:
// the engine drops a page's batches one by one as the sinks write them,
// and batches cut from one array of the whole page would keep all of its
// events, and the rows they point to, alive until its last batch is
// written.
//
// With mem (a recycled page's memory, or nil) the batches are taken from
// it.
func newBatches(mem *pageMem, n int) [][]event.Event {
	bs := make([][]event.Event, 0, max(1, (n+emitChunk-1)/emitChunk))
	for {
		k := min(n, emitChunk)
		if mem != nil {
			bs = append(bs, mem.batch(k))
		} else {
			bs = append(bs, make([]event.Event, k))
		}
		if n -= k; n == 0 {
			return bs
		}
	}
}

// emitBatches emits the batches in order; only the last carries cp, so
// the checkpoint moves once the whole page is durable, as with one Emit.
// With mem (the page's recycled memory, or nil) each batch goes with
// mem's release, which gives the page back once the engine released every
// batch.
func emitBatches(ctx context.Context, out component.Emitter, batches [][]event.Event, cp []byte, mem *pageMem) error {
	if mem != nil {
		mem.pending.Store(int32(len(batches)))
	}
	for i, b := range batches {
		var c []byte
		if i == len(batches)-1 {
			c = cp
		}
		var err error
		if mem != nil {
			err = component.EmitReleasing(ctx, out, b, c, 0, mem.release)
		} else {
			err = out.Emit(ctx, b, c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pollIncrementing pages through rows after the watermark in incrementing
// and timestamp+incrementing modes: (ts, id) strictly increase, so every
// page ends on a complete position and the next starts right after it.
func (s *Source) pollIncrementing(ctx context.Context, t *table, out component.Emitter) error {
	n := s.cfg.BatchMaxRows
	// The page's rows and positions are kept from page to page: emit
	// copies what it hands over (the row images themselves are never
	// reused), so only the first page grows them.
	page := make([]row, 0, min(n, 4096))
	ends := make([]int, 0, min(n, 4096))
	var buf []byte // the page's positions, copied into one string
	for {
		var where []string
		var args []any
		arg := func(v any) string {
			args = append(args, v)
			return s.d.placeholder(len(args))
		}
		if t.tsExpr != "" {
			if t.wm.TS != nil && t.wm.ID != nil {
				ts, _ := t.wm.TS.arg()
				id, _ := t.wm.ID.arg()
				if s.d.name == DriverMySQL {
					where = append(where, fmt.Sprintf("(%s > %s OR (%s = %s AND %s > %s))",
						t.tsExpr, arg(ts), t.tsExpr, arg(ts), t.incExpr, arg(id)))
				} else {
					// A row value: PostgreSQL and SQLite read it as one index
					// range, where the OR form sorts the whole timestamp group.
					where = append(where, fmt.Sprintf("(%s, %s) > (%s, %s)", t.tsExpr, t.incExpr, arg(ts), arg(id)))
				}
			}
			where = append(where, t.tsExpr+" < "+s.d.upperBound(s.cfg.TimestampDelay))
		} else if t.wm.ID != nil {
			id, _ := t.wm.ID.arg()
			where = append(where, t.incExpr+" > "+arg(id))
		}
		order := t.incExpr
		if t.tsExpr != "" {
			order = t.tsExpr + ", " + t.incExpr
		}
		q := s.selectList(t) + whereClause(where) + " ORDER BY " + order + " LIMIT " + strconv.Itoa(n)
		page = page[:0]
		// A row's position is spelled from its values ("id 42",
		// "ts 2024-…Z,id 42", as t.position() would after setWM) and the
		// watermark set once, from the page's last row, instead of a
		// watermark value (and its allocations) per row; rows of other
		// value types take setWM. lastFast indexes that last row.
		lastFast := -1
		// The page's positions are cut from one string: ends[i] is where
		// row i's ends in buf.
		buf, ends = buf[:0], ends[:0]
		s.arena.startPage(s.pool)
		err := s.query(ctx, t, q, args, func(r row) error {
			page = append(page, r)
			if b, ok := fastPosition(buf, t.tsExpr != "", r.ts, r.vals[t.incIdx]); ok {
				buf = b
				ends = append(ends, len(buf))
				lastFast = len(page) - 1
				return nil
			}
			lastFast = -1
			if err := s.setWM(t, r); err != nil {
				return err
			}
			buf = append(buf, t.position()...)
			ends = append(ends, len(buf))
			return nil
		})
		if err != nil {
			return err
		}
		all, start := string(buf), 0
		pos := make([]string, 0, len(ends))
		for _, end := range ends {
			pos = append(pos, all[start:end])
			start = end
		}
		if lastFast >= 0 {
			if err := s.setWM(t, page[lastFast]); err != nil {
				return err
			}
		}
		if err := s.emit(ctx, out, t, page, pos, event.OpCreate, len(page) > 0); err != nil {
			return err
		}
		if len(page) < n {
			return nil
		}
		// The emitted rows are the engine's now: no reference from here
		// keeps them alive once the sinks have written them (the next page
		// overwrites these only row by row).
		clear(page)
	}
}

// fastPosition appends to dst the position t.position() gives once setWM
// has moved the watermark to a row with timestamp ts (when withTS) and
// incrementing value id; ok is false for values whose watermark text it
// does not spell (those rows take setWM and t.position()).
func fastPosition(dst []byte, withTS bool, ts any, id event.Value) ([]byte, bool) {
	if id.Kind != event.KindInt {
		return dst, false
	}
	if withTS {
		dst = append(dst, "ts "...)
		switch x := ts.(type) {
		case time.Time:
			dst = x.AppendFormat(dst, time.RFC3339Nano) // newWM's text
		case string:
			dst = append(dst, x...)
		default:
			return dst, false
		}
		dst = append(dst, ',')
	}
	dst = append(dst, "id "...)
	return strconv.AppendInt(dst, id.AsInt(), 10), true
}

// pollTimestamp pages through rows with a timestamp after the watermark.
// Timestamps are not unique, so a page may end inside a group of rows that
// share one: a full page is emitted only up to the start of its last group
// and the watermark stops before it. A page that is one group entirely is
// read to the group's end with an unlimited, streamed query, in batches of
// batch_max_rows, and the watermark moves past the group only with its last
// batch. No row is lost and none is read twice, except after a crash in the
// middle of a group, which re-reads that group.
func (s *Source) pollTimestamp(ctx context.Context, t *table, out component.Emitter) error {
	n := s.cfg.BatchMaxRows
	for {
		if g := t.wm.Group; g != nil {
			// A group read was cut short: finish it after its last
			// emitted key.
			ts, _ := g.TS.arg()
			after := make([]any, len(g.After))
			for i, v := range g.After {
				after[i], _ = v.arg()
			}
			if err := s.readGroup(ctx, t, out, ts, after); err != nil {
				return err
			}
			continue
		}
		var where []string
		var args []any
		if t.wm.TS != nil {
			ts, _ := t.wm.TS.arg()
			args = append(args, ts)
			where = append(where, t.tsExpr+" > "+s.d.placeholder(1))
		}
		where = append(where, t.tsExpr+" < "+s.d.upperBound(s.cfg.TimestampDelay))
		// With key_columns, rows sharing a timestamp come in key order, here
		// as in readGroup: a stable order, which their Seqs follow.
		order := t.tsExpr
		if t.keyOrder != "" {
			order += ", " + t.keyOrder
		}
		q := s.selectList(t) + whereClause(where) + " ORDER BY " + order + " LIMIT " + strconv.Itoa(n)
		var page []row
		err := s.query(ctx, t, q, args, func(r row) error {
			page = append(page, r)
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if len(page) < n {
			return s.emitTimestampRows(ctx, out, t, page, true)
		}
		last, _ := newWM(page[len(page)-1].ts)
		j := len(page) - 1
		for j > 0 {
			w, _ := newWM(page[j-1].ts)
			if !w.equal(last) {
				break
			}
			j--
		}
		if j > 0 {
			if err := s.emitTimestampRows(ctx, out, t, page[:j], true); err != nil {
				return err
			}
			continue
		}
		if err := s.readGroup(ctx, t, out, page[0].ts, nil); err != nil {
			return err
		}
	}
}

// emitTimestampRows emits rows of whole timestamp groups, the watermark
// moving to each row in turn.
func (s *Source) emitTimestampRows(ctx context.Context, out component.Emitter, t *table, rows []row, withCP bool) error {
	pos := make([]string, len(rows))
	for i, r := range rows {
		if err := s.setWM(t, r); err != nil {
			return err
		}
		pos[i] = t.position()
	}
	return s.emit(ctx, out, t, rows, pos, event.OpCreate, withCP)
}

// readGroup emits every row whose timestamp is ts (after key after, when
// resuming), in batches. With key_columns every batch carries the
// checkpoint, which records the group's progress by key, so a restart
// continues the group where it stopped; without them only the last batch
// does, and a restart re-reads the group. The watermark moves past ts with
// the last batch.
func (s *Source) readGroup(ctx context.Context, t *table, out component.Emitter, ts any, after []any) error {
	tsWM, ok := newWM(ts)
	if !ok {
		return fatal{fmt.Errorf("%s: timestamp %T cannot be a watermark", t.key, ts)}
	}
	return s.readBatches(ctx, t, []string{t.tsExpr + " = " + s.d.placeholder(1)}, []any{ts}, after, func(batch []row, last bool) error {
		if len(batch) == 0 {
			// Nothing (more) in the group: it vanished between the two
			// queries, or a resumed read had emitted it all. Move past it;
			// the next batch carries the checkpoint.
			t.wm.TS, t.wm.Group = tsWM, nil
			return nil
		}
		pos := make([]string, len(batch))
		for i, r := range batch {
			if err := s.setWM(t, r); err != nil {
				return err
			}
			pos[i] = t.position()
		}
		t.wm.Group = nil
		withCP := last
		if !last && t.keyOrder != "" {
			keys := s.keyArgs(t, batch[len(batch)-1])
			g := &groupPos{TS: tsWM, After: make([]*wmValue, len(keys))}
			for i, k := range keys {
				if g.After[i], ok = newWM(k); !ok {
					return fatal{fmt.Errorf("%s: key column %q value %T cannot be a position", t.key, s.cfg.KeyColumns[i], k)}
				}
			}
			t.wm.Group, withCP = g, true
		}
		return s.emit(ctx, out, t, batch, pos, event.OpCreate, withCP)
	})
}

// pollBulk reads the whole table (ordered by key_columns when set) as
// snapshot rows, in batches; the last batch carries the checkpoint.
func (s *Source) pollBulk(ctx context.Context, t *table, out component.Emitter) error {
	k := 0
	return s.readBatches(ctx, t, nil, nil, nil, func(batch []row, last bool) error {
		pos := make([]string, len(batch))
		for i := range batch {
			k++
			pos[i] = "bulk row " + strconv.Itoa(k)
		}
		return s.emit(ctx, out, t, batch, pos, event.OpRead, last && len(batch) > 0)
	})
}

// readBatches reads every row matching conds (whose placeholders take args)
// and calls fn with batches of at most batch_max_rows; last is set on the
// final call, whose batch is empty only when no row matched at all. With
// key_columns, after (when not nil) resumes after that key.
//
// With key_columns the read is a series of queries with LIMIT, each
// continuing after the previous page's last key (keyset pagination), so no
// result set stays open while fn blocks; fn sees a page only once the next
// one is read, to know whether it is the last. Without key_columns there is
// no order to continue from, and the read is one streamed query.
func (s *Source) readBatches(ctx context.Context, t *table, conds []string, args []any, after []any, fn func(batch []row, last bool) error) error {
	n := s.cfg.BatchMaxRows
	if t.keyOrder == "" {
		var batch []row
		err := s.query(ctx, t, s.selectList(t)+whereClause(conds), args, func(r row) error {
			if len(batch) == n {
				if err := fn(batch, false); err != nil {
					return err
				}
				batch = nil
			}
			batch = append(batch, r)
			return nil
		})
		if err != nil {
			return err
		}
		return fn(batch, true)
	}
	var held []row
	for {
		c := slices.Clip(conds)
		a := slices.Clip(args)
		if after != nil {
			marks := make([]string, len(after))
			for i, v := range after {
				a = append(a, v)
				marks[i] = s.d.placeholder(len(a))
			}
			if len(marks) == 1 {
				c = append(c, t.keyOrder+" > "+marks[0])
			} else {
				c = append(c, "("+t.keyOrder+") > ("+strings.Join(marks, ", ")+")")
			}
		}
		q := s.selectList(t) + whereClause(c) + " ORDER BY " + t.keyOrder + " LIMIT " + strconv.Itoa(n)
		var page []row
		err := s.query(ctx, t, q, a, func(r row) error {
			page = append(page, r)
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return fn(held, true)
		}
		if held != nil {
			if err := fn(held, false); err != nil {
				return err
			}
		}
		if len(page) < n {
			return fn(page, true)
		}
		held = page
		after = s.keyArgs(t, page[n-1])
	}
}

// keyArgs returns a row's key values as query parameters: integers as
// int64 (MySQL's text protocol hands them over as text, which MySQL would
// compare as a double), anything else as the driver gave it.
func (s *Source) keyArgs(t *table, r row) []any {
	out := make([]any, len(t.schema.KeyIdx))
	for i, k := range t.schema.KeyIdx {
		out[i] = r.keys[i]
		if v := r.vals[k]; v.Kind == event.KindInt {
			out[i] = v.AsInt()
		}
		if b, ok := out[i].([]byte); ok {
			out[i] = string(b)
		}
	}
	return out
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
