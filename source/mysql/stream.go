package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// Complete transactions are emitted once the binlog has been quiet for
// linger.Quiet, and at the latest linger.Max after the first of them was
// complete: small transactions share batches, a lone one is not held back,
// and a steady stream that never pauses for linger.Quiet (1,000 commits/s)
// does not hold its changes until batch_size of them have gathered, as it
// did when the wait restarted with every binlog event. The engine's sink
// runners coalesce the batches that arrive while a write is in flight.

// idleCheckpoint is how often the position is checkpointed while the
// binlog carries only transactions of other tables.
const idleCheckpoint = time.Second

// decoder turns binlog events into batches. It is owned by the goroutine
// that reads the replication connection.
type decoder struct {
	src *Source
	out component.Emitter
	si  serverInfo
	db  *sql.DB // catalog lookups; nil in fuzz tests

	captured map[tableRef]*tableState // newest state per captured table
	byID     map[uint64]*tableState   // TABLE_MAP id → state (nil: not captured)

	file    string
	fileIdx uint64

	inTx     bool
	txStart  uint64 // position of the transaction's first event
	txGTID   string
	txThread uint32
	// gtids is the GTID position after the last complete transaction:
	// MariaDB, domain → "domain-server-seq"; MySQL, a GTID set.
	gtids    map[uint32]string
	mysqlSet gomysql.GTIDSet

	// images hands over the rows events decoded by the session's
	// imageDecoder (nil: none).
	images  *handoff
	convert []int // scratch of rows: the columns to convert

	emitted  checkpoint // position of the last checkpoint handed to Emit
	next     checkpoint // position after the last complete transaction
	pending  bool       // next is ahead of emitted
	batch    []event.Event
	lastEmit time.Time
	// lastBatch is the length of the last emitted batch (the capacity of
	// the next one).
	lastBatch int

	// txFirst is the index in batch of the current transaction's first
	// event (valid while inTx).
	txFirst int
	// part locates the last event handed to Emit of the newest
	// transaction emitted in part. After a reconnect the server sends that
	// transaction again from its first event (reading resumes at the last
	// checkpoint, before it); replay then skips the rows up to part.
	part   partTx
	replay bool

	// incr is the incremental snapshot's state (incremental.go).
	incr incrRun
}

// partTx names an event of a transaction: the transaction by the binlog
// file and position of its first event, the event by the position of its
// rows event and the row's index in it. A transaction never spans binlog
// files, and the server sends it again with the same positions.
type partTx struct {
	file  string
	start uint64
	pos   uint64
	row   int32
	valid bool
}

func newDecoder(s *Source, out component.Emitter, si serverInfo, db *sql.DB, tables []*tableState, cp *checkpoint) (*decoder, error) {
	d := &decoder{src: s, out: out, si: si, db: db, captured: map[tableRef]*tableState{}, byID: map[uint64]*tableState{},
		gtids: map[uint32]string{}, lastEmit: time.Now()}
	for _, t := range tables {
		d.captured[t.ref] = t
	}
	if s.signal != nil {
		if _, ok := d.captured[s.signal.ref]; !ok {
			d.captured[s.signal.ref] = s.signal
		}
		d.incr.signal = s.signal.ref
	}
	d.emitted = checkpoint{Version: 1, Phase: phaseStream, File: cp.File, Pos: cp.Pos, GTID: cp.GTID, Incr: cp.Incr.Clone(), Captured: cp.Captured}
	d.incr.atEmit = cp.Incr.Clone()
	if err := d.reset(); err != nil {
		return nil, component.Permanent(err)
	}
	return d, nil
}

// reset forgets the partial state of a broken session: reading restarts
// after the last emitted checkpoint.
func (d *decoder) reset() error {
	d.inTx, d.pending, d.batch, d.replay = false, false, nil, false
	d.incrReset()
	d.next = d.emitted
	d.file = d.emitted.File
	d.fileIdx, _ = fileIndex(d.file)
	clear(d.byID)
	clear(d.gtids)
	d.mysqlSet = nil
	if d.emitted.GTID == "" {
		return nil
	}
	if d.si.mariadb {
		for _, g := range strings.Split(d.emitted.GTID, ",") {
			g = strings.TrimSpace(g)
			dom, _, ok := strings.Cut(g, "-")
			n, err := strconv.ParseUint(dom, 10, 32)
			if !ok || err != nil {
				return fmt.Errorf("checkpoint gtid %q is not a MariaDB GTID position", d.emitted.GTID)
			}
			d.gtids[uint32(n)] = g
		}
		return nil
	}
	set, err := gomysql.ParseMysqlGTIDSet(d.emitted.GTID)
	if err != nil {
		return fmt.Errorf("checkpoint gtid %q is not a MySQL GTID set: %w", d.emitted.GTID, err)
	}
	d.mysqlSet = set
	return nil
}

func (d *decoder) gtidString() string {
	if d.si.mariadb {
		doms := make([]uint32, 0, len(d.gtids))
		for k := range d.gtids {
			doms = append(doms, k)
		}
		slices.Sort(doms)
		parts := make([]string, len(doms))
		for i, k := range doms {
			parts[i] = d.gtids[k]
		}
		return strings.Join(parts, ",")
	}
	if d.mysqlSet != nil {
		return d.mysqlSet.String()
	}
	return ""
}

// flush emits the batch; with a pending commit it carries the checkpoint.
func (d *decoder) flush(ctx context.Context) error {
	var cp []byte
	if d.pending {
		cp = d.next.marshal()
	}
	if len(d.batch) == 0 && cp == nil {
		return nil
	}
	if err := d.out.Emit(ctx, d.batch, cp); err != nil {
		return err
	}
	d.lastEmit = time.Now()
	if d.pending {
		d.emitted, d.pending = d.next, false
		d.incr.atEmit = d.next.Incr.Clone()
	}
	d.lastBatch, d.batch = len(d.batch), nil
	return nil
}

func (d *decoder) add(ctx context.Context, e event.Event) error {
	if d.batch == nil {
		// As large as the last batch: a busy stream's batches do not grow
		// by copying, an idle one's stay small.
		d.batch = make([]event.Event, 0, min(d.src.cfg.BatchSize, max(256, d.lastBatch)))
	}
	d.batch = append(d.batch, e)
	if len(d.batch) < d.src.cfg.BatchSize {
		return nil
	}
	if !d.inTx {
		return d.flush(ctx)
	}
	// Full inside a transaction: the complete transactions before it go
	// first with their checkpoint, then the transaction's first events
	// without one. A checkpoint so never waits for a pause in a busy
	// binlog, and a reconnect, which resumes at the last checkpoint, sends
	// no complete transaction again.
	batch, n := d.batch, d.txFirst
	d.lastBatch, d.batch, d.txFirst = len(batch), nil, 0
	if n > 0 || d.pending {
		var cp []byte
		if d.pending {
			cp = d.next.marshal()
		}
		if err := d.out.Emit(ctx, batch[:n:n], cp); err != nil {
			return err
		}
		if d.pending {
			d.emitted, d.pending = d.next, false
			d.incr.atEmit = d.next.Incr.Clone()
		}
	}
	tail := batch[n:]
	last := tail[len(tail)-1].Source
	if err := d.out.Emit(ctx, tail, nil); err != nil {
		return err
	}
	d.lastEmit = time.Now()
	d.part = partTx{file: d.file, start: d.txStart, pos: last.Binlog.Pos, row: last.Row, valid: true}
	return nil
}

// commit ends a transaction whose last event ends at end.
func (d *decoder) commit(ctx context.Context, end uint32) error {
	d.inTx, d.replay = false, false
	if d.txGTID != "" {
		d.addGTID(d.txGTID)
	}
	d.txGTID, d.txStart, d.txThread = "", 0, 0
	if len(d.incr.staged) > 0 {
		d.commitSignals()
	}
	d.next = checkpoint{Version: 1, Phase: phaseStream, File: d.file, Pos: uint64(end), GTID: d.gtidString(), Incr: d.incr.state.Clone(),
		Captured: d.emitted.Captured}
	d.pending = true
	if d.incr.closing {
		return d.closeWindow(ctx)
	}
	if len(d.batch) >= d.src.cfg.BatchSize || (len(d.batch) == 0 && time.Since(d.lastEmit) > idleCheckpoint) {
		return d.flush(ctx)
	}
	return nil
}

func (d *decoder) addGTID(g string) {
	if d.si.mariadb {
		dom, _, _ := strings.Cut(g, "-")
		n, _ := strconv.ParseUint(dom, 10, 32)
		d.gtids[uint32(n)] = g
		return
	}
	if d.mysqlSet == nil {
		d.mysqlSet, _ = gomysql.ParseMysqlGTIDSet("")
	}
	_ = d.mysqlSet.Update(g)
}

func (d *decoder) begin(h *replication.EventHeader) {
	d.inTx = true
	d.txStart = uint64(h.LogPos) - uint64(h.EventSize)
	d.txFirst = len(d.batch)
	d.replay = d.part.valid && d.part.file == d.file && d.part.start == d.txStart
}

// replayed reports whether row row of the rows event at pos was emitted
// before a reconnect.
func (d *decoder) replayed(pos uint64, row int32) bool {
	if !d.replay {
		return false
	}
	if pos < d.part.pos || pos == d.part.pos && row <= d.part.row {
		d.src.replaySkips.Add(1)
		return true
	}
	d.replay = false
	return false
}

// handle processes one binlog event.
func (d *decoder) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		d.file = string(e.NextLogName)
		idx, err := fileIndex(d.file)
		if err != nil {
			return component.Permanent(err)
		}
		d.fileIdx = idx
		clear(d.byID)
	case *replication.MariadbGTIDEvent:
		d.begin(h)
		d.txGTID = fmt.Sprintf("%d-%d-%d", e.GTID.DomainID, e.GTID.ServerID, e.GTID.SequenceNumber)
	case *replication.GTIDEvent:
		d.begin(h)
		if u, err := uuidText(e.SID); err == nil {
			d.txGTID = u + ":" + strconv.FormatInt(e.GNO, 10)
		}
	case *replication.QueryEvent:
		q := bytes.TrimSpace(e.Query)
		switch {
		case bytes.EqualFold(q, []byte("BEGIN")):
			if !d.inTx || d.txStart == 0 {
				d.begin(h)
			}
			d.txThread = e.SlaveProxyID
		case bytes.EqualFold(q, []byte("COMMIT")):
			return d.commit(ctx, h.LogPos)
		default:
			// DDL (or a statement-logged change to a non-transactional
			// table): a transaction of its own. Table maps are rebuilt
			// from the catalog when their layout changes; without full
			// row metadata a rename does not change the layout, so the
			// cached layouts of the statement's database are dropped.
			if d.captures(string(e.Schema), q) {
				for _, t := range d.captured {
					t.tmTypes, t.stale = nil, true
				}
				clear(d.byID)
			}
			if d.inTx && d.txGTID == "" {
				return nil // inside BEGIN ... COMMIT
			}
			return d.commit(ctx, h.LogPos)
		}
	case *replication.XIDEvent:
		return d.commit(ctx, h.LogPos)
	case *replication.TransactionPayloadEvent:
		// MySQL 8 binlog_transaction_compression: a whole transaction in
		// one event. Inner events get positions inside the outer one
		// (start + index: unique and growing); the commit ends at its end.
		start := h.LogPos - h.EventSize
		for i, inner := range e.Events {
			ih := *inner.Header
			ih.EventSize = 0
			ih.LogPos = start + uint32(i)
			if _, ok := inner.Event.(*replication.XIDEvent); ok {
				ih.LogPos = h.LogPos
			}
			if err := d.handle(ctx, &replication.BinlogEvent{Header: &ih, Event: inner.Event}); err != nil {
				return err
			}
		}
	case *replication.TableMapEvent:
		return d.tableMap(ctx, e)
	case *replication.RowsEvent:
		return d.rows(ctx, h, e)
	}
	return nil
}

// capturedNames is the captured tables' names for an imageDecoder.
func (d *decoder) capturedNames() map[string]map[string]bool {
	m := map[string]map[string]bool{}
	for ref := range d.captured {
		if m[ref.db] == nil {
			m[ref.db] = map[string]bool{}
		}
		m[ref.db][ref.name] = true
	}
	return m
}

// captures reports whether a statement may concern a captured table.
func (d *decoder) captures(schema string, q []byte) bool {
	lq := strings.ToLower(string(q))
	for ref := range d.captured {
		if strings.Contains(lq, strings.ToLower(ref.name)) && (schema == ref.db || strings.Contains(lq, strings.ToLower(ref.db))) {
			return true
		}
	}
	return false
}

// tableMap resolves a TABLE_MAP event to the table's schema, making a new
// schema version when its columns changed.
func (d *decoder) tableMap(ctx context.Context, tm *replication.TableMapEvent) error {
	ref := tableRef{string(tm.Schema), string(tm.Table)}
	t := d.captured[ref]
	if t == nil {
		d.byID[tm.TableID] = nil
		return nil
	}
	if t.tmTypes != nil && bytes.Equal(t.tmTypes, tm.ColumnType) && slices.Equal(t.tmMeta, tm.ColumnMeta) && sameNames(t.tmNames, tm.ColumnName) {
		d.byID[tm.TableID] = t
		return nil
	}
	sch, types, err := d.schemaFor(ctx, ref, tm, t)
	if err != nil {
		return err
	}
	next := &tableState{ref: ref, sch: sch, types: types,
		tmTypes: slices.Clone(tm.ColumnType), tmMeta: slices.Clone(tm.ColumnMeta), tmNames: cloneNames(tm.ColumnName)}
	if sameShape(t.sch, sch) {
		next.sch, next.types = t.sch, t.types
	} else {
		sch.Version = t.sch.Version + 1
		d.src.log.Info("table schema changed", "table", ref.String(), "version", sch.Version)
	}
	d.captured[ref] = next
	d.byID[tm.TableID] = next
	return nil
}

// schemaFor builds the schema of a TABLE_MAP: from the catalog when it
// still describes these rows, else from the event's own metadata.
func (d *decoder) schemaFor(ctx context.Context, ref tableRef, tm *replication.TableMapEvent, prev *tableState) (*event.Schema, []*colType, error) {
	base := d.src.baseSchema(ref)
	if !prev.stale && fitsTableMap(tm, prev.sch, prev.types) {
		// Unchanged (or the first TABLE_MAP of a session): keep it.
		return prev.sch, prev.types, nil
	}
	if d.db != nil {
		cols, err := loadColumns(ctx, d.db, ref)
		if err == nil {
			sch, types, err := buildSchema(base, ref, cols)
			if err != nil {
				return nil, nil, err
			}
			if fitsTableMap(tm, sch, types) {
				return sch, types, nil
			}
		} else if ctx.Err() != nil {
			return nil, nil, err
		}
	}
	// The catalog has moved on (a later ALTER TABLE already ran) or the
	// table is gone: the event's full metadata describes the rows.
	return schemaFromTableMap(base, ref, tm)
}

func sameNames(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return bytes.Equal(x, y) })
}

func cloneNames(n [][]byte) [][]byte {
	out := make([][]byte, len(n))
	for i, b := range n {
		out[i] = slices.Clone(b)
	}
	return out
}

// rows turns a rows event into events.
func (d *decoder) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	fast := d.images.take(e)
	t, ok := d.byID[e.TableID]
	if !ok {
		return component.Permanent(fmt.Errorf("rows event for table id %d before its TABLE_MAP", e.TableID))
	}
	if t == nil {
		return nil
	}
	pos := uint64(h.LogPos) - uint64(h.EventSize)
	bl := &event.Binlog{File: d.file, Pos: pos, GTID: d.txGTID, ServerID: h.ServerID, Thread: d.txThread}
	var op event.Op
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = event.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = event.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = event.OpDelete
	default:
		return component.Permanent(fmt.Errorf("%s: unknown rows event type %v", t.ref, h.EventType))
	}
	if fast != nil && compressed(h.EventType) {
		// The image decoder took the compressed body for row images.
		if err := d.slowDecode(t, e, fast); err != nil {
			return err
		}
		fast = nil
	}
	nimg := len(e.Rows)
	if fast != nil {
		nimg = fast.images()
	}
	if nimg%step != 0 {
		return component.Permanent(fmt.Errorf("%s: update rows event with %d images", t.ref, nimg))
	}
	ts := int64(h.Timestamp) * 1000
	now := time.Now().UnixMilli()
	commitSeq := d.fileIdx<<32 | d.txStart
	var convert []int // the columns of fast's images to convert
	if fast != nil && fast.ncols == len(t.types) {
		d.convert = d.convert[:0]
		for i, ct := range t.types {
			if !ct.keepsAll(fast.kinds[i], fast.ascii) {
				d.convert = append(d.convert, i)
			}
		}
		convert = d.convert
	}
	// image returns image k as event values.
	image := func(k int) ([]event.Value, error) {
		if fast == nil {
			return d.values(t, e.Rows[k])
		}
		vals, ok, err := d.imageValues(t, e.Table, fast, k, convert)
		if ok || err != nil {
			return vals, err
		}
		// A value the image decoder does not convert: decode the event
		// with go-mysql from here on.
		if err := d.slowDecode(t, e, fast); err != nil {
			return nil, err
		}
		fast = nil
		if len(e.Rows) != nimg {
			return nil, component.Permanent(fmt.Errorf("%s: rows event of %d images decoded as %d", t.ref, nimg, len(e.Rows)))
		}
		return d.values(t, e.Rows[k])
	}
	for i := 0; i < nimg; i += step {
		row := i / step
		if d.replayed(pos, int32(row)) {
			continue
		}
		ev := event.Event{Op: op, Schema: t.sch, TsMs: now,
			Source: event.Source{TsUs: event.UsFromMs(ts), Row: int32(row), Binlog: bl, CommitLSN: commitSeq}}
		lsn := d.fileIdx<<48 | pos<<16 | uint64(row)
		ev.Source.LSN = lsn
		ev.Source.HasLSN = d.fileIdx < 1<<15 && pos < 1<<32 && row < 1<<16
		first, err := image(i)
		if err != nil {
			return err
		}
		switch op {
		case event.OpCreate:
			ev.After = first
		case event.OpDelete:
			ev.Before = first
		case event.OpUpdate:
			ev.Before = first
			if ev.After, err = image(i + 1); err != nil {
				return err
			}
		}
		if t.ref == d.incr.signal {
			if op == event.OpCreate {
				d.incrSignalRow(ev.After)
			}
			continue
		}
		d.incrSeen(t, ev.Before, ev.After)
		if err := d.add(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// compressed reports MariaDB's compressed rows events.
func compressed(t replication.EventType) bool {
	switch t {
	case replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return true
	}
	return false
}

// slowDecode decodes a rows event the image decoder handled with go-mysql
// (into e.Rows) after all. Its errors are what go-mysql's parser would
// have returned from the stream: retried after a reconnect, like them.
func (d *decoder) slowDecode(t *tableState, e *replication.RowsEvent, r *decodedRows) error {
	if err := e.DecodeData(r.pos, r.data); err != nil {
		return fmt.Errorf("%s: decode rows event: %w", t.ref, err)
	}
	return nil
}

func (d *decoder) columnCountError(t *tableState, n int) error {
	return fmt.Errorf("%s: row has %d columns, the table map %d (binlog_row_image must be FULL)", t.ref, n, len(t.sch.Columns))
}

// imageValues converts the columns convert of image k of r in place (r's
// values are converted once, image by image in order; the other columns
// stay as decoded). ok is false if a value needs go-mysql's decoding.
func (d *decoder) imageValues(t *tableState, tm *replication.TableMapEvent, r *decodedRows, k int, convert []int) ([]event.Value, bool, error) {
	n := r.ncols
	if n != len(t.sch.Columns) {
		return nil, true, component.Permanent(d.columnCountError(t, n))
	}
	vals := r.vals[k*n : (k+1)*n : (k+1)*n]
	for _, i := range convert {
		ct, v := t.types[i], &vals[i]
		if ct.keeps(*v, r.ascii) {
			continue
		}
		x, ok, err := ct.fromImage(tm.ColumnType[i], *v)
		if err != nil {
			c := &t.sch.Columns[i]
			return nil, true, component.Permanent(fmt.Errorf("%s: column %s (%s): %w", t.ref, c.Name, c.TypeName, err))
		}
		if !ok {
			return nil, false, nil
		}
		*v = x
	}
	return vals, true, nil
}

func (d *decoder) values(t *tableState, row []any) ([]event.Value, error) {
	if len(row) != len(t.sch.Columns) {
		return nil, component.Permanent(d.columnCountError(t, len(row)))
	}
	vals := make([]event.Value, len(row))
	for i, v := range row {
		x, err := t.types[i].fromBinlog(v)
		if err != nil {
			c := &t.sch.Columns[i]
			return nil, component.Permanent(fmt.Errorf("%s: column %s (%s): %w", t.ref, c.Name, c.TypeName, err))
		}
		vals[i] = x
	}
	return vals, nil
}

func uuidText(b []byte) (string, error) {
	if len(b) != 16 {
		return "", errors.New("bad uuid")
	}
	const h = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, h[c>>4], h[c&15])
	}
	return string(out), nil
}

// syncerConfig is the replication connection's configuration.
// Rows events are decoded by rows (an imageDecoder).
func (s *Source) syncerConfig(si serverInfo, rows *imageDecoder) (replication.BinlogSyncerConfig, error) {
	host, port, err := hostPort(s.dc)
	if err != nil {
		return replication.BinlogSyncerConfig{}, component.Permanent(err)
	}
	flavor := gomysql.MySQLFlavor
	if si.mariadb {
		flavor = gomysql.MariaDBFlavor
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID, Flavor: flavor, Host: host, Port: port, User: s.dc.User, Password: s.dc.Passwd,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		ParseTime:               true, // time.Time for DATETIME/TIMESTAMP: no format and re-parse per value
		DisableRetrySync:        true, // reconnects restart from the last emitted checkpoint (stream)
		EventCacheCount:         64,   // bounds decoded events waiting for this goroutine
		Logger:                  slog.New(slog.DiscardHandler),
		RowsEventDecodeFunc:     rows.decode,
	}
	// The binlog connection is as private as the SQL ones: the same TLS
	// (from ssl_mode or the DSN's tls parameter). With preferred, TLS when
	// the SQL connections got it: go-mysql has no fallback to plain TCP.
	if s.dc.TLS != nil && (!s.dc.AllowFallbackToPlaintext || si.tls) {
		cfg.TLSConfig = s.dc.TLS.Clone()
	}
	if hb := s.cfg.HeartbeatInterval; hb > 0 {
		cfg.HeartbeatPeriod = hb
		cfg.ReadTimeout = 3 * hb
	}
	return cfg, nil
}

// stream reads the binlog from cp and reconnects with backoff after lost
// connections, always restarting after the last emitted checkpoint.
func (s *Source) stream(ctx context.Context, db *sql.DB, si serverInfo, tables []*tableState, cp *checkpoint, out component.Emitter) error {
	s.prog.Enter(&progress.Streaming, 0)
	d, err := newDecoder(s, out, si, db, tables, cp)
	if err != nil {
		return err
	}
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		began := time.Now()
		err := s.session(ctx, si, d)
		if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
			return err
		}
		if !retryable(err) {
			return err
		}
		if time.Since(began) > time.Minute {
			backoff, attempt = 500*time.Millisecond, 1
		}
		s.log.Warn("replication connection lost; reconnecting", "attempt", attempt, "in", backoff,
			"file", d.emitted.File, "pos", d.emitted.Pos, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
		if err := d.reset(); err != nil {
			return component.Permanent(err)
		}
	}
}

// session runs one replication connection until an error or ctx ends.
func (s *Source) session(ctx context.Context, si serverInfo, d *decoder) error {
	d.images = newHandoff()
	cfg, err := s.syncerConfig(si, &imageDecoder{out: d.images, captured: d.capturedNames()})
	if err != nil {
		return err
	}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	var st *replication.BinlogStreamer
	if si.gtid && d.emitted.GTID != "" {
		var set gomysql.GTIDSet
		if si.mariadb {
			set, err = gomysql.ParseMariadbGTIDSet(d.emitted.GTID)
		} else {
			set, err = gomysql.ParseMysqlGTIDSet(d.emitted.GTID)
		}
		if err != nil {
			return component.Permanent(fmt.Errorf("checkpoint gtid %q: %w", d.emitted.GTID, err))
		}
		st, err = syncer.StartSyncGTID(set)
	} else {
		st, err = syncer.StartSync(gomysql.Position{Name: d.emitted.File, Pos: uint32(d.emitted.Pos)})
	}
	if err != nil {
		return classify(fmt.Errorf("start binlog dump at %s:%d (gtid %q): %w", d.emitted.File, d.emitted.Pos, d.emitted.GTID, err))
	}
	s.log.Info("streaming", "file", d.emitted.File, "pos", d.emitted.Pos, "gtid", d.emitted.GTID)
	if d.incr.kick {
		if err := d.startChunk(ctx); err != nil {
			return err
		}
	}
	maxWait, quiet := s.lingerSet.Durations()
	var lingerFrom time.Time // when the batch first held a complete transaction
	for {
		var ev *replication.BinlogEvent
		if d.pending && len(d.batch) > 0 && !d.inTx {
			now := time.Now()
			if lingerFrom.IsZero() || !lingerFrom.After(d.lastEmit) {
				lingerFrom = now
			}
			wait := min(quiet, lingerFrom.Add(maxWait).Sub(now))
			if wait <= 0 {
				if err := d.flush(ctx); err != nil {
					return err
				}
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, wait)
			ev, err = st.GetEvent(lctx)
			cancel()
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				if err := d.flush(ctx); err != nil {
					return err
				}
				continue
			}
		} else if d.pending && !d.inTx {
			// Only other tables' transactions since the last checkpoint:
			// checkpoint them after a quiet second.
			lctx, cancel := context.WithTimeout(ctx, idleCheckpoint)
			ev, err = st.GetEvent(lctx)
			cancel()
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				if err := d.flush(ctx); err != nil {
					return err
				}
				continue
			}
		} else {
			ev, err = st.GetEvent(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return classify(err)
		}
		if err := d.handle(ctx, ev); err != nil {
			return err
		}
		if d.incr.kick && !d.inTx {
			if err := d.startChunk(ctx); err != nil {
				return err
			}
		}
	}
}

// classify turns the server's "binlog is gone" answer into ErrBinlogLost.
func classify(err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == 1789 { // MySQL: ER_MASTER_HAS_PURGED_REQUIRED_GTIDS
		return fmt.Errorf("%w: %v", ErrBinlogLost, err)
	}
	if errors.As(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		msg := strings.ToLower(me.Message)
		if strings.Contains(msg, "purged") || strings.Contains(msg, "could not find") || strings.Contains(msg, "not found") ||
			strings.Contains(msg, "first log file") || strings.Contains(msg, "gtid") {
			return fmt.Errorf("%w: %v", ErrBinlogLost, err)
		}
		return component.Permanent(err)
	}
	return err
}
