package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/progress"
	"github.com/sluice-dev/sluice/internal/transient"
	"github.com/sluice-dev/sluice/source/internal/incrsnap"
	"github.com/sluice-dev/sluice/source/internal/linger"
)

var _ component.Source = (*Source)(nil)

// heartbeatPrefix is the logical decoding message prefix of heartbeats.
const heartbeatPrefix = "sluice_heartbeat"

// sessionParams make every value's text form unambiguous (see value.go). They
// are sent in the startup packet of every connection, the replication one
// included: pgoutput formats values with the walsender's settings.
var sessionParams = map[string]string{
	"TimeZone":                    "UTC",
	"DateStyle":                   "ISO",
	"IntervalStyle":               "iso_8601",
	"extra_float_digits":          "3",
	"bytea_output":                "hex",
	"lc_monetary":                 "C",
	"standard_conforming_strings": "on",
	"application_name":            "sluice",
}

// Source is a PostgreSQL CDC source. Create it with New (or Factory).
type Source struct {
	cfg         Config
	env         component.Env
	log         *slog.Logger
	slot        string
	publication string

	// durable is the newest stream LSN the engine reported durable
	// (Committed); the only position ever confirmed to the server.
	durable atomic.Uint64
	// kick wakes the status sender (buffer 1).
	kick chan struct{}
	prog progress.Tracker
	// gauges measures the slot for metrics (gauges.go).
	gauges slotGauges
	// guard is the slot guardian's state (guardian.go).
	guard guard
	// pubSeen is the server's WAL position when Run found the publication
	// complete; set before streaming starts, like pubKinds.
	pubSeen pglogrepl.LSN
	// pubKinds is what the publication published then: a kind it stops
	// publishing while streaming stops the source.
	pubKinds pubKind
	// pubChecks counts the publication checks passed while streaming.
	pubChecks atomic.Int64
	// replaySkips counts what the stream did not emit again after a
	// reconnect: transactions emitted whole, and events of the
	// transaction emitted in part.
	replaySkips struct{ tx, events atomic.Int64 }
	// signal is the signal table (schema.table), "" when none.
	signal string
	// chunkReadHook, set by tests only, runs between an incremental
	// snapshot chunk's select and its high watermark.
	chunkReadHook func(table string, lastKey []string)
	// lingerSet, set by tests only, replaces linger.Max and linger.Quiet
	// (stream.go).
	lingerSet linger.Rule

	mu struct {
		sync.Mutex
		pubCreated bool
		conns      []io.Closer // open connections, closed by Close
	}
}

// New builds a source from a validated configuration.
func New(cfg *Config, env component.Env) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("postgres source %q: %w", env.Name, errors.Join(errs...))
	}
	s := &Source{cfg: *cfg, env: env, log: env.Logger, kick: make(chan struct{}, 1)}
	s.guard.over = -1
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.slot = cfg.Slot
	if s.slot == "" {
		s.slot = defaultName(env.Pipeline, env.Name)
	}
	s.publication = cfg.Publication
	if s.publication == "" {
		s.publication = defaultName(env.Pipeline, env.Name)
	}
	return s, nil
}

// connConfig parses the DSN for a regular connection with the session
// parameters. Parse errors never quote the DSN (it holds the password).
func (s *Source) connConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, component.Permanent(errors.New("dsn is not a valid PostgreSQL connection string"))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	return cfg, nil
}

func (s *Source) track(c io.Closer) {
	s.mu.Lock()
	s.mu.conns = append(s.mu.conns, c)
	s.mu.Unlock()
}

type pgxCloser struct{ c *pgx.Conn }

func (p pgxCloser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return p.c.Close(ctx)
}

type pgconnCloser struct{ c *pgconn.PgConn }

func (p pgconnCloser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return p.c.Close(ctx)
}

// connect opens a regular connection.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := s.connConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s.track(pgxCloser{conn})
	return conn, nil
}

// connectRepl opens a replication=database connection.
func (s *Source) connectRepl(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, component.Permanent(errors.New("dsn is not a valid PostgreSQL connection string"))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["replication"] = "database"
	bufferedReads(cfg) // the stream's reads (netread.go)
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replication connection: %w", err)
	}
	s.track(pgconnCloser{conn})
	return conn, nil
}

// serverInfo is what Run learns about the server once.
type serverInfo struct {
	version  int // server_version_num
	database string
}

func querySeverInfo(ctx context.Context, conn *pgx.Conn) (serverInfo, error) {
	var si serverInfo
	var v string
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num'), current_database()`).Scan(&v, &si.database); err != nil {
		return si, fmt.Errorf("query server version: %w", err)
	}
	si.version, _ = strconv.Atoi(v)
	if si.version < 120000 {
		return si, component.Permanent(fmt.Errorf("PostgreSQL %s is not supported: version 12 or later is required", v))
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
		return s.explain(err)
	}
	return nil
}

// explain names the source in err and, when the server refused the
// credentials or the TLS setup does not verify, says what to fix.
func (s *Source) explain(err error) error {
	if reason, ok := dbauth.Postgres(err); ok {
		a := component.AuthError{Component: fmt.Sprintf("postgres source %q", s.env.Name), Reason: reason,
			Keys: s.env.Key("dsn"), Hint: dbauth.PostgresHint}
		if c, perr := pgconn.ParseConfig(s.cfg.DSN); perr == nil {
			a.User, a.Server = c.User, dbauth.PostgresAddr(c)
		}
		return component.AuthFailed(a)
	}
	if fix, ok := dbauth.PostgresTLS(err, s.env.Key("dsn")); ok {
		return component.Permanent(fmt.Errorf("postgres source %q: %w; %s", s.env.Name, err, fix))
	}
	return fmt.Errorf("postgres source %q: %w", s.env.Name, err)
}

// run runs runOnce, and again from no checkpoint, with the slot dropped,
// each time a policy asks for a new slot and a full snapshot
// (on_max_retained_wal: drop_and_resnapshot, on_slot_lost: resnapshot).
func (s *Source) run(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	for {
		err := s.runOnce(ctx, cpBytes, out)
		var rs *errResnapshot
		if ctx.Err() != nil || !errors.As(err, &rs) {
			return err
		}
		if err := s.dropForResnapshot(ctx); err != nil {
			return err
		}
		cpBytes = nil
	}
}

// dropForResnapshot closes every connection of the run that ended (the
// replication one holds the slot) and drops the slot if it still exists,
// waiting for the walsender to let it go.
func (s *Source) dropForResnapshot(ctx context.Context) error {
	s.mu.Lock()
	conns := s.mu.conns
	s.mu.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	s.durable.Store(0)
	s.guard.mu.Lock()
	s.guard.warned, s.guard.held, s.guard.over, s.guard.walWarned = false, false, -1, ""
	s.guard.mu.Unlock()
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := conn.Exec(dctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, s.slot)
		if err == nil {
			s.log.Warn("dropped replication slot to snapshot again", "slot", s.slot)
			return nil
		}
		if !slotActive(err) {
			return fmt.Errorf("drop replication slot %q: %w", s.slot, err)
		}
		select {
		case <-dctx.Done():
			return fmt.Errorf("drop replication slot %q: another process still holds it: %w", s.slot, dctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Source) runOnce(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil {
		return component.Permanent(err)
	}
	if cp != nil && cp.Slot != s.slot {
		return component.Permanent(fmt.Errorf("checkpoint belongs to replication slot %q but the source uses slot %q; "+
			"set slot: %s or remove the pipeline's state to start over", cp.Slot, s.slot, cp.Slot))
	}
	// The server may be down or still starting up: wait for it as
	// engine.start_retry says, as a lost connection is waited for later.
	type first struct {
		meta *pgx.Conn
		si   serverInfo
	}
	c, err := component.Connect(ctx, s.env, "connect", transient.Postgres, func(ctx context.Context) (first, error) {
		meta, err := s.connect(ctx)
		if err != nil {
			return first{}, err
		}
		si, err := querySeverInfo(ctx, meta)
		if err != nil {
			pgxCloser{meta}.Close()
		}
		return first{meta, si}, err
	})
	if err != nil {
		return err
	}
	meta, si := c.meta, c.si
	refs, err := resolveTables(ctx, meta, s.cfg.Tables)
	if err != nil {
		return component.Permanent(err)
	}
	pubRefs := refs
	if s.cfg.SignalDataCollection != "" {
		sig, err := resolveTables(ctx, meta, []string{s.cfg.SignalDataCollection})
		if err != nil || len(sig) != 1 {
			return component.Permanent(fmt.Errorf("signal table %s (signal_data_collection) not found; create it as Debezium's: "+
				"CREATE TABLE %s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
				s.cfg.SignalDataCollection, s.cfg.SignalDataCollection))
		}
		s.signal = sig[0].String()
		// The signal table is never captured (a glob in tables may
		// match it): its rows are signals, not data.
		refs = slices.DeleteFunc(refs, func(r tableRef) bool { return r.oid == sig[0].oid })
		if len(refs) == 0 {
			return component.Permanent(fmt.Errorf("tables matches only the signal table %s", s.signal))
		}
		pubRefs = append(slices.Clip(refs), sig[0])
	}
	created, err := s.ensurePublication(ctx, meta, pubRefs, si.version, cp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	// A run after a drop for a new snapshot finds its own publication.
	s.mu.pubCreated = s.mu.pubCreated || created || (cp != nil && cp.PublicationCreated)
	pubCreated := s.mu.pubCreated
	s.mu.Unlock()

	captured := sortedNames(refs)
	cat := newCatalog(meta)
	tables := make([]*capturedTable, 0, len(refs))
	for _, ref := range refs {
		ct, err := s.loadCaptured(ctx, cat, si, ref)
		if err != nil {
			return err
		}
		tables = append(tables, ct)
	}

	slot, err := s.lookSlot(ctx, meta)
	if err != nil {
		return err
	}
	if cp != nil {
		if err := s.checkPosition(ctx, meta, slot, cp); err != nil {
			return err
		}
	} else if slot != nil && slot.invalidated() {
		// Nothing to resume: an invalidated slot of an earlier run is
		// of no use, and a new one replaces it.
		s.log.Warn("dropping the invalidated replication slot of an earlier run (no checkpoint to resume)", "slot", s.slot, "wal_status", slot.WALStatus)
		if _, err := meta.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.slot); err != nil {
			return fmt.Errorf("drop invalidated replication slot %q: %w", s.slot, err)
		}
		slot = nil
	}
	slotExists, slotLSN := slot != nil, uint64(0)
	if slot != nil {
		slotLSN = uint64(slot.ConfirmedLSN)
	}
	// max_wal_senders may be full for a moment (an old walsender exiting).
	repl, err := component.Connect(ctx, s.env, "replication connection", transient.Postgres, s.connectRepl)
	if err != nil {
		return err
	}

	fresh := cp == nil || cp.Phase == phaseSnapshot
	switch {
	case cp == nil && s.cfg.Snapshot == SnapshotInitial && slotExists && slotLSN != 0:
		// A run before this one created the slot and was stopped before
		// its first checkpoint (a crash during the snapshot). The slot
		// still holds every change since its consistent point, which
		// sinks may have partly seen: re-reading at a new snapshot and
		// streaming from the slot's position replays the changes in
		// between (deletes included), so every sink converges. Dropping
		// the slot instead would lose those changes for good.
		s.log.Warn("replication slot exists but there is no checkpoint; snapshotting again and streaming from the slot's position",
			"slot", s.slot, "confirmed_flush_lsn", pglogrepl.LSN(slotLSN).String())
		cp = &checkpoint{Version: 1, Slot: s.slot, Phase: phaseSnapshot, ConsistentPoint: pglogrepl.LSN(slotLSN).String(),
			Tables: map[string]*tableProgress{}, Captured: captured, PublicationCreated: pubCreated}
		for _, t := range tables {
			cp.Tables[t.info.ref.String()] = &tableProgress{}
		}
		if err := s.snapshot(ctx, si, tables, cp, slotLSN, "", out); err != nil {
			return err
		}
	case cp == nil && s.cfg.Snapshot == SnapshotInitial:
		if slotExists {
			// A slot without a confirmed position holds nothing.
			if _, err := meta.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.slot); err != nil {
				return fmt.Errorf("drop stale replication slot %q: %w", s.slot, err)
			}
		}
		res, err := s.createSlot(ctx, repl, si, true)
		if err != nil {
			return err
		}
		cpLSN, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("create replication slot %q: consistent point: %w", s.slot, err)
		}
		s.log.Info("created replication slot", "slot", s.slot, "consistent_point", res.ConsistentPoint)
		cp = &checkpoint{Version: 1, Slot: s.slot, Phase: phaseSnapshot, ConsistentPoint: res.ConsistentPoint,
			Tables: map[string]*tableProgress{}, Captured: captured, PublicationCreated: pubCreated}
		for _, t := range tables {
			cp.Tables[t.info.ref.String()] = &tableProgress{}
		}
		// The exporting connection stays idle until every worker has
		// imported the snapshot (and, simply, until the snapshot is read).
		if err := s.snapshot(ctx, si, tables, cp, uint64(cpLSN), res.SnapshotName, out); err != nil {
			return err
		}
	case cp == nil:
		if !slotExists {
			res, err := s.createSlot(ctx, repl, si, false)
			if err != nil {
				return err
			}
			l, err := pglogrepl.ParseLSN(res.ConsistentPoint)
			if err != nil {
				return fmt.Errorf("create replication slot %q: consistent point: %w", s.slot, err)
			}
			slotLSN = uint64(l)
			s.log.Info("created replication slot", "slot", s.slot, "consistent_point", res.ConsistentPoint)
		}
		cp = &checkpoint{Version: 1, Slot: s.slot, Phase: phaseStream, ConsistentPoint: pglogrepl.LSN(slotLSN).String(),
			LSN: pglogrepl.LSN(slotLSN).String(), Captured: captured, PublicationCreated: pubCreated}
	default:
		cp.PublicationCreated = pubCreated
		if added := addedTables(cp, captured); len(added) > 0 && s.cfg.Snapshot == SnapshotInitial {
			// Added to tables after the first snapshot: their existing
			// rows are read by an incremental snapshot.
			if si.version < 140000 {
				s.log.Warn("tables added after the first snapshot get no existing rows: incremental snapshots need PostgreSQL 14 or later", "tables", added)
			} else {
				if cp.Incr == nil {
					cp.Incr = &incrsnap.State{}
				}
				for _, t := range added {
					cp.Incr.Add(t, "")
				}
				s.log.Info("tables added after the first snapshot: reading their rows by an incremental snapshot", "tables", added)
			}
		}
		cp.Captured = captured
		if cp.Phase == phaseSnapshot {
			l, _ := cp.consistentLSN()
			s.log.Info("resuming the snapshot at a new snapshot; changes after the consistent point are replayed by the stream",
				"consistent_point", cp.ConsistentPoint)
			if err := s.snapshot(ctx, si, tables, cp, uint64(l), "", out); err != nil {
				return err
			}
		}
	}
	cp.fresh = fresh
	return s.stream(ctx, si, meta, repl, tables, cp, out)
}

// slotState reports whether the slot exists and its confirmed position.
func (s *Source) slotState(ctx context.Context, conn *pgx.Conn) (uint64, bool, error) {
	si, err := s.lookSlot(ctx, conn)
	if err != nil || si == nil {
		return 0, false, err
	}
	return uint64(si.ConfirmedLSN), true, nil
}

// lookSlot looks the source's slot up: nil when it does not exist, an
// error when it is not a pgoutput slot. The measurement also serves status
// until the guardian's first look.
func (s *Source) lookSlot(ctx context.Context, conn *pgx.Conn) (*SlotInfo, error) {
	slots, err := querySlots(ctx, conn, s.slot)
	if err != nil {
		return nil, fmt.Errorf("look up replication slot %q: %w", s.slot, err)
	}
	s.guard.mu.Lock()
	s.guard.at = time.Now()
	s.guard.last = nil
	if len(slots) > 0 {
		s.guard.last = &slots[0]
	}
	s.guard.mu.Unlock()
	if len(slots) == 0 {
		return nil, nil
	}
	si := &slots[0]
	if si.Plugin != "pgoutput" {
		return nil, component.Permanent(fmt.Errorf("replication slot %q exists but uses plugin %q, not pgoutput; choose another slot name", s.slot, si.Plugin))
	}
	return si, nil
}

// capturedTable is a table with its current schema.
type capturedTable struct {
	info  *tableInfo
	sch   *event.Schema
	types []*colType
}

func (s *Source) baseSchema(si serverInfo, ref tableRef) event.Schema {
	return event.Schema{
		Stream:    s.env.Name + "." + ref.schema + "." + ref.name,
		Source:    s.env.Name,
		Connector: "postgresql",
		Database:  si.database,
		Namespace: ref.schema,
		Table:     ref.name,
		Version:   1,
	}
}

func (s *Source) loadCaptured(ctx context.Context, cat *catalog, si serverInfo, ref tableRef) (*capturedTable, error) {
	info, err := cat.loadTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	sch, types, err := cat.buildSchema(ctx, s.baseSchema(si, ref), info, nil)
	if err != nil {
		return nil, err
	}
	if len(info.key) == 0 {
		if info.replIdent != 'f' {
			s.log.Warn("table has no primary key: the snapshot reads it by ctid, and updates and deletes are only captured with REPLICA IDENTITY FULL",
				"table", ref.String(), "fix", "ALTER TABLE "+ref.quoted()+" REPLICA IDENTITY FULL")
		}
	}
	return &capturedTable{info: info, sch: sch, types: types}, nil
}

// Committed confirms the checkpoint's stream position to the server, so the
// slot may release WAL before it.
func (s *Source) Committed(ctx context.Context, cpBytes []byte) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil || cp == nil {
		return err
	}
	if cp.Phase != phaseStream {
		return nil // the slot stays at the consistent point until the snapshot is done
	}
	l, _ := cp.streamLSN()
	for {
		old := s.durable.Load()
		if uint64(l) <= old || s.durable.CompareAndSwap(old, uint64(l)) {
			break
		}
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// Close closes every connection and, with drop_slot_on_stop, drops the slot
// and the publication if this source created it.
func (s *Source) Close() error {
	s.gauges.close()
	s.mu.Lock()
	conns := s.mu.conns
	s.mu.conns = nil
	pubCreated := s.mu.pubCreated
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	if !s.cfg.DropSlotOnStop {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := s.connConfig()
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres source %q: drop slot: %w", s.env.Name, err)
	}
	defer conn.Close(context.Background())
	// The walsender may take a moment to release the slot after its
	// connection closed.
	for {
		var active bool
		err := conn.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if err == nil && !active {
			if _, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.slot); err == nil {
				s.log.Info("dropped replication slot", "slot", s.slot)
				break
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres source %q: drop replication slot %q: %w", s.env.Name, s.slot, errors.Join(ctx.Err(), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if pubCreated {
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{s.publication}.Sanitize()); err != nil {
			return fmt.Errorf("postgres source %q: drop publication %q: %w", s.env.Name, s.publication, err)
		}
	}
	return nil
}

// retryable reports whether a streaming error is a lost connection (or a
// server going away) that a reconnect can fix.
func retryable(err error) bool {
	if err == nil || component.IsPermanent(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "57"), strings.HasPrefix(pgErr.Code, "53"):
			return true
		case pgErr.Code == "55006": // slot still active: the old walsender has not exited yet
			return true
		}
		return false
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err) || errors.Is(err, net.ErrClosed)
}
