package sourcetest

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Harness adapts one source type to the suite: how to get a database, how
// to build the source, what the source can see, and what it must produce
// for the type matrix.
type Harness struct {
	// Caps says what the source can see; the suite's workloads and checks
	// follow it.
	Caps Caps
	// Setup gives one subtest a database of its own (subtests run in
	// parallel) and returns it. It is called from the subtest's goroutine
	// and registers its own cleanup.
	Setup func(t *testing.T) Target
	// Checkpoint reads a checkpoint the source emitted as a position that
	// never decreases from one checkpoint to the next, compared element by
	// element (lexicographically): e.g. phase, snapshot progress, log
	// position. It may assume the single table of a subtest with an integer
	// key. An error fails the test: every emitted checkpoint must be one the
	// source can read back.
	Checkpoint func(cp []byte) ([]int64, error)
	// Row returns the suite's row (the integer key id and the text column
	// v) from an event image. Nil: the event's one key column as an integer
	// and the column named "v" as a string (NULL when the image lacks it,
	// as a key-only before image). A document source overrides it.
	Row func(sch *event.Schema, img []event.Value) (Row, error)
	// Key is the name of the tables' integer key column when it is not id
	// (a document's _id). Set, it is checked as id is without Row: the
	// schema's key is that column alone, Key and not Optional, and an
	// event's Key() is the row's id. The type matrix's rows are found by it.
	Key string
	// NullType and NullTypeName are, for a source with Caps.Shapes, the
	// type and type name of a column whose field holds NULL (a BSON null).
	NullType     event.Type
	NullTypeName string
	// Types is the type matrix: for every column of the table that
	// Target.CreateTypes creates, the exact event type, source type name
	// and value that Target.InsertTypes must produce.
	Types []TypeCase
	// Extra names columns the source's tables carry besides the suite's
	// (sql_poll's timestamp column); their values are not checked.
	Extra []string
}

// Caps says what a source can see. The suite never asks for more: a source
// that sees no deletes is not given any.
type Caps struct {
	// Snapshot: rows that exist when the source first starts are read as a
	// snapshot, op r with Source.Snapshot set and the very last one
	// SnapshotLast, consistent with the start of the stream (each row in
	// its state at the snapshot's position, exactly once). Without it they
	// arrive like any change (sql_poll).
	Snapshot bool
	// Stream: changes after the start arrive. Without it the source is
	// export only (a document database without change streams): it reads
	// what exists, and its Run may return nil by itself once done.
	Stream bool
	// Updates and Deletes: such changes are seen at all.
	Updates, Deletes bool
	// Ops: inserts arrive as op c and updates as op u. Without it every
	// change that leaves a row arrives as op c (a poll cannot tell them
	// apart).
	Ops bool
	// Coalesce: the source reads states, not changes, and may miss the
	// states a row passes through between two reads (polling). Each row's
	// observed states are then a subsequence of its states, in order, that
	// ends with the newest. Without it every change arrives, exactly once.
	Coalesce bool
	// CommitOrder: the changes of all rows arrive in commit order (a change
	// log). Without it order is checked per row only.
	CommitOrder bool
	// BeforeImages: updates and deletes carry the complete previous row
	// (MySQL's FULL row image). Without it a delete carries the key at
	// least (PostgreSQL's default replica identity).
	BeforeImages bool
	// AscendingInserts: a row inserted with an id below one already read
	// may never be seen (sql_poll's incrementing mode), so inserts use
	// growing ids.
	AscendingInserts bool
	// Shapes: a document source, with no table schema. Documents of one
	// shape (field names and types, in order) share a schema; a shape not
	// seen before in the run comes with a new schema of a higher Version. A
	// NULL is a field holding null, so a row of NULLs has a shape, and a
	// schema, of its own, with the columns typed as Harness.NullType says.
	Shapes bool
	// Seq: every change carries a non-zero event.Seq that grows in commit
	// order and is the same when a change is delivered again after a
	// restart, and an event.Version that grows per row; snapshot rows have
	// the zero Seq and Version 1.
	Seq bool
}

// Row is the suite's view of one row image.
type Row struct {
	ID   int64
	V    string
	HasV bool // the image carries v (false: NULL, e.g. a key-only before image)
}

// TypeCase is one column of the type matrix.
type TypeCase struct {
	Column   string
	Type     event.Type
	TypeName string      // Column.TypeName as the source reports it
	Want     event.Value // the value InsertTypes writes (not null)
}

// Target is one subtest's database.
type Target interface {
	// Addr is the server's host:port, which the suite puts a proxy in front
	// of to cut the source's connections; "" when the source uses no
	// network connection (SQLite), which skips the reconnect subtest.
	Addr() string
	// Secrets are strings that must never appear in the source's logs or
	// errors (the DSN's password).
	Secrets() []string
	// CreateTable creates table with the suite's columns: id, an integer
	// primary key, and v, text that holds a few KiB (plus what the source
	// needs, listed in Harness.Extra).
	CreateTable(t *testing.T, table string)
	// Apply commits changes to table in one transaction, in order. An
	// update or delete must change exactly one row.
	Apply(t *testing.T, table string, changes []Change)
	// Fill inserts the rows first..last with v = FillValue(id, pad) in one
	// transaction, generating them in the database (no large statements
	// through the test's client: the back-pressure subtest measures the
	// heap).
	Fill(t *testing.T, table string, first, last int64, pad int)
	// CreateTypes creates table with an integer primary key id and the
	// columns of Harness.Types; InsertTypes inserts row id with every
	// matrix column set to its case's value, or NULL when null is set.
	CreateTypes(t *testing.T, table string)
	InsertTypes(t *testing.T, table string, id int64, null bool)
	// Source builds a source of table (which CreateTable or CreateTypes
	// made) as Params say.
	Source(t *testing.T, p Params) component.Source
}

// Cutter is implemented by a Target whose source uses no network
// connection (Addr is "") but can lose its connection to the database all
// the same (the suite's in-memory reference source): Cut breaks it and
// refuses new ones until Restore, as the suite's proxy does in front of a
// server.
type Cutter interface {
	Cut()
	Restore()
}

// Params configure a source for one run.
type Params struct {
	// Name is the source's name in the pipeline (component.Env.Name).
	Name  string
	Table string
	// BatchSize is the most events per Emit (batch_size, batch_max_rows).
	BatchSize int
	// ChunkRows is the number of rows per snapshot query; 0 keeps the
	// source's default.
	ChunkRows int
	// Via, when set, is the host:port the source must connect to instead
	// of Target.Addr (a proxy the suite can cut).
	Via    string
	Logger *slog.Logger
}

// Change is one row change for Target.Apply.
type Change struct {
	Op event.Op // event.OpCreate, event.OpUpdate or event.OpDelete
	ID int64
	V  string // the new value of v (not used by deletes)
}

func (c Change) String() string {
	if c.Op == event.OpDelete {
		return fmt.Sprintf("%s %d", c.Op, c.ID)
	}
	return fmt.Sprintf("%s %d %s", c.Op, c.ID, short(c.V))
}

// FillValue is the value of v that Target.Fill writes into row id:
// "f<id>-" and pad times "x".
func FillValue(id int64, pad int) string {
	return "f" + strconv.FormatInt(id, 10) + "-" + strings.Repeat("x", pad)
}

// isFillValue reports whether v is FillValue(id, pad), without building it.
func isFillValue(v string, id int64, pad int) bool {
	p := "f" + strconv.FormatInt(id, 10) + "-"
	if len(v) != len(p)+pad || !strings.HasPrefix(v, p) {
		return false
	}
	for i := len(p); i < len(v); i++ {
		if v[i] != 'x' {
			return false
		}
	}
	return true
}

// short renders a value for messages: long fill values are abbreviated.
func short(v string) string {
	if len(v) <= 40 {
		return strconv.Quote(v)
	}
	return strconv.Quote(v[:24]+"…") + "(" + strconv.Itoa(len(v)) + " bytes)"
}

// defaultRow is Row when the harness sets none.
func defaultRow(sch *event.Schema, img []event.Value) (Row, error) {
	if len(sch.KeyIdx) != 1 {
		return Row{}, fmt.Errorf("schema of %s has %d key columns, want 1 (id)", sch.Stream, len(sch.KeyIdx))
	}
	if len(img) != len(sch.Columns) {
		return Row{}, fmt.Errorf("image has %d values for %d columns", len(img), len(sch.Columns))
	}
	k := img[sch.KeyIdx[0]]
	if k.Kind != event.KindInt {
		return Row{}, fmt.Errorf("key column %s is %s (kind %d), want an integer", sch.Columns[sch.KeyIdx[0]].Name, k.Text(), k.Kind)
	}
	r := Row{ID: k.AsInt()}
	i := sch.ColumnIndex("v")
	if i < 0 {
		return Row{}, fmt.Errorf("schema of %s has no column v", sch.Stream)
	}
	switch v := img[i]; v.Kind {
	case event.KindString:
		r.V, r.HasV = v.Str, true
	case event.KindNull:
	default:
		return Row{}, fmt.Errorf("column v is kind %d, want a string", v.Kind)
	}
	return r, nil
}
