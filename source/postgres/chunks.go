package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/transient"
)

var _ component.Chunker = (*Source)(nil)

// chunkSpec is one chunk of a shared snapshot (component.Chunker): the
// rows of Table whose key is >= Lo and < Hi (nil: unbounded), read at the
// exported Snapshot. Example:
//
//	{"table":"public.orders","lo":["50001"],"hi":["100001"],
//	 "snapshot":"00000003-0000001B-1","consistent_point":"0/16B3748"}
//
// A table without a key is one chunk (no bounds): heap block ranges read
// at different snapshots (the fallback below) could miss a row an update
// moved between blocks.
type chunkSpec struct {
	Table           string   `json:"table"`
	Lo              []string `json:"lo,omitempty"`
	Hi              []string `json:"hi,omitempty"`
	Snapshot        string   `json:"snapshot,omitempty"`
	ConsistentPoint string   `json:"consistent_point"`
}

// PlanChunks creates the slot with an exported snapshot (kept alive by the
// plan's Exporter: the idle replication connection), the publication, and
// one chunk per snapshot_chunk_rows rows of each keyed table, by key
// ranges whose bounds are read in the exported snapshot. The plan's
// checkpoint starts the stream at the slot's consistent point.
//
// A slot that already has a position (a planner died after creating it,
// before its plan was stored) is kept and no snapshot is exported: the
// chunks are then read at new snapshots, which the stream from the slot's
// position makes right (see ReadChunk).
func (s *Source) PlanChunks(ctx context.Context) (*component.ChunkPlan, error) {
	planned := false
	if s.cfg.Snapshot != SnapshotInitial {
		return nil, nil
	}
	type first struct {
		meta *pgx.Conn
		si   serverInfo
	}
	c, err := component.Connect(ctx, s.env, "connect", transient.Postgres, func(ctx context.Context) (first, error) {
		meta, err := s.connectOwn(ctx)
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
		return nil, s.explain(err) // refused credentials, a TLS setup that does not verify
	}
	meta, si := c.meta, c.si
	defer pgxCloser{meta}.Close()
	refs, err := resolveTables(ctx, meta, s.cfg.Tables)
	if err != nil {
		return nil, component.Permanent(err)
	}
	created, err := s.ensurePublication(ctx, meta, refs, si.version, nil)
	if err != nil {
		return nil, err
	}
	cat := newCatalog(meta)
	tables := make([]*capturedTable, 0, len(refs))
	for _, ref := range refs {
		ct, err := s.loadCaptured(ctx, cat, si, ref)
		if err != nil {
			return nil, err
		}
		tables = append(tables, ct)
	}
	slotLSN, slotExists, err := s.slotState(ctx, meta)
	if err != nil {
		return nil, err
	}
	plan := &component.ChunkPlan{}
	var snapName string
	cpLSN := pglogrepl.LSN(slotLSN)
	if slotExists && slotLSN != 0 {
		s.log.Warn("replication slot exists but no snapshot was planned; chunks are read at new snapshots and the stream starts at the slot's position",
			"slot", s.slot, "confirmed_flush_lsn", cpLSN.String())
	} else {
		if slotExists {
			if _, err := meta.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.slot); err != nil {
				return nil, fmt.Errorf("drop stale replication slot %q: %w", s.slot, err)
			}
		}
		repl, err := component.Connect(ctx, s.env, "replication connection", transient.Postgres, s.connectReplOwn)
		if err != nil {
			return nil, err
		}
		exp := pgconnCloser{repl}
		defer func() {
			if !planned {
				exp.Close() // the snapshot is of no use without the plan
			}
		}()
		res, err := s.createSlot(ctx, repl, si, true)
		if err != nil {
			return nil, err
		}
		if cpLSN, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			return nil, fmt.Errorf("create replication slot %q: consistent point: %w", s.slot, err)
		}
		snapName = res.SnapshotName
		plan.Exporter = exp
		s.log.Info("created replication slot with an exported snapshot for the chunks", "slot", s.slot, "consistent_point", res.ConsistentPoint, "snapshot", snapName)
	}
	// Bounds come from the exported snapshot, so that they split exactly
	// the rows the chunks read (any bounds would be correct: the first
	// and last chunks are unbounded).
	if err := beginSnapshot(ctx, meta, snapName); err != nil {
		return nil, err
	}
	for _, t := range tables {
		name := t.info.ref.String()
		spec := chunkSpec{Table: name, Snapshot: snapName, ConsistentPoint: cpLSN.String()}
		if len(t.sch.KeyIdx) == 0 {
			plan.Chunks = append(plan.Chunks, chunkOf(spec, len(plan.Chunks)))
			continue
		}
		bounds, err := s.keyBounds(ctx, meta, t)
		if err != nil {
			return nil, err
		}
		var lo []string
		for _, b := range append(bounds, nil) {
			spec.Lo, spec.Hi = lo, b
			plan.Chunks = append(plan.Chunks, chunkOf(spec, len(plan.Chunks)))
			lo = b
		}
		s.log.Info("planned snapshot chunks", "table", name, "chunks", len(bounds)+1, "rows_per_chunk", s.cfg.SnapshotChunkRows)
	}
	if _, err := meta.Exec(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("plan snapshot chunks: %w", err)
	}
	cp := &checkpoint{Version: 1, Slot: s.slot, Phase: phaseStream, ConsistentPoint: cpLSN.String(), LSN: cpLSN.String(),
		Captured: sortedNames(refs), PublicationCreated: created}
	plan.Checkpoint = cp.marshal()
	planned = true
	return plan, nil
}

func chunkOf(spec chunkSpec, n int) component.Chunk {
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // strings only
	}
	return component.Chunk{Name: fmt.Sprintf("%06d", n), Spec: b}
}

// keyColumns is the table's key column list, quoted.
func keyColumns(t *capturedTable) []string {
	cols := make([]string, len(t.sch.KeyIdx))
	for i, k := range t.sch.KeyIdx {
		cols[i] = pgx.Identifier{t.sch.Columns[k].Name}.Sanitize()
	}
	return cols
}

// keyBounds returns the key of every snapshot_chunk_rows-th row after the
// first, in key order: the lower bounds of the chunks after the first.
// One pass over the key's index.
func (s *Source) keyBounds(ctx context.Context, conn *pgx.Conn, t *capturedTable) ([][]string, error) {
	cols := keyColumns(t)
	texts := make([]string, len(cols))
	for i, c := range cols {
		texts[i] = c + "::text"
	}
	list := strings.Join(cols, ", ")
	q := fmt.Sprintf(`SELECT %s FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS sluice_rn FROM %s) s
		WHERE sluice_rn %% %d = 1 AND sluice_rn > 1 ORDER BY sluice_rn`,
		strings.Join(texts, ", "), list, list, t.info.ref.quoted(), s.cfg.SnapshotChunkRows)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.info.ref, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		key := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range key {
			ptrs[i] = &key[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.info.ref, err)
		}
		out = append(out, key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plan snapshot chunks of %s: %w", t.info.ref, err)
	}
	return out, nil
}

// keyPredicate is "(k) >= (lo)" or "(k) < (hi)" with untyped literals,
// which take the key columns' types.
func keyPredicate(cols []string, op string, key []string) string {
	lits := make([]string, len(key))
	for i, v := range key {
		lits[i] = quoteLiteral(v)
	}
	if len(cols) == 1 {
		return cols[0] + " " + op + " " + lits[0]
	}
	return "(" + strings.Join(cols, ", ") + ") " + op + " (" + strings.Join(lits, ", ") + ")"
}

// ReadChunk reads one chunk of a plan in one REPEATABLE READ transaction
// that imports the plan's exported snapshot, and emits its rows.
//
// When the snapshot is gone (its exporter, the planning node, stopped or
// died: SET TRANSACTION SNAPSHOT fails), the chunk is read at a new
// snapshot. The stream then starts at the plan's consistent point, older
// than any snapshot a chunk was read at, and replays every change after
// it: a row read in a newer state gets those changes again, in order, and
// the last image per key is right (as after a single node's resumed
// snapshot). The stream starts only when every chunk is done, and a key
// belongs to one chunk, so no two nodes write a key at once.
//
// Every row carries source.snapshot "true": no node knows which row of a
// table comes first or last.
func (s *Source) ReadChunk(ctx context.Context, specBytes []byte, out component.Emitter) error {
	var spec chunkSpec
	if err := json.Unmarshal(specBytes, &spec); err != nil {
		return component.Permanent(fmt.Errorf("snapshot chunk %s is not this source's JSON: %w", specBytes, err))
	}
	lsn, err := pglogrepl.ParseLSN(spec.ConsistentPoint)
	if err != nil {
		return component.Permanent(fmt.Errorf("snapshot chunk of %s: %w", spec.Table, err))
	}
	conn, err := component.Connect(ctx, s.env, "connect", transient.Postgres, s.connectOwn)
	if err != nil {
		return s.explain(err)
	}
	defer pgxCloser{conn}.Close()
	si, err := querySeverInfo(ctx, conn)
	if err != nil {
		return err
	}
	sch, name, _ := strings.Cut(spec.Table, ".")
	ref := tableRef{schema: sch, name: name}
	err = conn.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, sch, name).Scan(&ref.oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return component.Permanent(fmt.Errorf("snapshot chunk: table %s no longer exists", spec.Table))
	}
	if err != nil {
		return fmt.Errorf("snapshot chunk of %s: %w", spec.Table, err)
	}
	t, err := s.loadCaptured(ctx, newCatalog(conn), si, ref)
	if err != nil {
		return err
	}
	txID, hasTxID, err := snapshotTxID(ctx, conn)
	if err != nil {
		return err
	}
	if err := beginSnapshot(ctx, conn, spec.Snapshot); err != nil {
		var pgErr *pgconn.PgError
		if spec.Snapshot == "" || !errors.As(err, &pgErr) {
			return err
		}
		s.log.Warn("the exported snapshot is gone (the node that planned the chunks stopped): reading the chunk at a new snapshot; the stream replays every change after the consistent point",
			"table", spec.Table, "snapshot", spec.Snapshot, "err", pgErr.Message)
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return fmt.Errorf("snapshot chunk of %s: %w", spec.Table, err)
		}
		if err := beginSnapshot(ctx, conn, ""); err != nil {
			return err
		}
	}
	sn := &snapshotter{s: s, si: si, out: chunkEmitter{out}, lsn: uint64(lsn), lsnText: "lsn " + lsn.String(),
		cp:      &checkpoint{Version: 1, Slot: s.slot, Phase: phaseSnapshot, Tables: map[string]*tableProgress{spec.Table: {}}},
		partial: map[string]bool{}, emitted: true, txID: txID, hasTxID: hasTxID, pool: newBatchPool()}
	r := &tableReader{sn: sn, t: t, name: spec.Table, conn: conn, started: true}
	var where []string
	if len(t.sch.KeyIdx) > 0 {
		cols := keyColumns(t)
		if spec.Lo != nil {
			where = append(where, keyPredicate(cols, ">=", spec.Lo))
		}
		if spec.Hi != nil {
			where = append(where, keyPredicate(cols, "<", spec.Hi))
		}
	} else if spec.Lo != nil || spec.Hi != nil {
		return component.Permanent(fmt.Errorf("snapshot chunk of %s has key bounds but the table has no key now", spec.Table))
	}
	q := fmt.Sprintf("COPY (SELECT %s FROM %s", r.columnList(), ref.quoted())
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if _, _, err := r.copyChunk(ctx, q+") TO STDOUT"); err != nil {
		return err
	}
	if r.pending != nil {
		if err := sn.emitLocked(ctx, r.pending, nil); err != nil {
			return err
		}
	}
	_, _ = conn.Exec(ctx, "COMMIT")
	return nil
}

// chunkEmitter drops the checkpoints of a chunk's batches: a chunk's
// progress is its lease, not a position of the source.
type chunkEmitter struct{ out component.Emitter }

func (e chunkEmitter) Emit(ctx context.Context, evs []event.Event, _ []byte) error {
	return e.out.Emit(ctx, evs, nil)
}

// EmitSized forwards a sized batch (component.SizedEmitter).
func (e chunkEmitter) EmitSized(ctx context.Context, evs []event.Event, _ []byte, size int64) error {
	return component.EmitSized(ctx, e.out, evs, nil, size)
}

// EmitReleasing forwards a batch with its release function
// (component.ReleasingEmitter).
func (e chunkEmitter) EmitReleasing(ctx context.Context, evs []event.Event, _ []byte, size int64, release func()) error {
	return component.EmitReleasing(ctx, e.out, evs, nil, size, release)
}

// connectOwn opens a regular connection the caller closes (not closed by
// Close: chunk instances are never Closed).
func (s *Source) connectOwn(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := s.connConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// connectReplOwn opens a replication connection the caller closes.
func (s *Source) connectReplOwn(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, component.Permanent(errors.New("dsn is not a valid PostgreSQL connection string"))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("replication connection: %w", err)
	}
	return conn, nil
}
