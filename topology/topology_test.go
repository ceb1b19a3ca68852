package topology

import (
	"strings"
	"testing"
)

func src(name string) *Node {
	return &Node{Kind: KindSource, Name: name, Pos: Pos{File: "p.yaml", Line: 1}}
}

func proc(name string, line int, names bool, inputs ...string) *Node {
	return &Node{Kind: KindProcessor, Name: name, Inputs: inputs, NamesStreams: names,
		Pos: Pos{File: "p.yaml", Line: line}, InputsPos: Pos{File: "p.yaml", Line: line + 1}}
}

func sink(name string, line int, inputs ...string) *Node {
	return &Node{Kind: KindSink, Name: name, Inputs: inputs, Pos: Pos{File: "p.yaml", Line: line}, InputsPos: Pos{File: "p.yaml", Line: line + 1}}
}

func diags(g *Graph) string {
	var s []string
	for _, d := range g.Validate() {
		s = append(s, d.Error())
	}
	return strings.Join(s, "\n")
}

func TestSelects(t *testing.T) {
	shop := src("shop")
	filter := proc("big", 10, false, "shop")
	route := proc("topics", 20, true, "big")
	cases := []struct {
		p      string
		from   *Node
		stream string
		before bool
		want   bool
	}{
		{"shop", shop, "shop.public.product", true, true},
		{"shop.public.product", shop, "shop.public.product", true, true},
		{"shop.public.*", shop, "shop.public.product", true, true},
		{"shop.other.*", shop, "shop.public.product", true, false},
		{"sh*", shop, "shop.public.product", true, true},
		{"*", shop, "shop.public.product", true, true},
		{"shopx", shop, "shop.public.product", true, false},
		// A filter's output is reached through its name only.
		{"big", filter, "shop.public.product", true, true},
		{"shop.public.*", filter, "shop.public.product", true, false},
		{"*", filter, "shop.public.product", true, false},
		// A route's streams are reached by name and by glob, from later nodes.
		{"topics", route, "product", true, true},
		{"product", route, "product", true, true},
		{"prod*", route, "product", true, true},
		{"prod*", route, "product", false, false},
		// A node name wins over a stream of the same name.
		{"shop", route, "shop", true, true},
	}
	for _, c := range cases {
		if got := Selects(c.p, c.from, c.stream, c.before); got != c.want {
			t.Errorf("Selects(%q, %s, %q, %v) = %v", c.p, c.from.Name, c.stream, c.before, got)
		}
	}
}

func TestMaySelect(t *testing.T) {
	shop := src("shop")
	kin := &Node{Kind: KindSource, Name: "kin", ForeignStreams: true}
	cases := []struct {
		p    string
		from *Node
		want bool
	}{
		{"shop", shop, true},
		{"shop.public.x", shop, true},
		{"sh*", shop, true},
		{"*x", shop, true}, // '*' spans dots: matches shop.public.x
		{"*.orders", shop, true},
		{"s?op.*", shop, true},
		{"[rs]hop.*", shop, true},
		{"[a-r]hop.*", shop, false},
		{"shpo", shop, false},
		{"shop", kin, false},
		{"pg.public.items", kin, true},
		{"kni", kin, false},
	}
	for _, c := range cases {
		if got := MaySelect(c.p, c.from); got != c.want {
			t.Errorf("MaySelect(%q, %s) = %v", c.p, c.from.Name, got)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	g := &Graph{File: "p.yaml",
		Sources: []*Node{src("shop")},
		Processors: []*Node{
			proc("a", 10, false, "b"),
			proc("b", 20, false, "a"),
			proc("lonely", 30, false, "shop"),
			proc("self", 40, false, "self"),
		},
		Sinks: []*Node{
			sink("out", 50, "shpo"),
			sink("a", 60, "shop"),
			sink("chain", 70, "out"),
			sink("fine", 80, "a", "b", "shop.public.*"),
		},
	}
	want := `p.yaml:11: processors.a.inputs: processors form a cycle: a → b → a (hint: a processor cannot read its own output, directly or through others)
p.yaml:30: warning: processors.lonely: no sink or processor reads this processor's output (hint: add its name to the inputs: of a sink)
p.yaml:40: warning: processors.self: no sink or processor reads this processor's output (hint: add its name to the inputs: of a sink)
p.yaml:41: processors.self.inputs: input "self" is the processor itself (hint: name a source, a processor, a stream like source.schema.table, or a glob)
p.yaml:51: sinks.out.inputs: input "shpo" matches no source or processor (sources: shop; processors: a, b, lonely, self) (hint: name a source, a stream like source.schema.table, or a glob)
p.yaml:60: sinks.a: name is already used by a processor (hint: give every component its own name)
p.yaml:71: sinks.chain.inputs: input "out" is a sink (hint: sinks have no output; name a source or a processor)`
	if got := diags(g); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestOrder(t *testing.T) {
	g := &Graph{Processors: []*Node{
		proc("sink_side", 1, false, "mid"),
		proc("mid", 2, true, "first"),
		proc("first", 3, false, "shop"),
		proc("other", 4, false, "shop"),
	}}
	order, err := g.Order()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range order {
		names = append(names, n.Name)
	}
	if got := strings.Join(names, " "); got != "first mid sink_side other" {
		t.Fatalf("order %s", got)
	}
}

func TestNamedStreamsOfLaterProcessorsAreNotInputs(t *testing.T) {
	// A glob of a processor selects named streams of processors before it
	// only; the route after it is not its input, so there is no cycle.
	g := &Graph{File: "p.yaml",
		Sources: []*Node{src("shop")},
		Processors: []*Node{
			proc("keep", 10, false, "shop.*"),
			proc("rename", 20, true, "keep"),
		},
		Sinks: []*Node{sink("out", 30, "orders")},
	}
	if got := diags(g); got != "" {
		t.Fatalf("unexpected problems:\n%s", got)
	}
}
