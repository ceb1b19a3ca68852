package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

var _ component.Chunker = (*Source)(nil)

// chunkSpec is one chunk of a shared snapshot (component.Chunker): the
// rows of Table whose primary key is >= Lo and < Hi (nil: unbounded), each
// key column in its text form. File, Pos and GTID are the binlog position
// the leader read before planning: the stream starts there, and every row
// of the shared snapshot carries it as its source position. Example:
//
//	{"table":"shop.orders","lo":["50001"],"hi":["100001"],
//	 "file":"binlog.000002","pos":93889471,"gtid":"0-1-5891"}
//
// A table without a primary key is one chunk (no bounds).
type chunkSpec struct {
	Table string   `json:"table"`
	Lo    []string `json:"lo,omitempty"`
	Hi    []string `json:"hi,omitempty"`
	File  string   `json:"file"`
	Pos   uint64   `json:"pos"`
	GTID  string   `json:"gtid,omitempty"`
}

// PlanChunks records the server's binlog position (and GTID position)
// first, then splits each keyed table into primary-key ranges of
// snapshot_chunk_rows rows (the key of every n-th row in key order; the
// first range has no lower bound and the last no upper one, so every key
// falls in exactly one range whatever changed since) and each keyless
// table into one chunk. The plan's checkpoint starts the stream at the
// recorded position.
//
// MySQL cannot share a consistent snapshot between connections, so there
// is no Exporter: every chunk is read at a snapshot of its own (ReadChunk),
// all of them later than the recorded position. The stream replays every
// change committed after that position, so a row read in a newer state gets
// those changes again, in order, after it, and the last image per key is
// right (the argument of the PostgreSQL source's "snapshot gone" case).
func (s *Source) PlanChunks(ctx context.Context) (*component.ChunkPlan, error) {
	if s.cfg.Snapshot != SnapshotInitial {
		return nil, nil
	}
	db, si, err := s.openOwn(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	file, pos, gtid, err := currentPosition(ctx, db, si)
	if err != nil {
		return nil, s.wrapErr(err)
	}
	tables, err := s.loadTables(ctx, db)
	if err != nil {
		return nil, s.wrapErr(err)
	}
	plan := &component.ChunkPlan{}
	for _, t := range tables {
		spec := chunkSpec{Table: t.ref.String(), File: file, Pos: pos, GTID: gtid}
		if len(t.sch.KeyIdx) == 0 {
			s.log.Warn("table has no primary key: its snapshot is one chunk, read by one node", "table", spec.Table)
			plan.Chunks = append(plan.Chunks, chunkOf(spec, len(plan.Chunks)))
			continue
		}
		bounds, err := s.keyBounds(ctx, db, t)
		if err != nil {
			return nil, s.wrapErr(err)
		}
		var lo []string
		for _, b := range append(bounds, nil) {
			spec.Lo, spec.Hi = lo, b
			plan.Chunks = append(plan.Chunks, chunkOf(spec, len(plan.Chunks)))
			lo = b
		}
		s.log.Info("planned snapshot chunks", "table", spec.Table, "chunks", len(bounds)+1, "rows_per_chunk", s.cfg.SnapshotChunkRows)
	}
	s.log.Info("snapshot position for the shared snapshot", "file", file, "pos", pos, "gtid", gtid)
	cp := &checkpoint{Version: 1, Phase: phaseStream, File: file, Pos: pos, GTID: gtid}
	plan.Checkpoint = cp.marshal()
	return plan, nil
}

func chunkOf(spec chunkSpec, n int) component.Chunk {
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // strings and numbers only
	}
	return component.Chunk{Name: fmt.Sprintf("%06d", n), Spec: b}
}

// openOwn opens a connection pool the caller closes (chunk instances are
// never Closed) and waits for the server as engine.start_retry says.
func (s *Source) openOwn(ctx context.Context) (*sql.DB, serverInfo, error) {
	connector, err := mysql.NewConnector(s.dc)
	if err != nil {
		return nil, serverInfo{}, component.Permanent(errors.New("dsn is not a valid MySQL data source name"))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	si, err := component.Connect(ctx, s.env, "connect", startTransient, func(ctx context.Context) (serverInfo, error) {
		return queryServerInfo(ctx, db)
	})
	if err != nil {
		db.Close()
		return nil, si, s.wrapErr(err)
	}
	return db, si, nil
}

func (s *Source) wrapErr(err error) error {
	return fmt.Errorf("mysql source %q: %w", s.env.Name, err)
}

// loadTables resolves the configured tables and their schemas.
func (s *Source) loadTables(ctx context.Context, db *sql.DB) ([]*tableState, error) {
	refs, err := resolveTables(ctx, db, s.cfg.Tables)
	if err != nil {
		return nil, err
	}
	tables := make([]*tableState, 0, len(refs))
	for _, ref := range refs {
		t, err := s.loadTable(ctx, db, ref)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, nil
}

func (s *Source) loadTable(ctx context.Context, db *sql.DB, ref tableRef) (*tableState, error) {
	cols, err := loadColumns(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	sch, types, err := buildSchema(s.baseSchema(ref), ref, cols)
	if err != nil {
		return nil, err
	}
	return &tableState{ref: ref, sch: sch, types: types}, nil
}

// selectExpr is column i as the snapshot selects it: FLOAT's text form
// has 6 significant digits; as a double it is exact, and rounds back to
// the same float32.
func selectExpr(t *tableState, i int) string {
	c := quoteIdent(t.sch.Columns[i].Name)
	if t.types[i].kind == vFloat32 {
		return "CAST(" + c + " AS DOUBLE)"
	}
	return c
}

// keyBounds returns the key of every snapshot_chunk_rows-th row after the
// first, in key order (the key's index, one pass): the lower bounds of the
// chunks after the first. Read outside any snapshot: any bounds are
// correct, they only size the chunks.
func (s *Source) keyBounds(ctx context.Context, db *sql.DB, t *tableState) ([][]string, error) {
	keys := make([]string, len(t.sch.KeyIdx))
	exprs := make([]string, len(t.sch.KeyIdx))
	for i, k := range t.sch.KeyIdx {
		keys[i] = quoteIdent(t.sch.Columns[k].Name)
		exprs[i] = selectExpr(t, k)
	}
	list := strings.Join(keys, ", ")
	q := fmt.Sprintf("SELECT %s FROM (SELECT %s, ROW_NUMBER() OVER (ORDER BY %s) AS sluice_rn FROM %s) s WHERE sluice_rn %% %d = 1 AND sluice_rn > 1 ORDER BY sluice_rn",
		strings.Join(exprs, ", "), list, list, t.ref.quoted(), s.cfg.SnapshotChunkRows)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.ref, err)
	}
	defer rows.Close()
	var out [][]string
	raw := make([]sql.RawBytes, len(keys))
	ptrs := make([]any, len(keys))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.ref, err)
		}
		key := make([]string, len(raw))
		for i, b := range raw {
			key[i] = string(b)
		}
		out = append(out, key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.ref, err)
	}
	return out, nil
}

// keyPredicate is "(k) >= (lo)" or "(k) < (hi)", with literals as the
// resumed snapshot writes them (ENUM and SET by number, as they sort).
func keyPredicate(t *tableState, op string, key []string) (string, error) {
	if len(key) != len(t.sch.KeyIdx) {
		return "", component.Permanent(fmt.Errorf("snapshot chunk of %s: bound %v has %d columns, the primary key %d", t.ref, key, len(key), len(t.sch.KeyIdx)))
	}
	cols := make([]string, len(key))
	lits := make([]string, len(key))
	for i, k := range t.sch.KeyIdx {
		cols[i] = quoteIdent(t.sch.Columns[k].Name)
		lits[i] = t.types[k].keyLiteral(key[i])
	}
	return "(" + strings.Join(cols, ", ") + ") " + op + " (" + strings.Join(lits, ", ") + ")", nil
}

// ReadChunk reads one chunk in a consistent-read transaction of its own
// (START TRANSACTION WITH CONSISTENT SNAPSHOT) and emits its rows. The
// snapshot is later than the plan's position, from which the stream
// replays every later change (see PlanChunks). Every row carries
// source.snapshot "true" and the plan's binlog position: no node knows
// which row of a table comes first or last.
func (s *Source) ReadChunk(ctx context.Context, specBytes []byte, out component.Emitter) error {
	var spec chunkSpec
	if err := json.Unmarshal(specBytes, &spec); err != nil {
		return component.Permanent(fmt.Errorf("snapshot chunk %s is not this source's JSON: %w", specBytes, err))
	}
	dbName, name, ok := strings.Cut(spec.Table, ".")
	if !ok {
		return component.Permanent(fmt.Errorf("snapshot chunk %s: table %q is not database.table", specBytes, spec.Table))
	}
	db, _, err := s.openOwn(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ref := tableRef{db: dbName, name: name}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, dbName, name).Scan(&n); err != nil {
		return s.wrapErr(fmt.Errorf("snapshot chunk of %s: %w", spec.Table, err))
	}
	if n == 0 {
		return component.Permanent(s.wrapErr(fmt.Errorf("snapshot chunk: table %s no longer exists", spec.Table)))
	}
	t, err := s.loadTable(ctx, db, ref)
	if err != nil {
		return s.wrapErr(err)
	}
	var where []string
	if len(t.sch.KeyIdx) > 0 {
		for _, b := range []struct {
			op  string
			key []string
		}{{">=", spec.Lo}, {"<", spec.Hi}} {
			if b.key == nil {
				continue
			}
			p, err := keyPredicate(t, b.op, b.key)
			if err != nil {
				return err
			}
			where = append(where, p)
		}
	} else if spec.Lo != nil || spec.Hi != nil {
		return component.Permanent(s.wrapErr(fmt.Errorf("snapshot chunk of %s has key bounds but the table has no primary key now", spec.Table)))
	}
	cols := make([]string, len(t.sch.Columns))
	for i := range cols {
		cols[i] = selectExpr(t, i)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + ref.quoted()
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return s.wrapErr(fmt.Errorf("snapshot chunk of %s: connect: %w", spec.Table, err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return s.wrapErr(fmt.Errorf("snapshot chunk of %s: %w", spec.Table, err))
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return s.wrapErr(fmt.Errorf("snapshot chunk of %s: start transaction: %w", spec.Table, err))
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // read-only
	sn := &snapshotter{s: s, out: chunkEmitter{out},
		cp:     &checkpoint{Version: 1, Phase: phaseSnapshot, Tables: map[string]*tableProgress{spec.Table: {}}},
		binlog: &event.Binlog{File: spec.File, Pos: spec.Pos}}
	if _, _, err := sn.chunk(ctx, conn, t, q); err != nil {
		return s.wrapErr(err)
	}
	if sn.pending != nil {
		if err := out.Emit(ctx, sn.pending.events, nil); err != nil {
			return err
		}
	}
	return nil
}

// chunkEmitter drops the checkpoints of a chunk's batches: a chunk's
// progress is its lease, not a position of the source.
type chunkEmitter struct{ out component.Emitter }

func (e chunkEmitter) Emit(ctx context.Context, evs []event.Event, _ []byte) error {
	return e.out.Emit(ctx, evs, nil)
}
