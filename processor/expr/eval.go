package expr

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluice-dev/sluice/event"
)

// Program is an expression compiled for one schema. Its Eval reads only
// the columns and metadata the expression names.
type Program struct {
	expr   *Expr
	schema *event.Schema
	prog   *vm.Program
	slots  []slot
	direct directFunc // nil when the expression is outside the direct path (fast.go)
	// Out is the result's static type; nil when it is known only per value
	// (JSON navigation, branches of different types, nil).
	Out reflect.Type
}

// Env is the state evaluations reuse: the variable map handed to the
// virtual machine (filled per event with only the values a program reads)
// and the machine's stacks. One Env serves any number of programs, from
// one goroutine at a time.
type Env struct {
	vars map[string]any
	vm   vm.VM
	null *event.Column // the first column the last Eval read as NULL, for hints
}

// NewEnv returns an empty Env.
func NewEnv() *Env { return &Env{vars: make(map[string]any, 16)} }

// boxed op codes, so that reading op allocates nothing.
var opValues = map[event.Op]any{
	event.OpRead: "r", event.OpCreate: "c", event.OpUpdate: "u", event.OpDelete: "d", event.OpTruncate: "t",
}

func opName(o event.Op) string {
	switch o {
	case event.OpRead:
		return "snapshot read"
	case event.OpCreate:
		return "create"
	case event.OpUpdate:
		return "update"
	case event.OpDelete:
		return "delete"
	case event.OpTruncate:
		return "truncate"
	}
	return "op " + o.String()
}

// Eval evaluates p on ev, whose Schema must be the one p was compiled for.
// row is the image bare column names read: After, or Before for a delete;
// nil when the event has none (a truncate), which makes reading a column
// an error. after.x and before.x read the event's images (nil when the
// image is absent). The error is an *Error.
func (p *Program) Eval(env *Env, ev *event.Event, row []event.Value) (any, error) {
	if p.direct != nil && row != nil {
		if v, ok := p.direct(ev, row); ok {
			return v, nil
		}
	}
	return p.evalVM(env, ev, row)
}

// evalVM is Eval on expr-lang's virtual machine.
func (p *Program) evalVM(env *Env, ev *event.Event, row []event.Value) (any, error) {
	env.null = nil
	for i := range p.slots {
		sl := &p.slots[i]
		if sl.constant {
			env.vars[sl.key] = sl.val
			continue
		}
		if sl.kind == slotAll {
			if err := p.fillAll(env, ev, row); err != nil {
				return nil, err
			}
			continue
		}
		v, err := p.value(env, sl, ev, row)
		if err != nil {
			return nil, err
		}
		env.vars[sl.key] = v
	}
	out, err := env.vm.Run(p.prog, env.vars)
	if err != nil {
		return nil, p.runError(err, env)
	}
	return out, nil
}

func (p *Program) value(env *Env, sl *slot, ev *event.Event, row []event.Value) (any, error) {
	switch sl.kind {
	case slotRow:
		if row == nil {
			return nil, p.fail(fmt.Sprintf("a %s event has no row to read column %q from", opName(ev.Op), p.schema.Columns[sl.col].Name), "")
		}
		return p.column(env, row, sl.col)
	case slotAfter:
		if ev.After == nil {
			return nil, nil
		}
		return p.column(env, ev.After, sl.col)
	case slotBefore:
		if ev.Before == nil {
			return nil, nil
		}
		return p.column(env, ev.Before, sl.col)
	case slotMeta:
		return p.meta(env, sl.meta, ev)
	case slotAfterMap:
		return p.image(env, ev.After)
	case slotBeforeMap:
		return p.image(env, ev.Before)
	case slotMetaMap:
		m := make(map[string]any, len(MetaNames))
		for _, name := range MetaNames {
			v, err := p.meta(env, name, ev)
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		return m, nil
	}
	panic("unreachable")
}

// fillAll sets every name an expression may read, for one that uses $env
// as a whole.
func (p *Program) fillAll(env *Env, ev *event.Event, row []event.Value) error {
	cols := p.schema.Columns
	shadowed := map[string]bool{}
	for i := range cols {
		shadowed[cols[i].Name] = true
		if isNamespace(cols[i].Name) {
			continue
		}
		if row == nil {
			env.vars[cols[i].Name] = nil
			continue
		}
		v, err := p.column(env, row, i)
		if err != nil {
			return err
		}
		env.vars[cols[i].Name] = v
	}
	for _, name := range MetaNames {
		if shadowed[name] {
			continue
		}
		v, err := p.meta(env, name, ev)
		if err != nil {
			return err
		}
		env.vars[name] = v
	}
	for _, sl := range []slot{{key: "after", kind: slotAfterMap}, {key: "before", kind: slotBeforeMap}, {key: "meta", kind: slotMetaMap}} {
		v, err := p.value(env, &sl, ev, row)
		if err != nil {
			return err
		}
		env.vars[sl.key] = v
	}
	return nil
}

func (p *Program) column(env *Env, img []event.Value, i int) (any, error) {
	c := &p.schema.Columns[i]
	v := img[i]
	if v.Kind == event.KindNull {
		if env.null == nil {
			env.null = c
		}
		return nil, nil
	}
	x, err := ToGo(c, v)
	if err != nil {
		return nil, p.fail(fmt.Sprintf("column %q %v", c.Name, err), "")
	}
	return x, nil
}

// image is an image as a map of column name to value (nil for an absent
// image), for expressions that index it with a computed name.
func (p *Program) image(env *Env, img []event.Value) (any, error) {
	if img == nil {
		return nil, nil
	}
	m := make(map[string]any, len(img))
	for i := range p.schema.Columns {
		v, err := p.column(env, img, i)
		if err != nil {
			return nil, err
		}
		m[p.schema.Columns[i].Name] = v
	}
	return m, nil
}

func (p *Program) meta(env *Env, name string, ev *event.Event) (any, error) {
	s := ev.Schema
	switch name {
	case metaOp:
		if v, ok := opValues[ev.Op]; ok {
			return v, nil
		}
		return ev.Op.String(), nil
	case metaStream:
		return s.Stream, nil
	case metaTable:
		return s.Table, nil
	case metaSchema, metaNamespace:
		return s.Namespace, nil
	case metaDatabase:
		return s.Database, nil
	case metaSource:
		return s.Source, nil
	case metaConnector:
		return s.Connector, nil
	case metaTsMs:
		return ev.Source.TsMs(), nil
	case metaTsUs:
		return ev.Source.TsUs, nil
	case metaSnapshot:
		return ev.Source.Snapshot != event.SnapshotFalse, nil
	case metaKey:
		img := ev.After
		if img == nil {
			img = ev.Before
		}
		if len(s.KeyIdx) == 0 || img == nil {
			return nil, nil
		}
		m := make(map[string]any, len(s.KeyIdx))
		for _, i := range s.KeyIdx {
			v, err := p.column(env, img, i)
			if err != nil {
				return nil, err
			}
			m[s.Columns[i].Name] = v
		}
		return m, nil
	}
	panic("unknown metadata " + name)
}

func (p *Program) fail(msg, hint string) *Error {
	return &Error{Field: p.expr.field, Src: p.expr.src, Msg: msg, Hint: hint}
}

var nilConversion = regexp.MustCompile(`^interface conversion: interface \{\} is nil, not (\S+)$`)

// runError turns the machine's error into an Error with the position,
// and a hint when a NULL column may be the cause.
func (p *Program) runError(err error, env *Env) error {
	e := p.fail(err.Error(), "")
	e.err = err
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Msg, e.Line, e.Column = fe.Message, fe.Line, fe.Column+1
	}
	// A builtin given nil panics with Go's type assertion message.
	if m := nilConversion.FindStringSubmatch(e.Msg); m != nil {
		e.Msg = "nil where a " + m[1] + " is expected"
	}
	e.ReadNull = env.null != nil
	if c := env.null; c != nil && strings.Contains(e.Msg, "nil") {
		e.Hint = fmt.Sprintf("column %s is NULL in this event; guard it (%s != nil && ...)", c.Name, c.Name)
		switch GoType(c) {
		case typeInt, typeFloat, typeDecimal:
			e.Hint += fmt.Sprintf(" or give a default (%s ?? 0)", c.Name)
		case typeString:
			e.Hint += fmt.Sprintf(" or give a default (%s ?? '')", c.Name)
		case typeBool:
			e.Hint += fmt.Sprintf(" or give a default (%s ?? false)", c.Name)
		}
	}
	return e
}

// Unchanged reports whether p reads only columns of row (no metadata, no
// after/before, no $env) and every one of them is an unchanged TOAST value
// (event.KindUnchanged). The result would then be what it was when those
// columns last changed, so a processor that stores results may mark it
// unchanged too, instead of failing. It is false for a program that reads
// no column.
func (p *Program) Unchanged(row []event.Value) bool {
	if row == nil || len(p.slots) == 0 {
		return false
	}
	for _, sl := range p.slots {
		if sl.kind != slotRow || row[sl.col].Kind != event.KindUnchanged {
			return false
		}
	}
	return true
}

// TypeName names the type of an expression's result as messages spell it:
// int, float, decimal, string, bool, time, duration, bytes, array, map.
func TypeName(x any) string { return goTypeName(x) }

// RowColumns lists the columns of the row that p reads by bare name, in
// the schema p was compiled for.
func (p *Program) RowColumns() []string {
	var out []string
	for _, sl := range p.slots {
		if sl.kind == slotRow {
			out = append(out, p.schema.Columns[sl.col].Name)
		}
	}
	return out
}
