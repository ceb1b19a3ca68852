package mapper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// load decodes a map configuration as the pipeline loader does (yaml into
// the factory's struct) and validates it.
func load(t testing.TB, y string) *Config {
	t.Helper()
	cfg := Factory.Config().(*Config)
	if err := yaml.Unmarshal([]byte(y), cfg); err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	return cfg
}

func newMap(t testing.TB, y string) *Mapper {
	t.Helper()
	p, err := Factory.New(load(t, y), component.Env{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Mapper)
}

// schemaText renders a schema's columns: name:type, * for key columns, ?
// for optional ones, (p,s) for decimals.
func schemaText(s *event.Schema) string {
	var cols []string
	for _, c := range s.Columns {
		t := c.Name + ":" + c.Type.String()
		if c.Type == event.TypeDecimal {
			t += fmt.Sprintf("(%d,%d)", c.Precision, c.Scale)
		}
		if c.Key {
			t += "*"
		}
		if c.Optional {
			t += "?"
		}
		cols = append(cols, t)
	}
	return fmt.Sprintf("%s v%d key%v [%s]", s.Stream, s.Version, s.KeyIdx, strings.Join(cols, " "))
}

func imageText(s *event.Schema, img []event.Value) string {
	if img == nil {
		return "nil"
	}
	var parts []string
	for i, v := range img {
		parts = append(parts, s.Columns[i].Name+"="+v.Text())
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func eventText(e *event.Event) string {
	return fmt.Sprintf("%s %s before=%s after=%s", e.Op, schemaText(e.Schema), imageText(e.Schema, e.Before), imageText(e.Schema, e.After))
}

func process(t *testing.T, m *Mapper, in ...event.Event) (out []string, errs []string) {
	t.Helper()
	res, err := m.Process(context.Background(), in, nil)
	var re component.RecordErrors
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("Process: %v", err)
	}
	for _, e := range re {
		errs = append(errs, fmt.Sprintf("%d: %v", e.Index, e.Err))
	}
	for i := range res {
		out = append(out, eventText(&res[i]))
	}
	return out, errs
}

func check(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProduct(t *testing.T) {
	m := newMap(t, `
set: {total: "price * quantity", name: "upper(name)", in_stock: "quantity > 0"}
rename: {internalId: internal_id, id: product_id}
drop: [description]
`)
	p := eventtest.ProductEvent()
	del := *p
	del.Op, del.Before, del.After = event.OpDelete, p.After, nil
	upd := *p
	upd.Op, upd.Before = event.OpUpdate, p.After
	trunc := *p
	trunc.Op, trunc.After = event.OpTruncate, nil
	out, errs := process(t, m, *p, upd, del, trunc)
	schema := "fulfillment.public.product v1 key[0] [product_id:int32* name:string price:float64 color:string? category:string quantity:int32 internal_id:string total:float64? in_stock:bool?]"
	row := "{product_id=132 name=INCREDIBLE IRON PANTS price=0.61987811851418 color=violet category=Tools quantity=41 internal_id=B0009PC1XA total=25.41500285908138 in_stock=true}"
	check(t, out, []string{
		"c " + schema + " before=nil after=" + row,
		"u " + schema + " before=" + row + " after=" + row,
		"d " + schema + " before=" + row + " after=nil",
		"t " + schema + " before=nil after=nil",
	})
	check(t, errs, nil)
	res, _ := m.Process(context.Background(), []event.Event{*p, *p}, nil)
	if res[0].Schema != res[1].Schema {
		t.Error("two events of one schema got two output schemas")
	}
	if k := res[0].Key(); len(k) != 1 || k[0].AsInt() != 132 {
		t.Errorf("key of the mapped event = %v", k)
	}
	// The input is untouched.
	if p.Schema != eventtest.Product || p.After[1].Str != "Incredible Iron Pants" {
		t.Error("the input event was modified")
	}
}

// numeric is a table with a numeric(20,10) price, a money column and times.
var numeric = &event.Schema{
	Stream: "shop.public.items", Source: "shop", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "items", Version: 3,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt64, TypeName: "int8", Key: true},
		{Name: "price", Type: event.TypeDecimal, TypeName: "numeric", Precision: 20, Scale: 10},
		{Name: "cash", Type: event.TypeMoney, TypeName: "money", Optional: true},
		{Name: "qty", Type: event.TypeInt16, TypeName: "int2", Optional: true},
		{Name: "at", Type: event.TypeTimestampTZ, TypeName: "timestamptz", Optional: true},
		{Name: "local", Type: event.TypeTimestamp, TypeName: "timestamp", Optional: true},
		{Name: "note", Type: event.TypeString, TypeName: "text", Optional: true},
	},
	KeyIdx: []int{0},
}

func item(price string) event.Event {
	return event.Event{Op: event.OpCreate, Schema: numeric, After: []event.Value{
		event.Int(7), event.Decimal(price), event.Decimal("19.99"), event.Int(3), event.Int(1704067200123456), event.Int(0), event.Null,
	}}
}

func TestTypes(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		in           event.Event
		schema, row  string // row: the mapped after image
		err          string
	}{
		{name: "decimal keeps every digit and the column", config: `set: {price: "price * 2"}`, in: item("12.3456789012"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 price=24.6913578024 cash=19.99 qty=3 at=1704067200123456 local=0 note=NULL}"},
		{name: "trailing zeros beyond the scale are fine", config: `set: {price: "price * 1.5"}`, in: item("12.3456789012"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 price=18.51851835180 cash=19.99 qty=3 at=1704067200123456 local=0 note=NULL}"},
		{name: "digits beyond the scale are an error", config: `set: {price: "price * 1.55"}`, in: item("12.3456789012"),
			err: `0: set.price "price * 1.55": the result has more than 10 digits after the point, which numeric(20,10) cannot hold (round it: round(x, 10))`},
		{name: "round to the scale", config: `set: {price: "round(price * 1.55, 10)"}`, in: item("12.3456789012"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 price=19.1358022969 cash=19.99 qty=3 at=1704067200123456 local=0 note=NULL}"},
		{name: "new columns typed by the expression", config: `set: {total: "price * qty", half: "qty / 2", big: "qty > 2", label: "'item ' + string(id)", day: "at", later: "at + duration('1h')", span: "at - date('2024-01-01')", doc: "{'a': [1, price]}", nothing: "nil", cents: "int(cash * 100)"}`,
			in:     item("12.3456789012"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string? total:decimal(0,-1)? half:float64? big:bool? label:string? day:timestamptz? later:timestamptz? span:interval? doc:json? nothing:json? cents:int64?]",
			row:    `{id=7 price=12.3456789012 cash=19.99 qty=3 at=1704067200123456 local=0 note=NULL total=37.0370367036 half=1.5 big=true label=item 7 day=1704067200123456 later=1704070800123456 span=PT0.123456S doc={"a":[1,12.3456789012]} nothing=NULL cents=1999}`},
		{name: "a type that does not fit changes the column", config: `set: {qty: "qty / 2"}`, in: item("1"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:float64? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 price=1 cash=19.99 qty=1.5 at=1704067200123456 local=0 note=NULL}"},
		{name: "int16 range", config: `set: {qty: "qty * 20000"}`, in: item("1"),
			err: `0: set.qty "qty * 20000": the result is out of the range of int16`},
		{name: "time zones: the instant, or the wall clock", config: `set: {at: "at.In(timezone('Asia/Kolkata'))", local: "at.In(timezone('Asia/Kolkata'))"}`, in: item("1"),
			schema: "shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 price=1 cash=19.99 qty=3 at=1704067200123456 local=1704087000123456 note=NULL}"},
		{name: "NULL into a column that is not optional", config: `set: {price: "note == nil ? nil : price"}`, in: item("1"),
			err: `0: set.price "note == nil ? nil : price": the result is NULL, which column price does not take`},
		{name: "NULL key", config: `set: {id: "nil"}`, in: item("1"),
			err: `0: set.id "nil": the result is NULL, which key column id does not take`},
		{name: "NULL operand", config: `set: {n: "note + '!'"}`, in: item("1"),
			err: `0: set.n "note + '!'": invalid operation: <nil> + string at column 6 (hint: column note is NULL in this event; guard it (note != nil && ...) or give a default (note ?? ''))`},
		{name: "keep projects in order", config: `keep: [price, id]`, in: item("1.5"),
			schema: "shop.public.items v3 key[1] [price:decimal(20,10) id:int64*]",
			row:    "{price=1.5 id=7}"},
		{name: "keep without the key", config: `keep: [price, qty]`, in: item("1.5"),
			err: "0: keep: does not list id, a key column of shop.public.items; a row without its key cannot be updated or deleted downstream (hint: add id to keep)"},
		{name: "drop the key", config: `drop: [id]`, in: item("1.5"),
			err: "0: drop: id is a key column of shop.public.items; a row without its key cannot be updated or deleted downstream (hint: keep it, or rename it)"},
		{name: "swap names", config: `rename: {price: cash, cash: price}`, in: item("1.5"),
			schema: "shop.public.items v3 key[0] [id:int64* cash:decimal(20,10) price:money? qty:int16? at:timestamptz? local:timestamp? note:string?]",
			row:    "{id=7 cash=1.5 price=19.99 qty=3 at=1704067200123456 local=0 note=NULL}"},
		{name: "two columns of one name", config: `rename: {price: qty}`, in: item("1.5"),
			err: "0: rename: gives shop.public.items two columns named qty (hint: rename or drop one of them)"},
		{name: "misspelt column", config: `set: {x: "prise * 2"}`, in: item("1.5"),
			err: `0: set.x "prise * 2": column "prise" not in shop.public.items at column 1 (hint: did you mean price?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := process(t, newMap(t, tc.config), tc.in)
			if tc.err != "" {
				check(t, errs, []string{tc.err})
				check(t, out, nil)
				return
			}
			check(t, errs, nil)
			check(t, out, []string{"c " + tc.schema + " before=nil after=" + tc.row})
		})
	}
}

func TestUnchangedToast(t *testing.T) {
	// EdgeRow has unchanged TOAST values in uid, doc, ints, x and note.
	m := newMap(t, `set: {uid: "upper(uid)", doc_a: "doc?.a", both: "uid + txt", id2: "id * 2"}`)
	ev := event.Event{Op: event.OpUpdate, Schema: eventtest.AllTypes, Before: eventtest.TypicalRow(1), After: eventtest.EdgeRow(1)}
	_, errs := process(t, m, ev)
	check(t, errs, []string{`0: set.both "uid + txt": column "uid" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`})
	_, errs = process(t, newMap(t, `set: {n: "len(note)"}`), ev)
	check(t, errs, []string{`0: set.n "len(note)": reads only unchanged TOAST values the source did not send (note); a int64 column cannot be marked unchanged (text, json, bytes and array columns can) (hint: give the result as text, e.g. string(...), or compute it from columns the source always sends)`})

	m = newMap(t, `set: {uid: "upper(uid)", doc_a: "doc?.a", id2: "id * 2"}`)
	res, err := m.Process(context.Background(), []event.Event{ev}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := res[0]
	s := o.Schema
	get := func(img []event.Value, name string) string { return img[s.ColumnIndex(name)].Text() }
	for _, tc := range []struct{ got, want string }{
		{get(o.After, "uid"), "<unchanged>"}, {get(o.After, "doc_a"), "<unchanged>"}, {get(o.After, "id2"), "2"},
		{get(o.Before, "uid"), "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}, {get(o.Before, "doc_a"), "[1,2]"},
		{get(o.After, "note"), "<unchanged>"}, // not set: passes as it is
	} {
		if tc.got != tc.want {
			t.Errorf("got %s; want %s", tc.got, tc.want)
		}
	}
}

func TestRenameOnly(t *testing.T) {
	m := newMap(t, `rename: {color: colour, nope: nada}`)
	p := eventtest.ProductEvent()
	res, err := m.Process(context.Background(), []event.Event{*p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if &res[0].After[0] != &p.After[0] {
		t.Error("a rename copied the image; it should share it")
	}
	if got := schemaText(res[0].Schema); got != "fulfillment.public.product v1 key[0] [id:int32* name:string price:float64 colour:string? category:string quantity:int32 description:string? internalId:string]" {
		t.Errorf("schema %s", got)
	}
	// A table without the renamed columns keeps its schema.
	other := event.Event{Op: event.OpCreate, Schema: numeric, After: item("1").After}
	res, err = m.Process(context.Background(), []event.Event{other}, nil)
	if err != nil || res[0].Schema != numeric {
		t.Errorf("unrelated table: schema %p (want the input's), %v", res[0].Schema, err)
	}
	// A new input version gives a new output version.
	v2 := *eventtest.Product
	v2.Version = 2
	p2 := *p
	p2.Schema = &v2
	res, err = m.Process(context.Background(), []event.Event{p2}, nil)
	if err != nil || res[0].Schema.Version != 2 || res[0].Schema.Columns[3].Name != "colour" {
		t.Errorf("version 2: %s, %v", schemaText(res[0].Schema), err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`{}`, "set: the map changes nothing (hint: give set:, rename:, drop: or keep:)"},
		{`set: [a, b]`, `set: must be a mapping of column: expression (hint: e.g. set: {total_cents: "amount * 100"})`},
		{`set: {a: [1]}`, `set: the value of a must be an expression (a string) (hint: e.g. set: {total_cents: "amount * 100"})`},
		{`set: {total: "amount *"}`, `set.total: "amount *": unexpected token EOF at column 8 (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')`},
		{`{set: {b: "1"}, rename: {a: b}}`, "set.b: b is also the new name of a (rename) (hint: set a instead, or drop the rename)"},
		{`rename: {a: c, b: c}`, "rename.b: a and b are both renamed to c (hint: give each column its own name)"},
		{`{drop: [a], keep: [b]}`, "keep: keep and drop exclude each other (hint: list the columns to keep, or those to drop)"},
		{`{set: {a: "1"}, drop: [a]}`, "drop: drops a, which set assigns (hint: remove it from set or from drop)"},
		{`{rename: {a: b}, drop: [a]}`, "drop: names a, which rename turns into b (hint: drop b, or remove the rename)"},
		{`{rename: {a: b}, keep: [a]}`, "keep: names a, which rename turns into b (hint: keep b)"},
		{`keep: [a, a]`, "keep: lists a twice"},
		{`{set: {a: "1", b: "a"}, rename: {b: a, a: b}}`, ""},
	} {
		cfg := Factory.Config().(*Config)
		if err := yaml.Unmarshal([]byte(tc.yaml), cfg); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, err := range cfg.Validate() {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("%s: Validate = %q; want %q", tc.yaml, got, tc.want)
		}
	}
}

// BenchmarkMap is a projection with one computed column on seed 001's
// product row: ns and allocations per event, in batches of 1024.
func BenchmarkMap(b *testing.B) {
	for _, bc := range []struct{ name, config string }{
		{"rename", `rename: {internalId: internal_id}`},
		{"keep", `keep: [id, name, price]`},
		{"set_keep", "set: {total: \"price * quantity\"}\nkeep: [id, name, total]"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newMap(b, bc.config)
			in := make([]event.Event, 1024)
			for i := range in {
				in[i] = *eventtest.ProductEvent()
			}
			out := make([]event.Event, 0, len(in))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				out, err = m.Process(context.Background(), in, out[:0])
				if err != nil || len(out) != len(in) {
					b.Fatal(err, len(out))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/event")
		})
	}
}

func TestKeyOnlyDelete(t *testing.T) {
	// REPLICA IDENTITY DEFAULT: a delete's before image has the key and
	// NULLs. Expressions failing on those NULLs give NULL there, and only
	// there.
	m := newMap(t, `set: {price: "price * 2", label: "'#' + string(id)", n: "len(note)"}`)
	keyOnly := []event.Value{event.Int(7), event.Null, event.Null, event.Null, event.Null, event.Null, event.Null}
	del := event.Event{Op: event.OpDelete, Schema: numeric, Before: keyOnly}
	out, errs := process(t, m, del)
	check(t, errs, nil)
	check(t, out, []string{"d shop.public.items v3 key[0] [id:int64* price:decimal(20,10) cash:money? qty:int16? at:timestamptz? local:timestamp? note:string? label:string? n:int64?] before={id=7 price=NULL cash=NULL qty=NULL at=NULL local=NULL note=NULL label=#7 n=NULL} after=nil"})
	ins := event.Event{Op: event.OpCreate, Schema: numeric, After: keyOnly}
	_, errs = process(t, m, ins)
	check(t, errs, []string{`0: set.price "price * 2": invalid operation: <nil> * decimal at column 7 (hint: column price is NULL in this event; guard it (price != nil && ...) or give a default (price ?? 0))`})
}

func TestCheckSchema(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`set: {total: "price * qty"}`, ""},
		{`set: {total: "prise * qty"}`, `set.total: "prise * qty": column "prise" not in shop.public.items at column 1 (hint: did you mean price?)`},
		{`drop: [id]`, "drop: id is a key column of shop.public.items; a row without its key cannot be updated or deleted downstream (hint: keep it, or rename it)"},
		{`rename: {note: qty}`, "rename: gives shop.public.items two columns named qty (hint: rename or drop one of them)"},
	} {
		var got []string
		for _, err := range load(t, tc.yaml).CheckSchema(numeric) {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("%s: CheckSchema = %q; want %q", tc.yaml, got, tc.want)
		}
	}
}

// TestIfColumns: if_columns and unless_columns limit the map to tables
// having (or lacking) columns; other tables' events pass as they are, the
// same schema and images.
func TestIfColumns(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want string // the product's schema after the map, "" when unchanged
	}{
		{`{set: {color: "'red'"}, if_columns: [color, name]}`, "fulfillment.public.product v1 key[0] [id:int32* name:string price:float64 color:string? category:string quantity:int32 description:string? internalId:string]"},
		{`{set: {shade: "'red'"}, if_columns: [color, nope]}`, ""},
		{`{set: {shade: "'red'"}, unless_columns: [shade]}`, "fulfillment.public.product v1 key[0] [id:int32* name:string price:float64 color:string? category:string quantity:int32 description:string? internalId:string shade:string?]"},
		{`{set: {color: "'red'"}, unless_columns: [color]}`, ""},
		{`{rename: {color: shade}, if_columns: [color], unless_columns: [shade]}`, "fulfillment.public.product v1 key[0] [id:int32* name:string price:float64 shade:string? category:string quantity:int32 description:string? internalId:string]"},
	} {
		m := newMap(t, tc.yaml)
		p := eventtest.ProductEvent()
		res, err := m.Process(context.Background(), []event.Event{*p}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if tc.want == "" {
			if res[0].Schema != p.Schema || &res[0].After[0] != &p.After[0] {
				t.Errorf("%s: the event changed: %s", tc.yaml, schemaText(res[0].Schema))
			}
			continue
		}
		if got := schemaText(res[0].Schema); got != tc.want {
			t.Errorf("%s: schema %s\nwant %s", tc.yaml, got, tc.want)
		}
	}
}
