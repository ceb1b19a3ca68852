package mysql

import (
	"fmt"
	"math"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// loadValues are values of every kind, with the edge cases of each.
var loadValues = []event.Value{
	event.Null, event.Unchanged, event.Bool(true), event.Bool(false),
	event.Int(0), event.Int(-7), event.Int(19000), event.Int(45296789012), event.Int(1717171717171717),
	event.Int(math.MaxInt64), event.Int(math.MinInt64), event.Int(math.MaxInt32), event.Int(math.MinInt32),
	event.Float(0), event.Float(math.Copysign(0, -1)), event.Float(0.1), event.Float(1e300),
	event.Float(math.NaN()), event.Float(math.Inf(1)), event.Float(math.Inf(-1)),
	event.Decimal("-12.3400"), event.Decimal("NaN"),
	event.String(""), event.String(`\N`), event.String("a\tb\nc\rd\\e\x00f"), event.String("é😀"), event.String("12:34:56.5Z"),
	event.Bytes([]byte{0, '\t', 0xff, '\\'}),
	event.Interval(3600000000, "PT1H"), event.Interval(5, ""),
	event.Array([]event.Value{event.Int(1), event.Null}), event.Array(nil),
}

// TestLoadValueMatchesArg: for every column type and value kind, the text
// the streamed load encodes straight from the event value
// (appendLoadValue) is the text of the argument the statements send
// (appendArg of sqlsink.MySQLArg), with the same error, and need names
// the class that argument needs (what CopyInsert's loadable checks).
func TestLoadValueMatchesArg(t *testing.T) {
	t.Parallel()
	vals := loadValues
	classOfArg := func(x any) colClass {
		switch x.(type) {
		case int64:
			return colInt
		case float64:
			return colFloat
		}
		return colOther
	}
	n := 0
	for typ := event.TypeUnknown; typ <= event.TypeInet; typ++ {
		c := &event.Column{Name: "c", Type: typ}
		if typ == event.TypeArray {
			c.Elem = &event.Column{Name: "c", Type: event.TypeInt64}
		}
		for _, v := range vals {
			n++
			what := fmt.Sprintf("%v of kind %d (%q, %d)", typ, v.Kind, v.Str, v.Num)
			x, aerr := sqlsink.MySQLArg(c, v)
			got, err := appendLoadValue([]byte("pre|"), c, v)
			if (err == nil) != (aerr == nil) || err != nil && err.Error() != aerr.Error() {
				t.Errorf("%s: error %v, want %v", what, err, aerr)
				continue
			}
			if aerr != nil {
				continue
			}
			if want := string(appendArg([]byte("pre|"), x)); string(got) != want {
				t.Errorf("%s: %q, want %q", what, got, want)
			}
			if got, want := need(c, v), classOfArg(x); got != want {
				t.Errorf("%s: need %d, want %d (argument %T)", what, got, want, x)
			}
		}
	}
	if n < 600 {
		t.Fatalf("only %d cases", n)
	}
}

// TestLoadsAsText: StartCopy's check of a group (loadsAsText, which asks
// need only where a column's class can refuse the value) is exactly "need
// of every value is at most its column's class", for every column type,
// value kind and class, and a soft-delete column after the values must
// take integers.
func TestLoadsAsText(t *testing.T) {
	t.Parallel()
	n := 0
	for typ := event.TypeUnknown; typ <= event.TypeInet; typ++ {
		s := &event.Schema{Columns: []event.Column{{Name: "c", Type: typ}}}
		if typ == event.TypeArray {
			s.Columns[0].Elem = &event.Column{Name: "c", Type: event.TypeInt64}
		}
		for _, v := range loadValues {
			rows := []sqlsink.Row{{Schema: s, Vals: []event.Value{event.Null}}, {Schema: s, Vals: []event.Value{v}}}
			for _, cl := range []colClass{colOther, colInt, colFloat} {
				n++
				want := need(&s.Columns[0], v) <= cl
				if got := loadsAsText([]colClass{cl}, rows); got != want {
					t.Errorf("%v of kind %d (%q) into class %d: %v, want %v", typ, v.Kind, v.Str, cl, got, want)
				}
				for _, soft := range []colClass{colOther, colInt, colFloat} {
					if got := loadsAsText([]colClass{cl, soft}, rows); got != (want && soft >= colInt) {
						t.Errorf("%v of kind %d (%q) into class %d, soft-delete column of class %d: %v", typ, v.Kind, v.Str, cl, soft, got)
					}
				}
			}
		}
	}
	if n < 1800 {
		t.Fatalf("only %d cases", n)
	}
	if loadsAsText([]colClass{colFloat}, []sqlsink.Row{{Schema: &event.Schema{Columns: []event.Column{{Name: "c"}}}, Vals: []event.Value{event.Int(1), event.Int(2)}}}) {
		t.Error("a row of more values than its schema's columns was taken")
	}
}
