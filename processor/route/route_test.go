package route

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

func newRoute(t *testing.T, cfg Config) *Route {
	t.Helper()
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	p, err := Factory.New(&cfg, component.Env{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Route)
}

func stream(name string) *event.Schema {
	s := *eventtest.Product
	s.Stream = name
	return &s
}

func TestRename(t *testing.T) {
	for _, tc := range []struct {
		cfg      Config
		in, want string
	}{
		// Debezium's transforms.route: topic = table.
		{Config{Regex: `([^.]+)\.([^.]+)\.([^.]+)`, Replacement: "$3"}, "shop.public.orders", "orders"},
		{Config{Regex: `([^.]+)\.([^.]+)\.([^.]+)`, Replacement: "$3"}, "shop.orders", "shop.orders"},                     // no match: kept
		{Config{Regex: `([^.]+)\.([^.]+)\.([^.]+)`, Replacement: "$3"}, "a.b.c.d", "a.b.c.d"},                             // [^.] cannot span a dot
		{Config{Regex: `(.*)\.public\.(.*)`, Replacement: "$1_$2"}, "shop.public.orders", "shop_orders"},                  //
		{Config{Regex: `shop\.(.*)`, Replacement: "archive.$1"}, "shop.public.orders", "archive.public.orders"},           //
		{Config{Regex: `shop\.(.*)`, Replacement: "archive.$1"}, "eshop.public.orders", "eshop.public.orders"},            // matches must cover the name
		{Config{Regex: `(a)(b)`, Replacement: "$12"}, "ab", "a2"},                                                         // Java: group 1, then "2"
		{Config{Regex: `(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)`, Replacement: "$12-$1"}, "abcdefghijkl", "l-a"},             // 12 groups: $12
		{Config{Regex: `(?P<db>[^.]+)\.(?<tbl>.+)`, Replacement: "${tbl}@${db}"}, "shop.orders", "orders@shop"},           // named groups
		{Config{Regex: `(.+)`, Replacement: `\$1-\\$1`}, "x", `$1-\x`},                                                    // escapes
		{Config{Regex: `([a-z]+)(\d+)?`, Replacement: "$1[$2]"}, "shard", "shard[]"},                                      // unmatched group: nothing
		{Config{Regex: `a|ab`, Replacement: "X"}, "ab", "Xb"},                                                             // RegexRouter's replaceFirst
		{Config{Regex: `(?i)SHOP\.(.*)`, Replacement: "$1"}, "shop.public.orders", "public.orders"},                       // flags
		{Config{Template: "${database}.${table}"}, "fulfillment.public.product", "product_db.product"},                    //
		{Config{Template: "${source}-${schema}_${table}$$"}, "fulfillment.public.product", "fulfillment-public_product$"}, //
	} {
		r := newRoute(t, tc.cfg)
		in := *eventtest.ProductEvent()
		in.Schema = stream(tc.in)
		out, err := r.Process(context.Background(), []event.Event{in}, nil)
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		if got := out[0].Schema.Stream; got != tc.want {
			t.Errorf("%+v: %s → %s; want %s", tc.cfg, tc.in, got, tc.want)
		}
	}
}

func TestSchemas(t *testing.T) {
	r := newRoute(t, Config{Regex: `([^.]+)\.([^.]+)\.([^.]+)`, Replacement: "$3"})
	p := eventtest.ProductEvent()
	other := *p
	other.Schema = stream("two.parts")
	out, err := r.Process(context.Background(), []event.Event{*p, *p, other}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := out[0].Schema
	if o == p.Schema || o != out[1].Schema {
		t.Error("want one new output schema per input schema")
	}
	if o.Stream != "product" || o.Table != "product" || o.Version != 1 || len(o.Columns) != 8 || &o.Columns[0] != &p.Schema.Columns[0] || o.KeyIdx[0] != 0 {
		t.Errorf("output schema %+v", o)
	}
	if &out[0].After[0] != &p.After[0] || out[0].Source != p.Source || out[0].Op != p.Op {
		t.Error("the event's images or metadata changed")
	}
	if out[2].Schema != other.Schema {
		t.Error("a stream that keeps its name should keep its schema")
	}
	if p.Schema.Stream != "fulfillment.public.product" {
		t.Error("the input schema was modified")
	}
}

func TestEmptyName(t *testing.T) {
	r := newRoute(t, Config{Regex: `(.*)x`, Replacement: "$1"})
	in := *eventtest.ProductEvent()
	in.Schema = stream("x")
	out, err := r.Process(context.Background(), []event.Event{*eventtest.ProductEvent(), in}, nil)
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 1 || re[0].Index != 1 || re[0].Err.Error() != "route renames x to an empty name (hint: check the replacement or template)" {
		t.Fatalf("error = %v", err)
	}
	if len(out) != 1 || out[0].Schema.Stream != "fulfillment.public.product" {
		t.Errorf("out = %v", out)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, `regex: is missing (hint: give regex: and replacement: (e.g. regex: '([^.]+)\.([^.]+)\.([^.]+)', replacement: '$3'), or template: (e.g. '${database}.${table}'))`},
		{Config{Replacement: "$1"}, `regex: is missing; replacement needs it (hint: e.g. regex: '([^.]+)\.([^.]+)\.([^.]+)')`},
		{Config{Regex: "(.*)"}, "replacement: is missing (hint: e.g. replacement: '$3' (a stream name cannot be empty))"},
		{Config{Regex: "(.*)", Template: "${table}"}, "template: template and regex/replacement exclude each other (hint: rename by a template, or by a regex and its replacement)"},
		{Config{Regex: `(?=x)a`, Replacement: "b"}, "regex: invalid or unsupported Perl syntax: `(?=` (hint: RE2 syntax (Go's regexp): as Java's, without lookahead, lookbehind or backreferences)"},
		{Config{Regex: `(a)(b)(c)`, Replacement: "$4"}, `replacement: "$4" refers to group 4, but regex has 3 (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Regex: `(a)`, Replacement: "${x}"}, `replacement: "${x}": regex has no group named x (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Regex: `(a)`, Replacement: "${1}"}, `replacement: "${1}": ${1} is not a group name (letters and digits, starting with a letter) (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Regex: `(a)`, Replacement: "$a"}, `replacement: "$a": $ must be followed by a group number or {name} (\$ is a literal $) (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Regex: `(a)`, Replacement: "x$"}, `replacement: "x$" ends with $: a group number or {name} must follow (\$ is a literal $) (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Regex: `(a)`, Replacement: `x\`}, `replacement: "x\\" ends with \, which escapes nothing (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)`},
		{Config{Template: "${key}"}, "template: ${key} varies per row; a route names streams from the table only (hint: use ${source}, ${connector}, ${database}, ${schema}, ${table}, ${stream})"},
		{Config{Template: "${/id}"}, "template: ${/id} varies per row; a route names streams from the table only (hint: use ${source}, ${connector}, ${database}, ${schema}, ${table}, ${stream})"},
		{Config{Template: "${tabel}"}, "template: template \"${tabel}\": unknown placeholder ${tabel}; use one of ${source}, ${connector}, ${database}, ${schema}, ${table}, ${stream}, ${op}, ${key}, ${version} or ${/column}"},
	} {
		var got []string
		for _, err := range tc.cfg.Validate() {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("Validate(%+v) =\n%q\nwant\n%q", tc.cfg, got, tc.want)
		}
	}
	if !Factory.NamesStreams {
		t.Error("route names its output streams")
	}
}
