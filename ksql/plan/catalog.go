package plan

import (
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Catalog describes the sluice streams statements may read (the
// `kafka_topic` of CREATE STREAM|TABLE): the streams of the pipeline's
// sources (named like Debezium topics, customers.public.customers) and
// the Kafka topics a kafka source reads. The processor implements it.
type Catalog interface {
	// Stream describes the sluice stream named name; ok is false when the
	// pipeline has none.
	Stream(name string) (info StreamInfo, ok bool)
	// Streams lists the names Stream knows, for "did you mean" hints.
	Streams() []string
}

// StreamInfo is what the catalog knows of a sluice stream.
type StreamInfo struct {
	// Schema is the stream's schema as far as it is known before the
	// pipeline runs (PostgreSQL and MySQL sources know it from the
	// catalog); nil when only the first event will tell (MongoDB, a
	// Kafka topic without a registry). See Plan.Waiting.
	Schema *event.Schema
	// DeleteHandling is what a delete in the change stream becomes for a
	// SQL STREAM over it, as Debezium's unwrap transform would write it:
	// "drop" (the default; no row) or "rewrite" (the row with a
	// __DELETED column). A TABLE treats a delete as a tombstone.
	DeleteHandling string
	// Assumed: the catalog cannot tell which streams exist (a feeding
	// source keeps upstream names, as a Kafka or topic-log source does) and
	// answers for any name. Such a name may be read, and may also be a
	// query's result: it is not known to be a source's stream.
	Assumed bool
}

// MapCatalog is a Catalog over a map, for tests and for callers that
// know every stream up front.
type MapCatalog map[string]StreamInfo

// Stream implements Catalog.
func (m MapCatalog) Stream(name string) (StreamInfo, bool) {
	s, ok := m[name]
	return s, ok
}

// Streams implements Catalog.
func (m MapCatalog) Streams() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names
}

// Relation is a SQL stream or table: declared over a sluice stream
// (CREATE STREAM|TABLE) or written by a query (CREATE … AS SELECT).
type Relation struct {
	Name  string // the SQL name: upper-cased unless quoted
	Kind  ir.Kind
	Topic string // the sluice stream it reads, or its query writes
	// Schema holds the columns and key, without pseudo-columns. Empty
	// while Pending.
	Schema types.Schema
	// Windowed: the rows are per key and window, WINDOWSTART and
	// WINDOWEND are columns and part of the key (the result of a windowed
	// aggregation).
	Windowed bool
	// Source says how a query reads the relation: the sluice stream, the
	// columns it takes from it, event time, deletes.
	Source *ir.Source
	// Query is the ID of the persistent query that writes the relation
	// ("" for a declared one, or once TERMINATE stopped it).
	Query string
	// Derived: a query's result (CREATE … AS SELECT), not declared over a
	// stream.
	Derived bool
	// Pending: the schema of the sluice stream is not known yet; every
	// statement reading the relation waits (Plan.Deferred).
	Pending bool
	// Props are the WITH properties as written (upper-case names).
	Props map[string]string
	Pos   parse.Pos
}

// Query is a query of the statements: a persistent one (CREATE … AS
// SELECT, INSERT INTO … SELECT) or a transient SELECT.
type Query struct {
	ir.Query
	Kind ir.Kind // the result's kind
	// Insert: INSERT INTO an existing stream.
	Insert bool
	// Props are the SET properties in force when the statement came
	// (auto.offset.reset …).
	Props map[string]string
	// SQL is the statement as canonical text.
	SQL string
	Pos parse.Pos
}

// Plan is what statements declare and run.
type Plan struct {
	// Relations are the streams and tables, in declaration order (a
	// dropped one is gone).
	Relations []*Relation
	// Queries are the persistent queries, in order (a terminated one is
	// gone).
	Queries []*Query
	// Transient are the SELECT statements, type-checked; sluice does not
	// run them in a pipeline.
	Transient []*Query
	// Props are the SET properties in force after the last statement.
	Props map[string]string
	// Waiting lists the sluice streams whose schemas are unknown until
	// their first event; Deferred are the statements that read them,
	// directly or through another relation, not planned yet. See the
	// package doc, "Schemas known only at run time".
	Waiting  []string
	Deferred []parse.Statement
	// Control are the statements for the control plane (connectors,
	// SHOW, DESCRIBE, TERMINATE is applied here), kept in order.
	Control []parse.Statement
}

// Relation finds a relation by its SQL name.
func (p *Plan) Relation(name string) *Relation {
	for _, r := range p.Relations {
		if r.Name == name {
			return r
		}
	}
	return nil
}
