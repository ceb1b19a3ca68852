package sqlpoll

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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
	dsnKey string        // the dsn's path in the pipeline file, for messages
	env    component.Env // for the connect step's retry

	// Run's goroutine owns everything below (start sets it up).
	db     *sql.DB
	tables []*table
	cp     checkpoint
	arena  textArena // the read rows' text (query, queryPG)
	pool   *memPool  // recycled pages' memory (mem.go)
	// pending is the batch whose Emit runs while the next page is read
	// (emit, settle); cancelReads cancels poll's reads when an Emit fails.
	pending     *pendingEmit
	cancelReads context.CancelFunc
	// onQuery, set by tests only, is called as a query is issued and
	// returns the row callback to use in place of fn.
	onQuery func(q string, fn func(r row) error) func(r row) error

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

	notNull map[string]bool // NOT NULL columns where the driver does not report them

	schema *event.Schema // current version; replaced when the result's shape changes
	tsCol  event.Column  // the timestamp expression's column type (timestamp modes)
	incIdx int           // index of the incrementing column in the row
	wm     *watermark    // aliased by cp.Tables[key]; moves row by row
	// saved is wm as of the last emitted checkpoint: a failed poll goes
	// back to it, so rows read but not emitted are read again.
	saved watermark
	// lastSeq is the Seq of the last row handed over with one; a row whose Seq
	// would not be after it (the database ordered values otherwise than
	// sluice maps them) is emitted with the zero Seq instead, and warned
	// about once (seqWarned).
	lastSeq   event.Seq
	seqWarned bool
}

// tsAlias names the extra result column that carries the row's timestamp.
const tsAlias = "sluice_wm_ts"

func newSource(cfg Config, env component.Env) *Source {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, name: env.Name, logger: logger, d: dialect{cfg.Driver}, dsnKey: env.Key("dsn"), env: env, pool: newMemPool()}
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
// emitted watermark, so nothing is skipped. Credentials the server
// refuses, at start or at a reconnect, are a component.AuthError: polling
// again cannot succeed.
func (s *Source) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	if err := s.start(ctx, cp); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if a, ok := s.refused(err); ok {
			return a
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
			if a, ok := s.refused(err); ok {
				// The credentials are the configuration's: polling
				// again cannot succeed.
				return a
			}
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
	db, err := s.d.openTLS(s.cfg.DSN, &s.cfg.MySQLSSL)
	if err != nil {
		return err
	}
	s.db = db
	db.SetMaxOpenConns(2)
	// The server may be down or still starting up: wait for it as
	// engine.start_retry says.
	_, err = component.Connect(ctx, s.env, "connect", s.d.transient, func(ctx context.Context) (struct{}, error) {
		if err := db.PingContext(ctx); err != nil {
			return struct{}{}, fmt.Errorf("connect to %s: %w", s.cfg.Driver, err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
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
			// The newline ends a trailing -- comment before the parenthesis.
			t.from = "(" + strings.TrimRight(strings.TrimSpace(s.cfg.Query), ";") + "\n)"
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
	if s.cfg.Query == "" {
		nn, err := s.d.notNull(ctx, s.db, t.key)
		if err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		t.notNull = nn
	}
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
	sqlTypes, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	cts := make([]columnType, len(sqlTypes))
	for i, ct := range sqlTypes {
		cts[i] = ct
	}
	return s.refreshColumns(t, cts)
}

// refreshColumns is refreshSchema from the result's column types.
func (s *Source) refreshColumns(t *table, cts []columnType) error {
	if t.tsExpr != "" {
		ts := []event.Column{column(cts[len(cts)-1])}
		fixTypes(s.cfg.Driver, ts)
		t.tsCol = ts[0]
		cts = cts[:len(cts)-1]
	}
	cols := make([]event.Column, len(cts))
	for i, ct := range cts {
		cols[i] = column(ct)
	}
	fixTypes(s.cfg.Driver, cols)
	for i := range cols {
		if t.notNull[cols[i].Name] {
			cols[i].Optional = false
		}
	}
	if t.schema != nil && sameColumns(t.schema.Columns, cols) {
		return nil
	}
	sch := &event.Schema{
		Stream: t.stream, Source: s.name, Connector: "sql_poll",
		Database: t.database, Namespace: t.ns, Table: t.name, Version: 1, Columns: cols,
		SeqPerStream: true, // each table has its own watermark
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
