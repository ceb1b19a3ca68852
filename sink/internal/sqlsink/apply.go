package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

const savepoint = GuardSavepoint

// apply runs one step in tx. Rows the server rejects for their data are
// isolated (savepoints, then one row at a time) and returned; everything
// else of the step is applied. A non-nil error fails the whole Write.
func (w *Writer) apply(ctx context.Context, tx Tx, st Step) (component.RecordErrors, error) {
	a := applier{ctx: ctx, w: w, tx: tx, st: st, table: w.d.Table(st.Table)}
	if st.Action == ActTruncate {
		err := a.guard(ctx, st.Rows, func(rows []Row) error {
			return tx.Exec(ctx, w.d.Truncate(a.table))
		})
		return a.rec, err
	}
	rc, _ := tx.(RowCopier)
	_, copier := tx.(Copier)
	copier = copier || rc != nil
	if rc != nil && (st.Action == ActInsert || st.Action == ActUpsert) && len(st.Rows) >= w.copyMin {
		start := true
		if cs, ok := tx.(CopyStarter); ok {
			cols, _, _ := a.shape(st.Rows[0].Schema)
			var err error
			if start, err = cs.StartCopy(ctx, a.table, cols, st.Rows); err != nil {
				return nil, err
			}
		}
		if start {
			return a.stream(ctx, rc)
		}
	}
	// Convert arguments first: a value the server cannot take at all is
	// the row's fault.
	rows := make([]Row, 0, len(st.Rows))
	total := 0
	for _, r := range st.Rows {
		total += len(r.Vals)
	}
	slab := make([]any, total) // every row's arguments: one allocation
	for _, r := range st.Rows {
		r.args, slab = slab[:len(r.Vals):len(r.Vals)], slab[len(r.Vals):]
		if err := a.convert(&r); err != nil {
			a.reject(r, err)
			continue
		}
		rows = append(rows, r)
	}
	for len(rows) > 0 {
		var n int
		if copier && (st.Action == ActInsert || st.Action == ActUpsert) && len(rows) >= w.copyMin {
			n = len(rows) // COPY has no parameter limit
		} else {
			n = a.chunk(rows)
		}
		if err := a.guard(ctx, rows[:n], a.run); err != nil {
			return nil, err
		}
		rows = rows[n:]
	}
	return a.rec, nil
}

// chunk returns how many of rows (at least one) one multi-row statement
// takes: at most maxRows, the dialect's parameter limit and maxBytes of
// values.
func (a *applier) chunk(rows []Row) int {
	w := a.w
	chunk := w.maxRows
	if a.st.Action == ActInsert || a.st.Action == ActUpsert || a.st.Action == ActDelete {
		if n := len(a.columns(rows)); n > 0 {
			chunk = max(1, min(chunk, w.d.MaxParams()/n))
		}
	}
	n := min(chunk, len(rows))
	size := 0
	for j := 0; j < n; j++ {
		size += rowBytes(rows[j])
		if size > w.maxBytes && j > 0 {
			return j
		}
	}
	return n
}

// stream writes an insert or upsert group through a RowCopier: the first
// COPY starts at once and reads the rows as another goroutine encodes
// them (copyStream); rows that cannot be encoded are rejected and never
// sent. When the server rejects the data, the rows are isolated as in
// guard, from the finished encoding.
func (a *applier) stream(ctx context.Context, rc RowCopier) (component.RecordErrors, error) {
	w := a.w
	s := startCopyStream(rc, a.st.Rows, w.cfg.DeleteMode == DeleteSoft, w.copyBuf)
	finished := false
	finish := func() {
		if finished {
			return
		}
		finished = true
		s.wait()
		a.copyBuf = s.buf
		// Kept for the next group unless a huge batch grew it: the
		// sink's memory stays bounded by the batch, not by the largest
		// batch ever seen.
		if cap(s.buf) <= maxKeptCopyBuf {
			w.copyBuf = s.buf
		} else {
			w.copyBuf = nil
		}
		for _, r := range s.bad {
			a.reject(r.row, r.err)
		}
	}
	defer finish() // whatever fails, the encoder has ended when apply returns
	err := a.guardRun(ctx, func() error {
		err := a.insert(ctx, a.st.Rows[:0], s)
		finish()
		if errors.Is(err, ErrCopyDeclined) {
			// Declined (a CopyStarter's), having changed nothing: the
			// encoded rows go as statements, as a declining Copier's.
			return a.statements(ctx, s.rows)
		}
		return err
	}, func() []Row { return s.rows }, a.run)
	finish()
	if err != nil {
		return nil, err
	}
	return a.rec, nil
}

type applier struct {
	ctx   context.Context
	w     *Writer
	tx    Tx
	st    Step
	table string
	rec   component.RecordErrors
	// copyBuf holds the rows encoded for a RowCopier (Row.enc).
	copyBuf []byte
}

// maxKeptCopyBuf bounds the COPY buffer a Writer keeps between groups.
const maxKeptCopyBuf = 16 << 20

func (a *applier) reject(r Row, err error) {
	key := ""
	if r.Schema != nil && r.Vals != nil {
		key = keyText(r.Schema, r.Vals, a.w.keys(r.Schema))
	}
	what := "table " + a.st.Table
	if key != "" {
		what += " key " + key
	}
	for _, i := range r.Events {
		a.rec = append(a.rec, component.RecordError{Index: i, Err: fmt.Errorf("%s (%s): %w", what, a.st.Action, err)})
	}
}

func keyText(s *event.Schema, img []event.Value, keys []int) string {
	parts := make([]string, len(keys))
	for n, k := range keys {
		parts[n] = s.Columns[k].Name + "=" + img[k].Text()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// convert converts the row's values once; a value the dialect refuses is
// the row's fault.
func (a *applier) convert(r *Row) error {
	if len(r.args) != len(r.Vals) {
		r.args = make([]any, len(r.Vals))
	}
	for c := range r.Vals {
		if r.Vals[c].Kind == event.KindUnchanged {
			continue
		}
		x, err := a.w.d.Arg(&r.Schema.Columns[c], r.Vals[c])
		if err != nil {
			return err
		}
		r.args[c] = x
	}
	return nil
}

// guard runs fn on rows inside a savepoint. When the server rejects the
// data, it rolls back to the savepoint and retries the rows one by one,
// rejecting the ones that fail alone.
func (a *applier) guard(ctx context.Context, rows []Row, fn func([]Row) error) error {
	return a.guardRun(ctx, func() error { return fn(rows) }, func() []Row { return rows }, fn)
}

// guardRun is guard running try (fn on rowsOf()) first; rowsOf is called
// after try, only when the rows must be isolated.
func (a *applier) guardRun(ctx context.Context, try func() error, rowsOf func() []Row, fn func([]Row) error) error {
	if err := a.tx.Exec(ctx, "SAVEPOINT "+savepoint); err != nil {
		return a.w.fail("savepoint", err)
	}
	err := try()
	if err == nil {
		if sr, ok := a.tx.(SavepointReplacer); ok && sr.SavepointsReplace() {
			return nil // the next SAVEPOINT or the commit ends it
		}
		if err := a.tx.Exec(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
			return a.w.fail("release savepoint", err)
		}
		return nil
	}
	switch a.w.d.Classify(err) {
	case ClassRecord:
	case ClassConfig:
		return component.Permanent(fmt.Errorf("%s sink: %s %s: %w", a.w.d.Server(), a.st.Action, a.st.Table, err))
	default:
		return fmt.Errorf("%s sink: %s %s: %w", a.w.d.Server(), a.st.Action, a.st.Table, err)
	}
	if err := a.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
		return a.w.fail("rollback to savepoint", err)
	}
	rows := rowsOf()
	if len(rows) == 0 {
		return nil
	}
	if len(rows) == 1 {
		a.reject(rows[0], err)
		return nil
	}
	// Bisect: a bad row among many costs O(log n) statements per bad row.
	half := len(rows) / 2
	if err := a.guard(ctx, rows[:half], fn); err != nil {
		return err
	}
	return a.guard(ctx, rows[half:], fn)
}

// columns returns the schema columns written for insert-like steps.
func (a *applier) columns(rows []Row) []int {
	if len(rows) == 0 {
		return nil
	}
	if a.st.Action == ActDelete || a.st.Action == ActSoftDelete {
		return a.w.keys(rows[0].Schema)
	}
	cols := make([]int, len(rows[0].Schema.Columns))
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// run executes rows of the step (all, a chunk, or one).
func (a *applier) run(rows []Row) error {
	ctx := a.ctx
	d := a.w.d
	switch a.st.Action {
	case ActInsert, ActUpsert:
		return a.insert(ctx, rows, nil)
	case ActDelete:
		s := rows[0].Schema
		keys := a.w.keys(s)
		var b strings.Builder
		args := make([]any, 0, len(rows)*len(keys))
		b.WriteString("DELETE FROM " + a.table + " WHERE ")
		for n, r := range rows {
			if n > 0 {
				b.WriteString(" OR ")
			}
			rs := r.Schema
			rk := a.w.keys(rs)
			b.WriteString("(")
			for m, k := range rk {
				if m > 0 {
					b.WriteString(" AND ")
				}
				args = append(args, r.args[k])
				b.WriteString(d.Quote(rs.Columns[k].Name) + " = " + d.Placeholder(len(args)))
			}
			b.WriteString(")")
		}
		return a.tx.Exec(ctx, b.String(), args...)
	case ActUpdate, ActSoftDelete:
		stmts := make([]Stmt, 0, len(rows))
		for _, r := range rows {
			if st, ok := a.update(r); ok {
				stmts = append(stmts, st)
			}
		}
		if len(stmts) == 0 {
			return nil
		}
		return a.tx.ExecMany(ctx, stmts)
	}
	return fmt.Errorf("unknown action %v", a.st.Action)
}

// update builds the UPDATE of one row: the sent non-key columns (and the
// key columns when the key changes), by the row's (or Where's) key.
func (a *applier) update(r Row) (Stmt, bool) {
	d := a.w.d
	s := r.Schema
	keys := a.w.keys(s)
	isKey := make([]bool, len(s.Columns))
	for _, k := range keys {
		isKey[k] = true
	}
	var b strings.Builder
	var args []any
	b.WriteString("UPDATE " + a.table + " SET ")
	set := 0
	sep := func() {
		if set > 0 {
			b.WriteString(", ")
		}
		set++
	}
	if a.st.Action == ActSoftDelete {
		sep()
		args = append(args, d.Bool(true))
		b.WriteString(d.Quote(a.w.cfg.SoftDeleteColumn) + " = " + d.Placeholder(len(args)))
	} else {
		for c := range s.Columns {
			v := r.Vals[c]
			if v.Kind == event.KindUnchanged || (isKey[c] && r.Where == nil) {
				continue
			}
			sep()
			args = append(args, r.args[c])
			b.WriteString(d.Quote(s.Columns[c].Name) + " = " + d.Placeholder(len(args)))
		}
		if a.w.cfg.DeleteMode == DeleteSoft {
			sep()
			args = append(args, d.Bool(r.Deleted))
			b.WriteString(d.Quote(a.w.cfg.SoftDeleteColumn) + " = " + d.Placeholder(len(args)))
		}
	}
	if set == 0 {
		return Stmt{}, false
	}
	where := r.args
	if r.Where != nil {
		where = make([]any, len(r.Where))
		for _, k := range keys {
			x, err := d.Arg(&s.Columns[k], r.Where[k])
			if err != nil {
				return Stmt{}, false
			}
			where[k] = x
		}
	}
	b.WriteString(" WHERE ")
	for m, k := range keys {
		if m > 0 {
			b.WriteString(" AND ")
		}
		args = append(args, where[k])
		b.WriteString(d.Quote(s.Columns[k].Name) + " = " + d.Placeholder(len(args)))
	}
	return Stmt{SQL: b.String(), Args: args}, true
}

// shape returns the quoted columns an insert or upsert of rows of s
// writes, their list and the upsert clause (empty for inserts).
func (a *applier) shape(s *event.Schema) (cols []string, colList, tail string) {
	d := a.w.d
	keys := a.w.keys(s)
	isKey := make([]bool, len(s.Columns))
	for _, k := range keys {
		isKey[k] = true
	}
	soft := a.w.cfg.DeleteMode == DeleteSoft
	cols = make([]string, 0, len(s.Columns)+1)
	var set, keyNames []string
	for c := range s.Columns {
		q := d.Quote(s.Columns[c].Name)
		cols = append(cols, q)
		if isKey[c] {
			keyNames = append(keyNames, q)
		} else {
			set = append(set, q)
		}
	}
	if soft {
		q := d.Quote(a.w.cfg.SoftDeleteColumn)
		cols = append(cols, q)
		set = append(set, q)
	}
	if a.st.Action == ActUpsert && len(keys) > 0 {
		tail = d.Upsert(keyNames, set)
	}
	return cols, strings.Join(cols, ", "), tail
}

// insert writes full rows with one multi-row INSERT (or COPY), with the
// upsert clause for ActUpsert.
func (a *applier) insert(ctx context.Context, rows []Row, stream *copyStream) error {
	var s *event.Schema
	if stream != nil {
		s = a.st.Rows[0].Schema // insert and upsert groups share one schema
	} else {
		s = rows[0].Schema
	}
	cols, colList, tail := a.shape(s)
	insertSelect := func(stage string) string {
		return "INSERT INTO " + a.table + " (" + colList + ") SELECT " + colList + " FROM " + stage + tail
	}
	if rc, ok := a.tx.(RowCopier); ok {
		switch {
		case stream != nil:
			return rc.CopyRows(ctx, a.table, cols, stream, a.st.Action == ActUpsert, insertSelect)
		case len(rows) >= a.w.copyMin && rows[0].enc.end > 0:
			// The rows are a contiguous run of the group, so their
			// encodings are one span of the buffer.
			data := copySpan(a.copyBuf[rows[0].enc.start:rows[len(rows)-1].enc.end])
			err := rc.CopyRows(ctx, a.table, cols, data, a.st.Action == ActUpsert, insertSelect)
			if !errors.Is(err, ErrCopyDeclined) {
				return err
			}
			vals, err := a.values(rows)
			if err != nil {
				return err
			}
			return a.chunked(ctx, rows, vals, colList, tail)
		}
	}
	vals, err := a.values(rows)
	if err != nil {
		return err
	}
	if cp, ok := a.tx.(Copier); ok && len(rows) >= a.w.copyMin {
		err := cp.CopyInsert(ctx, a.table, cols, vals, a.st.Action == ActUpsert, insertSelect)
		if !errors.Is(err, ErrCopyDeclined) {
			return err
		}
		return a.chunked(ctx, rows, vals, colList, tail)
	}
	q, args := a.insertSQL(colList, tail, vals)
	return a.tx.Exec(ctx, q, args...)
}

// statements writes rows of a declined load: multi-row statements,
// chunked as after a declining Copier.
func (a *applier) statements(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	_, colList, tail := a.shape(rows[0].Schema)
	vals, err := a.values(rows)
	if err != nil {
		return err
	}
	return a.chunked(ctx, rows, vals, colList, tail)
}

// chunked writes rows (their statement values vals) with multi-row
// statements of at most a chunk each.
func (a *applier) chunked(ctx context.Context, rows []Row, vals [][]any, colList, tail string) error {
	for len(vals) > 0 {
		n := a.chunk(rows)
		q, args := a.insertSQL(colList, tail, vals[:n])
		if err := a.tx.Exec(ctx, q, args...); err != nil {
			return err
		}
		rows, vals = rows[n:], vals[n:]
	}
	return nil
}

// values returns the statement values of rows (the soft-delete column's
// last), converting those encoded for a RowCopier only.
func (a *applier) values(rows []Row) ([][]any, error) {
	d := a.w.d
	soft := a.w.cfg.DeleteMode == DeleteSoft
	vals := make([][]any, len(rows))
	for n := range rows {
		r := &rows[n]
		if r.args == nil {
			// Encoded for COPY, now written with fewer rows than COPY
			// takes (bad rows being isolated) or after a declined
			// load: the same values as arguments. Encoding succeeded,
			// so converting does too.
			if err := a.convert(r); err != nil {
				return nil, err
			}
		}
		row := r.args
		if soft {
			row = append(row[:len(row):len(row)], d.Bool(r.Deleted))
		}
		vals[n] = row
	}
	return vals, nil
}

// insertSQL is the multi-row INSERT of vals (the upsert clause tail
// appended) and its arguments.
func (a *applier) insertSQL(colList, tail string, vals [][]any) (string, []any) {
	d := a.w.d
	var b strings.Builder
	b.WriteString("INSERT INTO " + a.table + " (" + colList + ") VALUES ")
	args := make([]any, 0, len(vals)*len(vals[0]))
	for n, row := range vals {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for m, v := range row {
			if m > 0 {
				b.WriteString(", ")
			}
			args = append(args, v)
			b.WriteString(d.Placeholder(len(args)))
		}
		b.WriteString(")")
	}
	b.WriteString(tail)
	return b.String(), args
}

// rowBytes approximates a row's size on the wire.
func rowBytes(r Row) int {
	n := 0
	for _, v := range r.Vals {
		n += 8 + len(v.Str)
		for _, e := range v.Elems() {
			n += 8 + len(e.Str)
		}
	}
	return n
}
