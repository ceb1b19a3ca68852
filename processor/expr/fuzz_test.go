package expr

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// FuzzEval compiles random expressions, generically and for the all-types
// table, and evaluates them on every fixture event: nothing may panic, and
// a failure must be an *Error naming the expression.
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"num * 2 > 10.5", "round(numv, 3) == decimal('3.142')", "-cash % 7", "doc?.a[0] ?? 1", "tstz > date('2024-01-01')",
		"op in ['c', 'u'] && !snapshot", "after.i4 - before?.i4", "key.id", "$env['txt'] + meta.table", "max(num, 1, 2.5)",
		"let x = num; x / 3", "ints[1] + len(tags)", "span > duration('1h')", "upper(txt) matches '^H'", "float(num) * f8",
		`col("txt") ?? col("nope")`, `type(col("i4")) != "string" ? col("i4") : upper(col("i4"))`, `regex_replace(txt, "(l+)", "<$1>")`,
		`format_time(parse_time("2024-03-01", "2006-01-02", "UTC") ?? parse_epoch(i8, "s,ms"), "2006", "Asia/Kolkata")`,
	} {
		f.Add(s)
	}
	events := eventtest.AllTypesEvents()
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 200 || strings.Contains(src, "repeat") || strings.Contains(src, "..") {
			return // memory-hungry builtins are the configuration author's business
		}
		e, err := Compile("x", src, false)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile(%q) error %T: %v", src, err, err)
			}
			return
		}
		env := NewEnv()
		for _, ne := range events {
			p, err := e.For(ne.Event.Schema)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("For(%q) error %T: %v", src, err, err)
				}
				return
			}
			row := ne.Event.After
			if ne.Event.Op == event.OpDelete {
				row = ne.Event.Before
			}
			if _, err := p.Eval(env, ne.Event, row); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Eval(%q) on %s: error %T: %v", src, ne.Name, err, err)
				}
			}
		}
	})
}

// FuzzValues evaluates expressions on a column of any type holding any
// value (including kinds that do not fit the type) and writes the result
// back: conversions may fail with an error, never panic.
func FuzzValues(f *testing.F) {
	f.Add(uint8(event.TypeDecimal), uint8(event.KindDecimal), uint64(0), "-12.5e3", int32(2))
	f.Add(uint8(event.TypeTimeTZ), uint8(event.KindString), uint64(0), "10:00:00.5-03:30", int32(0))
	f.Add(uint8(event.TypeJSON), uint8(event.KindString), uint64(0), `{"a":[1,2.5,"x"]}`, int32(0))
	f.Add(uint8(event.TypeInterval), uint8(event.KindInterval), uint64(1<<62), "", int32(0))
	f.Add(uint8(event.TypeDate), uint8(event.KindInt), uint64(1<<63), "", int32(0))
	exprs := []string{"c", "c == c", "string(c)", "c != nil && c > c", "c ?? 1", "toJSON(c)"}
	f.Fuzz(func(t *testing.T, typ, kind uint8, num uint64, str string, scale int32) {
		col := event.Column{Name: "c", Type: event.Type(typ % 23), Scale: int(scale % 40), Precision: int(scale%40) + 5, Optional: true}
		if col.Type == event.TypeArray {
			col.Elem = &event.Column{Type: event.TypeDecimal}
		}
		s := &event.Schema{Stream: "f.s.t", Columns: []event.Column{col}}
		v := event.Value{Kind: event.Kind(kind % 10), Num: num, Str: str}
		if v.Kind == event.KindArray {
			v = event.Array([]event.Value{event.Decimal(str), event.Null})
		}
		ev := &event.Event{Op: event.OpCreate, Schema: s, After: []event.Value{v}}
		env := NewEnv()
		for _, src := range exprs {
			e, err := Compile("x", src, false)
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.For(s)
			if err != nil {
				continue // e.g. > on a type without order
			}
			out, err := p.Eval(env, ev, ev.After)
			if err != nil {
				continue
			}
			_, _ = ToValue(&s.Columns[0], out)
			_, _ = ToValue(&event.Column{Type: ColumnFor("n", p.Out).Type}, out)
		}
	})
}
