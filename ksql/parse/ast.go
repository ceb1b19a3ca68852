package parse

import (
	"time"

	"github.com/sluice-dev/sluice/ksql/types"
)

// Node is any AST node; each keeps the position of its first token.
type Node interface {
	Position() Pos
}

// Ident is a name: upper-cased unless it was quoted (`Name`, "Name"),
// which keeps it as written — ksqlDB's rule.
type Ident struct {
	Pos
	Name   string
	Quoted bool
}

// Statement is one statement.
type Statement interface {
	Node
	stmt()
}

// Property is one `name = literal` of a WITH clause. Name is upper-cased
// for CREATE STREAM/TABLE properties (KAFKA_TOPIC) and kept as written for
// the quoted keys of a connector ('connector.class').
type Property struct {
	Pos
	Name  string
	Value Literal
}

// Literal is a constant expression: *NullLit, *BoolLit, *NumberLit or
// *StringLit.
type Literal interface {
	Expr
	lit()
}

// ColumnDef is one column of CREATE STREAM|TABLE's column list.
type ColumnDef struct {
	Pos
	Name       Ident
	Type       Type
	Key        bool   // KEY (streams) or PRIMARY KEY (tables)
	PrimaryKey bool   // written as PRIMARY KEY
	Headers    bool   // HEADERS: the record's headers as ARRAY<STRUCT<KEY STRING, VALUE BYTES>>
	Header     string // HEADER('key'): one header's value as BYTES
	HasHeader  bool
}

// Type is a column or CAST type as written.
type Type struct {
	Pos
	T types.Type
}

// CreateSource is CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT
// EXISTS] name [(columns)] [WITH (props)].
type CreateSource struct {
	Pos
	Table       bool
	OrReplace   bool
	Source      bool // CREATE SOURCE STREAM|TABLE: read-only
	IfNotExists bool
	Name        Ident
	Columns     []ColumnDef
	Props       []Property
}

// CreateAs is CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name
// [WITH (props)] AS SELECT ….
type CreateAs struct {
	Pos
	Table       bool
	OrReplace   bool
	IfNotExists bool
	Name        Ident
	Props       []Property
	Query       *Select
}

// InsertInto is INSERT INTO name [WITH (props)] SELECT ….
type InsertInto struct {
	Pos
	Name  Ident
	Props []Property
	Query *Select
}

// Drop is DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC], or DROP
// CONNECTOR [IF EXISTS] name.
type Drop struct {
	Pos
	What        string // STREAM, TABLE or CONNECTOR
	IfExists    bool
	Name        Ident
	DeleteTopic bool
}

// Set is SET 'name' = 'value'.
type Set struct {
	Pos
	Name, Value string
}

// Unset is UNSET 'name'.
type Unset struct {
	Pos
	Name string
}

// CreateConnector is CREATE SOURCE|SINK CONNECTOR [IF NOT EXISTS] name
// WITH ('key' = 'value', …).
type CreateConnector struct {
	Pos
	Sink        bool
	IfNotExists bool
	Name        Ident
	Props       []Property
}

// Show is SHOW|LIST STREAMS|TABLES|QUERIES|CONNECTORS|TOPICS|PROPERTIES|
// FUNCTIONS [EXTENDED].
type Show struct {
	Pos
	What     string // upper-case: STREAMS, TABLES, QUERIES, CONNECTORS, TOPICS, PROPERTIES, FUNCTIONS
	Extended bool
}

// Describe is DESCRIBE name [EXTENDED].
type Describe struct {
	Pos
	Name     Ident
	Extended bool
}

// Terminate is TERMINATE query_id or TERMINATE ALL.
type Terminate struct {
	Pos
	ID  Ident // empty with All
	All bool
}

// Query is a SELECT run as a statement: a pull query, or a push query
// (EMIT CHANGES).
type Query struct {
	Pos
	Select *Select
}

func (*CreateSource) stmt()    {}
func (*CreateAs) stmt()        {}
func (*InsertInto) stmt()      {}
func (*Drop) stmt()            {}
func (*Set) stmt()             {}
func (*Unset) stmt()           {}
func (*CreateConnector) stmt() {}
func (*Show) stmt()            {}
func (*Describe) stmt()        {}
func (*Terminate) stmt()       {}
func (*Query) stmt()           {}

// Emit is a query's EMIT clause.
type Emit uint8

// EMIT clauses.
const (
	EmitNone Emit = iota
	EmitChanges
	EmitFinal
)

func (e Emit) String() string { return [...]string{"NONE", "CHANGES", "FINAL"}[e] }

// Select is a query.
type Select struct {
	Pos
	Items       []SelectItem
	From        Relation
	Window      *Window
	Where       Expr
	GroupBy     []Expr
	PartitionBy []Expr
	Having      Expr
	Emit        Emit
	Limit       int // with HasLimit
	HasLimit    bool
}

// SelectItem is `*`, `alias.*`, or `expression [AS alias]`.
type SelectItem struct {
	Pos
	Star      bool   // * or Qualifier.*
	Qualifier *Ident // alias.*
	Expr      Expr
	Alias     *Ident
}

// Relation is a FROM clause: a *Table or a *Join.
type Relation interface {
	Node
	rel()
}

// Table is a source in FROM or JOIN, with its alias.
type Table struct {
	Pos
	Name  Ident
	Alias *Ident
}

// JoinType is a join's kind.
type JoinType uint8

// Join kinds.
const (
	InnerJoin JoinType = iota
	LeftJoin
	RightJoin
	FullJoin
)

func (t JoinType) String() string {
	return [...]string{"INNER", "LEFT", "RIGHT", "FULL OUTER"}[t]
}

// Join is `Left [type] JOIN Right [WITHIN …] ON On`; several joins nest
// to the left: a JOIN b JOIN c is Join{Join{a, b}, c}.
type Join struct {
	Pos
	Type   JoinType
	Left   Relation
	Right  *Table
	Within *Within
	On     Expr
}

func (*Table) rel() {}
func (*Join) rel()  {}

// Duration is `n unit` (window sizes, WITHIN, GRACE PERIOD, RETENTION).
type Duration struct {
	Pos
	N    int64
	Unit string // as written, upper-case: DAYS, HOUR, MILLISECONDS …
}

// Value is the duration as a time.Duration (saturating).
func (d Duration) Value() time.Duration {
	u := unitDurations[d.Unit]
	if d.N > 0 && u > 0 && d.N > int64(1<<63-1)/int64(u) {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(d.N) * u
}

// unitDurations are ksqlDB's window units.
var unitDurations = map[string]time.Duration{
	"MILLISECOND": time.Millisecond, "MILLISECONDS": time.Millisecond,
	"SECOND": time.Second, "SECONDS": time.Second,
	"MINUTE": time.Minute, "MINUTES": time.Minute,
	"HOUR": time.Hour, "HOURS": time.Hour,
	"DAY": 24 * time.Hour, "DAYS": 24 * time.Hour,
}

// Within is a stream-stream join's window: `WITHIN n unit` (Before and
// After equal, Symmetric) or `WITHIN (before, after)`, and its grace.
type Within struct {
	Pos
	Before, After Duration
	Symmetric     bool
	Grace         *Duration
}

// WindowKind is a WINDOW clause's shape.
type WindowKind uint8

// Window shapes.
const (
	Tumbling WindowKind = iota + 1
	Hopping
	Session
)

func (k WindowKind) String() string { return [...]string{"", "TUMBLING", "HOPPING", "SESSION"}[k] }

// Window is WINDOW TUMBLING (SIZE …) | HOPPING (SIZE …, ADVANCE BY …) |
// SESSION (gap), each with optional RETENTION and GRACE PERIOD.
type Window struct {
	Pos
	Kind      WindowKind
	Size      Duration // SESSION: the inactivity gap
	Advance   *Duration
	Retention *Duration
	Grace     *Duration
}

// Expr is a scalar expression.
type Expr interface {
	Node
	expr()
}

// NullLit is NULL.
type NullLit struct{ Pos }

// BoolLit is TRUE or FALSE.
type BoolLit struct {
	Pos
	Value bool
}

// NumberKind tells ksqlDB's three numeric literals apart: 12 is an
// INTEGER (a BIGINT when it does not fit), 1.5 a DECIMAL(2, 1), 1.5e3 a
// DOUBLE.
type NumberKind uint8

// Numeric literal kinds.
const (
	IntegerNum NumberKind = iota
	DecimalNum
	DoubleNum
)

func (k NumberKind) String() string { return [...]string{"INTEGER", "DECIMAL", "DOUBLE"}[k] }

// NumberLit is a numeric literal, its text as written (with a leading
// '-' when negated).
type NumberLit struct {
	Pos
	Kind NumberKind
	Text string
}

// StringLit is a 'string'.
type StringLit struct {
	Pos
	Value string
}

// ColumnRef is `name` or `qualifier.name`.
type ColumnRef struct {
	Pos
	Qualifier *Ident
	Name      Ident
}

// Deref is `x->field` (STRUCT field access).
type Deref struct {
	Pos
	X     Expr
	Field Ident
}

// Subscript is `x[index]`.
type Subscript struct {
	Pos
	X, Index Expr
}

// BinaryOp is a binary operator.
type BinaryOp uint8

// Binary operators.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpMod
	OpConcat
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpAnd
	OpOr
)

var opText = [...]string{"+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "AND", "OR"}

// String spells the operator.
func (o BinaryOp) String() string { return opText[o] }

// Binary is `L op R`.
type Binary struct {
	Pos
	Op   BinaryOp
	L, R Expr
}

// Neg is `-x` (a negated number literal is folded into the literal).
type Neg struct {
	Pos
	X Expr
}

// Not is `NOT x`.
type Not struct {
	Pos
	X Expr
}

// IsNull is `x IS [NOT] NULL`.
type IsNull struct {
	Pos
	X   Expr
	Not bool
}

// Like is `x [NOT] LIKE pattern [ESCAPE 'c']`.
type Like struct {
	Pos
	X, Pattern Expr
	Escape     *string
	Not        bool
}

// In is `x [NOT] IN (list)`.
type In struct {
	Pos
	X    Expr
	List []Expr
	Not  bool
}

// Between is `x [NOT] BETWEEN lo AND hi`.
type Between struct {
	Pos
	X, Lo, Hi Expr
	Not       bool
}

// When is one WHEN … THEN ….
type When struct {
	Pos
	Cond, Then Expr
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	Pos
	Operand Expr // nil: searched CASE
	Whens   []When
	Else    Expr
}

// Cast is CAST(x AS type).
type Cast struct {
	Pos
	X    Expr
	Type Type
}

// Call is a function call: `f(args)`, `f(*)` (Star), `f(DISTINCT x)`.
type Call struct {
	Pos
	Name     Ident
	Args     []Expr
	Star     bool
	Distinct bool
}

// ArrayExpr is ARRAY[elems].
type ArrayExpr struct {
	Pos
	Elems []Expr
}

// MapExpr is MAP(k := v, …).
type MapExpr struct {
	Pos
	Keys, Values []Expr
}

// StructField is one `name := value` of a STRUCT constructor.
type StructField struct {
	Name  Ident
	Value Expr
}

// StructExpr is STRUCT(name := value, …).
type StructExpr struct {
	Pos
	Fields []StructField
}

func (*NullLit) expr()    {}
func (*BoolLit) expr()    {}
func (*NumberLit) expr()  {}
func (*StringLit) expr()  {}
func (*ColumnRef) expr()  {}
func (*Deref) expr()      {}
func (*Subscript) expr()  {}
func (*Binary) expr()     {}
func (*Neg) expr()        {}
func (*Not) expr()        {}
func (*IsNull) expr()     {}
func (*Like) expr()       {}
func (*In) expr()         {}
func (*Between) expr()    {}
func (*Case) expr()       {}
func (*Cast) expr()       {}
func (*Call) expr()       {}
func (*ArrayExpr) expr()  {}
func (*MapExpr) expr()    {}
func (*StructExpr) expr() {}

func (*NullLit) lit()   {}
func (*BoolLit) lit()   {}
func (*NumberLit) lit() {}
func (*StringLit) lit() {}
