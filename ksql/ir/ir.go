// Package ir is the contract between the parts of sluice's streaming SQL:
// the planner (package plan) turns parsed statements into the resolved
// expressions and query plans of this package; package eval compiles the
// expressions and implements the aggregate functions; package exec runs the
// plans as operators over operator state. Names are resolved to column
// indexes and every node knows its types before anything runs.
package ir

import (
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Expr is a resolved scalar expression over one input row.
type Expr interface {
	// Type is the expression's result type.
	Type() types.Type
	isExpr()
}

// Column reads the input row's column Index.
type Column struct {
	Index int
	T     types.Type
}

// Literal is a constant.
type Literal struct {
	Value event.Value
	T     types.Type
}

// Call calls a scalar function (name upper-cased, e.g. "COALESCE").
type Call struct {
	Func string
	Args []Expr
	T    types.Type
}

// BinOp is a binary operator.
type BinOp uint8

// Binary operators.
const (
	Add BinOp = iota
	Sub
	Mul
	Div
	Mod
	Concat // ||
	Eq
	Ne
	Lt
	Le
	Gt
	Ge
	And
	Or
)

// Binary applies Op to L and R (SQL's three-valued logic for AND/OR and
// comparisons with NULL).
type Binary struct {
	Op   BinOp
	L, R Expr
	T    types.Type
}

// Not is logical negation; Neg is arithmetic negation.
type (
	Not struct{ X Expr }
	Neg struct {
		X Expr
		T types.Type
	}
)

// IsNull is `X IS [NOT] NULL`.
type IsNull struct {
	X      Expr
	Negate bool
}

// Like is `X [NOT] LIKE Pattern [ESCAPE Escape]`.
type Like struct {
	X, Pattern Expr
	Escape     rune // 0: none
	Negate     bool
}

// In is `X [NOT] IN (List…)`.
type In struct {
	X      Expr
	List   []Expr
	Negate bool
}

// Between is `X [NOT] BETWEEN Lo AND Hi`.
type Between struct {
	X, Lo, Hi Expr
	Negate    bool
}

// When is one WHEN … THEN … of a Case.
type When struct{ Cond, Then Expr }

// Case is a searched CASE (Operand nil) or a simple one (`CASE x WHEN 1 …`).
type Case struct {
	Operand Expr
	Whens   []When
	Else    Expr // nil: NULL
	T       types.Type
}

// Cast is `CAST(X AS T)`.
type Cast struct {
	X Expr
	T types.Type
}

// Subscript is `X[Index]`: an ARRAY element (1-based as in ksqlDB,
// negative from the end) or a MAP value by key.
type Subscript struct {
	X, Index Expr
	T        types.Type
}

// FieldOf is `X->Name`: STRUCT field Field of X.
type FieldOf struct {
	X     Expr
	Field int
	T     types.Type
}

func (e *Column) Type() types.Type    { return e.T }
func (e *Literal) Type() types.Type   { return e.T }
func (e *Call) Type() types.Type      { return e.T }
func (e *Binary) Type() types.Type    { return e.T }
func (e *Not) Type() types.Type       { return types.TBoolean }
func (e *Neg) Type() types.Type       { return e.T }
func (e *IsNull) Type() types.Type    { return types.TBoolean }
func (e *Like) Type() types.Type      { return types.TBoolean }
func (e *In) Type() types.Type        { return types.TBoolean }
func (e *Between) Type() types.Type   { return types.TBoolean }
func (e *Case) Type() types.Type      { return e.T }
func (e *Cast) Type() types.Type      { return e.T }
func (e *Subscript) Type() types.Type { return e.T }
func (e *FieldOf) Type() types.Type   { return e.T }

func (*Column) isExpr()    {}
func (*Literal) isExpr()   {}
func (*Call) isExpr()      {}
func (*Binary) isExpr()    {}
func (*Not) isExpr()       {}
func (*Neg) isExpr()       {}
func (*IsNull) isExpr()    {}
func (*Like) isExpr()      {}
func (*In) isExpr()        {}
func (*Between) isExpr()   {}
func (*Case) isExpr()      {}
func (*Cast) isExpr()      {}
func (*Subscript) isExpr() {}
func (*FieldOf) isExpr()   {}

// Evaluator is a compiled Expr (package eval). Eval is called from one
// goroutine at a time; an error is a record error of the input row (a bad
// cast, an unparsable timestamp), never a silent NULL.
type Evaluator interface {
	Eval(row []event.Value) (event.Value, error)
}

// AggCall is an aggregate function applied in a GROUP BY query.
type AggCall struct {
	Func string // upper-cased: COUNT, SUM, LATEST_BY_OFFSET …
	Args []Expr // COUNT(*) has none
	T    types.Type
}

// Aggregator is a compiled AggCall (package eval). Its accumulator is
// bytes, so that operators keep it in operator state as they are. Add,
// Undo and Merge never write into the accumulators they are given (which
// may be the store's memory): they return a new slice, or the same one
// when nothing changed.
type Aggregator interface {
	// Init is the accumulator of an empty group.
	Init() []byte
	// Add folds one input row's argument values into acc; seq grows with
	// the input's order (LATEST_BY_OFFSET keeps the value of the highest).
	Add(acc []byte, args []event.Value, seq uint64) ([]byte, error)
	// Undo removes a row Add folded in earlier (aggregations over tables,
	// where an update retracts the old row). ok is false for functions
	// that cannot undo; the planner refuses those over tables.
	Undo(acc []byte, args []event.Value) (out []byte, ok bool, err error)
	// Result is the aggregate's value for acc.
	Result(acc []byte) (event.Value, error)
}

// Merger is implemented by Aggregators whose accumulators combine, which
// session windows need when a late row bridges two sessions: Merge folds
// the rows of b into a, as if b's rows had been added after a's.
type Merger interface {
	Merge(a, b []byte) ([]byte, error)
}

// Kind says whether a relation is a stream (every row an event) or a table
// (rows are upserts and deletes of keys).
type Kind uint8

// Relation kinds.
const (
	Stream Kind = iota
	Table
)

// Node is an operator of a query plan.
type Node interface {
	// Schema is the node's output row shape (Key: the output key columns).
	Schema() *types.Schema
	// Kind tells stream from table.
	Kind() Kind
}

// Pseudo-columns every source row carries after its own columns, in this
// order, so that expressions address them by index like any column.
const (
	RowTime      = "ROWTIME"      // BIGINT: event time in epoch milliseconds, as in ksqlDB (the `timestamp` property, else the source's commit time)
	RowPartition = "ROWPARTITION" // INTEGER: always 0 (a sluice stream has one order)
	RowOffset    = "ROWOFFSET"    // BIGINT: the row's sequence in its stream
	WindowStart  = "WINDOWSTART"  // BIGINT epoch milliseconds, as in ksqlDB: windowed aggregations' outputs only
	WindowEnd    = "WINDOWEND"
)

// Source reads a sluice stream as a SQL stream or table.
type Source struct {
	Name   string // the SQL name (upper-cased)
	Stream string // the sluice stream it reads (`kafka_topic`)
	K      Kind
	S      types.Schema // declared or inferred columns, then the pseudo-columns
	// TimestampCol is the column giving event time (-1: the source's
	// commit time); TimestampFormat its Java DateTimeFormatter pattern
	// when the column is a STRING ("" otherwise).
	TimestampCol    int
	TimestampFormat string
	// FromColumns maps each declared column to the sluice column it reads
	// (by name in the event's schema, resolved per event schema).
	FromColumns []string
	// DeleteHandling is what a delete in the change stream becomes for a
	// STREAM: "drop" (default), "rewrite" (the before image with
	// __DELETED = true) — as Debezium's unwrap transform. A TABLE always
	// treats a delete as a tombstone of its key.
	DeleteHandling string
}

// Filter keeps rows where Pred is TRUE (WHERE, HAVING).
type Filter struct {
	Input Node
	Pred  Expr
}

// Project computes the output columns (SELECT list).
type Project struct {
	Input Node
	Exprs []Expr
	S     types.Schema
}

// Repartition re-keys a stream (PARTITION BY): the key becomes Keys.
type Repartition struct {
	Input Node
	Keys  []Expr
	S     types.Schema
}

// WindowKind is a window's shape.
type WindowKind uint8

// Window kinds.
const (
	Tumbling WindowKind = iota + 1
	Hopping
	Session
)

// Window is a WINDOW clause. Grace defaults to 24 hours when not given
// (ksqlDB 0.28); Retention to the window size plus grace.
type Window struct {
	Kind      WindowKind
	Size      time.Duration // TUMBLING, HOPPING; SESSION: the inactivity gap
	Advance   time.Duration // HOPPING
	Retention time.Duration
	Grace     time.Duration
}

// Aggregate groups (GROUP BY GroupBy…) and folds Aggs, optionally per
// Window. Its output (a table) is the group columns, then the aggregates,
// then WINDOWSTART and WINDOWEND when windowed.
type Aggregate struct {
	Input   Node
	GroupBy []Expr
	Aggs    []AggCall
	Window  *Window
	S       types.Schema
	// Final (EMIT FINAL, windowed only) emits each window's result once,
	// when the window closes (its end plus grace), instead of every change.
	Final bool
}

// JoinType is INNER, LEFT, RIGHT or FULL OUTER.
type JoinType uint8

// Join types.
const (
	Inner JoinType = iota
	LeftOuter
	RightOuter
	FullOuter
)

// Join joins Left and Right on LeftKey = RightKey. Stream-stream joins
// have a window (Before, After: `WITHIN (before, after)`; symmetric
// `WITHIN n` sets both) and a Grace (24 hours when not given). A
// table-table join on a right-side column that is not the right table's
// key is a foreign-key join (ForeignKey).
type Join struct {
	Left, Right       Node
	Type              JoinType
	LeftKey, RightKey Expr
	Before, After     time.Duration
	Grace             time.Duration
	ForeignKey        bool
	S                 types.Schema // left columns then right columns, as the planner names them
	K                 Kind
}

// Query is a persistent query: CREATE STREAM|TABLE … AS SELECT or INSERT
// INTO … SELECT. Its rows are emitted as sluice events on stream Topic.
type Query struct {
	ID    string // CSAS_SHIPPED_ORDERS_1 … (ksqlDB's naming)
	Name  string // the created (or inserted-into) stream or table
	Topic string // the sluice stream its events go to
	Root  Node
}

func (n *Source) Schema() *types.Schema      { return &n.S }
func (n *Filter) Schema() *types.Schema      { return n.Input.Schema() }
func (n *Project) Schema() *types.Schema     { return &n.S }
func (n *Repartition) Schema() *types.Schema { return &n.S }
func (n *Aggregate) Schema() *types.Schema   { return &n.S }
func (n *Join) Schema() *types.Schema        { return &n.S }

func (n *Source) Kind() Kind      { return n.K }
func (n *Filter) Kind() Kind      { return n.Input.Kind() }
func (n *Project) Kind() Kind     { return n.Input.Kind() }
func (n *Repartition) Kind() Kind { return Stream }
func (n *Aggregate) Kind() Kind   { return Table }
func (n *Join) Kind() Kind        { return n.K }
