package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// toyCompiler evaluates the few expressions and aggregates the tests use,
// so that the operators are tested without package eval.
type toyCompiler struct{}

type evalFunc func(row []event.Value) (event.Value, error)

func (f evalFunc) Eval(row []event.Value) (event.Value, error) { return f(row) }

func (toyCompiler) Expr(e ir.Expr) (ir.Evaluator, error) {
	f, err := toyExpr(e)
	if err != nil {
		return nil, err
	}
	return evalFunc(f), nil
}

func toyExpr(e ir.Expr) (evalFunc, error) {
	switch e := e.(type) {
	case *ir.Column:
		i := e.Index
		return func(row []event.Value) (event.Value, error) { return row[i], nil }, nil
	case *ir.Literal:
		v := e.Value
		return func([]event.Value) (event.Value, error) { return v, nil }, nil
	case *ir.IsNull:
		x, err := toyExpr(e.X)
		if err != nil {
			return nil, err
		}
		return func(row []event.Value) (event.Value, error) {
			v, err := x(row)
			return event.Bool(v.IsNull() != e.Negate), err
		}, nil
	case *ir.Call:
		var args []evalFunc
		for _, a := range e.Args {
			f, err := toyExpr(a)
			if err != nil {
				return nil, err
			}
			args = append(args, f)
		}
		switch e.Func {
		case "UCASE":
			return func(row []event.Value) (event.Value, error) {
				v, err := args[0](row)
				if err != nil || v.IsNull() {
					return v, err
				}
				return event.String(strings.ToUpper(v.Str)), nil
			}, nil
		case "COALESCE":
			return func(row []event.Value) (event.Value, error) {
				for _, a := range args {
					if v, err := a(row); err != nil || !v.IsNull() {
						return v, err
					}
				}
				return event.Null, nil
			}, nil
		case "FAIL_ON":
			// FAIL_ON(x, v): x, or an error when x = v.
			return func(row []event.Value) (event.Value, error) {
				v, _ := args[0](row)
				w, _ := args[1](row)
				if v.Equal(w) {
					return event.Null, fmt.Errorf("cannot cast %s", v.Text())
				}
				return v, nil
			}, nil
		}
		return nil, fmt.Errorf("unknown function %s", e.Func)
	case *ir.Binary:
		l, err := toyExpr(e.L)
		if err != nil {
			return nil, err
		}
		r, err := toyExpr(e.R)
		if err != nil {
			return nil, err
		}
		op := e.Op
		return func(row []event.Value) (event.Value, error) {
			a, err := l(row)
			if err != nil {
				return a, err
			}
			b, err := r(row)
			if err != nil {
				return b, err
			}
			if a.IsNull() || b.IsNull() {
				return event.Null, nil
			}
			switch op {
			case ir.Add:
				return event.Int(a.AsInt() + b.AsInt()), nil
			case ir.Eq:
				return event.Bool(a.Equal(b)), nil
			case ir.Gt:
				return event.Bool(a.AsInt() > b.AsInt()), nil
			case ir.Lt:
				return event.Bool(a.AsInt() < b.AsInt()), nil
			case ir.Concat:
				return event.String(a.Str + b.Str), nil
			}
			return event.Null, fmt.Errorf("operator %d", op)
		}, nil
	}
	return nil, fmt.Errorf("toy compiler: %T", e)
}

// toyAgg implements COUNT, SUM (integers), MAX (integers, no undo) and
// LATEST_BY_OFFSET (any value; NULLs ignored), all mergeable.
type toyAgg struct{ fn string }

func (toyCompiler) Agg(a ir.AggCall) (ir.Aggregator, error) {
	switch a.Func {
	case "COUNT", "SUM", "MAX", "LATEST_BY_OFFSET":
		return toyAgg{a.Func}, nil
	}
	return nil, fmt.Errorf("unknown aggregate %s", a.Func)
}

func (t toyAgg) Init() []byte {
	if t.fn == "LATEST_BY_OFFSET" || t.fn == "MAX" {
		return nil
	}
	return binary.AppendVarint(nil, 0)
}

func varint(b []byte) int64 { v, _ := binary.Varint(b); return v }

func (t toyAgg) Add(acc []byte, args []event.Value, seq uint64) ([]byte, error) {
	switch t.fn {
	case "COUNT":
		if len(args) > 0 && args[0].IsNull() {
			return acc, nil
		}
		return binary.AppendVarint(nil, varint(acc)+1), nil
	case "SUM":
		if args[0].IsNull() {
			return acc, nil
		}
		if args[0].AsInt() == 666 {
			return nil, errors.New("sum of the beast")
		}
		return binary.AppendVarint(nil, varint(acc)+args[0].AsInt()), nil
	case "MAX":
		if args[0].IsNull() || len(acc) > 0 && varint(acc) >= args[0].AsInt() {
			return acc, nil
		}
		return binary.AppendVarint(nil, args[0].AsInt()), nil
	}
	if args[0].IsNull() {
		return acc, nil
	}
	if len(acc) > 0 && binary.BigEndian.Uint64(acc) > seq {
		return acc, nil
	}
	return appendValue(binary.BigEndian.AppendUint64(nil, seq), args[0]), nil
}

func (t toyAgg) Undo(acc []byte, args []event.Value) ([]byte, bool, error) {
	switch t.fn {
	case "COUNT":
		if len(args) > 0 && args[0].IsNull() {
			return acc, true, nil
		}
		return binary.AppendVarint(nil, varint(acc)-1), true, nil
	case "SUM":
		if args[0].IsNull() {
			return acc, true, nil
		}
		return binary.AppendVarint(nil, varint(acc)-args[0].AsInt()), true, nil
	}
	return acc, false, nil
}

func (t toyAgg) Result(acc []byte) (event.Value, error) {
	switch t.fn {
	case "COUNT", "SUM":
		return event.Int(varint(acc)), nil
	case "MAX":
		if len(acc) == 0 {
			return event.Null, nil
		}
		return event.Int(varint(acc)), nil
	}
	if len(acc) == 0 {
		return event.Null, nil
	}
	row, err := decodeRow(append([]byte{1}, acc[8:]...))
	if err != nil {
		return event.Null, err
	}
	return row[0], nil
}

func (t toyAgg) Merge(a, b []byte) ([]byte, error) {
	switch t.fn {
	case "COUNT", "SUM":
		return binary.AppendVarint(nil, varint(a)+varint(b)), nil
	case "MAX":
		if len(a) == 0 || len(b) > 0 && varint(b) > varint(a) {
			return b, nil
		}
		return a, nil
	}
	if len(a) == 0 || len(b) > 0 && binary.BigEndian.Uint64(b) > binary.BigEndian.Uint64(a) {
		return b, nil
	}
	return a, nil
}

// toyParseTime parses ksqlDB's 'yyyy-MM-dd”T”HH:mm:ss' (the only
// pattern the tests use).
func toyParseTime(format string) (func(string) (int64, error), error) {
	if format != "yyyy-MM-dd''T''HH:mm:ss" {
		return nil, fmt.Errorf("unsupported pattern %q", format)
	}
	return func(s string) (int64, error) {
		t, err := time.Parse("2006-01-02T15:04:05", s)
		if err != nil {
			return 0, fmt.Errorf("text %q does not match %s", s, format)
		}
		return t.UnixMicro(), nil
	}, nil
}

// Plan building.

var (
	tStr = types.TString
	tInt = types.TBigint
)

func col(i int, t types.Type) ir.Expr { return &ir.Column{Index: i, T: t} }
func lit(v event.Value, t types.Type) ir.Expr {
	return &ir.Literal{Value: v, T: t}
}
func bin(op ir.BinOp, l, r ir.Expr) ir.Expr { return &ir.Binary{Op: op, L: l, R: r, T: types.TBoolean} }

func f(name string, t types.Type) types.Field { return types.Field{Name: name, Type: t} }

// pseudo are the pseudo-columns after a source's declared columns.
var pseudo = []types.Field{f(ir.RowTime, types.TTimestamp), f(ir.RowPartition, types.TInteger), f(ir.RowOffset, tInt)}

// source declares a source over stream whose sluice columns are the
// declared names in lower case.
func source(name, stream string, k ir.Kind, cols []types.Field, key ...int) *ir.Source {
	s := &ir.Source{Name: name, Stream: stream, K: k, TimestampCol: -1}
	s.S.Columns = append(append([]types.Field(nil), cols...), pseudo...)
	s.S.Key = key
	for _, c := range cols {
		s.FromColumns = append(s.FromColumns, strings.ToLower(c.Name))
	}
	return s
}

// project selects columns of n by index, with names; key indexes the
// output columns.
func project(n ir.Node, names []string, idx []int, key ...int) *ir.Project {
	p := &ir.Project{Input: n}
	in := n.Schema()
	for i, j := range idx {
		p.Exprs = append(p.Exprs, col(j, in.Columns[j].Type))
		p.S.Columns = append(p.S.Columns, f(names[i], in.Columns[j].Type))
	}
	p.S.Key = key
	return p
}

func joinSchema(l, r ir.Node) types.Schema {
	var s types.Schema
	s.Columns = append(append(s.Columns, l.Schema().Columns...), r.Schema().Columns...)
	return s
}

// Events.

func evSchema(stream string, cols ...string) *event.Schema {
	s := &event.Schema{Stream: stream, Source: strings.SplitN(stream, ".", 2)[0], Table: stream}
	for _, c := range cols {
		s.Columns = append(s.Columns, event.Column{Name: c})
	}
	s.KeyIdx = []int{0}
	return s
}

// vals turns Go values into event values: string, int, float64, nil.
func vals(xs ...any) []event.Value {
	out := make([]event.Value, len(xs))
	for i, x := range xs {
		switch x := x.(type) {
		case nil:
			out[i] = event.Null
		case string:
			out[i] = event.String(x)
		case int:
			out[i] = event.Int(int64(x))
		case float64:
			out[i] = event.Float(x)
		case bool:
			out[i] = event.Bool(x)
		case event.Value:
			out[i] = x
		default:
			panic(fmt.Sprintf("vals: %T", x))
		}
	}
	return out
}

func ins(s *event.Schema, tsSec int64, after ...any) *event.Event {
	return &event.Event{Schema: s, Op: event.OpCreate, After: vals(after...), Source: event.Source{TsUs: tsSec * 1e6}}
}

func upd(s *event.Schema, tsSec int64, after ...any) *event.Event {
	e := ins(s, tsSec, after...)
	e.Op = event.OpUpdate
	return e
}

func del(s *event.Schema, tsSec int64, before ...any) *event.Event {
	return &event.Event{Schema: s, Op: event.OpDelete, Before: vals(before...), Source: event.Source{TsUs: tsSec * 1e6}}
}

// Running.

type harness struct {
	t       testing.TB
	queries []ir.Query
	opts    Options
	st      component.State
	x       *Executor
	out     []string
}

func newHarness(t testing.TB, st component.State, opts Options, queries ...ir.Query) *harness {
	t.Helper()
	if opts.Compiler == nil {
		opts.Compiler = toyCompiler{}
	}
	if opts.ParseTime == nil {
		opts.ParseTime = toyParseTime
	}
	if st == nil {
		st = exectest.NewState()
	}
	h := &harness{t: t, queries: queries, opts: opts, st: st}
	h.restart()
	return h
}

// restart flushes and builds a new Executor on the same state.
func (h *harness) restart() {
	h.t.Helper()
	if h.x != nil {
		if err := h.x.Flush(); err != nil {
			h.t.Fatal(err)
		}
	}
	x, err := New(h.queries, h.st, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.x = x
}

// feed processes events and returns the output rows as text.
func (h *harness) feed(evs ...*event.Event) []string {
	h.t.Helper()
	var got []string
	for _, ev := range evs {
		rows, err := h.x.Process(ev.Schema.Stream, ev, nil)
		if err != nil {
			h.t.Fatalf("%s: %v", ev, err)
		}
		for _, r := range rows {
			got = append(got, rowText(r))
		}
	}
	if err := h.x.Flush(); err != nil {
		h.t.Fatal(err)
	}
	return got
}

// rowText spells an output row: topic op [key] value @time (seconds)
// [window].
func rowText(r Row) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s", r.Topic, r.Op)
	if r.Key != nil {
		sb.WriteString(" " + valsText(r.Key))
	}
	if r.Value != nil {
		sb.WriteString(" " + valsText(r.Value))
	}
	fmt.Fprintf(&sb, " @%s", secs(r.Time))
	if r.Windowed {
		fmt.Fprintf(&sb, " [%s,%s]", secs(r.WindowStart), secs(r.WindowEnd))
	}
	return sb.String()
}

func secs(us int64) string {
	if us%1e6 == 0 {
		return fmt.Sprint(us / 1e6)
	}
	return fmt.Sprintf("%gs", float64(us)/1e6)
}

func valsText(vs []event.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		switch v.Kind {
		case event.KindString:
			parts[i] = v.Str
		case event.KindFloat:
			if f := v.AsFloat(); f == math.Trunc(f) {
				parts[i] = fmt.Sprintf("%.1f", f)
			} else {
				parts[i] = v.Text()
			}
		default:
			parts[i] = v.Text()
		}
	}
	return "(" + strings.Join(parts, ",") + ")"
}

func wantRows(t testing.TB, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got rows:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
