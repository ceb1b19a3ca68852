package filter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

func newFilter(t testing.TB, condition, onDelete string) *Filter {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Condition = condition
	if onDelete != "" {
		cfg.OnDelete = onDelete
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	p, err := Factory.New(cfg, component.Env{Name: "f"})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Filter)
}

func ev(op event.Op, before, after []event.Value) event.Event {
	return event.Event{Op: op, Schema: eventtest.AllTypes, Before: before, After: after, Source: eventtest.Src(event.SnapshotFalse, 23044320, 491)}
}

// run processes in and returns the kept events' ids (the key column) and
// the record errors as "index: message".
func run(t *testing.T, f *Filter, in []event.Event) (kept []string, errs []string) {
	t.Helper()
	out, err := f.Process(context.Background(), in, nil)
	var re component.RecordErrors
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("Process: %v", err)
	}
	for _, e := range re {
		errs = append(errs, strings.Join([]string{string(rune('0' + e.Index)), e.Err.Error()}, ": "))
	}
	for i := range out {
		o := &out[i]
		k := o.Op.String()
		if key := o.Key(); key != nil {
			k += key[0].Text()
		}
		kept = append(kept, k)
		// Kept events are the input events, images shared.
		var src *event.Event
		for j := range in {
			if in[j].Op == o.Op && (len(in[j].After) > 0 && len(o.After) > 0 && &in[j].After[0] == &o.After[0] || len(in[j].Before) > 0 && len(o.Before) > 0 && &in[j].Before[0] == &o.Before[0] || in[j].After == nil && in[j].Before == nil) {
				src = &in[j]
			}
		}
		if src == nil || src.Schema != o.Schema || src.Source != o.Source {
			t.Errorf("output %d is not an input event", i)
		}
	}
	return kept, errs
}

func TestFilter(t *testing.T) {
	typical, null, edge := eventtest.TypicalRow(1), eventtest.NullRow(2), eventtest.EdgeRow(3)
	batch := []event.Event{
		ev(event.OpRead, nil, typical),      // 0: i4 = 2147483647, num = 12345678.90
		ev(event.OpCreate, nil, edge),       // 1: i4 = -1, num = -0.5
		ev(event.OpUpdate, typical, edge),   // 2: after is the edge row
		ev(event.OpDelete, typical, nil),    // 3: before is the typical row
		ev(event.OpDelete, null, nil),       // 4: before is all NULL but the key
		ev(event.OpTruncate, nil, nil),      // 5
		ev(event.OpCreate, nil, null),       // 6: i4 NULL
		ev(event.OpCreate, nil, typical[:]), // 7
	}
	for _, tc := range []struct {
		name, cond, onDelete string
		kept, errs           []string
	}{
		{name: "integer compare, deletes kept", cond: "i4 == nil || i4 > 0", kept: []string{"r1", "d1", "d2", "t", "c2", "c1"}},
		{name: "NULL operand is a record error", cond: "i4 > 0", kept: []string{"r1", "d1", "d2", "t", "c1"},
			errs: []string{`6: condition "i4 > 0": invalid operation: <nil> > int at column 4 (hint: column i4 is NULL in this event; guard it (i4 != nil && ...) or give a default (i4 ?? 0))`}},
		{name: "NULL result drops", cond: "b", kept: []string{"r1", "d1", "d2", "t", "c1"}},
		{name: "evaluate deletes on the before image", cond: "i4 > 0", onDelete: DeleteEvaluate, kept: []string{"r1", "d1", "t", "c1"},
			errs: []string{
				`4: condition "i4 > 0": invalid operation: <nil> > int at column 4 (hint: column i4 is NULL in this event; guard it (i4 != nil && ...) or give a default (i4 ?? 0))`,
				`6: condition "i4 > 0": invalid operation: <nil> > int at column 4 (hint: column i4 is NULL in this event; guard it (i4 != nil && ...) or give a default (i4 ?? 0))`,
			}},
		{name: "drop deletes and truncates", cond: "i4 == nil || i4 > 0", onDelete: DeleteDrop, kept: []string{"r1", "c2", "c1"}},
		{name: "op metadata", cond: "op == 'c' && !snapshot", kept: []string{"c3", "d1", "d2", "t", "c2", "c1"}},
		{name: "decimal exact", cond: "num > 12345678.89", kept: []string{"r1", "d1", "d2", "t", "c1"},
			errs: []string{`6: condition "num > 12345678.89": invalid operation: <nil> > decimal at column 5 (hint: column num is NULL in this event; guard it (num != nil && ...) or give a default (num ?? 0))`}},
		{name: "decimal boundary", cond: "num != nil && num > 12345678.90", kept: []string{"d1", "d2", "t"}},
		{name: "time zone", cond: "tstz != nil && tstz.In(timezone('Asia/Kolkata')).Minute() == 30", kept: []string{"r1", "d1", "d2", "t", "c1"}},
		{name: "misspelt column fails every event of the schema", cond: "i5 > 0", kept: []string{"d1", "d2", "t"},
			errs: []string{
				`0: condition "i5 > 0": column "i5" not in pg.public.all_types at column 1 (hint: did you mean id?)`,
				`1: condition "i5 > 0": column "i5" not in pg.public.all_types at column 1 (hint: did you mean id?)`,
				`2: condition "i5 > 0": column "i5" not in pg.public.all_types at column 1 (hint: did you mean id?)`,
				`6: condition "i5 > 0": column "i5" not in pg.public.all_types at column 1 (hint: did you mean id?)`,
				`7: condition "i5 > 0": column "i5" not in pg.public.all_types at column 1 (hint: did you mean id?)`,
			}},
		{name: "unchanged TOAST value; NULL is not equal", cond: "uid != ''", kept: []string{"r1", "d1", "d2", "t", "c2", "c1"},
			errs: []string{
				`1: condition "uid != ''": column "uid" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`,
				`2: condition "uid != ''": column "uid" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`,
			}},
		{name: "non-boolean value", cond: "doc?.b", kept: []string{"d1", "d2", "t"},
			errs: []string{
				`0: condition "doc?.b": gave string, not a boolean (hint: a condition is true or false; compare the value, e.g. x == 'yes')`,
				`1: condition "doc?.b": column "doc" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`,
				`2: condition "doc?.b": column "doc" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`,
				`7: condition "doc?.b": gave string, not a boolean (hint: a condition is true or false; compare the value, e.g. x == 'yes')`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, errs := run(t, newFilter(t, tc.cond, tc.onDelete), batch)
			if strings.Join(kept, " ") != strings.Join(tc.kept, " ") {
				t.Errorf("kept %v; want %v", kept, tc.kept)
			}
			if strings.Join(errs, "\n") != strings.Join(tc.errs, "\n") {
				t.Errorf("record errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tc.errs, "\n"))
			}
		})
	}
}

func TestSchemaChange(t *testing.T) {
	// A misspelt column fails the events of the table that lacks it, not
	// the others; a new schema version is compiled afresh.
	f := newFilter(t, "quantity > 40", "")
	p1 := eventtest.ProductEvent()
	other := *eventtest.AllTypes
	other.Stream = "pg.public.other"
	v2 := *eventtest.Product
	v2.Version = 2
	v2.Columns = append([]event.Column(nil), v2.Columns...)
	v2.Columns[5].Name = "qty"
	p2 := *p1
	p2.Schema = &v2
	in := []event.Event{*p1, {Op: event.OpCreate, Schema: &other, After: eventtest.TypicalRow(9)}, p2, *p1}
	out, err := f.Process(context.Background(), in, nil)
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 2 {
		t.Fatalf("Process error = %v; want 2 record errors", err)
	}
	want := []string{
		`condition "quantity > 40": column "quantity" not in pg.public.other at column 1 (hint: columns: id, b, i2, i4, i8, f4, f8, num, numv, cash, txt, bin, uid, doc, day, tm, tm3, tmtz, ts, ts3, ...; metadata: op, stream, table, schema, namespace, database, source, connector, key, ts_ms, ts_us, snapshot)`,
		`condition "quantity > 40": column "quantity" not in fulfillment.public.product at column 1 (hint: columns: id, name, price, color, category, quantity, description, internalId; metadata: op, stream, table, schema, namespace, database, source, connector, key, ts_ms, ts_us, snapshot)`,
	}
	if re[0].Index != 1 || re[0].Err.Error() != want[0] || re[1].Index != 2 || !strings.Contains(re[1].Err.Error(), `column "quantity" not in fulfillment.public.product`) {
		t.Errorf("record errors = %v", re)
	}
	if len(out) != 2 || out[0].Schema != eventtest.Product || out[1].Schema != eventtest.Product {
		t.Errorf("kept %d events; want both version-1 product rows", len(out))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{OnDelete: "keep"}, "condition: is required (hint: e.g. condition: amount > 100 && status != 'cancelled')"},
		{Config{Condition: "amount >", OnDelete: "keep"}, `condition: "amount >": unexpected token EOF at column 8 (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')`},
		{Config{Condition: "amount * 2", OnDelete: "keep"}, ""},
		{Config{Condition: "len(name)", OnDelete: "keep"}, `condition: "len(name)": gives int, not a boolean (hint: a condition is true or false, e.g. amount > 100; compare a value with ==, or test for NULL with x != nil)`},
		{Config{Condition: "status == 'x'", OnDelete: "skip"}, `on_delete: "skip" is not a mode (hint: keep (the default), evaluate or drop)`},
	} {
		var got []string
		for _, err := range tc.cfg.Validate() {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("Validate(%+v) = %q; want %q", tc.cfg, got, tc.want)
		}
	}
	if _, err := Factory.New(&Config{Condition: "(", OnDelete: "keep"}, component.Env{}); err == nil {
		t.Error("New accepted an invalid condition")
	}
}

// BenchmarkFilter is the filter on seed 001's product row: ns and
// allocations per event, in batches of 1024.
func BenchmarkFilter(b *testing.B) {
	for _, cond := range []string{"price > 0.5", "quantity > 10 && category == 'Tools' && op != 'd'"} {
		b.Run(cond, func(b *testing.B) {
			f := newFilter(b, cond, "")
			in := make([]event.Event, 1024)
			for i := range in {
				in[i] = *eventtest.ProductEvent()
			}
			out := make([]event.Event, 0, len(in))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				out, err = f.Process(context.Background(), in, out[:0])
				if err != nil || len(out) != len(in) {
					b.Fatal(err, len(out))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/event")
		})
	}
}

func TestCheckSchema(t *testing.T) {
	for _, tc := range []struct{ cond, want string }{
		{"price > 0.5 && quantity > 10", ""},
		{"prise > 0.5", `condition: "prise > 0.5": column "prise" not in fulfillment.public.product at column 1 (hint: did you mean price?)`},
		{"name > 3", `condition: "name > 3": invalid operation: > (mismatched types string and int) at column 6`},
	} {
		cfg := DefaultConfig()
		cfg.Condition = tc.cond
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatal(errs)
		}
		var got []string
		for _, err := range cfg.CheckSchema(eventtest.Product) {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("%s: CheckSchema = %q; want %q", tc.cond, got, tc.want)
		}
	}
}
