// Package sqltest is the conformance suite of the SQL table sinks: the same
// scenarios, with exact expected rows, run against a real PostgreSQL and a
// real MariaDB by the sinks' own tests.
package sqltest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/releasetest"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// DB is one fresh database of the server under test.
type DB struct {
	// Sink builds a sink named "sink1" writing to this database.
	Sink func(t *testing.T, cfg sqlsink.Config) component.Sink
	// Rows returns the rows of table as "v1|v2|..." (NULL for null), the
	// given columns as the server's text, ordered by those columns.
	Rows func(t *testing.T, table string, cols ...string) []string
	// Exec runs a statement.
	Exec func(t *testing.T, sql string)
	// Exists reports whether table exists.
	Exists func(t *testing.T, table string) bool
	// Addr is the server's host:port, for the sink suite's proxy.
	Addr string
	// New builds a sink named p.Name writing to this database with cfg and
	// the sink suite's parameters: through p.Via, with p.Secret as the
	// password when set, logging to p.Logger.
	New func(t *testing.T, cfg sqlsink.Config, p sinktest.Params) (component.Sink, error)
}

// Harness opens fresh databases of one server.
type Harness struct {
	Server string // "postgres" or "mysql"
	Open   func(t *testing.T) *DB
}

// Source is the source name of the suite's events.
const Source = "src"

// Schema builds a table schema; columns flagged Key form the key.
func Schema(table string, version int, cols ...event.Column) *event.Schema {
	s := &event.Schema{Stream: Source + ".public." + table, Source: Source, Connector: "postgresql",
		Namespace: "public", Table: table, Version: version, Columns: cols}
	for i, c := range cols {
		if c.Key {
			s.KeyIdx = append(s.KeyIdx, i)
		}
	}
	return s
}

// Ev builds an event with Seq (seq, seq); seq 0 makes it a snapshot row.
func Ev(op event.Op, s *event.Schema, before, after []event.Value, seq uint64) event.Event {
	e := event.Event{Op: op, Schema: s, Before: before, After: after}
	if seq == 0 {
		e.Source.Snapshot = event.SnapshotTrue
	} else {
		e.Source.CommitLSN, e.Source.LSN, e.Source.HasLSN = seq, seq, true
	}
	return e
}

// Row is shorthand for a row image.
func Row(vals ...event.Value) []event.Value { return vals }

// I and S are shorthands for values.
func I(i int64) event.Value  { return event.Int(i) }
func S(s string) event.Value { return event.String(s) }

var (
	colID   = event.Column{Name: "id", Type: event.TypeInt64, Key: true}
	colName = event.Column{Name: "name", Type: event.TypeString, Optional: true}
	colQty  = event.Column{Name: "qty", Type: event.TypeInt32, Optional: true}
)

func basic(table string) *event.Schema { return Schema(table, 1, colID, colName, colQty) }

func cfgWith(mut func(*sqlsink.Config)) sqlsink.Config {
	c := sqlsink.Defaults()
	c.AutoCreate = true
	if mut != nil {
		mut(&c)
	}
	return c
}

// Write calls Write and fails the test on any error.
func Write(t *testing.T, s component.Sink, evs ...event.Event) {
	t.Helper()
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// Want compares rows.
func Want(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(want) == 0 {
		want = nil
	}
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n got  %q\n want %q", got, want)
	}
}

// Run runs the cases particular to SQL tables: modes, delete handling,
// positions, TOAST, key changes, bad values, identifiers, DDL. Order per
// key, replays, record errors, outages, Close and secrets are the sink
// suite's (internal/sinktest), which Conformance runs.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Positions", testPositions},
		{"InsertConflictIsRecordError", testInsertConflict},
		{"UpdateMode", testUpdateMode},
		{"SoftDelete", testSoftDelete},
		{"DeleteNone", testDeleteNone},
		{"UnchangedToast", testUnchangedToast},
		{"ReplayPerStream", testReplayPerStream},
		{"BadValuesIsolated", testBadValues},
		{"MaliciousIdentifiers", testMalicious},
		{"AutoEvolve", testAutoEvolve},
		{"MissingTable", testMissingTable},
		{"Truncate", testTruncate},
		{"KeyChange", testKeyChange},
		{"Keyless", testKeyless},
		{"TableTemplate", testTemplate},
		{"TableNamePerEvent", testTableNamePerEvent},
		{"EpochFence", testEpochFence},
		{"ConcurrentDDL", testConcurrentDDL},
		{"ReleasedBatches", testReleasedBatches},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

// testReleasedBatches: the sink declares component.KeepsNoEvents, so the
// engine releases a recycling source's batches once the sink acknowledged
// them. Through the engine, from a source that fills a batch's text and
// values with garbage the moment it is released (internal/releasetest),
// the table holds exactly what a second sink writes into a table of its
// own from clean copies of the same events: snapshot rows in small batches
// (statements, group commit), in batches past the COPY / LOAD DATA
// threshold, and changes of few keys (creates, updates and deletes with
// before images, keys repeated within a batch and across batches: the
// planner's key map and merges).
func testReleasedBatches(t *testing.T, h Harness) {
	db := h.Open(t)
	for i, c := range []struct {
		name                string
		batches, rows, keys int
	}{
		{"small batches", 60, 3, 0},
		{"bulk batches", 4, 3000, 0},
		{"changes", 20, 50, 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := fmt.Sprintf("released%d", i)
			src := &releasetest.Source{Schema: Schema(table, 1, colID, colName), Batches: c.batches, Rows: c.rows, Keys: c.keys}
			releasetest.RunSource(t, db.Sink(t, cfgWith(nil)), src)
			clean := db.Sink(t, cfgWith(nil))
			cleanSchema := Schema(table+"_clean", 1, colID, colName)
			for b := range c.batches {
				evs := src.Events(b)
				for j := range evs {
					evs[j].Schema = cleanSchema
				}
				Write(t, clean, evs...)
			}
			got, want := db.Rows(t, table, "id", "name"), db.Rows(t, table+"_clean", "id", "name")
			if len(want) == 0 {
				t.Fatal("the clean table is empty")
			}
			if !reflect.DeepEqual(got, want) {
				n := min(len(got), len(want), 3)
				t.Fatalf("the table written from released batches has %d rows, the clean one %d; first rows %q, want %q", len(got), len(want), got[:n], want[:n])
			}
		})
	}
}

// testEpochFence: in a coordinated run (Env.Epoch > 0) the sink records
// the highest epoch that wrote through it in its positions table and
// refuses, whole and permanently, a write of an older epoch: a node that
// lost the pipeline's lease cannot write over its successor's rows.
func testEpochFence(t *testing.T, h Harness) {
	db := h.Open(t)
	open := func(epoch uint64) component.Sink {
		s, err := db.New(t, cfgWith(nil), sinktest.Params{Name: "sink1", Logger: slog.New(slog.DiscardHandler), Epoch: epoch})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	sc := basic("items")
	old, cur := open(1), open(2)
	Write(t, old, Ev('c', sc, nil, Row(I(1), S("one"), I(10)), 100))
	Write(t, cur, Ev('u', sc, nil, Row(I(1), S("uno"), I(11)), 101))
	err := old.Write(context.Background(), []event.Event{Ev('u', sc, nil, Row(I(1), S("stale"), I(0)), 102), Ev('c', sc, nil, Row(I(2), S("two"), I(20)), 103)})
	want := h.Server + " sink sink1: write of coordination epoch 1 refused: epoch 2 has written since (another node took the pipeline over): fenced by a later coordination epoch"
	if err == nil || err.Error() != want || !component.IsPermanent(err) || !errors.Is(err, sqlsink.ErrFenced) {
		t.Fatalf("stale write: %v\nwant %s (permanent)", err, want)
	}
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|uno|11")
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|#epoch|2|0", "sink1|src|101|101")
	// A later epoch writes on; a sink of no epoch (one node) is not fenced.
	Write(t, open(3), Ev('c', sc, nil, Row(I(2), S("two"), I(20)), 102))
	Write(t, open(0), Ev('c', sc, nil, Row(I(3), S("three"), I(30)), 103))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|uno|11", "2|two|20", "3|three|30")
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|#epoch|3|0", "sink1|src|103|103")
}

// testConcurrentDDL: several sinks (the nodes of a coordinated pipeline
// reading snapshot chunks side by side) create the same table, add the
// same column and create the positions table at the same moment; each
// Write succeeds and every row lands. PostgreSQL's CREATE TABLE IF NOT
// EXISTS failed the losers with "type ... already exists" (CI, issue 15's
// stop) before the sink took "it is there now" as success.
func testConcurrentDDL(t *testing.T, h Harness) {
	db := h.Open(t)
	const writers, rounds = 6, 4
	sinks := make([]component.Sink, writers)
	for i := range sinks {
		s, err := db.New(t, cfgWith(func(c *sqlsink.Config) { c.AutoEvolve = true }), sinktest.Params{Name: fmt.Sprintf("node%d", i), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		sinks[i] = s
	}
	extra := event.Column{Name: "note", Type: event.TypeString, Optional: true}
	for r := range rounds {
		table := fmt.Sprintf("race%d", r)
		v1, v2 := basic(table), Schema(table, 2, colID, colName, colQty, extra)
		for step, sc := range []*event.Schema{v1, v2} {
			start := make(chan struct{})
			errs := make(chan error, writers)
			for i, s := range sinks {
				go func() {
					<-start
					id := int64(step*writers + i)
					vals := Row(I(id), S("n"), I(id))
					if step == 1 {
						vals = append(vals, S("x"))
					}
					errs <- s.Write(context.Background(), []event.Event{Ev('r', sc, nil, vals, 0)})
				}()
			}
			close(start)
			for i := 0; i < writers; i++ {
				if err := <-errs; err != nil {
					t.Errorf("%s step %d: Write = %v, want nil", table, step, err)
				}
			}
		}
		var want []string
		for id := 0; id < 2*writers; id++ {
			note := "NULL"
			if id >= writers {
				note = "x"
			}
			want = append(want, fmt.Sprintf("%d|n|%d|%s", id, id, note))
		}
		Want(t, db.Rows(t, table, "id", "name", "qty", "note"), want...)
	}
}

// testPositions: the positions row holds the newest Seq applied, per sink
// and source, and a new sink (a restart) skips what it covers; a snapshot
// row (no Seq) is applied, over a stored row too.
func testPositions(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	sc := basic("items")
	Write(t, s,
		Ev('r', sc, nil, Row(I(1), S("one"), I(10)), 0),
		Ev('c', sc, nil, Row(I(2), S("two"), I(20)), 100),
		Ev('u', sc, nil, Row(I(1), S("uno"), I(11)), 107),
	)
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|src|107|107")
	Write(t, s, Ev('r', sc, nil, Row(I(1), S("snap"), I(1)), 0))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|snap|1", "2|two|20")
	s.Close(context.Background())
	s2 := db.Sink(t, cfgWith(nil))
	Write(t, s2, Ev('u', sc, nil, Row(I(2), S("old"), I(0)), 107), Ev('c', sc, nil, Row(I(3), S("three"), I(30)), 108))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|snap|1", "2|two|20", "3|three|30")
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|src|108|108")
}

func testInsertConflict(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.Mode = sqlsink.ModeInsert }))
	sc := basic("items")
	Write(t, s, Ev('c', sc, nil, Row(I(1), S("one"), I(1)), 10))
	err := s.Write(context.Background(), []event.Event{
		Ev('c', sc, nil, Row(I(2), S("two"), I(2)), 11),
		Ev('c', sc, nil, Row(I(1), S("dup"), I(9)), 12),
		Ev('c', sc, nil, Row(I(3), S("three"), I(3)), 13),
		Ev('u', sc, nil, Row(I(2), S("two!"), I(22)), 14), // update of a row inserted in this batch
		Ev('r', sc, nil, Row(I(3), S("snap"), I(3)), 0),   // snapshot rows upsert
	})
	wantRecordErrors(t, err, 1)
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|one|1", "2|two!|22", "3|snap|3")
	// An update of a stored row in insert mode is an UPDATE.
	Write(t, s, Ev('u', sc, nil, Row(I(1), S("ONE"), I(1)), 20))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|ONE|1", "2|two!|22", "3|snap|3")
}

func wantRecordErrors(t *testing.T, err error, idx ...int) component.RecordErrors {
	t.Helper()
	var re component.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want RecordErrors for events %v", err, idx)
	}
	var got []int
	for _, r := range re {
		got = append(got, r.Index)
	}
	if !reflect.DeepEqual(got, idx) {
		t.Fatalf("record errors for events %v, want %v: %v", got, idx, err)
	}
	for _, r := range re {
		if !strings.Contains(r.Err.Error(), "table ") {
			t.Errorf("record error does not name the table: %v", r.Err)
		}
	}
	return re
}

func testUpdateMode(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	sc := basic("items")
	Write(t, s, Ev('r', sc, nil, Row(I(1), S("one"), I(1)), 0))
	s.Close(context.Background())
	s = db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.Mode = sqlsink.ModeUpdate }))
	Write(t, s,
		Ev('u', sc, nil, Row(I(1), S("uno"), I(2)), 10),
		Ev('c', sc, nil, Row(I(2), S("missing"), I(2)), 11), // no row: ignored
		Ev('u', sc, nil, Row(I(3), S("missing"), I(3)), 12),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|uno|2")
}

func testSoftDelete(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.DeleteMode = sqlsink.DeleteSoft }))
	sc := basic("items")
	Write(t, s,
		Ev('r', sc, nil, Row(I(1), S("one"), I(1)), 0),
		Ev('r', sc, nil, Row(I(2), S("two"), I(2)), 0),
	)
	Write(t, s,
		Ev('d', sc, Row(I(1), event.Null, event.Null), nil, 10),
		Ev('c', sc, nil, Row(I(3), S("three"), I(3)), 11),
		Ev('d', sc, Row(I(3), S("three"), I(3)), nil, 12),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty", "__deleted"), "1|one|1|"+h.bool(true), "2|two|2|"+h.bool(false), "3|three|3|"+h.bool(true))
	Write(t, s, Ev('c', sc, nil, Row(I(1), S("back"), I(1)), 20))
	Want(t, db.Rows(t, "items", "id", "name", "qty", "__deleted"), "1|back|1|"+h.bool(false), "2|two|2|"+h.bool(false), "3|three|3|"+h.bool(true))
}

func (h Harness) bool(b bool) string {
	if h.Server == "mysql" {
		if b {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(b)
}

func testDeleteNone(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.DeleteMode = sqlsink.DeleteNone }))
	sc := basic("items")
	Write(t, s, Ev('r', sc, nil, Row(I(1), S("one"), I(1)), 0), Ev('d', sc, Row(I(1), event.Null, event.Null), nil, 10))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|one|1")
}

func testUnchangedToast(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	sc := basic("items")
	Write(t, s,
		Ev('r', sc, nil, Row(I(1), S("big one"), I(1)), 0),
		Ev('r', sc, nil, Row(I(2), S("big two"), I(2)), 0),
	)
	Write(t, s,
		// Stored value kept.
		Ev('u', sc, nil, Row(I(1), event.Unchanged, I(11)), 10),
		// Merged from an earlier image in the same batch.
		Ev('u', sc, nil, Row(I(2), S("new two"), I(21)), 11),
		Ev('u', sc, nil, Row(I(2), event.Unchanged, I(22)), 12),
		// A missing row cannot be completed: left missing.
		Ev('u', sc, nil, Row(I(3), event.Unchanged, I(3)), 13),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|big one|11", "2|new two|22")
}

// testReplayPerStream: a source whose Seqs grow per stream (sql_poll
// polling two tables, each by its own watermark) has one position per
// stream. Table b's ids are below table a's, and the two interleave across
// Writes; in mode insert a replay of either must be skipped, not inserted
// again (a duplicate key), and b's new rows must not be skipped as older
// than a's.
func testReplayPerStream(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.Mode = sqlsink.ModeInsert }))
	a, b := basic("pa"), basic("pb")
	a.SeqPerStream, b.SeqPerStream = true, true
	ev := func(sc *event.Schema, id int64) event.Event {
		return Ev('c', sc, nil, Row(I(id), S(sc.Table), I(id)), uint64(id))
	}
	Write(t, s, ev(a, 100), ev(a, 101))
	Write(t, s, ev(b, 5), ev(b, 6))
	Write(t, s, ev(a, 102), ev(b, 7))
	// The replay after a crash: everything since the start, interleaved as
	// the source polls the tables in turn.
	Write(t, s, ev(a, 100), ev(a, 101), ev(a, 102), ev(a, 103))
	Write(t, s, ev(b, 5), ev(b, 6), ev(b, 7), ev(b, 8))
	Want(t, db.Rows(t, "pa", "id", "name"), "100|pa", "101|pa", "102|pa", "103|pa")
	Want(t, db.Rows(t, "pb", "id", "name"), "5|pb", "6|pb", "7|pb", "8|pb")
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"),
		"sink1|src.public.pa|103|103", "sink1|src.public.pb|8|8")
}

func testBadValues(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	code := event.Column{Name: "code", Type: event.TypeString, TypeName: "varchar", Length: 5, Optional: true}
	sc := Schema("items", 1, colID, code)
	// Many rows (a COPY-sized group on PostgreSQL) with two bad ones.
	var evs []event.Event
	var want []string
	for i := 1; i <= 450; i++ {
		v := fmt.Sprintf("c%d", i)
		if i == 7 || i == 300 {
			v = "far too long"
		} else {
			want = append(want, fmt.Sprintf("%d|%s", i, v))
		}
		evs = append(evs, Ev('c', sc, nil, Row(I(int64(i)), S(v)), uint64(100+i)))
	}
	err := s.Write(context.Background(), evs)
	re := wantRecordErrors(t, err, 6, 299)
	if !strings.Contains(re[0].Err.Error(), "id=7") {
		t.Errorf("error does not name the key: %v", re[0].Err)
	}
	got := db.Rows(t, "items", "id", "code")
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	// The position covers the events before the first rejected one only.
	Want(t, db.Rows(t, sqlsink.DefaultPositionsTable, "hi"), "106")
	// A small batch too (multi-row VALUES path).
	err = s.Write(context.Background(), []event.Event{
		Ev('c', sc, nil, Row(I(1000), S("ok")), 1000),
		Ev('c', sc, nil, Row(I(1001), S("too long!")), 1001),
	})
	wantRecordErrors(t, err, 1)
	if rows := db.Rows(t, "items", "id", "code"); rows[len(rows)-1] != "1000|ok" {
		t.Fatalf("last row %q", rows[len(rows)-1])
	}
}

func testMalicious(t *testing.T, h Harness) {
	db := h.Open(t)
	for n, name := range []string{`x"; DROP TABLE y; --`, "x`; DROP TABLE y; --"} {
		base := uint64(100 * n)
		db.Exec(t, "CREATE TABLE y (id int)")
		s := db.Sink(t, cfgWith(nil))
		sc := Schema(name, 1,
			event.Column{Name: name, Type: event.TypeInt64, Key: true},
			event.Column{Name: "v`\"'\\", Type: event.TypeString, Optional: true})
		Write(t, s, Ev('r', sc, nil, Row(I(1), S(`'); DROP TABLE y; --`)), 0))
		Write(t, s, Ev('u', sc, nil, Row(I(1), S(`"x"`)), base+10), Ev('c', sc, nil, Row(I(2), S("`")), base+11))
		Write(t, s, Ev('d', sc, Row(I(2), event.Null), nil, base+12))
		Want(t, db.Rows(t, name, name, "v`\"'\\"), `1|"x"`)
		Want(t, db.Rows(t, "y", "id")) // still there, empty
		db.Exec(t, "DROP TABLE y")
		s.Close(context.Background())
	}
}

func testAutoEvolve(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.AutoEvolve = true }))
	v1 := basic("items")
	v2 := Schema("items", 2, colID, colName, colQty, event.Column{Name: "Price", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true})
	Write(t, s, Ev('r', v1, nil, Row(I(1), S("one"), I(1)), 0))
	Write(t, s,
		Ev('c', v2, nil, Row(I(2), S("two"), I(2), event.Decimal("12.50")), 10),
		Ev('u', v1, nil, Row(I(1), S("uno"), I(1)), 11),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty", "Price"), "1|uno|1|NULL", "2|two|2|12.50")

	// Without auto_evolve a new column stops the pipeline.
	s2 := db.Sink(t, cfgWith(nil))
	v3 := Schema("items", 3, colID, event.Column{Name: "extra", Type: event.TypeInt32, Optional: true})
	err := s2.Write(context.Background(), []event.Event{Ev('c', v3, nil, Row(I(9), I(9)), 20)})
	if !component.IsPermanent(err) || !strings.Contains(err.Error(), "extra") || !strings.Contains(err.Error(), "auto_evolve") {
		t.Fatalf("Write = %v, want a permanent error naming the column and auto_evolve", err)
	}
}

func testMissingTable(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.AutoCreate = false }))
	err := s.Write(context.Background(), []event.Event{Ev('c', basic("nope"), nil, Row(I(1), S("x"), I(1)), 10)})
	if !component.IsPermanent(err) || !strings.Contains(err.Error(), "auto_create") {
		t.Fatalf("Write = %v, want a permanent error mentioning auto_create", err)
	}
}

func testTruncate(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.Truncate = true }))
	sc := basic("items")
	Write(t, s,
		Ev('r', sc, nil, Row(I(1), S("one"), I(1)), 0),
		Ev('c', sc, nil, Row(I(2), S("two"), I(2)), 10),
		Ev('t', sc, nil, nil, 11),
		Ev('c', sc, nil, Row(I(3), S("three"), I(3)), 12),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "3|three|3")
	s2 := db.Sink(t, cfgWith(nil)) // truncate: false ignores them
	Write(t, s2, Ev('t', sc, nil, nil, 20))
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "3|three|3")
}

func testKeyChange(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	sc := basic("items")
	Write(t, s,
		Ev('r', sc, nil, Row(I(1), S("one"), I(1)), 0),
		Ev('r', sc, nil, Row(I(2), S("two"), I(2)), 0),
	)
	Write(t, s,
		Ev('u', sc, Row(I(1), S("one"), I(1)), Row(I(10), S("ten"), I(10)), 10),
		// A swap through a free key.
		Ev('u', sc, Row(I(2), S("two"), I(2)), Row(I(1), S("was two"), I(2)), 11),
		// Moving a row with an unchanged TOAST column keeps its value.
		Ev('u', sc, Row(I(10), event.Null, event.Null), Row(I(20), event.Unchanged, I(20)), 12),
	)
	Want(t, db.Rows(t, "items", "id", "name", "qty"), "1|was two|2", "20|ten|20")
}

func testKeyless(t *testing.T, h Harness) {
	db := h.Open(t)
	s := db.Sink(t, cfgWith(nil))
	sc := Schema("log", 1, event.Column{Name: "msg", Type: event.TypeString, Optional: true})
	err := s.Write(context.Background(), []event.Event{
		Ev('r', sc, nil, Row(S("a")), 0),
		Ev('c', sc, nil, Row(S("a")), 10),
		Ev('u', sc, nil, Row(S("b")), 11),
		Ev('c', sc, nil, Row(S("c")), 12),
	})
	re := wantRecordErrors(t, err, 2)
	if !strings.Contains(re[0].Err.Error(), "key_columns") {
		t.Errorf("error gives no hint: %v", re[0].Err)
	}
	Want(t, db.Rows(t, "log", "msg"), "a", "a", "c")

	// key_columns gives a keyless table a key.
	s2 := db.Sink(t, cfgWith(func(c *sqlsink.Config) { c.KeyColumns = []string{"k"}; c.Table = "kv" }))
	sk := Schema("kv_src", 1, event.Column{Name: "k", Type: event.TypeString, Length: 20, TypeName: "varchar", Optional: true}, event.Column{Name: "v", Type: event.TypeInt32, Optional: true})
	Write(t, s2, Ev('c', sk, nil, Row(S("a"), I(1)), 20), Ev('u', sk, nil, Row(S("a"), I(2)), 21), Ev('c', sk, nil, Row(S("A"), I(3)), 22))
	got := db.Rows(t, "kv", "k", "v")
	sort.Strings(got) // the servers' collations order "a" and "A" differently
	Want(t, got, "A|3", "a|2")
}

// testTableNamePerEvent: each event's table name is checked and its table
// ensured unless the event before it had the same name and schema (which
// the Write skips): a bad name between good ones, and a name that comes
// back after another, are each judged on their own.
func testTableNamePerEvent(t *testing.T, h Harness) {
	db := h.Open(t)
	cfg := cfgWith(func(c *sqlsink.Config) { c.Table = "t_${/name}" })
	s := db.Sink(t, cfg)
	sc := basic("items")
	var evs []event.Event
	for i, name := range []string{"a", "a", "bad\x00", "a", "b", "b", "a"} {
		evs = append(evs, Ev('c', sc, nil, Row(I(int64(i)), S(name), I(int64(i))), uint64(i+1)))
	}
	re := wantRecordErrors(t, s.Write(context.Background(), evs), 2)
	if msg := re[0].Err.Error(); !strings.Contains(msg, "NUL byte") {
		t.Errorf("record error %q does not say why", msg)
	}
	Want(t, db.Rows(t, "t_a", "id", "name"), "0|a", "1|a", "3|a", "6|a")
	Want(t, db.Rows(t, "t_b", "id", "name"), "4|b", "5|b")
}

func testTemplate(t *testing.T, h Harness) {
	db := h.Open(t)
	cfg := cfgWith(func(c *sqlsink.Config) { c.Table = "${schema}_${table}" })
	s := db.Sink(t, cfg)
	Write(t, s, Ev('c', basic("items"), nil, Row(I(1), S("one"), I(1)), 10))
	Want(t, db.Rows(t, "public_items", "id", "name"), "1|one")
}
