package expr

import (
	"math"
	"math/bits"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"

	"github.com/sluice-dev/sluice/event"
)

// The direct path. Most filter conditions and map expressions are
// comparisons, logic, arithmetic and string functions over a few columns
// of the row (quantity >= 0 && price > 10, upper(color) + ' ' + name).
// For those, For also builds the checked tree as Go closures that read the
// row's values where they lie (a decimal column compared with a number is
// compared on its text, digit by digit): no environment map, no boxing of each
// operand into an interface, no virtual machine. Such a program is two to
// ten times cheaper a row (BenchmarkEval).
//
// The direct path gives a result only where it is certain to equal the
// machine's, value and Go type: every operand is a non-NULL value of the
// kind its column's type holds, and every operator and function is one it
// knows with the machine's own semantics (runtime.Equal, Less, Add, ...:
// mixed integer and float operands compare and add as float64, integer
// arithmetic wraps and gives a Go int, / gives a float64, len counts
// runes). Anything else (a NULL, an unchanged TOAST value, a zero divisor,
// an unknown node) makes it give up, and Eval runs the machine, which
// gives the result or the error it always gave. The expressions are pure,
// so evaluating one twice is unobservable. FuzzDirect holds the two paths
// to the same result on random expressions and values.

// fkind is the static kind of a direct node's value.
type fkind uint8

const (
	fBool fkind = iota + 1
	fInt        // int64 internally; boxed as int64 (a column) or int (arithmetic, see goInt)
	fFloat
	fString
)

// fnode is one node of the direct tree: exactly one of the closures is
// set, by kind. Each returns ok false to give up.
type fnode struct {
	kind  fkind
	goInt bool // an fInt whose machine value is a Go int rather than an int64
	b     func(ev *event.Event, row []event.Value) (bool, bool)
	i     func(ev *event.Event, row []event.Value) (int64, bool)
	f     func(ev *event.Event, row []event.Value) (float64, bool)
	s     func(ev *event.Event, row []event.Value) (string, bool)
}

// directFunc evaluates a whole program directly: the result boxed as the
// machine boxes it, or ok false.
type directFunc func(ev *event.Event, row []event.Value) (any, bool)

// direct builds p's direct path from the checked tree, or returns nil when
// some node is outside what the direct path knows.
func direct(root ast.Node, p *Program) directFunc {
	if bits.UintSize != 64 {
		return nil // integer arithmetic wraps at the machine's int
	}
	for _, sl := range p.slots {
		if sl.kind != slotRow && !(sl.kind == slotMeta && (sl.constant || sl.meta == metaOp)) {
			return nil
		}
	}
	b := &builder{p: p, cols: map[string]int{}, metas: map[string]slot{}}
	for _, sl := range p.slots {
		if sl.kind == slotRow {
			b.cols[sl.key] = sl.col
		} else {
			b.metas[sl.key] = sl
		}
	}
	n, ok := b.node(root)
	if !ok || p.Out == nil || resultType(n) != p.Out {
		return nil
	}
	// The machine converts every column the expression names before it
	// runs, so a column it cannot convert (an unchanged TOAST value, a kind
	// its type does not hold) fails the evaluation even in a branch that
	// does not run.
	type read struct {
		col     int
		kind    event.Kind // the kind the column holds; 0 for a decimal
		decimal bool
	}
	var reads []read
	for _, sl := range p.slots {
		if sl.kind != slotRow {
			continue
		}
		c := &p.schema.Columns[sl.col]
		if c.Type == event.TypeDecimal || c.Type == event.TypeMoney {
			reads = append(reads, read{col: sl.col, decimal: true})
			continue
		}
		k, ok := directKind(c)
		if !ok {
			return nil
		}
		reads = append(reads, read{col: sl.col, kind: k})
	}
	fits := func(row []event.Value) bool {
		for _, r := range reads {
			v := &row[r.col]
			switch {
			case v.Kind == event.KindNull:
			case r.decimal:
				if !decimalFits(v) {
					return false
				}
			case v.Kind != r.kind:
				return false
			}
		}
		return true
	}
	box := boxed(n)
	return func(ev *event.Event, row []event.Value) (any, bool) {
		if !fits(row) {
			return nil, false
		}
		return box(ev, row)
	}
}

// boxed returns n's value as the machine boxes it.
func boxed(n *fnode) directFunc {
	switch n.kind {
	case fBool:
		return func(ev *event.Event, row []event.Value) (any, bool) {
			v, ok := n.b(ev, row)
			return v, ok
		}
	case fInt:
		if n.goInt {
			return func(ev *event.Event, row []event.Value) (any, bool) {
				v, ok := n.i(ev, row)
				return int(v), ok
			}
		}
		return func(ev *event.Event, row []event.Value) (any, bool) {
			v, ok := n.i(ev, row)
			return v, ok
		}
	case fFloat:
		return func(ev *event.Event, row []event.Value) (any, bool) {
			v, ok := n.f(ev, row)
			return v, ok
		}
	}
	return func(ev *event.Event, row []event.Value) (any, bool) {
		v, ok := n.s(ev, row)
		return v, ok
	}
}

// resultType is the Go type the machine gives for n's value.
func resultType(n *fnode) reflect.Type {
	switch n.kind {
	case fBool:
		return typeBool
	case fInt:
		if n.goInt {
			return reflect.TypeOf(0)
		}
		return typeInt
	case fFloat:
		return typeFloat
	case fString:
		return typeString
	}
	return nil
}

type builder struct {
	p     *Program
	cols  map[string]int  // identifier → column of the row
	metas map[string]slot // identifier → metadata slot (constant, or op)
}

func (b *builder) node(n ast.Node) (*fnode, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return b.ident(x)
	case *ast.IntegerNode:
		t := x.Type()
		if t == nil {
			return nil, false
		}
		v := int64(x.Value)
		// The checker types an integer literal int (int64 next to such a
		// parameter); one it makes a float becomes a FloatNode.
		if k := t.Kind(); k == reflect.Int || k == reflect.Int64 {
			return &fnode{kind: fInt, goInt: k == reflect.Int, i: func(*event.Event, []event.Value) (int64, bool) { return v, true }}, true
		}
	case *ast.FloatNode:
		if t := x.Type(); t == nil || t.Kind() != reflect.Float64 {
			return nil, false
		}
		if x.Value == 0 && math.Signbit(x.Value) {
			// The compiler keeps one copy of equal constants, and -0.0 ==
			// 0.0: the machine pushes whichever zero it met first for both.
			return nil, false
		}
		v := x.Value
		return &fnode{kind: fFloat, f: func(*event.Event, []event.Value) (float64, bool) { return v, true }}, true
	case *ast.StringNode:
		v := x.Value
		return &fnode{kind: fString, s: func(*event.Event, []event.Value) (string, bool) { return v, true }}, true
	case *ast.BoolNode:
		v := x.Value
		return &fnode{kind: fBool, b: func(*event.Event, []event.Value) (bool, bool) { return v, true }}, true
	case *ast.UnaryNode:
		return b.unary(x)
	case *ast.BinaryNode:
		return b.binary(x)
	case *ast.ConditionalNode:
		return b.conditional(x)
	case *ast.BuiltinNode:
		return b.builtin(x)
	case *ast.CallNode:
		if id := untypedColumn(x); id != nil {
			return b.ident(id)
		}
		return b.decimalCompare(x)
	}
	return nil, false
}

// untypedColumn is the column col("name") reads (the resolver's
// __untyped(name)), or nil. The function returns its argument as it is, so
// the value is the column's; only the checker's static type differs, which
// the direct path does not use (the machine's helpers treat a typed and an
// untyped operand alike).
func untypedColumn(x *ast.CallNode) *ast.IdentifierNode {
	callee, ok := x.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != untypedFunc || len(x.Arguments) != 1 {
		return nil
	}
	id, _ := x.Arguments[0].(*ast.IdentifierNode)
	return id
}

func (b *builder) ident(x *ast.IdentifierNode) (*fnode, bool) {
	if sl, ok := b.metas[x.Value]; ok {
		if sl.constant {
			v, ok := sl.val.(string)
			return &fnode{kind: fString, s: func(*event.Event, []event.Value) (string, bool) { return v, true }}, ok
		}
		return &fnode{kind: fString, s: func(ev *event.Event, _ []event.Value) (string, bool) {
			switch ev.Op { // opValues' strings
			case event.OpRead:
				return "r", true
			case event.OpCreate:
				return "c", true
			case event.OpUpdate:
				return "u", true
			case event.OpDelete:
				return "d", true
			case event.OpTruncate:
				return "t", true
			}
			return "", false
		}}, true
	}
	i, ok := b.cols[x.Value]
	if !ok {
		return nil, false
	}
	switch GoType(&b.p.schema.Columns[i]) {
	case typeBool:
		return &fnode{kind: fBool, b: func(_ *event.Event, row []event.Value) (bool, bool) {
			v := &row[i]
			return v.Num != 0, v.Kind == event.KindBool
		}}, true
	case typeInt:
		return &fnode{kind: fInt, i: func(_ *event.Event, row []event.Value) (int64, bool) {
			v := &row[i]
			return v.AsInt(), v.Kind == event.KindInt
		}}, true
	case typeFloat:
		return &fnode{kind: fFloat, f: func(_ *event.Event, row []event.Value) (float64, bool) {
			v := &row[i]
			return v.AsFloat(), v.Kind == event.KindFloat
		}}, true
	case typeString:
		return &fnode{kind: fString, s: func(_ *event.Event, row []event.Value) (string, bool) {
			v := &row[i]
			return v.Str, v.Kind == event.KindString
		}}, true
	}
	return nil, false
}

func (b *builder) unary(x *ast.UnaryNode) (*fnode, bool) {
	a, ok := b.node(x.Node)
	if !ok {
		return nil, false
	}
	switch x.Operator {
	case "!", "not":
		if a.kind == fBool {
			return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
				v, ok := a.b(ev, row)
				return !v, ok
			}}, true
		}
	case "-":
		switch a.kind {
		case fInt: // runtime.Negate keeps the operand's type
			return &fnode{kind: fInt, goInt: a.goInt, i: func(ev *event.Event, row []event.Value) (int64, bool) {
				v, ok := a.i(ev, row)
				return -v, ok
			}}, true
		case fFloat:
			return &fnode{kind: fFloat, f: func(ev *event.Event, row []event.Value) (float64, bool) {
				v, ok := a.f(ev, row)
				return -v, ok
			}}, true
		}
	}
	return nil, false
}

// asFloat reads an int or float node as a float64, as the machine's
// helpers do with mixed operands.
func asFloat(a *fnode) func(ev *event.Event, row []event.Value) (float64, bool) {
	if a.kind == fFloat {
		return a.f
	}
	return func(ev *event.Event, row []event.Value) (float64, bool) {
		v, ok := a.i(ev, row)
		return float64(v), ok
	}
}

func numeric(k fkind) bool { return k == fInt || k == fFloat }

func (b *builder) binary(x *ast.BinaryNode) (*fnode, bool) {
	if x.Operator == "==" || x.Operator == "!=" {
		if n, ok := b.isNil(x.Left, x.Right, x.Operator == "=="); ok {
			return n, true
		}
		if n, ok := b.isNil(x.Right, x.Left, x.Operator == "=="); ok {
			return n, true
		}
	}
	l, ok := b.node(x.Left)
	if !ok {
		return nil, false
	}
	if x.Operator == "in" {
		return b.in(l, x.Right)
	}
	if x.Operator == "matches" {
		return b.matches(l, x.Right)
	}
	r, ok := b.node(x.Right)
	if !ok {
		return nil, false
	}
	switch x.Operator {
	case "&&", "and":
		if l.kind == fBool && r.kind == fBool {
			return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
				v, ok := l.b(ev, row)
				if !ok || !v {
					return false, ok
				}
				return r.b(ev, row)
			}}, true
		}
	case "||", "or":
		if l.kind == fBool && r.kind == fBool {
			return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
				v, ok := l.b(ev, row)
				if !ok || v {
					return true, ok
				}
				return r.b(ev, row)
			}}, true
		}
	case "==", "!=", "<", "<=", ">", ">=":
		return compare(x.Operator, l, r)
	case "+", "-", "*", "/", "%":
		if l.kind == fString && r.kind == fString && x.Operator == "+" {
			return concat(x, b)
		}
		return arith(x.Operator, l, r)
	case "contains", "startsWith", "endsWith":
		if l.kind != fString || r.kind != fString {
			return nil, false
		}
		f := map[string]func(s, sub string) bool{"contains": strings.Contains, "startsWith": strings.HasPrefix, "endsWith": strings.HasSuffix}[x.Operator]
		return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
			s, ok := l.s(ev, row)
			if !ok {
				return false, false
			}
			sub, ok := r.s(ev, row)
			return f(s, sub), ok
		}}, true
	}
	return nil, false
}

// isNil is col == nil (want true) or col != nil (want false) for a column
// of the row of a type the direct path reads: NULL or a value of the
// column's kind. Anything else (an unchanged TOAST value) gives up, as the
// machine fails on it.
func (b *builder) isNil(id, other ast.Node, want bool) (*fnode, bool) {
	if _, ok := other.(*ast.NilNode); !ok {
		return nil, false
	}
	if c, ok := id.(*ast.CallNode); ok {
		if u := untypedColumn(c); u != nil {
			id = u
		}
	}
	x, ok := id.(*ast.IdentifierNode)
	if !ok {
		return nil, false
	}
	i, ok := b.cols[x.Value]
	if !ok {
		return nil, false
	}
	kind, ok := directKind(&b.p.schema.Columns[i])
	if !ok {
		return nil, false
	}
	return &fnode{kind: fBool, b: func(_ *event.Event, row []event.Value) (bool, bool) {
		switch row[i].Kind {
		case event.KindNull:
			return want, true
		case kind:
			return !want, true
		}
		return false, false
	}}, true
}

// directKind is the kind of value column c holds when the direct path
// reads it (false: a type it does not read).
func directKind(c *event.Column) (event.Kind, bool) {
	switch GoType(c) {
	case typeBool:
		return event.KindBool, true
	case typeInt:
		return event.KindInt, true
	case typeFloat:
		return event.KindFloat, true
	case typeString:
		return event.KindString, true
	}
	return 0, false
}

// compare is == != < <= > >= between two numbers (as float64 when either
// is a float, as runtime.Less does), two strings or two booleans (== and
// != only).
func compare(op string, l, r *fnode) (*fnode, bool) {
	var cmp func(ev *event.Event, row []event.Value) (int, bool) // -1, 0, 1; 2 when unordered (NaN)
	switch {
	case l.kind == fInt && r.kind == fInt:
		cmp = func(ev *event.Event, row []event.Value) (int, bool) {
			a, ok := l.i(ev, row)
			if !ok {
				return 0, false
			}
			c, ok := r.i(ev, row)
			return order(a < c, a == c), ok
		}
	case numeric(l.kind) && numeric(r.kind):
		lf, rf := asFloat(l), asFloat(r)
		cmp = func(ev *event.Event, row []event.Value) (int, bool) {
			a, ok := lf(ev, row)
			if !ok {
				return 0, false
			}
			c, ok := rf(ev, row)
			if a != a || c != c {
				return 2, ok
			}
			return order(a < c, a == c), ok
		}
	case l.kind == fString && r.kind == fString:
		cmp = func(ev *event.Event, row []event.Value) (int, bool) {
			a, ok := l.s(ev, row)
			if !ok {
				return 0, false
			}
			c, ok := r.s(ev, row)
			return order(a < c, a == c), ok
		}
	case l.kind == fBool && r.kind == fBool && (op == "==" || op == "!="):
		cmp = func(ev *event.Event, row []event.Value) (int, bool) {
			a, ok := l.b(ev, row)
			if !ok {
				return 0, false
			}
			c, ok := r.b(ev, row)
			return order(false, a == c), ok
		}
	default:
		return nil, false
	}
	test := testFor(op)
	return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
		c, ok := cmp(ev, row)
		return test(c), ok
	}}, true
}

// testFor turns an order (-1, 0, 1; 2 for unordered) into op's result.
func testFor(op string) func(c int) bool {
	switch op {
	case "==":
		return func(c int) bool { return c == 0 }
	case "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c == -1 }
	case "<=":
		return func(c int) bool { return c == -1 || c == 0 }
	case ">":
		return func(c int) bool { return c == 1 }
	case ">=":
		return func(c int) bool { return c == 1 || c == 0 }
	}
	panic("unknown comparison " + op)
}

func order(less, equal bool) int {
	switch {
	case less:
		return -1
	case equal:
		return 0
	}
	return 1
}

// arith is + - * / % between numbers: integers wrap and give a Go int
// (runtime.Add and the others convert both to int), a float operand makes
// a float64, / always gives a float64, % takes integers only and gives up
// on a zero divisor (the machine's error).
func arith(op string, l, r *fnode) (*fnode, bool) {
	if !numeric(l.kind) || !numeric(r.kind) {
		return nil, false
	}
	if op == "/" || l.kind == fFloat || r.kind == fFloat {
		if op == "%" {
			return nil, false
		}
		lf, rf := asFloat(l), asFloat(r)
		var f func(a, c float64) float64
		switch op {
		case "+":
			f = func(a, c float64) float64 { return a + c }
		case "-":
			f = func(a, c float64) float64 { return a - c }
		case "*":
			f = func(a, c float64) float64 { return a * c }
		case "/":
			f = func(a, c float64) float64 { return a / c }
		}
		return &fnode{kind: fFloat, f: func(ev *event.Event, row []event.Value) (float64, bool) {
			a, ok := lf(ev, row)
			if !ok {
				return 0, false
			}
			c, ok := rf(ev, row)
			return f(a, c), ok
		}}, true
	}
	var f func(a, c int64) (int64, bool)
	switch op {
	case "+":
		f = func(a, c int64) (int64, bool) { return a + c, true }
	case "-":
		f = func(a, c int64) (int64, bool) { return a - c, true }
	case "*":
		f = func(a, c int64) (int64, bool) { return a * c, true }
	case "%":
		f = func(a, c int64) (int64, bool) {
			if c == 0 {
				return 0, false
			}
			return a % c, true
		}
	}
	return &fnode{kind: fInt, goInt: true, i: func(ev *event.Event, row []event.Value) (int64, bool) {
		a, ok := l.i(ev, row)
		if !ok {
			return 0, false
		}
		c, ok := r.i(ev, row)
		if !ok {
			return 0, false
		}
		return f(a, c)
	}}, true
}

// concat joins a chain of string + string in one allocation.
func concat(x *ast.BinaryNode, b *builder) (*fnode, bool) {
	var parts []*fnode
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		if bn, ok := n.(*ast.BinaryNode); ok && bn.Operator == "+" {
			if t := bn.Type(); t != nil && t.Kind() == reflect.String {
				return walk(bn.Left) && walk(bn.Right)
			}
		}
		p, ok := b.node(n)
		if !ok || p.kind != fString {
			return false
		}
		parts = append(parts, p)
		return true
	}
	if !walk(x.Left) || !walk(x.Right) {
		return nil, false
	}
	return &fnode{kind: fString, s: func(ev *event.Event, row []event.Value) (string, bool) {
		var buf [8]string
		vals := buf[:0]
		n := 0
		for _, p := range parts {
			s, ok := p.s(ev, row)
			if !ok {
				return "", false
			}
			vals = append(vals, s)
			n += len(s)
		}
		var sb strings.Builder
		sb.Grow(n)
		for _, s := range vals {
			sb.WriteString(s)
		}
		return sb.String(), true
	}}, true
}

// in is x in a list of constants: the optimizer's set of strings, or the
// array of integer or string literals it folds into a constant
// (runtime.In compares each with runtime.Equal).
func (b *builder) in(l *fnode, right ast.Node) (*fnode, bool) {
	switch r := right.(type) {
	case *ast.ConstantNode:
		switch c := r.Value.(type) {
		case map[string]struct{}:
			if l.kind != fString {
				return nil, false
			}
			return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
				s, ok := l.s(ev, row)
				_, in := c[s]
				return in, ok
			}}, true
		case []any: // a folded array of literals
			ints, strs := map[int64]bool{}, map[string]bool{}
			for _, e := range c {
				switch v := e.(type) {
				case int:
					ints[int64(v)] = true
				case int64:
					ints[v] = true
				case string:
					strs[v] = true
				default:
					return nil, false
				}
			}
			switch {
			case l.kind == fInt && len(strs) == 0:
				return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
					v, ok := l.i(ev, row)
					return ints[v], ok
				}}, true
			case l.kind == fString && len(ints) == 0:
				return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
					v, ok := l.s(ev, row)
					return strs[v], ok
				}}, true
			}
		}
	}
	return nil, false
}

// matches is a string matched against a constant pattern (the machine
// compiles such a pattern once too).
func (b *builder) matches(l *fnode, right ast.Node) (*fnode, bool) {
	pat, ok := right.(*ast.StringNode)
	if !ok || l.kind != fString {
		return nil, false
	}
	re, err := regexp.Compile(pat.Value)
	if err != nil {
		return nil, false
	}
	return &fnode{kind: fBool, b: func(ev *event.Event, row []event.Value) (bool, bool) {
		s, ok := l.s(ev, row)
		return ok && re.MatchString(s), ok
	}}, true
}

func (b *builder) conditional(x *ast.ConditionalNode) (*fnode, bool) {
	c, ok := b.node(x.Cond)
	if !ok || c.kind != fBool {
		return nil, false
	}
	t, ok := b.node(x.Exp1)
	if !ok {
		return nil, false
	}
	e, ok := b.node(x.Exp2)
	if !ok || e.kind != t.kind || e.goInt != t.goInt {
		return nil, false
	}
	pick := func(ev *event.Event, row []event.Value) (*fnode, bool) {
		v, ok := c.b(ev, row)
		if v {
			return t, ok
		}
		return e, ok
	}
	out := &fnode{kind: t.kind, goInt: t.goInt}
	switch t.kind {
	case fBool:
		out.b = func(ev *event.Event, row []event.Value) (bool, bool) {
			n, ok := pick(ev, row)
			if !ok {
				return false, false
			}
			return n.b(ev, row)
		}
	case fInt:
		out.i = func(ev *event.Event, row []event.Value) (int64, bool) {
			n, ok := pick(ev, row)
			if !ok {
				return 0, false
			}
			return n.i(ev, row)
		}
	case fFloat:
		out.f = func(ev *event.Event, row []event.Value) (float64, bool) {
			n, ok := pick(ev, row)
			if !ok {
				return 0, false
			}
			return n.f(ev, row)
		}
	case fString:
		out.s = func(ev *event.Event, row []event.Value) (string, bool) {
			n, ok := pick(ev, row)
			if !ok {
				return "", false
			}
			return n.s(ev, row)
		}
	}
	return out, true
}

// stringFuncs are the builtins of one string the direct path calls, with
// the machine's own implementations (builtin.go: upper, lower, trim); len
// is the other builtin it knows. The parser makes a BuiltinNode only of a
// builtin no configured function overrides.
var stringFuncs = map[string]func(string) string{
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"trim":  strings.TrimSpace,
}

func (b *builder) builtin(x *ast.BuiltinNode) (*fnode, bool) {
	if len(x.Arguments) != 1 || x.Map != nil || x.Threshold != nil {
		return nil, false
	}
	a, ok := b.node(x.Arguments[0])
	if !ok || a.kind != fString {
		return nil, false
	}
	if x.Name == "len" {
		return &fnode{kind: fInt, goInt: true, i: func(ev *event.Event, row []event.Value) (int64, bool) {
			s, ok := a.s(ev, row)
			return int64(utf8.RuneCountInString(s)), ok
		}}, true
	}
	f, ok := stringFuncs[x.Name]
	if !ok {
		return nil, false
	}
	return &fnode{kind: fString, s: func(ev *event.Event, row []event.Value) (string, bool) {
		s, ok := a.s(ev, row)
		if !ok {
			return "", false
		}
		return f(s), true
	}}, true
}

// decimalOps are the decimal comparisons the decimal patch (funcs.go)
// turns == != < <= > >= into when a decimal column meets a literal.
var decimalOps = map[string]string{"__dec_eq": "==", "__dec_ne": "!=", "__dec_lt": "<", "__dec_le": "<=", "__dec_gt": ">", "__dec_ge": ">="}

// decimalCompare is a decimal column compared with a finite constant,
// either way round, on the column's text: no parse into a Decimal, so no
// allocation. It reads the plain text ParseDecimal's fast path reads (a
// sign, at most 18 digits, a point) and integers; anything else (an
// exponent, NaN, longer numbers, NULL) gives up.
func (b *builder) decimalCompare(x *ast.CallNode) (*fnode, bool) {
	id, ok := x.Callee.(*ast.IdentifierNode)
	if !ok || len(x.Arguments) != 2 {
		return nil, false
	}
	op, ok := decimalOps[id.Value]
	if !ok {
		return nil, false
	}
	colNode, constNode, flip := x.Arguments[0], x.Arguments[1], false
	if _, ok := colNode.(*ast.ConstantNode); ok {
		colNode, constNode, flip = constNode, colNode, true
	}
	ident, ok := colNode.(*ast.IdentifierNode)
	if !ok {
		return nil, false
	}
	i, ok := b.cols[ident.Value]
	if !ok {
		return nil, false
	}
	if t := b.p.schema.Columns[i].Type; t != event.TypeDecimal && t != event.TypeMoney {
		return nil, false
	}
	cn, ok := constNode.(*ast.ConstantNode)
	if !ok {
		return nil, false
	}
	d, ok := cn.Value.(Decimal)
	if !ok || !d.IsFinite() {
		return nil, false
	}
	k, ok := decimalParts(d.String(), false)
	if !ok {
		return nil, false
	}
	test := testFor(op)
	return &fnode{kind: fBool, b: func(_ *event.Event, row []event.Value) (bool, bool) {
		v := &row[i]
		var c int
		switch v.Kind {
		case event.KindDecimal, event.KindString:
			a, ok := decimalParts(v.Str, true)
			if !ok {
				return false, false
			}
			c = a.cmp(k)
		case event.KindInt:
			var buf [24]byte
			a, _ := decimalParts(strconv.AppendInt(buf[:0], v.AsInt(), 10), false)
			c = a.cmp(k)
		default:
			return false, false
		}
		if flip {
			c = -c
		}
		return test(c), true
	}}, true
}

// decimalFits tells whether ToGo converts v, a decimal column's value,
// as decimalCompare reads it.
func decimalFits(v *event.Value) bool {
	switch v.Kind {
	case event.KindInt:
		return true
	case event.KindDecimal, event.KindString:
		_, ok := decimalParts(v.Str, true)
		return ok
	}
	return false
}

// decParts is a decimal number's text split for comparison: its sign
// (0 for zero), the digits before the point without leading zeros and
// after it without trailing zeros.
type decParts[T string | []byte] struct {
	sign       int
	intp, frac T
}

// decimalParts splits s: an optional sign, digits, an optional point and
// digits, at least one digit (and at most 18 with small, the language of
// ParseDecimal's fast path parseSmall).
func decimalParts[T string | []byte](s T, small bool) (decParts[T], bool) {
	var p decParts[T]
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, i = s[0] == '-', 1
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	p.intp = s[start:i]
	n := len(p.intp)
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		p.frac = s[fs:i]
		n += len(p.frac)
	}
	if i != len(s) || n == 0 || small && n > 18 {
		return p, false
	}
	for len(p.intp) > 0 && p.intp[0] == '0' {
		p.intp = p.intp[1:]
	}
	for len(p.frac) > 0 && p.frac[len(p.frac)-1] == '0' {
		p.frac = p.frac[:len(p.frac)-1]
	}
	switch {
	case len(p.intp) == 0 && len(p.frac) == 0:
		p.sign = 0
	case neg:
		p.sign = -1
	default:
		p.sign = 1
	}
	return p, true
}

// cmp orders a against k by value: -1, 0 or 1.
func (a decParts[T]) cmp(k decParts[string]) int {
	if a.sign != k.sign {
		return order(a.sign < k.sign, false)
	}
	if a.sign == 0 {
		return 0
	}
	return a.sign * a.cmpMagnitude(k)
}

func (a decParts[T]) cmpMagnitude(k decParts[string]) int {
	if len(a.intp) != len(k.intp) {
		return order(len(a.intp) < len(k.intp), false)
	}
	for i := range len(a.intp) {
		if a.intp[i] != k.intp[i] {
			return order(a.intp[i] < k.intp[i], false)
		}
	}
	for i := range min(len(a.frac), len(k.frac)) {
		if a.frac[i] != k.frac[i] {
			return order(a.frac[i] < k.frac[i], false)
		}
	}
	// Without trailing zeros, the longer fraction is the larger.
	return order(len(a.frac) < len(k.frac), len(a.frac) == len(k.frac))
}
