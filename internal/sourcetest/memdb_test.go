package sourcetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// memdb is an in-memory database with a change log, and memSource a
// change-data-capture source of it that keeps the whole contract: the
// suite's reference implementation and its self-test. mutation (from
// $SOURCETEST_MEMDB_MUTATION) breaks one property on purpose, to show that
// the suite notices (see TestSuiteCatchesBrokenSources).
type memdb struct {
	mu     sync.Mutex
	cond   *sync.Cond
	tables map[string]map[int64][]memVersion // row versions, oldest first
	cols   map[string][]event.Column
	log    []memEntry // log[i] has lsn base+i+1
	base   uint64     // entries up to base were released by Committed
	cut    bool       // the source's connection is cut (memTarget.Cut)
}

// errCut is what reading the log returns while the connection is cut.
var errCut = errors.New("memdb: connection cut")

// memVersion is a row's state from lsn on. Fill rows keep only their pad:
// FillValue is built when read, so the back-pressure subtest measures the
// source, not the fake database.
type memVersion struct {
	lsn    uint64
	exists bool
	v      string
	fill   int // pad+1
	vals   []event.Value
}

func (v memVersion) value(id int64) string {
	if v.fill > 0 {
		return FillValue(id, v.fill-1)
	}
	return v.v
}

type memEntry struct {
	lsn    uint64
	commit bool // the transaction's commit record
	table  string
	op     event.Op
	id     int64
	ts     int64
}

func newMemdb() *memdb {
	db := &memdb{tables: map[string]map[int64][]memVersion{}, cols: map[string][]event.Column{}}
	db.cond = sync.NewCond(&db.mu)
	return db
}

func (db *memdb) head() uint64 { return db.base + uint64(len(db.log)) }

// commit appends one transaction; each change gives the new version.
func (db *memdb) commit(table string, changes []memChange) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	rows := db.tables[table]
	if rows == nil {
		return fmt.Errorf("no table %s", table)
	}
	now := time.Now().UnixMilli()
	for _, c := range changes {
		h := rows[c.id]
		exists := len(h) > 0 && h[len(h)-1].exists
		switch {
		case c.op == event.OpCreate && exists, c.op != event.OpCreate && !exists:
			return fmt.Errorf("%s of row %d: exists is %v", c.op, c.id, exists)
		}
		lsn := db.head() + 1
		db.log = append(db.log, memEntry{lsn: lsn, table: table, op: c.op, id: c.id, ts: now})
		c.ver.lsn = lsn
		rows[c.id] = append(h, c.ver)
	}
	db.log = append(db.log, memEntry{lsn: db.head() + 1, commit: true, ts: now})
	db.cond.Broadcast()
	return nil
}

type memChange struct {
	op  event.Op
	id  int64
	ver memVersion
}

// at returns the row's version at lsn (the newest at or before it).
func at(h []memVersion, lsn uint64) (memVersion, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].lsn <= lsn {
			return h[i], h[i].exists
		}
	}
	return memVersion{}, false
}

// entry returns the log entry with lsn, waiting for it; an error when it
// was released.
func (db *memdb) entry(ctx context.Context, lsn uint64) (memEntry, error) {
	stop := context.AfterFunc(ctx, func() {
		db.mu.Lock()
		db.cond.Broadcast()
		db.mu.Unlock()
	})
	defer stop()
	db.mu.Lock()
	defer db.mu.Unlock()
	for db.head() < lsn && !db.cut {
		if err := ctx.Err(); err != nil {
			return memEntry{}, err
		}
		db.cond.Wait()
	}
	if db.cut {
		return memEntry{}, errCut
	}
	if lsn <= db.base {
		return memEntry{}, component.Permanent(fmt.Errorf("log position %d was released by Committed (the log starts after %d)", lsn, db.base))
	}
	return db.log[lsn-db.base-1], nil
}

// available reports whether the entry with lsn exists now.
func (db *memdb) available(lsn uint64) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.head() >= lsn
}

// release drops log entries up to lsn.
func (db *memdb) release(lsn uint64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if lsn > db.head() {
		lsn = db.head()
	}
	if lsn > db.base {
		db.log = slices.Clone(db.log[lsn-db.base:])
		db.base = lsn
	}
}

// memTarget is the suite's Target over a memdb.
type memTarget struct {
	db         *memdb
	exportOnly bool
}

var memTypes = []TypeCase{
	{"b", event.TypeBool, "boolean", event.Bool(true)},
	{"i", event.TypeInt32, "integer", event.Int(-7)},
	{"f", event.TypeFloat64, "double", event.Float(0.1)},
	{"f4", event.TypeFloat32, "float", event.Float(float64(float32(1.1)))},
	{"d", event.TypeDecimal, "decimal", event.Decimal("12.340")},
	{"s", event.TypeString, "text", event.String("héllo")},
	{"by", event.TypeBytes, "blob", event.Bytes([]byte{0, 0xff})},
	{"ts", event.TypeTimestamp, "timestamp", event.Int(1_709_212_455_123_456)},
}

func (tg *memTarget) Addr() string { return "" }

// Cut breaks the source's connection to the log (memdb.entry fails with
// errCut) until Restore.
func (tg *memTarget) Cut() {
	tg.db.mu.Lock()
	tg.db.cut = true
	tg.db.cond.Broadcast()
	tg.db.mu.Unlock()
}

func (tg *memTarget) Restore() {
	tg.db.mu.Lock()
	tg.db.cut = false
	tg.db.mu.Unlock()
}

func (db *memdb) isCut() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cut
}
func (tg *memTarget) Secrets() []string { return nil }

func (tg *memTarget) CreateTable(t *testing.T, table string) {
	tg.db.mu.Lock()
	defer tg.db.mu.Unlock()
	tg.db.tables[table] = map[int64][]memVersion{}
	tg.db.cols[table] = []event.Column{
		{Name: "id", Type: event.TypeInt64, TypeName: "bigint", Key: true},
		{Name: "v", Type: event.TypeString, TypeName: "text", Optional: true},
	}
}

func (tg *memTarget) Apply(t *testing.T, table string, changes []Change) {
	t.Helper()
	cs := make([]memChange, len(changes))
	for i, c := range changes {
		cs[i] = memChange{op: c.Op, id: c.ID, ver: memVersion{exists: c.Op != event.OpDelete, v: c.V}}
	}
	if err := tg.db.commit(table, cs); err != nil {
		t.Fatal(err)
	}
}

func (tg *memTarget) Fill(t *testing.T, table string, first, last int64, pad int) {
	t.Helper()
	var cs []memChange
	for id := first; id <= last; id++ {
		cs = append(cs, memChange{op: event.OpCreate, id: id, ver: memVersion{exists: true, fill: pad + 1}})
	}
	if err := tg.db.commit(table, cs); err != nil {
		t.Fatal(err)
	}
}

func (tg *memTarget) CreateTypes(t *testing.T, table string) {
	tg.db.mu.Lock()
	defer tg.db.mu.Unlock()
	tg.db.tables[table] = map[int64][]memVersion{}
	cols := []event.Column{{Name: "id", Type: event.TypeInt64, TypeName: "bigint", Key: true}}
	for _, tc := range memTypes {
		cols = append(cols, event.Column{Name: tc.Column, Type: tc.Type, TypeName: tc.TypeName, Optional: true})
	}
	tg.db.cols[table] = cols
}

func (tg *memTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	t.Helper()
	vals := make([]event.Value, len(memTypes))
	for i, tc := range memTypes {
		if !null {
			vals[i] = tc.Want
		}
	}
	if err := tg.db.commit(table, []memChange{{op: event.OpCreate, id: id, ver: memVersion{exists: true, vals: vals}}}); err != nil {
		t.Fatal(err)
	}
}

func (tg *memTarget) Source(t *testing.T, p Params) component.Source {
	return &memSource{db: tg.db, p: p, mutation: os.Getenv("SOURCETEST_MEMDB_MUTATION"), exportOnly: tg.exportOnly}
}

// memCheckpoint is the source's checkpoint: the consistent point (lsn) and
// the snapshot's progress (the last key read) or, streaming, the end of
// the last emitted transaction.
type memCheckpoint struct {
	Phase string `json:"phase"` // snapshot | stream
	LSN   uint64 `json:"lsn"`
	Last  int64  `json:"last,omitempty"`
}

func (c memCheckpoint) bytes() []byte {
	b, _ := json.Marshal(c)
	return b
}

func memMark(b []byte) ([]int64, error) {
	var c memCheckpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	switch c.Phase {
	case "snapshot":
		return []int64{0, c.Last, 0}, nil
	case "stream":
		return []int64{1, 0, int64(c.LSN)}, nil
	}
	return nil, fmt.Errorf("phase %q", c.Phase)
}

type memSource struct {
	db         *memdb
	p          Params
	mutation   string
	exportOnly bool // reads the rows and returns, as a source without change streams
	sch        *event.Schema
	greedy     [][]event.Value // what the "greedy" mutation read ahead
	// emitted is the log position of the last stream checkpoint handed
	// to Emit, where a reconnect resumes; durable is the newest one
	// Committed reported.
	emitted uint64
	durable atomic.Uint64
}

func (s *memSource) Committed(_ context.Context, cp []byte) error {
	var c memCheckpoint
	if err := json.Unmarshal(cp, &c); err != nil {
		return err
	}
	if c.Phase == "stream" {
		s.durable.Store(c.LSN)
	}
	switch s.mutation {
	case "replay", "cpearly", "cpback", "reconnect":
		// The log is kept (as MySQL keeps binlogs by age), so the
		// mutation shows as what sinks receive, not as a purged log.
	default:
		if c.Phase == "stream" {
			s.db.release(c.LSN)
		}
	}
	return nil
}

func (s *memSource) Close() error { return nil }

func (s *memSource) Run(ctx context.Context, cpb []byte, out component.Emitter) error {
	s.db.mu.Lock()
	cols := s.db.cols[s.p.Table]
	s.sch = &event.Schema{Stream: s.p.Name + ".mem." + s.p.Table, Source: s.p.Name, Connector: "memdb", Database: "mem",
		Namespace: "mem", Table: s.p.Table, Version: 1, Columns: cols, KeyIdx: []int{0}}
	if s.mutation == "typename" && len(cols) > 2 {
		s.sch.Columns = slices.Clone(cols)
		s.sch.Columns[2].TypeName = "int"
	}
	var cp memCheckpoint
	resumed := false
	if cpb == nil {
		cp = memCheckpoint{Phase: "snapshot", LSN: s.db.head()}
	} else {
		resumed = true
		if err := json.Unmarshal(cpb, &cp); err != nil {
			s.db.mu.Unlock()
			return component.Permanent(err)
		}
	}
	s.db.mu.Unlock()
	var err error
	if cp.Phase == "snapshot" {
		err = s.snapshot(ctx, cp, resumed, out)
	}
	if s.exportOnly {
		if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
			return nil
		}
		return err // done: an export-only source finishes
	}
	if err == nil {
		start := cp.LSN
		if resumed && cp.Phase == "stream" {
			switch s.mutation {
			case "lose":
				start += 2 // skips the first change after the checkpoint
			case "replay":
				start = max(start, 3) - 3 // delivers committed changes again
			}
		}
		err = s.streamReconnecting(ctx, start, out)
	}
	if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
		return nil
	}
	return err
}

func (s *memSource) image(id int64, v memVersion) []event.Value {
	if v.vals != nil {
		img := append([]event.Value{event.Int(id)}, v.vals...)
		for i := range img {
			if s.mutation == "float32" && s.sch.Columns[i].Type == event.TypeFloat32 && !img[i].IsNull() {
				// The float32's shortest text read as a float64.
				f, _ := strconv.ParseFloat(strconv.FormatFloat(img[i].AsFloat(), 'g', -1, 32), 64)
				img[i] = event.Float(f)
			}
		}
		return img
	}
	return []event.Value{event.Int(id), event.String(v.value(id))}
}

// snapshot reads the table's rows in key order at the consistent point (a
// resumed snapshot at the newest state: like PostgreSQL's after a crash),
// in chunks; the checkpoint of a chunk's last batch records its last key;
// the last batch is held back to mark the last row.
func (s *memSource) snapshot(ctx context.Context, cp memCheckpoint, resumed bool, out component.Emitter) error {
	readAt := cp.LSN
	if resumed {
		s.db.mu.Lock()
		readAt = s.db.head()
		s.db.mu.Unlock()
	}
	last := cp.Last
	if resumed && s.mutation == "dupsnap" {
		last = 0 // reads the snapshot again from the start
	}
	chunk := s.p.ChunkRows
	if chunk <= 0 {
		chunk = 1000
	}
	type held struct {
		evs []event.Event
		cp  []byte
	}
	var hold *held
	push := func(h *held) error {
		if hold != nil {
			if err := out.Emit(ctx, hold.evs, hold.cp); err != nil {
				return err
			}
		}
		hold = h
		return nil
	}
	now := time.Now().UnixMilli()
	// The keys of the rows visible at readAt, in order (a database's index).
	s.db.mu.Lock()
	var keys []int64
	for id, h := range s.db.tables[s.p.Table] {
		if _, ok := at(h, readAt); ok && id > last {
			keys = append(keys, id)
		}
	}
	s.db.mu.Unlock()
	slices.Sort(keys)
	if s.mutation == "greedysnap" {
		// Checkpoints its start alone first (as MongoDB's source does),
		// then reads every row (into s.greedy) before emitting any.
		if err := out.Emit(ctx, nil, cp.bytes()); err != nil {
			return err
		}
		chunk = max(len(keys), 1)
	}
	for len(keys) > 0 {
		ids := keys[:min(len(keys), chunk)]
		keys = keys[len(ids):]
		s.db.mu.Lock()
		vers := make([]memVersion, len(ids))
		for i, id := range ids {
			vers[i], _ = at(s.db.tables[s.p.Table][id], readAt)
		}
		s.db.mu.Unlock()
		if s.mutation == "greedysnap" {
			for i, id := range ids {
				s.greedy = append(s.greedy, s.image(id, vers[i]))
			}
		}
		for lo := 0; lo < len(ids); lo += s.p.BatchSize {
			hi := min(lo+s.p.BatchSize, len(ids))
			evs := make([]event.Event, 0, hi-lo)
			for i := lo; i < hi; i++ {
				evs = append(evs, event.Event{Op: event.OpRead, Schema: s.sch, After: s.image(ids[i], vers[i]), TsMs: now,
					Source: event.Source{TsUs: now * 1000, Snapshot: event.SnapshotTrue}, Position: "snapshot lsn " + strconv.FormatUint(cp.LSN, 10)})
			}
			h := &held{evs: evs}
			if hi == len(ids) {
				h.cp = memCheckpoint{Phase: "snapshot", LSN: cp.LSN, Last: ids[hi-1]}.bytes()
			}
			if err := push(h); err != nil {
				return err
			}
		}
	}
	final := memCheckpoint{Phase: "stream", LSN: cp.LSN}.bytes()
	if hold == nil {
		return out.Emit(ctx, nil, final)
	}
	if s.mutation != "nolast" {
		hold.evs[len(hold.evs)-1].Source.Snapshot = event.SnapshotLast
	}
	return out.Emit(ctx, hold.evs, final)
}

// streamReconnecting streams from from and, when the connection is cut,
// reconnects every 20 ms (each attempt logged at WARN) and resumes after
// the last checkpoint it emitted: what it emitted is in the engine. The
// transaction emitted in part comes again from its first change.
func (s *memSource) streamReconnecting(ctx context.Context, from uint64, out component.Emitter) error {
	s.emitted = from
	for {
		err := s.stream(ctx, s.emitted, out)
		if !errors.Is(err, errCut) {
			return err
		}
		s.p.Logger.Warn("connection to the log lost; reconnecting", "resume_lsn", s.emitted)
		for s.db.isCut() {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(20 * time.Millisecond):
			}
			if s.db.isCut() {
				s.p.Logger.Warn("reconnect failed: the connection is cut")
			}
		}
		if s.mutation == "reconnect" {
			s.emitted = s.durable.Load() // resumes from the committed checkpoint: emitted changes come again
		}
	}
}

// stream emits the log after lsn from: batches of complete transactions
// carry the end of the last one as checkpoint; a batch that fills up inside
// a transaction is emitted in two, the complete transactions with their
// checkpoint and then the transaction's first changes without one.
func (s *memSource) stream(ctx context.Context, from uint64, out component.Emitter) error {
	var batch []event.Event
	var pending, emitted uint64 = 0, from
	var commitLSN, lastCommit uint64 = 0, from
	seqBase := uint64(time.Now().UnixNano())
	inTx := false
	txStart := 0 // index in batch of the current transaction's first change
	emit := func(evs []event.Event, cp []byte) error {
		if s.mutation == "reorder" && len(evs) >= 2 && evs[0].After != nil && evs[1].After != nil {
			evs[0], evs[1] = evs[1], evs[0]
		}
		if s.mutation == "newschema" && len(evs) > 0 {
			sch := *s.sch // a new schema per batch
			for i := range evs {
				evs[i].Schema = &sch
			}
		}
		return out.Emit(ctx, evs, cp)
	}
	// flush emits the batch; full (inside a transaction) it splits it.
	flush := func(full bool) error {
		n := len(batch)
		// bigbatch: one batch, too large; nosplit: one batch without a
		// checkpoint, so complete transactions in it come again after a
		// reconnect.
		split := full && s.mutation != "bigbatch" && s.mutation != "nosplit"
		if split {
			n = txStart
		}
		var cp []byte
		if pending > emitted && (!full || split) {
			cp = memCheckpoint{Phase: "stream", LSN: pending}.bytes()
		}
		if n > 0 || cp != nil {
			if err := emit(batch[:n:n], cp); err != nil {
				return err
			}
			if cp != nil {
				emitted = pending
				s.emitted = emitted
				if s.mutation == "cpback" {
					if err := out.Emit(ctx, nil, memCheckpoint{Phase: "stream", LSN: emitted - 1}.bytes()); err != nil {
						return err
					}
				}
			}
		}
		if full {
			var cp []byte
			if s.mutation == "cpearly" {
				cp = memCheckpoint{Phase: "stream", LSN: commitLSN}.bytes() // claims the rest of the transaction
			}
			if tail := batch[n:]; len(tail) > 0 || cp != nil {
				if err := emit(tail, cp); err != nil {
					return err
				}
			}
		}
		batch, txStart = nil, 0
		return nil
	}
	readAhead := from + 1
	for lsn := from + 1; ; lsn++ {
		if s.mutation == "greedy" {
			// Reads everything there is before emitting anything.
			for readAhead = max(readAhead, lsn); s.db.available(readAhead); readAhead++ {
				e, err := s.db.entry(ctx, readAhead)
				if err != nil {
					return err
				}
				if !e.commit && e.table == s.p.Table {
					s.db.mu.Lock()
					v, _ := at(s.db.tables[e.table][e.id], e.lsn)
					s.db.mu.Unlock()
					s.greedy = append(s.greedy, s.image(e.id, v))
				}
			}
		}
		if !inTx && (len(batch) > 0 || pending > emitted) && !s.db.available(lsn) {
			if err := flush(false); err != nil {
				return err
			}
		}
		e, err := s.db.entry(ctx, lsn)
		if err != nil {
			return err
		}
		if e.commit {
			inTx = false
			pending, lastCommit = e.lsn, e.lsn
			if len(batch) >= s.p.BatchSize {
				if err := flush(false); err != nil {
					return err
				}
			}
			continue
		}
		if e.table != s.p.Table {
			continue
		}
		if !inTx {
			inTx = true
			commitLSN = s.commitOf(e.lsn)
			txStart = len(batch)
		}
		s.db.mu.Lock()
		h := s.db.tables[e.table][e.id]
		var ver, prev memVersion
		for i := range h {
			if h[i].lsn == e.lsn {
				ver = h[i]
				if i > 0 {
					prev = h[i-1]
				}
			}
		}
		s.db.mu.Unlock()
		ev := event.Event{Op: e.op, Schema: s.sch, TsMs: time.Now().UnixMilli(),
			Source: event.Source{TsUs: e.ts * 1000, LSN: e.lsn, CommitLSN: commitLSN, LastCommitLSN: lastCommit, HasLSN: true}}
		if s.mutation == "seq" {
			ev.Source.CommitLSN += seqBase // a replay gets another Seq
		}
		switch e.op {
		case event.OpCreate:
			ev.After = s.image(e.id, ver)
		case event.OpUpdate:
			ev.Before, ev.After = s.image(e.id, prev), s.image(e.id, ver)
			if s.mutation == "before" {
				ev.Before = ev.After
			}
			if s.mutation == "ops" {
				ev.Op = event.OpCreate
				ev.Before = nil
			}
		case event.OpDelete:
			ev.Before = s.image(e.id, prev)
		}
		batch = append(batch, ev)
		if len(batch) >= s.p.BatchSize && (s.mutation != "bigbatch" || len(batch) > s.p.BatchSize) {
			if err := flush(true); err != nil {
				return err
			}
		}
	}
}

// commitOf returns the lsn of the commit record of the transaction holding
// lsn (it is in the log: transactions are appended whole).
func (s *memSource) commitOf(lsn uint64) uint64 {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	for l := lsn; l <= s.db.head(); l++ {
		if s.db.log[l-s.db.base-1].commit {
			return l
		}
	}
	return lsn
}

func memHarness() Harness {
	return Harness{
		Caps: Caps{Snapshot: true, Stream: true, Updates: true, Deletes: true, Ops: true, CommitOrder: true, BeforeImages: true, Seq: true},
		Setup: func(t *testing.T) Target {
			return &memTarget{db: newMemdb()}
		},
		Checkpoint: memMark,
		Types:      memTypes,
	}
}

// TestMemDB runs the suite against the in-memory reference source.
func TestMemDB(t *testing.T) {
	Run(t, memHarness())
}

// TestMemDBExportOnly runs the suite against the reference source reading
// the rows once and finishing, as a document source does on a server
// without change streams.
func TestMemDBExportOnly(t *testing.T) {
	h := memHarness()
	h.Caps.Stream = false
	h.Setup = func(t *testing.T) Target { return &memTarget{db: newMemdb(), exportOnly: true} }
	Run(t, h)
}
