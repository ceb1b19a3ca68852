package sinktest

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Harness adapts one sink type to the suite: how to get a fresh
// destination, how to build the sink, what the destination keeps and how
// to read it back.
type Harness struct {
	// Caps says what the sink's destination keeps and what it can report;
	// the suite's checks follow it.
	Caps Caps
	// Setup gives one case a destination of its own (cases run in
	// parallel): a unique file, topic, bucket prefix, index or database.
	// It is called from the case's goroutine and registers its own
	// cleanup.
	Setup func(t *testing.T) Target
	// Poison, with Caps.RecordErrors, turns one of the suite's events into
	// one the destination rejects on its own, for good (a value too long
	// for the column, a document the mapping refuses, a record over the
	// size limit), so that Write must report it in component.RecordErrors
	// and write the rest. It may change the event's images and schema; the
	// key stays.
	Poison func(e *event.Event)
}

// Caps says what a sink's destination keeps. The suite asks no more.
type Caps struct {
	// History: the destination keeps every change as a record, in order
	// per key (a file, a topic, objects). Without it the destination keeps
	// each key's last state (an index, a table), and the suite reads it as
	// one row per key.
	History bool
	// Duplicates, with History: a replayed event is written again (at
	// least once: a file, a topic). The destination then holds, per key,
	// a subsequence of what the sink was given, in the order given, that
	// still holds every change: a reader that skips records it has seen a
	// newer change of gets exactly the changes. Without it a replay is
	// recognised by its event.Seq and skipped (exactly once: S3's object
	// names), so the destination holds every change exactly once.
	Duplicates bool
	// Spool: Write makes events durable in a local spool and they reach
	// the destination only when their object is complete (S3). The suite
	// closes the sink before it reads the destination, and writes on with
	// a new sink on the same destination, as after a restart.
	Spool bool
	// RecordErrors: the destination can reject single events (Harness
	// Poison provokes one). Without it the suite checks that Write never
	// reports any.
	RecordErrors bool
	// Secret: the sink's configuration has a password (or secret key) that
	// Target.Sink sets to Params.Secret when it is given.
	Secret bool
}

// Target is one case's destination.
type Target interface {
	// Addr is the service's host:port, which the suite puts a proxy in
	// front of to cut the sink off; "" when the sink uses no network (a
	// file), which skips the outage case and the connection part of the
	// others.
	Addr() string
	// Sink builds a sink writing to this destination as p says. Every
	// sink built for one target writes to the same destination and, for a
	// sink with local state (a spool), the same state directory: a new
	// sink is the same sink after a restart.
	Sink(t *testing.T, p Params) (component.Sink, error)
	// Read returns what the destination durably holds: with
	// Caps.History, every record in the destination's order (per key at
	// least); else one Record per key, in any order. A Kafka tombstone is
	// not a record. With Caps.Spool it is called while no sink is open.
	Read(t *testing.T) []Record
}

// Params configure one sink.
type Params struct {
	// Name is the sink's name in the pipeline (component.Env.Name).
	Name string
	// Via, when set, is the host:port the sink must connect to instead of
	// Target.Addr (a proxy the suite can cut).
	Via string
	// Secret, when set, is the password (or secret key) the sink must
	// use: a wrong one. Where the server checks it, authentication fails.
	Secret string
	// Logger receives the sink's logs (component.Env.Logger).
	Logger *slog.Logger
	// Epoch is the coordination epoch (component.Env.Epoch); 0: none.
	Epoch uint64
}

// Record is one record, or one row, of the destination as the suite sees
// it: the key id and the column v of a row image.
type Record struct {
	ID int64
	// V is the row's v: of the after image, or for a delete (Deleted) of
	// its before image, which identifies the delete (the suite's before
	// images are complete and every v is unique).
	V       string
	Deleted bool
}

func (r Record) String() string {
	if r.Deleted {
		return fmt.Sprintf("delete %d (was %s)", r.ID, r.V)
	}
	return fmt.Sprintf("%d=%s", r.ID, r.V)
}

// The suite's table: events of source SourceName, stream Stream.
const (
	SourceName = "src"
	Table      = "items"
	Stream     = SourceName + ".public." + Table
	// VLength is the declared length of column v (varchar(VLength)); the
	// suite's values are much shorter.
	VLength = 200
)

// Schema is the suite's table: id, an int8 primary key, and v, a
// varchar(VLength) column.
var Schema = &event.Schema{
	Stream: Stream, Source: SourceName, Connector: "postgresql", Database: "db",
	Namespace: "public", Table: Table, Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, TypeName: "int8", Key: true},
		{Name: "v", Type: event.TypeString, TypeName: "varchar", Length: VLength, Optional: true},
	},
	KeyIdx: []int{0},
}

var _ component.Sink = (*checked)(nil)
