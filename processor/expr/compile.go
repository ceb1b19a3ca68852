package expr

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	exprlang "github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Metadata names, readable bare (unless a column has the name) and always
// as meta.<name>.
const (
	metaOp        = "op"
	metaStream    = "stream"
	metaTable     = "table"
	metaSchema    = "schema"
	metaNamespace = "namespace"
	metaDatabase  = "database"
	metaSource    = "source"
	metaConnector = "connector"
	metaKey       = "key"
	metaTsMs      = "ts_ms"
	metaTsUs      = "ts_us"
	metaSnapshot  = "snapshot"
)

// MetaNames lists the event metadata an expression may read.
var MetaNames = []string{metaOp, metaStream, metaTable, metaSchema, metaNamespace, metaDatabase, metaSource, metaConnector, metaKey, metaTsMs, metaTsUs, metaSnapshot}

// Namespaces are the names that always mean the event's images and
// metadata, even when a column has the name.
var Namespaces = []string{"after", "before", "meta"}

func isMeta(name string) bool {
	for _, m := range MetaNames {
		if m == name {
			return true
		}
	}
	return false
}

func isNamespace(name string) bool { return name == "after" || name == "before" || name == "meta" }

func metaType(name string, s *event.Schema) types.Type {
	switch name {
	case metaTsMs, metaTsUs:
		return types.Int64
	case metaSnapshot:
		return types.Bool
	case metaKey:
		if s == nil {
			return types.Any
		}
		m := types.Map{}
		for _, i := range s.KeyIdx {
			m[s.Columns[i].Name] = exprType(&s.Columns[i])
		}
		return m
	}
	return types.String
}

// Error is an expression that does not compile, or fails on one event.
// Its text never includes row values (except where expr-lang's own message
// quotes one, e.g. int("abc")).
type Error struct {
	Field  string // the configuration key that holds the expression, e.g. "condition", "set.total"
	Src    string // the expression
	Line   int    // 1-based position of the problem in Src; 0 when unknown
	Column int
	Msg    string
	Hint   string
	// ReadNull is set on an evaluation error when a column the expression
	// read was NULL (the likely cause).
	ReadNull bool
	err      error // the cause, for errors.Is/As
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q: %s", e.Field, e.Src, e.Msg)
	if pos := e.Position(); pos != "" {
		b.WriteString(" at " + pos)
	}
	if e.Hint != "" {
		b.WriteString(" (hint: " + e.Hint + ")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// Position is "column 8" for a one-line expression, "line 2 column 3"
// otherwise, "" when unknown.
func (e *Error) Position() string {
	if e.Column == 0 {
		return ""
	}
	if strings.Contains(e.Src, "\n") {
		return fmt.Sprintf("line %d column %d", e.Line, e.Column)
	}
	return fmt.Sprintf("column %d", e.Column)
}

// syntaxHint is the hint of compile errors that are not about a name.
const syntaxHint = "expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled'"

// Expr is an expression checked without a schema, at configuration time:
// syntax, unknown functions and types the checker can tell. For is its
// compilation against one table's schema, done at the first event of each
// schema and cached. An Expr is not safe for concurrent use (a processor
// uses its own from one goroutine).
type Expr struct {
	field, src string
	wantBool   bool
	lets       map[string]bool // names bound by let, which are never columns
	out        reflect.Type    // static result type without a schema (nil: unknown)
	cache      map[*event.Schema]compiled
}

type compiled struct {
	p   *Program
	err error
}

// maxCached bounds the per-schema cache; past it the cache starts afresh
// (schemas are compiled again as events need them).
const maxCached = 1024

// Compile checks src, the expression held by configuration key field.
// wantBool requires a boolean (or NULL) result, as a filter condition.
func Compile(field, src string, wantBool bool) (*Expr, error) {
	e := &Expr{field: field, src: src, wantBool: wantBool, cache: map[*event.Schema]compiled{}}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Field: field, Src: src, Msg: "is empty", Hint: syntaxHint}
	}
	tree, err := parser.Parse(src)
	if err != nil {
		err := e.compileError(err, nil)
		err.Hint = syntaxHint
		return nil, err
	}
	e.lets = map[string]bool{}
	ast.Walk(&tree.Node, letCollector(e.lets))
	p, err := e.compile(nil)
	if err != nil {
		return nil, err
	}
	e.out = p.Out
	return e, nil
}

// String returns the expression's text.
func (e *Expr) String() string { return e.src }

// Field returns the configuration key that holds the expression.
func (e *Expr) Field() string { return e.field }

// Out is the expression's result type as far as it is known without a
// schema (nil: only known per schema).
func (e *Expr) Out() reflect.Type { return e.out }

type letCollector map[string]bool

func (l letCollector) Visit(n *ast.Node) {
	if v, ok := (*n).(*ast.VariableDeclaratorNode); ok {
		l[v.Name] = true
	}
}

// For returns the expression compiled for events of schema s: column names
// resolve to s's columns with their types, so a misspelt column or a type
// mismatch is an error here, naming the stream. The result (program or
// error) is cached per schema.
func (e *Expr) For(s *event.Schema) (*Program, error) {
	if c, ok := e.cache[s]; ok {
		return c.p, c.err
	}
	p, err := e.compile(s)
	if len(e.cache) >= maxCached {
		clear(e.cache)
	}
	e.cache[s] = compiled{p, err}
	return p, err
}

// compile compiles for schema s, or generically (s nil: columns unknown,
// allowed with any type).
func (e *Expr) compile(s *event.Schema) (*Program, error) {
	env := types.Map{}
	r := &resolver{schema: s, lets: e.lets}
	if s != nil {
		r.cols = make(map[string]int, len(s.Columns))
		after, before := types.Map{}, types.Map{}
		for i := range s.Columns {
			c := &s.Columns[i]
			t := exprType(c)
			r.cols[c.Name] = i
			if !isNamespace(c.Name) {
				env[c.Name] = t
			}
			after[c.Name], before[c.Name] = t, t
			env["after."+c.Name], env["before."+c.Name] = t, t
		}
		env["after"], env["before"] = after, before
		for _, m := range MetaNames {
			if _, isCol := r.cols[m]; !isCol {
				env[m] = metaType(m, s)
			}
		}
	} else {
		env["after"] = types.Map{types.Extra: types.Any}
		env["before"] = types.Map{types.Extra: types.Any}
	}
	meta := types.Map{}
	for _, m := range MetaNames {
		meta[m] = metaType(m, s)
		env["meta."+m] = meta[m]
	}
	env["meta"] = meta

	opts := []exprlang.Option{exprlang.Env(env), exprlang.Timezone("UTC"), exprlang.Patch(r), exprlang.Patch(&decimalPatch{schema: s, cols: r.cols}),
		exprlang.Function(untypedFunc, func(p ...any) (any, error) { return p[0], nil }, new(func(any) any))}
	if s == nil {
		opts = append(opts, exprlang.AllowUndefinedVariables())
	}
	opts = append(opts, decimalOptions()...)
	opts = append(opts, regexOptions()...)
	opts = append(opts, timeOptions()...)
	prog, err := compileSafe(e.src, opts)
	if rerr := r.err(e); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, e.compileError(err, s)
	}
	// Columns are typed but nullable: expr-lang compiles == between two
	// strings to an opcode that asserts both are strings, so a NULL
	// column would fail status != 'cancelled' with an interface
	// conversion panic. The generic equality gives nil != "x".
	for i, op := range prog.Bytecode {
		if op == vm.OpEqualString {
			prog.Bytecode[i] = vm.OpEqual
		}
	}
	out := prog.Node().Type()
	if out != nil && out.Kind() == reflect.Interface {
		out = nil
	}
	if e.wantBool && out != nil && out != typeBool {
		return nil, &Error{Field: e.field, Src: e.src, Msg: fmt.Sprintf("gives %s, not a boolean", typeName(out)),
			Hint: "a condition is true or false, e.g. amount > 100; compare a value with ==, or test for NULL with x != nil"}
	}
	p := &Program{expr: e, schema: s, prog: prog, Out: out}
	if s != nil {
		p.slots = slotsOf(prog.Node(), s, r.cols)
		p.direct = direct(prog.Node(), p)
	}
	return p, nil
}

// compileSafe turns a panic in the library (a bug it may have on odd input)
// into an error, so that a configuration cannot crash the process.
func compileSafe(src string, opts []exprlang.Option) (p *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the expression library failed on this expression: %v", r)
		}
	}()
	return exprlang.Compile(src, opts...)
}

// compileError turns the library's error into an Error with the position
// and, for an unknown name, the column it may have meant.
func (e *Expr) compileError(err error, s *event.Schema) *Error {
	out := &Error{Field: e.field, Src: e.src, Msg: err.Error(), err: err}
	var fe *file.Error
	if errors.As(err, &fe) {
		out.Msg, out.Line, out.Column = fe.Message, fe.Line, fe.Column+1
		if name, ok := strings.CutPrefix(fe.Message, "unknown name "); ok && s != nil {
			out.Msg = fmt.Sprintf("column %q not in %s", name, s.Stream)
			out.Hint = suggestColumn(name, s)
		}
	}
	return out
}

// suggestColumn is the hint for an unknown name: the closest column, or
// the list of columns.
func suggestColumn(name string, s *event.Schema) string {
	names := make([]string, 0, len(s.Columns)+len(MetaNames))
	for _, c := range s.Columns {
		names = append(names, c.Name)
	}
	if best := closest(name, append(names, MetaNames...)); best != "" {
		return "did you mean " + best + "?"
	}
	if len(names) > 20 {
		names = append(names[:20], "...")
	}
	return "columns: " + strings.Join(names, ", ") + "; metadata: " + strings.Join(MetaNames, ", ")
}

// closest returns the candidate within edit distance 2 (and less than half
// the name's length) of name, or "".
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestD && d*2 < len(name)+1 {
			best, bestD = c, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// resolver rewrites names before type checking, so that every read of the
// event has a key of its own in the environment map and a static type:
//
//	price, $env.price, $env["price"]  →  price          (a column of the row)
//	after.price, after["price"]       →  "after.price"  (before likewise)
//	meta.op, $env.op, op (no column)  →  "meta.op"
//
// A dotted key cannot be written in an expression, so it never clashes
// with a column. Without a schema only metadata is rewritten.
type resolver struct {
	schema *event.Schema
	cols   map[string]int
	lets   map[string]bool
	first  *Error // the first unknown name
	from   int    // its offset in runes
}

func (r *resolver) err(e *Expr) error {
	if r.first == nil {
		return nil
	}
	r.first.Field, r.first.Src = e.field, e.src
	r.first.Line, r.first.Column = position(e.src, r.from)
	return r.first
}

func (r *resolver) fail(n ast.Node, msg, hint string) {
	if r.first == nil {
		r.first, r.from = &Error{Msg: msg, Hint: hint}, n.Location().From
	}
}

// position converts a rune offset in src to a 1-based line and column.
func position(src string, from int) (line, col int) {
	line, col = 1, 1
	n := 0
	for _, c := range src {
		if n == from {
			break
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		n++
	}
	return line, col
}

// col rewrites col("name"): the column's value as an untyped value when
// the table has the column, else nil. It is for configurations written
// for documents, where a missing field reads as null (Data Prepper's
// expressions, package frontdoor/dataprepper): untyped, the value passes
// the checker in any branch, and a branch that does not fit its type
// fails only when it runs.
func (r *resolver) col(n *ast.Node, x *ast.CallNode) {
	name, ok := "", len(x.Arguments) == 1
	if ok {
		var s *ast.StringNode
		s, ok = x.Arguments[0].(*ast.StringNode)
		if ok {
			name = s.Value
		}
	}
	if !ok {
		r.fail(x, "col() takes one column name in quotes", `e.g. col("status") == nil`)
		return
	}
	var arg ast.Node = &ast.NilNode{}
	if _, isCol := r.cols[name]; isCol {
		id := name
		if isNamespace(name) {
			id = "after." + name // the only key a column so named has
		}
		arg = &ast.IdentifierNode{Value: id}
	}
	ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: untypedFunc}, Arguments: []ast.Node{arg}})
}

// untypedFunc returns its argument with no static type (col()).
const untypedFunc = "__untyped"

func (r *resolver) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && id.Value == "col" && !r.lets[id.Value] {
			r.col(n, x)
			return
		}
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && !functions[id.Value] && !r.lets[id.Value] {
			hint := "see the functions of https://expr-lang.org/docs/language-definition and decimal(), round(x, places)"
			if best := closest(id.Value, functionNames()); best != "" {
				hint = "did you mean " + best + "()?"
			}
			r.fail(x, fmt.Sprintf("unknown function %s()", id.Value), hint)
		}
	case *ast.IdentifierNode:
		if r.schema == nil || r.lets[x.Value] || isNamespace(x.Value) {
			return
		}
		if _, isCol := r.cols[x.Value]; !isCol && isMeta(x.Value) {
			ast.Patch(n, &ast.IdentifierNode{Value: "meta." + x.Value})
		}
	case *ast.MemberNode:
		id, ok := x.Node.(*ast.IdentifierNode)
		if !ok || r.lets[id.Value] {
			return
		}
		prop, ok := x.Property.(*ast.StringNode)
		if !ok {
			return // a computed name: a map lookup at run time
		}
		name := prop.Value
		switch id.Value {
		case "$env":
			switch _, isCol := r.cols[name]; {
			case isCol:
				ast.Patch(n, &ast.IdentifierNode{Value: name})
			case isMeta(name):
				ast.Patch(n, &ast.IdentifierNode{Value: "meta." + name})
			case r.schema != nil:
				r.fail(x.Property, fmt.Sprintf("column %q not in %s", name, r.schema.Stream), suggestColumn(name, r.schema))
			}
		case "after", "before":
			if r.schema == nil {
				return
			}
			if _, isCol := r.cols[name]; isCol {
				ast.Patch(n, &ast.IdentifierNode{Value: id.Value + "." + name})
				return
			}
			r.fail(x.Property, fmt.Sprintf("column %q not in %s", name, r.schema.Stream), suggestColumn(name, r.schema))
		case "meta":
			if isMeta(name) {
				ast.Patch(n, &ast.IdentifierNode{Value: "meta." + name})
				return
			}
			hint := "metadata: " + strings.Join(MetaNames, ", ")
			if best := closest(name, MetaNames); best != "" {
				hint = "did you mean meta." + best + "?"
			}
			r.fail(x.Property, fmt.Sprintf("meta has no field %q", name), hint)
		}
	}
}

// slot kinds: where a value of the environment comes from.
type slotKind uint8

const (
	slotRow    slotKind = iota // column col of the row being evaluated
	slotAfter                  // column col of the after image
	slotBefore                 // column col of the before image
	slotMeta                   // metadata field meta
	slotAfterMap
	slotBeforeMap
	slotMetaMap
	slotAll // $env used whole: every column and metadata name
)

type slot struct {
	key      string
	kind     slotKind
	col      int
	meta     string
	constant bool // val holds the value for every event (metadata of the schema)
	val      any
}

// slotsOf lists the environment keys the compiled tree reads, so that an
// evaluation fills only those (a filter on one column converts one value
// per event, not the whole row).
func slotsOf(root ast.Node, s *event.Schema, cols map[string]int) []slot {
	seen := map[string]bool{}
	var out []slot
	add := func(sl slot) {
		if !seen[sl.key] {
			seen[sl.key] = true
			out = append(out, sl)
		}
	}
	ast.Walk(&root, visitFunc(func(n ast.Node) {
		id, ok := n.(*ast.IdentifierNode)
		if !ok {
			return
		}
		name := id.Value
		switch {
		case name == "$env":
			add(slot{key: name, kind: slotAll})
		case name == "after":
			add(slot{key: name, kind: slotAfterMap})
		case name == "before":
			add(slot{key: name, kind: slotBeforeMap})
		case name == "meta":
			add(slot{key: name, kind: slotMetaMap})
		case strings.HasPrefix(name, "after."):
			if i, ok := cols[name[len("after."):]]; ok {
				add(slot{key: name, kind: slotAfter, col: i})
			}
		case strings.HasPrefix(name, "before."):
			if i, ok := cols[name[len("before."):]]; ok {
				add(slot{key: name, kind: slotBefore, col: i})
			}
		case strings.HasPrefix(name, "meta."):
			sl := slot{key: name, kind: slotMeta, meta: name[len("meta."):]}
			switch sl.meta {
			case metaStream, metaTable, metaSchema, metaNamespace, metaDatabase, metaSource, metaConnector:
				// Boxed once here rather than per event.
				sl.constant = true
				sl.val, _ = (&Program{schema: s}).meta(nil, sl.meta, &event.Event{Schema: s})
			}
			add(sl)
		default:
			if i, ok := cols[name]; ok {
				add(slot{key: name, kind: slotRow, col: i})
			}
		}
	}))
	// Fill order does not matter; a stable order keeps errors stable.
	sort.SliceStable(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	return out
}

// functionNames lists what an expression may call, for suggestions.
func functionNames() []string {
	names := []string{"decimal", "round"}
	for _, b := range builtin.Builtins {
		names = append(names, b.Name)
	}
	return names
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }

// FieldError converts a compile error to the configuration error the
// pipeline loader reports at the key's line: `"amount >": unexpected token
// EOF at column 8`, with the hint.
func FieldError(err error) *component.FieldError {
	var e *Error
	if !errors.As(err, &e) {
		return &component.FieldError{Msg: err.Error()}
	}
	msg := fmt.Sprintf("%q: %s", e.Src, e.Msg)
	if pos := e.Position(); pos != "" {
		msg += " at " + pos
	}
	return &component.FieldError{Field: e.Field, Msg: msg, Hint: e.Hint}
}
