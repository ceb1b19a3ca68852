package sqlpoll

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Source is the sql_poll source. Build it with Factory.
type Source struct {
	cfg    Config
	name   string
	logger *slog.Logger
	d      dialect

	// Run's goroutine owns everything below (start sets it up).
	db     *sql.DB
	tables []*table
	cp     checkpoint

	emitted atomic.Int64 // rows emitted, for Progress
}

var (
	_ component.Source           = (*Source)(nil)
	_ component.ProgressReporter = (*Source)(nil)
)

// table is one polled table (or the query) and its queries.
type table struct {
	key      string // checkpoint key: the configured name, or query_name
	from     string // after FROM: a quoted table or a parenthesised query
	database string
	ns       string // schema (PostgreSQL); empty elsewhere
	name     string
	stream   string
	tsExpr   string // the row's timestamp in WHERE and ORDER BY (timestamp modes)
	tsSel    string // the row's timestamp in the select list
	incExpr  string // the qualified incrementing column
	keyOrder string // ORDER BY of the key columns, or ""

	schema *event.Schema // current version; replaced when the result's shape changes
	incIdx int           // index of the incrementing column in the row
	wm     *watermark    // aliased by cp.Tables[key]; moves row by row
	// saved is wm as of the last emitted checkpoint: a failed poll goes
	// back to it, so rows read but not emitted are read again.
	saved watermark
}

// tsAlias names the extra result column that carries the row's timestamp.
const tsAlias = "sluice_wm_ts"

func newSource(cfg Config, env component.Env) *Source {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, name: env.Name, logger: logger, d: dialect{cfg.Driver}}
}

// fatal marks errors that retrying the poll cannot fix: a value the source
// cannot represent, a key column missing from the result.
type fatal struct{ err error }

func (f fatal) Error() string { return f.err.Error() }
func (f fatal) Unwrap() error { return f.err }

// Run polls until ctx is cancelled. Problems found at start (unreachable
// database, unknown table or column, unusable checkpoint) are returned;
// query errors during polling (a dropped connection, a restarted server)
// are logged and the poll is retried after poll_interval from the last
// emitted watermark, so nothing is skipped.
func (s *Source) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	if err := s.start(ctx, cp); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sql_poll: %w", err)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		err := s.poll(ctx, out)
		switch {
		case err == nil:
		case ctx.Err() != nil || errors.Is(err, component.ErrStopped):
			return nil
		case errors.As(err, new(fatal)):
			return fmt.Errorf("sql_poll: %w", err)
		default:
			s.logger.Warn("sql_poll: poll failed; retrying from the last watermark", "err", err, "retry_in", s.cfg.PollInterval)
		}
		timer.Reset(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

// Committed does nothing: polling holds nothing upstream.
func (s *Source) Committed(context.Context, []byte) error { return nil }

// Close closes the database handle.
func (s *Source) Close() error {
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

// Progress implements component.ProgressReporter: rows emitted so far.
func (s *Source) Progress() component.Progress {
	return component.Progress{Phase: "polling", Done: s.emitted.Load()}
}

// start opens the database, restores the checkpoint and checks every table
// with an empty query, so a wrong name fails at once.
func (s *Source) start(ctx context.Context, cpb []byte) error {
	s.cp = checkpoint{V: checkpointVersion, Mode: s.cfg.Mode, Tables: map[string]*watermark{}}
	if len(cpb) > 0 {
		cp, err := parseCheckpoint(cpb, s.cfg.Mode)
		if err != nil {
			return err
		}
		if cp.Tables == nil {
			cp.Tables = map[string]*watermark{}
		}
		s.cp = *cp
	}
	db, err := s.d.open(s.cfg.DSN)
	if err != nil {
		return err
	}
	s.db = db
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", s.cfg.Driver, err)
	}
	dbName, schema, err := s.d.location(ctx, db)
	if err != nil {
		return fmt.Errorf("read the current database: %w", err)
	}
	names := s.cfg.Tables
	if s.cfg.Query != "" {
		names = []string{s.cfg.QueryName}
	}
	for _, n := range names {
		t := &table{key: n, database: dbName, ns: schema, name: n, incIdx: -1}
		if s.cfg.Query != "" {
			t.from = "(" + strings.TrimRight(strings.TrimSpace(s.cfg.Query), ";") + ")"
		} else {
			t.from = s.d.quoteTable(n)
			if q, tb, ok := strings.Cut(n, "."); ok {
				t.name = tb
				if s.cfg.Driver == DriverMySQL {
					t.database = q
				} else {
					t.ns = q
				}
			}
		}
		space := t.ns
		if space == "" {
			space = t.database
		}
		t.stream = s.name + "." + space + "." + t.name
		if s.cfg.usesTimestamp() {
			cols := make([]string, 0, len(s.cfg.tsColumns()))
			for _, c := range s.cfg.tsColumns() {
				cols = append(cols, "s."+s.d.quote(c))
			}
			t.tsExpr, t.tsSel = s.d.tsExprs(cols)
		}
		if s.cfg.usesIncrementing() {
			t.incExpr = "s." + s.d.quote(s.cfg.IncrementingColumn)
		}
		if len(s.cfg.KeyColumns) > 0 {
			ks := make([]string, len(s.cfg.KeyColumns))
			for i, k := range s.cfg.KeyColumns {
				ks[i] = "s." + s.d.quote(k)
			}
			t.keyOrder = strings.Join(ks, ", ")
		}
		if wm := s.cp.Tables[n]; wm != nil && s.cfg.Mode != ModeBulk {
			t.wm = wm
		} else {
			t.wm = &watermark{}
			if s.cfg.Mode != ModeBulk {
				s.cp.Tables[n] = t.wm
			}
		}
		t.saved = *t.wm
		if err := s.probe(ctx, t); err != nil {
			return err
		}
		s.tables = append(s.tables, t)
	}
	return nil
}

// probe runs the table's query with no rows, to check names and build the
// first schema.
func (s *Source) probe(ctx context.Context, t *table) error {
	rows, err := s.db.QueryContext(ctx, s.selectList(t)+" WHERE 1 = 0")
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	defer rows.Close()
	if err := s.refreshSchema(t, rows); err != nil {
		return err
	}
	return rows.Err()
}

// selectList is SELECT ... FROM ..., with the timestamp expression as an
// extra last column in timestamp modes.
func (s *Source) selectList(t *table) string {
	q := "SELECT s.*"
	if t.tsExpr != "" {
		q += ", " + t.tsSel + " AS " + tsAlias
	}
	return q + " FROM " + t.from + " AS s"
}

// refreshSchema builds the table's schema from a result set, and a new
// version of it when the shape changed since the last query.
func (s *Source) refreshSchema(t *table, rows *sql.Rows) error {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	if t.tsExpr != "" {
		cts = cts[:len(cts)-1]
	}
	cols := make([]event.Column, len(cts))
	for i, ct := range cts {
		cols[i] = column(ct)
	}
	fixTypes(s.cfg.Driver, cols)
	if t.schema != nil && sameColumns(t.schema.Columns, cols) {
		return nil
	}
	sch := &event.Schema{
		Stream: t.stream, Source: s.name, Connector: "sql_poll",
		Database: t.database, Namespace: t.ns, Table: t.name, Version: 1, Columns: cols,
	}
	if t.schema != nil {
		sch.Version = t.schema.Version + 1
	}
	t.incIdx = -1
	if s.cfg.IncrementingColumn != "" {
		t.incIdx = sch.ColumnIndex(s.cfg.IncrementingColumn)
		if t.incIdx < 0 {
			return fatal{fmt.Errorf("%s: incrementing column %q is not in the result (columns: %s)", t.key, s.cfg.IncrementingColumn, columnNames(cols))}
		}
	}
	keys := s.cfg.KeyColumns
	if len(keys) == 0 && s.cfg.IncrementingColumn != "" {
		keys = []string{s.cfg.IncrementingColumn}
	}
	for _, k := range keys {
		i := sch.ColumnIndex(k)
		if i < 0 {
			return fatal{fmt.Errorf("%s: key column %q is not in the result (columns: %s)", t.key, k, columnNames(cols))}
		}
		sch.Columns[i].Key = true
		sch.KeyIdx = append(sch.KeyIdx, i)
	}
	t.schema = sch
	return nil
}

func sameColumns(a, b []event.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Type != b[i].Type || a[i].TypeName != b[i].TypeName {
			return false
		}
	}
	return true
}

func columnNames(cols []event.Column) string {
	n := make([]string, len(cols))
	for i := range cols {
		n[i] = cols[i].Name
	}
	return strings.Join(n, ", ")
}

// poll reads every table until it is caught up, emitting a batch per page.
func (s *Source) poll(ctx context.Context, out component.Emitter) error {
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
		if err != nil {
			*t.wm = t.saved
			return err
		}
	}
	return nil
}

// row is one read row with the raw values its watermark comes from.
type row struct {
	vals []event.Value
	ts   any   // raw timestamp expression value (timestamp modes)
	keys []any // raw key_columns values, when set
	id   any   // incrementing column value (int64 when it is an integer)
}

// query runs q and calls fn for every row; fn returning errStopRows ends
// the read early without error.
func (s *Source) query(ctx context.Context, t *table, q string, args []any, fn func(r row) error) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	defer rows.Close()
	if err := s.refreshSchema(t, rows); err != nil {
		return err
	}
	n := len(t.schema.Columns)
	width := n
	if t.tsExpr != "" {
		width++
	}
	raw := make([]any, width)
	ptrs := make([]any, width)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	// Row images are cut from slabs of slabRows rows: one allocation per
	// slab instead of one per row. A slab is never reused.
	const slabRows = 256
	var slab []event.Value
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		if len(slab) < n {
			slab = make([]event.Value, n*slabRows)
		}
		r := row{vals: slab[:n:n]}
		slab = slab[n:]
		for i := 0; i < n; i++ {
			v, err := convert(&t.schema.Columns[i], raw[i])
			if err != nil {
				return fatal{fmt.Errorf("%s: %w", t.key, err)}
			}
			r.vals[i] = v
		}
		if t.tsExpr != "" {
			r.ts = raw[n]
			if b, ok := r.ts.([]byte); ok {
				r.ts = string(b) // Scan into *any copies, but keep one type
			}
		}
		if t.keyOrder != "" {
			r.keys = make([]any, len(t.schema.KeyIdx))
			for i, k := range t.schema.KeyIdx {
				r.keys[i] = raw[k]
			}
		}
		if t.incIdx >= 0 {
			r.id = raw[t.incIdx]
			if v := r.vals[t.incIdx]; v.Kind == event.KindInt {
				r.id = v.AsInt()
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
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
		if r.id == nil {
			return fatal{fmt.Errorf("%s: incrementing column %q is NULL in a row; it must be NOT NULL (the row cannot be placed after the watermark)", t.key, s.cfg.IncrementingColumn)}
		}
		v, ok := newWM(r.id)
		if !ok {
			return fatal{fmt.Errorf("%s: incrementing column %q value %T cannot be a watermark", t.key, s.cfg.IncrementingColumn, r.id)}
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

// emit hands rows over as events; with cp the checkpoint after them.
func (s *Source) emit(ctx context.Context, out component.Emitter, t *table, rows []row, pos []string, op event.Op, withCP bool) error {
	if len(rows) == 0 && !withCP {
		return nil
	}
	now := time.Now().UnixMilli()
	evs := make([]event.Event, len(rows))
	for i, r := range rows {
		e := &evs[i]
		e.Schema = t.schema
		e.After = r.vals
		e.Op = op
		e.TsMs = now
		e.Source = event.Source{TsMs: now}
		if op == event.OpRead {
			e.Source.Snapshot = event.SnapshotTrue
		}
		e.Position = pos[i]
	}
	var cp []byte
	if withCP {
		cp = s.cp.encode()
	}
	if err := out.Emit(ctx, evs, cp); err != nil {
		return err
	}
	s.emitted.Add(int64(len(evs)))
	if withCP {
		t.saved = *t.wm
	}
	return nil
}

// pollIncrementing pages through rows after the watermark in incrementing
// and timestamp+incrementing modes: (ts, id) strictly increase, so every
// page ends on a complete position and the next starts right after it.
func (s *Source) pollIncrementing(ctx context.Context, t *table, out component.Emitter) error {
	n := s.cfg.BatchMaxRows
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
				where = append(where, fmt.Sprintf("(%s > %s OR (%s = %s AND %s > %s))",
					t.tsExpr, arg(ts), t.tsExpr, arg(ts), t.incExpr, arg(id)))
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
		page := make([]row, 0, min(n, 4096))
		pos := make([]string, 0, min(n, 4096))
		err := s.query(ctx, t, q, args, func(r row) error {
			if err := s.setWM(t, r); err != nil {
				return err
			}
			page = append(page, r)
			pos = append(pos, t.position())
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.emit(ctx, out, t, page, pos, event.OpCreate, len(page) > 0); err != nil {
			return err
		}
		if len(page) < n {
			return nil
		}
	}
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
		var where []string
		var args []any
		if t.wm.TS != nil {
			ts, _ := t.wm.TS.arg()
			args = append(args, ts)
			where = append(where, t.tsExpr+" > "+s.d.placeholder(1))
		}
		where = append(where, t.tsExpr+" < "+s.d.upperBound(s.cfg.TimestampDelay))
		q := s.selectList(t) + whereClause(where) + " ORDER BY " + t.tsExpr + " LIMIT " + strconv.Itoa(n)
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
		if err := s.readGroup(ctx, t, out, page[0].ts); err != nil {
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

// readGroup emits every row whose timestamp is ts, in batches; only the
// last batch carries the checkpoint, whose watermark is then ts.
func (s *Source) readGroup(ctx context.Context, t *table, out component.Emitter, ts any) error {
	return s.readBatches(ctx, t, []string{t.tsExpr + " = " + s.d.placeholder(1)}, []any{ts}, func(batch []row, last bool) error {
		if len(batch) == 0 {
			// The group vanished (deleted, or its timestamps changed)
			// between the two queries: move past it; the next batch
			// carries the checkpoint.
			w, ok := newWM(ts)
			if !ok {
				return fatal{fmt.Errorf("%s: timestamp %T cannot be a watermark", t.key, ts)}
			}
			t.wm.TS = w
			return nil
		}
		return s.emitTimestampRows(ctx, out, t, batch, last)
	})
}

// pollBulk reads the whole table (ordered by key_columns when set) as
// snapshot rows, in batches; the last batch carries the checkpoint.
func (s *Source) pollBulk(ctx context.Context, t *table, out component.Emitter) error {
	k := 0
	return s.readBatches(ctx, t, nil, nil, func(batch []row, last bool) error {
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
// final call, whose batch is empty only when no row matched at all.
//
// With key_columns the read is a series of queries with LIMIT, each
// continuing after the previous page's last key (keyset pagination), so no
// result set stays open while fn blocks; fn sees a page only once the next
// one is read, to know whether it is the last. Without key_columns there is
// no order to continue from, and the read is one streamed query.
func (s *Source) readBatches(ctx context.Context, t *table, conds []string, args []any, fn func(batch []row, last bool) error) error {
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
	var after []any
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
