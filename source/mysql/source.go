package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/progress"
	"github.com/sluice-dev/sluice/internal/transient"
	"github.com/sluice-dev/sluice/source/internal/linger"
)

var _ component.Source = (*Source)(nil)

// ErrBinlogLost means the checkpoint's binlog position is no longer on the
// server: the files were purged while the source was stopped (or it fell
// behind expire_logs_days). Changes in between are gone.
var ErrBinlogLost = errors.New("binlog position is no longer available on the server")

// Source is a MySQL/MariaDB CDC source. Create it with New (or Factory).
type Source struct {
	cfg  Config
	env  component.Env
	log  *slog.Logger
	dc   *mysql.Config
	prog progress.Tracker
	// replaySkips counts rows the stream did not emit again after a
	// reconnect (those of the transaction emitted in part).
	replaySkips atomic.Int64
	// binlog watches the durable position's binary log (retention.go).
	binlog binlogWatch
	// signal is the signal table's state (signal_data_collection), nil
	// when none; set by Run before streaming.
	signal *tableState
	// chunkReadHook, set by tests only, runs between an incremental
	// snapshot chunk's select and its high watermark.
	chunkReadHook func(table string, lastKey []string)
	// lingerSet, set by tests only, replaces linger.Max and linger.Quiet
	// (stream.go).
	lingerSet linger.Rule

	// mu guards the connection pool (opened by Run, closed by Close) and
	// the durable position (written by Committed, read for logs).
	mu struct {
		sync.Mutex
		db      *sql.DB
		durable string // newest checkpoint the engine reported durable
	}
}

// New builds a source from a validated configuration.
func New(cfg *Config, env component.Env) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("mysql source %q: %w", env.Name, errors.Join(errs...))
	}
	dc, err := cfg.driverConfig()
	if err == nil {
		err = cfg.MySQLSSL.Apply(dc)
	}
	if err != nil {
		return nil, fmt.Errorf("mysql source %q: %w", env.Name, err)
	}
	s := &Source{cfg: *cfg, env: env, log: env.Logger, dc: dc}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// serverInfo is what Run learns about the server once.
type serverInfo struct {
	version string
	mariadb bool
	gtid    bool // GTIDs are on (always on MariaDB 10+; gtid_mode=ON on MySQL)
	tls     bool // the SQL connections are encrypted (ssl_mode preferred: the binlog's follows)
}

func (s *Source) openDB() (*sql.DB, error) {
	connector, err := mysql.NewConnector(s.dc)
	if err != nil {
		return nil, component.Permanent(errors.New("dsn is not a valid MySQL data source name"))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	s.mu.Lock()
	s.mu.db = db
	s.mu.Unlock()
	return db, nil
}

func queryServerInfo(ctx context.Context, db *sql.DB) (serverInfo, error) {
	var si serverInfo
	var format, image string
	if err := db.QueryRowContext(ctx, `SELECT VERSION(), @@binlog_format, @@binlog_row_image`).Scan(&si.version, &format, &image); err != nil {
		return si, fmt.Errorf("query server settings: %w", err)
	}
	si.mariadb = strings.Contains(strings.ToLower(si.version), "mariadb")
	if !strings.EqualFold(format, "ROW") {
		return si, component.Permanent(fmt.Errorf("binlog_format is %s; row-based logging is required (SET GLOBAL binlog_format = 'ROW' and in the server's configuration)", format))
	}
	if !strings.EqualFold(image, "FULL") {
		return si, component.Permanent(fmt.Errorf("binlog_row_image is %s; FULL is required so updates and deletes carry whole rows", image))
	}
	var name, cipher string
	if err := db.QueryRowContext(ctx, `SHOW SESSION STATUS LIKE 'Ssl_cipher'`).Scan(&name, &cipher); err == nil {
		si.tls = cipher != ""
	}
	if si.mariadb {
		si.gtid = true
	} else {
		var mode string
		if err := db.QueryRowContext(ctx, `SELECT @@gtid_mode`).Scan(&mode); err == nil && strings.EqualFold(mode, "ON") {
			si.gtid = true
		}
	}
	return si, nil
}

// Run snapshots (unless the checkpoint says it is done or snapshot: never)
// and then streams changes until ctx is cancelled.
func (s *Source) Run(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	err := s.run(ctx, cpBytes, s.prog.Counting(out))
	if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
		return nil
	}
	if err != nil {
		if reason, ok := dbauth.MySQL(err); ok {
			keys := s.env.Key("dsn")
			if s.cfg.DSN == "" {
				keys = s.env.Key("user") + " and " + s.env.Key("password")
			}
			return component.AuthFailed(component.AuthError{Component: fmt.Sprintf("mysql source %q", s.env.Name),
				User: s.dc.User, Server: s.dc.Addr, Reason: reason, Keys: keys, Hint: dbauth.MySQLHint})
		}
		if fix, ok := dbauth.MySQLTLS(err, s.env.Key); ok {
			return component.Permanent(fmt.Errorf("mysql source %q: %w; %s", s.env.Name, err, fix))
		}
		return fmt.Errorf("mysql source %q: %w", s.env.Name, err)
	}
	return nil
}

func (s *Source) run(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil {
		return component.Permanent(err)
	}
	db, err := s.openDB()
	if err != nil {
		return err
	}
	// The server may be down or still starting up: wait for it as
	// engine.start_retry says, as a lost connection is waited for later.
	si, err := component.Connect(ctx, s.env, "connect", startTransient, func(ctx context.Context) (serverInfo, error) {
		return queryServerInfo(ctx, db)
	})
	if err != nil {
		return err
	}
	refs, err := resolveTables(ctx, db, s.cfg.Tables)
	if err != nil {
		return err
	}
	tables := make([]*tableState, 0, len(refs))
	for _, ref := range refs {
		cols, err := loadColumns(ctx, db, ref)
		if err != nil {
			return err
		}
		sch, types, err := buildSchema(s.baseSchema(ref), ref, cols)
		if err != nil {
			return err
		}
		if len(sch.KeyIdx) == 0 {
			s.log.Warn("table has no primary key: its snapshot is read in one query and restarts from the beginning after a crash; its events have no key", "table", ref.String())
		}
		tables = append(tables, &tableState{ref: ref, sch: sch, types: types})
	}

	if s.cfg.SignalDataCollection != "" {
		sdb, stbl, _ := strings.Cut(s.cfg.SignalDataCollection, ".")
		ref := tableRef{sdb, stbl}
		cols, err := loadColumns(ctx, db, ref)
		if err == nil && len(cols) < 3 {
			err = errors.New("it has fewer than 3 columns")
		}
		if err != nil {
			return component.Permanent(fmt.Errorf("signal table %s (signal_data_collection): %v; create it as Debezium's: "+
				"CREATE TABLE %s (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)", ref, err, ref.quoted()))
		}
		sch, types, err := buildSchema(s.baseSchema(ref), ref, cols)
		if err != nil {
			return err
		}
		s.signal = &tableState{ref: ref, sch: sch, types: types}
		// The signal table is never captured (a glob in tables may match
		// it): its rows are signals, not data.
		refs = slices.DeleteFunc(refs, func(r tableRef) bool { return r == ref })
		tables = slices.DeleteFunc(tables, func(t *tableState) bool { return t.ref == ref })
		if len(tables) == 0 {
			return component.Permanent(fmt.Errorf("tables matches only the signal table %s", ref))
		}
	}
	if cp != nil {
		ok, err := binlogAvailable(ctx, db, cp.File)
		if err != nil {
			return err
		}
		if !ok {
			lost := fmt.Errorf("%w: the checkpoint is at %s:%d (gtid %q), which was purged; changes since then are lost", ErrBinlogLost, cp.File, cp.Pos, cp.GTID)
			if s.cfg.OnBinlogLost != LostResnapshot {
				return component.Permanent(fmt.Errorf("%w; set on_binlog_lost: resnapshot to take a new snapshot, or remove the pipeline's state to start over", lost))
			}
			s.log.Warn("binlog lost; taking a new snapshot (on_binlog_lost: resnapshot)", "err", lost)
			cp = nil
		} else {
			s.checkRetention(ctx, db, cp.File)
		}
	}
	switch {
	case cp == nil && s.cfg.Snapshot == SnapshotInitial:
		if cp, err = s.snapshot(ctx, db, si, tables, nil, out); err != nil {
			return err
		}
	case cp == nil:
		file, pos, gtid, err := currentPosition(ctx, db, si)
		if err != nil {
			return err
		}
		cp = &checkpoint{Version: 1, Phase: phaseStream, File: file, Pos: pos, GTID: gtid}
	case cp.Phase == phaseSnapshot:
		s.log.Info("resuming the snapshot at a new consistent read; changes after the snapshot position are replayed by the stream",
			"file", cp.File, "pos", cp.Pos)
		if cp, err = s.snapshot(ctx, db, si, tables, cp, out); err != nil {
			return err
		}
	}
	s.queueAdded(cp, refs)
	err = s.stream(ctx, db, si, tables, cp, out)
	if errors.Is(err, ErrBinlogLost) && s.cfg.OnBinlogLost == LostResnapshot && ctx.Err() == nil {
		s.log.Warn("binlog lost while streaming; taking a new snapshot (on_binlog_lost: resnapshot)", "err", err)
		s.mu.Lock()
		s.mu.db = nil
		s.mu.Unlock()
		db.Close()
		return s.run(ctx, nil, out)
	}
	if errors.Is(err, ErrBinlogLost) {
		return component.Permanent(fmt.Errorf("%w; set on_binlog_lost: resnapshot to take a new snapshot, or remove the pipeline's state to start over", err))
	}
	return err
}

func (s *Source) baseSchema(ref tableRef) event.Schema {
	return event.Schema{
		Stream:    s.env.Name + "." + ref.db + "." + ref.name,
		Source:    s.env.Name,
		Connector: "mysql",
		Database:  ref.db,
		Table:     ref.name,
		Version:   1,
	}
}

// binlogAvailable reports whether file is among the server's binlogs.
func binlogAvailable(ctx context.Context, db *sql.DB, file string) (bool, error) {
	rows, err := db.QueryContext(ctx, `SHOW BINARY LOGS`)
	if err != nil {
		return false, fmt.Errorf("list binary logs: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return false, fmt.Errorf("list binary logs: %w", err)
		}
		if string(vals[0]) == file {
			return true, nil
		}
	}
	return false, rows.Err()
}

// currentPosition returns the server's binlog position and GTID position.
func currentPosition(ctx context.Context, db *sql.DB, si serverInfo) (string, uint64, string, error) {
	rows, err := db.QueryContext(ctx, `SHOW MASTER STATUS`)
	if err != nil {
		return "", 0, "", fmt.Errorf("read the binlog position: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		return "", 0, "", component.Permanent(errors.New("SHOW MASTER STATUS is empty: the binary log is off (set log_bin)"))
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", 0, "", fmt.Errorf("read the binlog position: %w", err)
	}
	var pos uint64
	if _, err := fmt.Sscan(vals[1].String, &pos); err != nil {
		return "", 0, "", fmt.Errorf("binlog position %q: %w", vals[1].String, err)
	}
	file, gtid := vals[0].String, ""
	if si.mariadb {
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(BINLOG_GTID_POS(?, ?), '')`, file, pos).Scan(&gtid); err != nil {
			return "", 0, "", fmt.Errorf("GTID position of %s:%d: %w", file, pos, err)
		}
	} else if si.gtid && len(vals) >= 5 {
		gtid = strings.ReplaceAll(vals[4].String, "\n", "")
	}
	return file, pos, gtid, nil
}

// Committed records the durable checkpoint. MySQL has nothing to confirm
// upstream (binlogs expire by time, not by replica progress), so the
// source only remembers it: every position before it may be forgotten.
func (s *Source) Committed(ctx context.Context, cpBytes []byte) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil || cp == nil {
		return err
	}
	s.mu.Lock()
	s.mu.durable = fmt.Sprintf("%s:%d", cp.File, cp.Pos)
	s.mu.Unlock()
	return nil
}

// Close closes the connection pool (the replication connection is closed
// by Run when it returns).
func (s *Source) Close() error {
	s.mu.Lock()
	db := s.mu.db
	s.mu.db = nil
	s.mu.Unlock()
	if db != nil {
		return db.Close()
	}
	return nil
}

// retryable reports whether an error is a lost connection (or a server
// going away) that a reconnect can fix.
func retryable(err error) bool {
	if err == nil || component.IsPermanent(err) || errors.Is(err, ErrBinlogLost) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return !permanentCode(me.Number)
	}
	var re *gomysql.MyError // the replication connection's errors
	if errors.As(err, &re) {
		return !permanentCode(re.Code)
	}
	return true // network errors, EOF, a killed connection, timeouts
}

// startTransient reports whether an error of the connect step may pass
// by itself (see package transient).
func startTransient(err error) bool {
	var re *gomysql.MyError
	if errors.As(err, &re) {
		return transient.MySQLCode(re.Code)
	}
	return transient.MySQL(err)
}

// permanentCode reports server errors that a reconnect cannot fix: access
// denied, missing privileges (REPLICATION SLAVE, REPLICATION CLIENT),
// syntax, missing tables.
func permanentCode(code uint16) bool {
	switch code {
	case 1044, 1045, 1064, 1142, 1146, 1227, 1698:
		return true
	}
	return false
}
