package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// snapBatch is a batch of snapshot rows of one table with the progress it
// makes when emitted.
type snapBatch struct {
	table   string
	events  []event.Event
	lastKey []string // set on a chunk's last batch
	done    bool     // the table's last batch
}

// snapshotter reads the tables on one connection inside one consistent-read
// transaction. It holds back the newest batch until the next one exists, so
// the very last row gets source.snapshot = "last" and its batch the
// stream-phase checkpoint. A checkpoint is built when its batch is emitted,
// from the progress of the batches emitted so far: it always describes a
// prefix of what was emitted.
type snapshotter struct {
	s       *Source
	out     component.Emitter
	cp      *checkpoint
	binlog  *event.Binlog // shared by every snapshot row
	pending *snapBatch
}

// snapshot reads every table not yet done and returns the stream-phase
// checkpoint. resume is the checkpoint of an interrupted snapshot, nil for
// a new one.
func (s *Source) snapshot(ctx context.Context, db *sql.DB, si serverInfo, tables []*tableState, resume *checkpoint, out component.Emitter) (*checkpoint, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: connect: %w", err)
	}
	defer conn.Close()
	file, pos, gtid, err := beginSnapshot(ctx, conn, si)
	if err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // read-only
	cp := resume
	if cp == nil {
		cp = &checkpoint{Version: 1, Phase: phaseSnapshot, File: file, Pos: pos, GTID: gtid, Tables: map[string]*tableProgress{}}
		s.log.Info("snapshot position", "file", file, "pos", pos, "gtid", gtid)
	}
	if cp.Tables == nil {
		cp.Tables = map[string]*tableProgress{}
	}
	var todo []*tableState
	for _, t := range tables {
		p := cp.Tables[t.ref.String()]
		if p == nil {
			p = &tableProgress{}
			cp.Tables[t.ref.String()] = p
		}
		if !p.Done {
			todo = append(todo, t)
		}
	}
	start := time.Now()
	s.prog.Enter(&progress.Snapshot, estimateRows(ctx, db, todo))
	s.log.Info("snapshot started", "tables", len(todo))
	sn := &snapshotter{s: s, out: out, cp: cp, binlog: &event.Binlog{File: cp.File, Pos: cp.Pos}}
	for _, t := range todo {
		if err := sn.readTable(ctx, conn, t); err != nil {
			return nil, err
		}
	}
	final := cp.clone()
	final.Phase, final.Tables = phaseStream, nil
	final.Captured = make([]string, len(tables))
	for i, t := range tables {
		final.Captured[i] = t.ref.String()
	}
	slices.Sort(final.Captured)
	var evs []event.Event
	if sn.pending != nil {
		evs = sn.pending.events
		evs[len(evs)-1].Source.Snapshot = event.SnapshotLast
	}
	if err := out.Emit(ctx, evs, final.marshal()); err != nil {
		return nil, err
	}
	s.log.Info("snapshot done", "tables", len(todo), "took", time.Since(start).Round(time.Millisecond))
	return final, nil
}

// beginSnapshot starts a consistent-read transaction on conn and returns the
// binlog position it corresponds to. MariaDB (and Percona Server) report
// that position for the transaction's read view in binlog_snapshot_file/
// _position, exact without any lock; on MySQL the position is read under a
// brief FLUSH TABLES WITH READ LOCK (needs RELOAD).
func beginSnapshot(ctx context.Context, conn *sql.Conn, si serverInfo) (string, uint64, string, error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: start transaction: %w", err)
	}
	file, pos, err := snapshotStatus(ctx, conn)
	if err != nil {
		return "", 0, "", err
	}
	if file != "" {
		gtid := ""
		if si.mariadb {
			if err := conn.QueryRowContext(ctx, `SELECT COALESCE(BINLOG_GTID_POS(?, ?), '')`, file, pos).Scan(&gtid); err != nil {
				return "", 0, "", fmt.Errorf("snapshot: GTID position of %s:%d: %w", file, pos, err)
			}
		}
		return file, pos, gtid, nil
	}
	// MySQL: no binlog_snapshot_* status. Untested here (no MySQL server).
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: the server does not report binlog_snapshot_position, and FLUSH TABLES WITH READ LOCK failed (grant RELOAD): %w", err)
	}
	defer conn.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // best effort; the connection closes anyway
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: start transaction: %w", err)
	}
	rows, err := conn.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, "", fmt.Errorf("snapshot: read the binlog position: %w", err)
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
		return "", 0, "", fmt.Errorf("snapshot: read the binlog position: %w", err)
	}
	if _, err := fmt.Sscan(vals[1].String, &pos); err != nil {
		return "", 0, "", fmt.Errorf("snapshot: binlog position %q: %w", vals[1].String, err)
	}
	gtid := ""
	if si.gtid && len(vals) >= 5 {
		gtid = strings.ReplaceAll(vals[4].String, "\n", "")
	}
	return vals[0].String, pos, gtid, nil
}

func snapshotStatus(ctx context.Context, conn *sql.Conn) (string, uint64, error) {
	rows, err := conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return "", 0, fmt.Errorf("snapshot: read the snapshot's binlog position: %w", err)
	}
	defer rows.Close()
	var file string
	var pos uint64
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", 0, fmt.Errorf("snapshot: %w", err)
		}
		switch strings.ToLower(k) {
		case "binlog_snapshot_file":
			file = v
		case "binlog_snapshot_position":
			if _, err := fmt.Sscan(v, &pos); err != nil {
				return "", 0, fmt.Errorf("snapshot: binlog_snapshot_position %q: %w", v, err)
			}
		}
	}
	return file, pos, rows.Err()
}

// push emits the held-back batch and holds b.
func (sn *snapshotter) push(ctx context.Context, b *snapBatch) error {
	if p := sn.pending; p != nil {
		var cpb []byte
		if p.lastKey != nil || p.done {
			tp := sn.cp.Tables[p.table]
			if p.lastKey != nil {
				tp.LastKey = p.lastKey
			}
			if p.done {
				tp.Done, tp.LastKey = true, nil
			}
			cpb = sn.cp.marshal()
		}
		if err := sn.out.Emit(ctx, p.events, cpb); err != nil {
			return err
		}
	}
	sn.pending = b
	return nil
}

// readTable reads one table in key-ordered chunks (one query without a key).
func (sn *snapshotter) readTable(ctx context.Context, conn *sql.Conn, t *tableState) error {
	name := t.ref.String()
	cols := make([]string, len(t.sch.Columns))
	for i, c := range t.sch.Columns {
		cols[i] = quoteIdent(c.Name)
		if t.types[i].kind == vFloat32 {
			// FLOAT's text form has 6 significant digits; as a double it
			// is exact, and rounds back to the same float32.
			cols[i] = "CAST(" + cols[i] + " AS DOUBLE)"
		}
	}
	keyCols := make([]string, len(t.sch.KeyIdx))
	for i, k := range t.sch.KeyIdx {
		keyCols[i] = quoteIdent(t.sch.Columns[k].Name)
	}
	keyList := strings.Join(keyCols, ", ")
	lastKey := sn.cp.Tables[name].LastKey
	if len(keyCols) == 0 {
		lastKey = nil
	}
	n := sn.s.cfg.SnapshotChunkRows
	for {
		q := "SELECT " + strings.Join(cols, ", ") + " FROM " + t.ref.quoted()
		if lastKey != nil {
			if len(lastKey) != len(keyCols) {
				return component.Permanent(fmt.Errorf("snapshot of %s: checkpoint key has %d columns, the primary key %d", name, len(lastKey), len(keyCols)))
			}
			lits := make([]string, len(lastKey))
			for i, v := range lastKey {
				lits[i] = t.types[t.sch.KeyIdx[i]].keyLiteral(v)
			}
			q += " WHERE (" + keyList + ") > (" + strings.Join(lits, ", ") + ")"
		}
		if len(keyCols) > 0 {
			q += fmt.Sprintf(" ORDER BY %s LIMIT %d", keyList, n)
		}
		rows, key, err := sn.chunk(ctx, conn, t, q)
		if err != nil {
			return err
		}
		if rows == 0 || len(keyCols) == 0 || rows < n {
			if sn.pending != nil && sn.pending.table == name {
				sn.pending.done = true
			} else {
				sn.cp.Tables[name].Done, sn.cp.Tables[name].LastKey = true, nil
			}
			return nil
		}
		lastKey = key
	}
}

// chunk runs one query and pushes its rows in batches; it returns the
// number of rows and the text of the last row's key.
func (sn *snapshotter) chunk(ctx context.Context, conn *sql.Conn, t *tableState, q string) (int, []string, error) {
	name := t.ref.String()
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot of %s: %w", name, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(t.sch.Columns))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	bs := sn.s.cfg.BatchSize
	var batch []event.Event
	var key []string
	n := 0
	now := time.Now().UnixMilli()
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, nil, fmt.Errorf("snapshot of %s: %w", name, err)
		}
		vals := make([]event.Value, len(raw))
		for i, b := range raw {
			v, err := t.types[i].fromText(b)
			if err != nil {
				c := &t.sch.Columns[i]
				return 0, nil, component.Permanent(fmt.Errorf("snapshot of %s: column %s (%s): %w", name, c.Name, c.TypeName, err))
			}
			vals[i] = v
		}
		if batch == nil {
			batch = make([]event.Event, 0, min(bs, 1024))
		}
		batch = append(batch, event.Event{
			Op: event.OpRead, Schema: t.sch, After: vals, TsMs: now,
			Source: event.Source{TsUs: event.UsFromMs(now), Snapshot: event.SnapshotTrue, Binlog: sn.binlog},
		})
		n++
		if len(batch) >= bs {
			if err := sn.push(ctx, &snapBatch{table: name, events: batch}); err != nil {
				return 0, nil, err
			}
			batch = nil
		}
		if len(t.sch.KeyIdx) > 0 {
			key = key[:0:0]
			for _, k := range t.sch.KeyIdx {
				key = append(key, string(raw[k]))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("snapshot of %s: %w", name, err)
	}
	if batch != nil {
		if err := sn.push(ctx, &snapBatch{table: name, events: batch}); err != nil {
			return 0, nil, err
		}
	}
	if n > 0 && len(t.sch.KeyIdx) > 0 {
		sn.pending.lastKey = key
	}
	return n, key, nil
}
