package sqlsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Writer is the SQL sink shared by PostgreSQL and MySQL: it implements
// component.Sink on top of a Dialect.
type Writer struct {
	cfg  Config
	d    Dialect
	name string // sink name: the positions row's key
	log  *slog.Logger
	// dsnKey is the dsn's path in the pipeline file, for messages.
	dsnKey string
	key    func(string) string // a setting's path, for messages
	// epoch is the coordination epoch of this run (component.Env.Epoch);
	// 0: one node, no fencing.
	epoch uint64

	// Owned by the goroutine calling Write (one at a time).
	posReady bool
	tables   map[string]*tableInfo // by target table name
	keyCache map[*event.Schema][]int
	// maxRows bounds rows per multi-row statement.
	maxRows int
	// copyMin is the row count from which a Copier is used.
	copyMin int
	// maxBytes bounds the text and binary values of one statement
	// (MySQL's max_allowed_packet is 16 MiB by default on MariaDB).
	maxBytes int
	// copyBuf is the RowCopier encoding buffer, kept between Writes.
	copyBuf []byte
}

type tableInfo struct {
	cols    map[string]bool // existing columns (folded when FoldCase)
	checked map[*event.Schema]error
}

var _ component.Sink = (*Writer)(nil)

// NewWriter returns a Writer for the sink env describes. cfg must be
// validated.
func NewWriter(cfg Config, d Dialect, env component.Env) *Writer {
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Writer{cfg: cfg, d: d, name: env.Name, log: log, dsnKey: env.Key("dsn"), key: env.Key, epoch: env.Epoch, tables: map[string]*tableInfo{},
		keyCache: map[*event.Schema][]int{}, maxRows: 1000, copyMin: 200, maxBytes: 4 << 20}
}

// SetLimits overrides the rows per statement and the COPY threshold (tests).
func (w *Writer) SetLimits(maxRows, copyMin int) { w.maxRows, w.copyMin = maxRows, copyMin }

// Close implements component.Sink.
func (w *Writer) Close(context.Context) error { return w.d.Close() }

// keys returns the key column indexes of s (key_columns override).
func (w *Writer) keys(s *event.Schema) []int {
	if k, ok := w.keyCache[s]; ok {
		return k
	}
	k := s.KeyIdx
	if len(w.cfg.KeyColumns) > 0 {
		k = make([]int, 0, len(w.cfg.KeyColumns))
		for _, name := range w.cfg.KeyColumns {
			if i := s.ColumnIndex(name); i >= 0 {
				k = append(k, i)
			}
		}
		if len(k) != len(w.cfg.KeyColumns) {
			k = nil // reported by ensure
		}
	}
	w.keyCache[s] = k
	return k
}

// fail classifies err from the server: config errors stop the pipeline;
// refused credentials say which user, server and key.
func (w *Writer) fail(what string, err error) error {
	if a, ok := w.d.Refused(err); ok {
		a.Component, a.Keys = w.d.Server()+" sink", w.dsnKey
		return component.AuthFailed(a)
	}
	if fix, ok := w.d.TLSFix(err, w.key); ok {
		return component.Permanent(fmt.Errorf("%s sink: %s: %w; %s", w.d.Server(), what, err, fix))
	}
	err = fmt.Errorf("%s sink: %s: %w", w.d.Server(), what, err)
	if w.d.Classify(errors.Unwrap(err)) == ClassConfig {
		return component.Permanent(err)
	}
	return err
}

// Write implements component.Sink: one transaction per call holding the
// rows and the positions row.
func (w *Writer) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	tables, skip, rec, err := w.resolve(ctx, events, nil)
	if err != nil {
		return err
	}
	tx, err := w.d.Begin(ctx)
	if err != nil {
		return w.fail("begin", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	rec, err = w.writeIn(ctx, newPending(tx, nil), events, tables, skip, rec)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return w.fail("commit", err)
	}
	done = true
	if len(rec) > 0 {
		return rec
	}
	return nil
}

// resolve renders each event's target table and makes sure the table (and
// the positions table) can take it, outside any transaction. Events whose
// table name is bad are marked in skip and returned as record errors.
// beforeDDL, when not nil, is called once before the first check that
// needs the server (the cached ones do not).
func (w *Writer) resolve(ctx context.Context, events []event.Event, beforeDDL func(context.Context) error) (tables []string, skip []bool, rec component.RecordErrors, err error) {
	skip = make([]bool, len(events))
	tables = make([]string, len(events))
	tt := w.cfg.TableTemplate()
	settled := beforeDDL == nil
	settle := func() error {
		if settled {
			return nil
		}
		settled = true
		return beforeDDL(ctx)
	}
	// The table name and schema of the last event that passed: the next
	// event with both the same (a snapshot's batch: every event) passes
	// too, without checking the name or looking the schema up again.
	var okName string
	var okSchema *event.Schema
	for i := range events {
		name, err := tt.RenderString(&events[i])
		if err == nil && okSchema != nil && name == okName && events[i].Schema == okSchema {
			tables[i] = name
			continue
		}
		if err == nil {
			err = CheckIdent(name, w.d.MaxIdent(), w.d.Server())
		}
		if err != nil {
			rec = append(rec, component.RecordError{Index: i, Err: fmt.Errorf("table name: %w", err)})
			skip[i] = true
			continue
		}
		tables[i] = name
		if !w.checked(name, events[i].Schema) {
			if err := settle(); err != nil {
				return nil, nil, nil, err
			}
		}
		if err := w.ensure(ctx, name, events[i].Schema); err != nil {
			return nil, nil, nil, err
		}
		okName, okSchema = name, events[i].Schema
	}
	if !w.posReady {
		if err := settle(); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := w.ensurePositions(ctx); err != nil {
		return nil, nil, nil, err
	}
	return tables, skip, rec, nil
}

// checked reports whether ensure has already passed table for s (so it
// needs no server).
func (w *Writer) checked(table string, s *event.Schema) bool {
	ti := w.tables[table]
	if ti == nil {
		return false
	}
	_, ok := ti.checked[s]
	return ok
}

// writeIn applies events (their tables and skip marks from resolve) in
// p's transaction and sets the positions rows, without committing, and
// returns rec with the events it rejected, in order of index: the
// fence and the positions rows are locked the first time p's transaction
// meets them. A transaction that began while the previous one (p.prev) was
// still committing reads the positions that one leaves instead of waiting
// for its lock, and locks and checks them after its rows (see Pipelined).
func (w *Writer) writeIn(ctx context.Context, p *pending, events []event.Event, tables []string, skip []bool, rec component.RecordErrors) (component.RecordErrors, error) {
	tx := p.tx
	_, ensure, lock, update := w.d.Positions(w.positionsTable())
	if !p.fenced {
		if err := w.fence(ctx, tx, ensure, lock, update); err != nil {
			return nil, err
		}
		p.fenced = true
	}
	if err := p.prevDone(); err != nil {
		return nil, err
	}
	// Lock and read the stored positions; skip what they cover.
	stored := map[string]event.Seq{}
	var verify []string // read from p.prev, locked and checked after the rows
	for i := range events {
		src := positionKey(events[i].Schema)
		if _, ok := stored[src]; ok {
			continue
		}
		if seq, ok := p.pos[src]; ok {
			stored[src] = seq // locked earlier in this transaction
			continue
		}
		if p.prev != nil && w.epoch == 0 {
			if seq, ok := p.prev.pos[src]; ok {
				// Locked by the transaction still committing: what it
				// leaves, checked once this one holds the lock.
				stored[src] = seq
				verify = append(verify, src)
				continue
			}
		}
		if err := tx.Exec(ctx, ensure, w.name, src); err != nil {
			return nil, w.fail("positions table", err)
		}
		hi, lo, err := tx.QueryTexts(ctx, lock, w.name, src)
		if err != nil {
			return nil, w.fail("positions table", err)
		}
		seq, err := parseSeq(hi, lo)
		if err != nil {
			return nil, component.Permanent(fmt.Errorf("%s sink: positions table %s, row (%s, %s): %w", w.d.Server(), w.cfg.PositionsTable, w.name, src, err))
		}
		stored[src] = seq
		p.pos[src] = seq
	}
	skipped := 0
	for i := range events {
		if seq := events[i].Seq(); !seq.IsZero() && seq.Compare(stored[positionKey(events[i].Schema)]) <= 0 {
			skip[i] = true
			skipped++
		}
	}
	if skipped > 0 {
		w.log.Debug("skipping events already written", "events", skipped)
	}

	steps, perrs := Plan(events, tables, skip, PlanOptions{
		Mode: w.cfg.Mode, DeleteMode: w.cfg.DeleteMode, Truncate: w.cfg.Truncate, Keys: w.keys,
	})
	rec = append(rec, perrs...)
	// settlePrev locks the positions rows read from p.prev, which waits
	// on the server for the end of its commit, checks them, and then
	// takes that commit's outcome.
	settlePrev := func() error {
		for _, src := range verify {
			hi, lo, err := tx.QueryTexts(ctx, lock, w.name, src)
			if err != nil {
				return w.fail("positions table", err)
			}
			seq, err := parseSeq(hi, lo)
			if err != nil || seq != stored[src] {
				return fmt.Errorf("%s sink: positions table %s, row (%s, %s) holds %s.%s, not %d.%d as the previous transaction left it (it did not commit, or another writer uses sink name %q); writing again one transaction at a time",
					w.d.Server(), w.cfg.PositionsTable, w.name, src, hi, lo, stored[src].Hi, stored[src].Lo, w.name)
			}
			p.pos[src] = seq
		}
		verify = nil
		return p.waitPrev(ctx)
	}
	for _, st := range steps {
		if st.Action != ActInsert && st.Action != ActUpsert {
			// An UPDATE or DELETE sees only committed rows: the
			// previous transaction's must be there first. (Inserts and
			// upserts wait for a key the previous transaction holds,
			// then see its outcome.)
			if err := settlePrev(); err != nil {
				return nil, err
			}
		}
		errs, err := w.apply(ctx, tx, st)
		if err != nil {
			return nil, err
		}
		rec = append(rec, errs...)
	}
	if err := settlePrev(); err != nil {
		return nil, err
	}
	sort.Slice(rec, func(a, b int) bool { return rec[a].Index < rec[b].Index })

	// Advance each source's position to its last event before the first
	// rejected one: a replay of this Write after a crash (before the
	// engine has handed the rejected events to the dead-letter
	// destination) rejects them again instead of skipping them.
	firstBad := map[string]int{}
	for _, r := range rec {
		src := positionKey(events[r.Index].Schema)
		if _, ok := firstBad[src]; !ok {
			firstBad[src] = r.Index
		}
	}
	next := map[string]event.Seq{}
	for i := range events {
		src := positionKey(events[i].Schema)
		if fb, ok := firstBad[src]; ok && i >= fb {
			continue
		}
		if seq := events[i].Seq(); seq.Compare(stored[src]) > 0 && seq.Compare(next[src]) > 0 {
			next[src] = seq
		}
	}
	for src, seq := range next {
		if err := tx.Exec(ctx, update, strconv.FormatUint(seq.Hi, 10), strconv.FormatUint(seq.Lo, 10), w.name, src); err != nil {
			return nil, w.fail("positions table", err)
		}
		p.pos[src] = seq
	}
	return rec, nil
}

// epochRow is the positions row (its source column) that holds the
// highest coordination epoch that wrote through this sink. Source names
// never start with '#' and stream names hold a dot, so it meets neither.
const epochRow = "#epoch"

// ErrFenced marks a write refused because a node of a later coordination
// epoch has written through the sink: this node lost the pipeline's lease.
var ErrFenced = component.ErrFenced

// fence, in a coordinated run, locks the sink's epoch row first (every
// writer locks it before the positions rows, so they cannot deadlock),
// refuses the write when a later epoch has written (Permanent: the run
// stops with its checkpoint intact), and records this run's epoch.
func (w *Writer) fence(ctx context.Context, tx Tx, ensure, lock, update string) error {
	if w.epoch == 0 {
		return nil
	}
	if err := tx.Exec(ctx, ensure, w.name, epochRow); err != nil {
		return w.fail("positions table", err)
	}
	hi, _, err := tx.QueryTexts(ctx, lock, w.name, epochRow)
	if err != nil {
		return w.fail("positions table", err)
	}
	stored, err := strconv.ParseUint(hi, 10, 64)
	if err != nil {
		return component.Permanent(fmt.Errorf("%s sink: positions table %s, row (%s, %s): bad epoch %q", w.d.Server(), w.cfg.PositionsTable, w.name, epochRow, hi))
	}
	switch {
	case stored > w.epoch:
		return component.Permanent(fmt.Errorf("%s sink %s: write of coordination epoch %d refused: epoch %d has written since (another node took the pipeline over): %w",
			w.d.Server(), w.name, w.epoch, stored, ErrFenced))
	case stored < w.epoch:
		if err := tx.Exec(ctx, update, strconv.FormatUint(w.epoch, 10), "0", w.name, epochRow); err != nil {
			return w.fail("positions table", err)
		}
	}
	return nil
}

// positionKey is the positions row (its source column) that orders an
// event's Seq: the source's name, or the stream's for a source whose Seqs
// grow per stream only. Source names hold no dot and stream names do, so
// the two never meet.
func positionKey(s *event.Schema) string {
	if s.SeqPerStream {
		return s.Stream
	}
	return s.Source
}

func parseSeq(hi, lo string) (event.Seq, error) {
	h, err := strconv.ParseUint(hi, 10, 64)
	if err != nil {
		return event.Seq{}, fmt.Errorf("bad hi %q", hi)
	}
	l, err := strconv.ParseUint(lo, 10, 64)
	if err != nil {
		return event.Seq{}, fmt.Errorf("bad lo %q", lo)
	}
	return event.Seq{Hi: h, Lo: l}, nil
}

func (w *Writer) positionsTable() string { return w.d.Table(w.cfg.PositionsTable) }

func (w *Writer) ensurePositions(ctx context.Context) error {
	if w.posReady {
		return nil
	}
	create, _, _, _ := w.d.Positions(w.positionsTable())
	if err := w.d.Exec(ctx, create); err != nil {
		// Another writer may have created it at the same moment (see
		// raced): by the time the loser's error arrives the winner has
		// committed, so the statement, IF NOT EXISTS, now does nothing.
		if err2 := w.d.Exec(ctx, create); err2 != nil {
			return w.fail("create positions table "+w.cfg.PositionsTable, err)
		}
		w.raced("positions table "+w.cfg.PositionsTable, err)
	}
	w.posReady = true
	return nil
}

func (w *Writer) fold(name string) string {
	if w.d.FoldCase() {
		return strings.ToLower(name)
	}
	return name
}

// ensure makes sure table exists with every column of s (creating or
// evolving it when configured) and caches the answer per schema.
func (w *Writer) ensure(ctx context.Context, table string, s *event.Schema) error {
	ti := w.tables[table]
	if ti != nil {
		if err, ok := ti.checked[s]; ok {
			return err
		}
	}
	if len(w.cfg.KeyColumns) > 0 && len(w.keys(s)) == 0 {
		err := component.Permanent(fmt.Errorf("%s sink: key_columns %v: %s has no such column", w.d.Server(), w.cfg.KeyColumns, s.Stream))
		return err
	}
	if ti == nil {
		cols, ok, err := w.d.Columns(ctx, table)
		if err != nil {
			return w.fail("read columns of "+table, err)
		}
		if !ok {
			if !w.cfg.AutoCreate {
				return component.Permanent(fmt.Errorf("%s sink: table %s does not exist; create it or set auto_create: true", w.d.Server(), table))
			}
			if err := w.d.Exec(ctx, w.createSQL(table, s)); err != nil {
				now, ok, err2 := w.d.Columns(ctx, table)
				if err2 != nil || !ok {
					return w.fail("create table "+table, err)
				}
				w.raced("table "+table, err)
				cols = now
			} else {
				w.log.Info("created table", "table", table, "from", s.Stream)
				if cols, _, err = w.d.Columns(ctx, table); err != nil {
					return w.fail("read columns of "+table, err)
				}
			}
		}
		ti = newTableInfo(cols, w.fold)
		w.tables[table] = ti
	}
	var missing []*event.Column
	for i := range s.Columns {
		if !ti.cols[w.fold(s.Columns[i].Name)] {
			missing = append(missing, &s.Columns[i])
		}
	}
	soft := w.cfg.DeleteMode == DeleteSoft && !ti.cols[w.fold(w.cfg.SoftDeleteColumn)]
	if len(missing) > 0 || soft {
		if !w.cfg.AutoEvolve {
			names := make([]string, len(missing))
			for i, c := range missing {
				names[i] = c.Name
			}
			if soft {
				names = append(names, w.cfg.SoftDeleteColumn)
			}
			return component.Permanent(fmt.Errorf("%s sink: table %s lacks column(s) %s of %s; add them or set auto_evolve: true", w.d.Server(), table, strings.Join(names, ", "), s.Stream))
		}
		for _, c := range missing {
			q := "ALTER TABLE " + w.d.Table(table) + " ADD COLUMN " + w.d.Quote(c.Name) + " " + w.d.ColumnType(c, false)
			if err := w.d.Exec(ctx, q); err != nil {
				if !w.columnNow(ctx, table, c.Name) {
					return w.fail("add column "+c.Name+" to "+table, err)
				}
				w.raced("column "+c.Name+" of "+table, err)
			} else {
				w.log.Info("added column", "table", table, "column", c.Name)
			}
			ti.cols[w.fold(c.Name)] = true
		}
		if soft {
			q := "ALTER TABLE " + w.d.Table(table) + " ADD COLUMN " + w.d.Quote(w.cfg.SoftDeleteColumn) + " " + w.d.BoolType() + " NOT NULL DEFAULT " + falseLit
			if err := w.d.Exec(ctx, q); err != nil && !w.columnNow(ctx, table, w.cfg.SoftDeleteColumn) {
				return w.fail("add column "+w.cfg.SoftDeleteColumn+" to "+table, err)
			}
			ti.cols[w.fold(w.cfg.SoftDeleteColumn)] = true
		}
	}
	ti.checked[s] = nil
	return nil
}

func newTableInfo(cols []string, fold func(string) string) *tableInfo {
	ti := &tableInfo{cols: make(map[string]bool, len(cols)), checked: map[*event.Schema]error{}}
	for _, c := range cols {
		ti.cols[fold(c)] = true
	}
	return ti
}

// columnNow reports whether table has column name now, read from the
// server (false when it cannot be read).
func (w *Writer) columnNow(ctx context.Context, table, name string) bool {
	cols, ok, err := w.d.Columns(ctx, table)
	if err != nil || !ok {
		return false
	}
	for _, c := range cols {
		if w.fold(c) == w.fold(name) {
			return true
		}
	}
	return false
}

// raced is called when a DDL statement failed but what it makes is there
// now: another writer — another node of a coordinated pipeline, another
// pipeline on the same database — made it at the same moment.
// PostgreSQL's CREATE TABLE IF NOT EXISTS is not atomic against a
// concurrent CREATE (the loser waits for the winner's commit, then fails
// with 42710 "type ... already exists" or 23505 on pg_type), and a second
// ADD COLUMN fails with 42701 once the first commits. That is success,
// logged; the caller uses the object as the server has it.
func (w *Writer) raced(what string, err error) {
	w.log.Info("made by another writer at the same moment; using it", "object", what, "first_error", err)
}

// falseLit is FALSE in both dialects (MySQL's TINYINT(1) takes it too).
const falseLit = "FALSE"

// CreateSQL is the CREATE TABLE statement auto_create runs for s.
func (w *Writer) createSQL(table string, s *event.Schema) string {
	keys := w.keys(s)
	isKey := make([]bool, len(s.Columns))
	for _, k := range keys {
		isKey[k] = true
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + w.d.Table(table) + " (")
	for i := range s.Columns {
		c := &s.Columns[i]
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(w.d.Quote(c.Name) + " " + w.d.ColumnType(c, isKey[i]))
		if isKey[i] || !c.Optional {
			b.WriteString(" NOT NULL")
		}
	}
	if w.cfg.DeleteMode == DeleteSoft {
		b.WriteString(", " + w.d.Quote(w.cfg.SoftDeleteColumn) + " " + w.d.BoolType() + " NOT NULL DEFAULT " + falseLit)
	}
	if len(keys) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for n, k := range keys {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(w.d.Quote(s.Columns[k].Name))
		}
		b.WriteString(")")
	}
	b.WriteString(")" + w.d.CreateSuffix())
	return b.String()
}
