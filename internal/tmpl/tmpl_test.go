package tmpl

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
)

func testEvent() *event.Event {
	sch := &event.Schema{Stream: "shop.public.product", Source: "shop", Connector: "postgresql", Database: "db", Namespace: "public", Table: "product",
		Columns: []event.Column{{Name: "id", Key: true}, {Name: "sku", Key: true}, {Name: "name"}, {Name: "note"}}, KeyIdx: []int{0, 1}}
	return &event.Event{Schema: sch, Op: event.OpUpdate,
		After:  []event.Value{event.Int(7), event.String(`a|b\c`), event.String("Box"), event.Null},
		Source: event.Source{LSN: 0x16B3748, CommitLSN: 0x16B3800, HasLSN: true}}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"${schema}_${table}", "public_product"},
		{"${source}.${stream}/${database}/${connector}", "shop.shop.public.product/db/postgresql"},
		{"${key}", `7|a\|b\\c`},
		{"p-${/id}-${ /name }", "p-7-Box"},
		{"cost$$ ${op} ${version}", "cost$ u 23803720"},
		{"plain $text", "plain $text"},
		{"", ""},
	} {
		tp, err := Parse(tc.tmpl)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.tmpl, err)
		}
		got, err := tp.RenderString(testEvent())
		if err != nil || got != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"${tabel}", `template "${tabel}": unknown placeholder ${tabel}; use one of ${source}, ${connector}, ${database}, ${schema}, ${table}, ${stream}, ${op}, ${key}, ${version} or ${/column}`},
		{"x${table", `template "x${table": unclosed ${ at offset 1 (write $$ for a literal $)`},
		{"${/}", `template "${/}": ${/} needs a column name, e.g. ${/id}`},
	} {
		_, err := Parse(tc.tmpl)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v; want %s", tc.tmpl, err, tc.want)
		}
	}
	for _, tc := range []struct{ tmpl, want string }{
		{"${/price}", `template "${/price}": shop.public.product has no column "price"`},
		{"${/note}", `template "${/note}": column "note" of shop.public.product is NULL`},
	} {
		_, err := MustParse(tc.tmpl).RenderString(testEvent())
		if err == nil || err.Error() != tc.want {
			t.Errorf("Render(%q) error = %v; want %s", tc.tmpl, err, tc.want)
		}
	}
	e := testEvent()
	e.Schema.KeyIdx = nil
	if _, err := MustParse("${key}").RenderString(e); err == nil || !strings.Contains(err.Error(), "has no primary key") {
		t.Errorf("keyless ${key}: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"${schema}_${table}", "$$", "${", "${/a}x${key}", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			return
		}
		tp.Render(nil, testEvent())
	})
}

// The pipeline loader must leave every placeholder to the template rather
// than look it up in the environment.
func TestNamesAreLeftByTheLoader(t *testing.T) {
	for _, n := range append(Names, "/id") {
		if !config.IsTemplatePlaceholder(n) {
			t.Errorf("config.IsTemplatePlaceholder(%q) = false: the loader would read ${%s} from the environment", n, n)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	got := MustParse("$${x}${schema}_${ /id }-${table}").Placeholders()
	if strings.Join(got, ",") != "schema,/id,table" {
		t.Errorf("Placeholders = %q", got)
	}
}
