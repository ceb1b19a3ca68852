package dataprepper

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/topology"
)

// processorsFile uses every translated processor and a route.
const processorsFile = `p:
  source:
    mongodb:
      host: "localhost"
      collections:
        - collection: "demo.c"
  processor:
    - add_entries:
        entries:
          - {key: source_system, value: "mongo"}
          - {key: status, value: "new"}
          - {key: label, format: "${/name}-${/qty}", overwrite_if_key_exists: true}
    - copy_values:
        entries:
          - {from_key: name, to_key: name_copy}
    - rename_keys:
        entries:
          - {from_key: qty, to_key: quantity}
          - {from_key: old, to_key: status, overwrite_if_to_key_exists: true}
    - delete_entries:
        with_keys: [secret, nope]
    - lowercase_string: {with_keys: [name]}
    - uppercase_string: {with_keys: [code]}
    - trim_string: {with_keys: [note]}
    - drop_events:
        drop_when: '/status == "deleted"'
    - drop_events:
        drop_when: 'not (/quantity <= 1000)'
  route:
    - big: '/quantity > 100'
    - a_name: '/name =~ "a.*"'
  sink:
    - opensearch: {hosts: ["http://localhost:9200"], index: all}
    - opensearch: {hosts: ["http://localhost:9200"], index: big, routes: [big, a_name]}
`

// TestProcessorsExplained: the translation, node by node.
func TestProcessorsExplained(t *testing.T) {
	tr, err := Translate("p.yaml", []byte(processorsFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tr.Explain("p.yaml"))
	i := strings.Index(got, "processors:")
	j := strings.Index(got, "sinks:")
	want := `processors:
  p-p1:
    type: map
    inputs:
      - p
    set:
      source_system: '"mongo"'
    unless_columns:
      - source_system
  p-p1-2:
    type: map
    inputs:
      - p-p1
    set:
      status: '"new"'
    unless_columns:
      - status
  p-p1-3:
    type: map
    inputs:
      - p-p1-2
    set:
      label: 'name == nil || qty == nil ? label : string(name) + "-" + string(qty)'
    if_columns:
      - label
      - name
      - qty
  p-p1-4:
    type: map
    inputs:
      - p-p1-3
    set:
      label: 'name == nil || qty == nil ? nil : string(name) + "-" + string(qty)'
    if_columns:
      - name
      - qty
    unless_columns:
      - label
  p-p2:
    type: map
    inputs:
      - p-p1-4
    set:
      name_copy: name
    if_columns:
      - name
    unless_columns:
      - name_copy
  p-p3:
    type: map
    inputs:
      - p-p2
    rename:
      qty: quantity
    unless_columns:
      - quantity
  p-p3-2:
    type: map
    inputs:
      - p-p3
    drop:
      - status
    if_columns:
      - old
  p-p3-3:
    type: map
    inputs:
      - p-p3-2
    rename:
      old: status
  p-p4:
    type: map
    inputs:
      - p-p3-3
    drop:
      - secret
      - nope
  p-p5:
    type: map
    inputs:
      - p-p4
    set:
      name: 'type(col("name")) != "string" ? col("name") : lower(col("name"))'
    if_columns:
      - name
  p-p6:
    type: map
    inputs:
      - p-p5
    set:
      code: 'type(col("code")) != "string" ? col("code") : upper(col("code"))'
    if_columns:
      - code
  p-p7:
    type: map
    inputs:
      - p-p6
    set:
      note: 'type(col("note")) != "string" ? col("note") : trim(col("note"), "\x00\x01\x02\x03\x04\x05\x06\a\b\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")'
    if_columns:
      - note
  p-p8:
    type: filter
    inputs:
      - p-p7
    condition: '!(true && (col("status") == "deleted"))'
  p-p9:
    type: filter
    inputs:
      - p-p8
    condition: '!(col("quantity") != nil && (!((col("quantity") <= 1000))))'
  p-opensearch-2-routes:
    type: filter
    inputs:
      - p-p9
    condition: (col("quantity") != nil && (col("quantity") > 100)) || (type(col("name")) == "string" && (col("name") matches "^(?:a.*)$$"))
`
	if i < 0 || j < i || got[i:j] != want {
		t.Fatalf("explained:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(got, "  p-opensearch:\n    type: opensearch\n    inputs:\n      - p-p9\n") ||
		!strings.Contains(got, "  p-opensearch-2:\n    type: opensearch\n    inputs:\n      - p-opensearch-2-routes\n") {
		t.Fatalf("sinks' inputs:\n%s", got[j:])
	}
}

func col(name string, typ event.Type, key bool) event.Column {
	return event.Column{Name: name, Type: typ, Optional: !key, Key: key}
}

func schemaOf(version int, cols ...event.Column) *event.Schema {
	s := &event.Schema{Stream: "p.demo.c", Source: "p", Connector: "mongodb", Database: "demo", Table: "c", Version: version, Columns: cols}
	for i, c := range cols {
		if c.Key {
			s.KeyIdx = append(s.KeyIdx, i)
		}
	}
	return s
}

// render is an image as Data Prepper's document would print, fields in
// column order.
func render(ev event.Event) string {
	img := ev.After
	if ev.Op == event.OpDelete {
		img = ev.Before
	}
	var b strings.Builder
	b.WriteString(string(ev.Op) + "{")
	for i, c := range ev.Schema.Columns {
		if i > 0 {
			b.WriteString(" ")
		}
		v := "null"
		if !img[i].IsNull() {
			v = fmt.Sprintf("%q", img[i].Text())
		}
		b.WriteString(c.Name + ":" + v)
	}
	return b.String() + "}"
}

// run passes events through the translated processors: the chain to the
// first sink, then the second sink's route filter.
func run(t *testing.T, g *topology.Graph, in []event.Event) (all, big []string) {
	t.Helper()
	reg := registry.Default()
	procs := map[string]component.Processor{}
	for _, n := range g.Processors {
		p, err := reg.Processors[n.Type].New(n.Config, component.Env{Name: n.Name, Pipeline: g.Name})
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		procs[n.Name] = p
	}
	evs := in
	for _, n := range g.Processors {
		if n.Name == "p-opensearch-2-routes" {
			continue
		}
		out, err := procs[n.Name].Process(context.Background(), evs, nil)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		evs = out
	}
	for _, e := range evs {
		all = append(all, render(e))
	}
	out, err := procs["p-opensearch-2-routes"].Process(context.Background(), evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out {
		big = append(big, render(e))
	}
	return all, big
}

// TestProcessorsSemantics runs documents of several shapes through the
// translation and checks what reaches each sink against Data Prepper's
// rules (each case says which).
func TestProcessorsSemantics(t *testing.T) {
	g, _ := load(t, "p.yaml", []byte(processorsFile), nil)
	str, i64 := event.TypeString, event.TypeInt64
	s1 := schemaOf(1, col("_id", i64, true), col("name", str, false), col("qty", i64, false), col("secret", str, false), col("code", str, false), col("note", str, false))
	s2 := schemaOf(2, col("_id", i64, true), col("name", str, false), col("status", str, false), col("old", str, false), col("qty", i64, false))
	s3 := schemaOf(3, col("_id", i64, true), col("name", i64, false), col("code", i64, false))
	ins := func(s *event.Schema, vals ...event.Value) event.Event {
		return event.Event{Op: event.OpCreate, Schema: s, After: vals}
	}
	S, I, N := event.String, event.Int, event.Value{}
	in := []event.Event{
		// Every key present: status added (absent), label formatted,
		// name copied, qty renamed, secret deleted, strings changed.
		ins(s1, I(1), S("Apple"), I(150), S("s"), S("ab"), S("  hi\t")),
		// status exists (kept), then replaced by old (overwrite):
		// "deleted" drops the document.
		ins(s2, I(2), S("Banana"), S("active"), S("deleted"), I(3)),
		// old replaces status, "kept"; qty null: label null (Data
		// Prepper leaves it out), quantity null: the second
		// drop_events' comparison fails, which keeps the event (skip).
		ins(s2, I(3), S("Cherry"), S("x"), S("kept"), N),
		// Not strings: lower/upper leave them; no qty: no label (the
		// entry is skipped), routes' comparisons fail: not routed.
		ins(s3, I(4), I(7), I(8)),
		// quantity above 1000: dropped.
		ins(s1, I(5), S("Date"), I(5000), S("s"), S("x"), S("y")),
		// A delete passes the filters (sluice's on_delete: keep); its
		// before image is mapped as a document would be.
		{Op: event.OpDelete, Schema: s1, Before: []event.Value{I(6), N, N, N, N, N}},
	}
	all, big := run(t, g, in)
	wantAll := []string{
		`c{_id:"1" name:"apple" quantity:"150" code:"AB" note:"hi" source_system:"mongo" status:"new" label:"Apple-150" name_copy:"Apple"}`,
		`c{_id:"3" name:"cherry" status:"kept" quantity:null source_system:"mongo" label:null name_copy:"Cherry"}`,
		`c{_id:"4" name:"7" code:"8" source_system:"mongo" status:"new" name_copy:"7"}`,
		`d{_id:"6" name:null quantity:null code:null note:null source_system:"mongo" status:"new" label:null name_copy:null}`,
	}
	wantBig := []string{wantAll[0], wantAll[3]} // apple: both routes; cherry, 7: neither
	if strings.Join(all, "\n") != strings.Join(wantAll, "\n") {
		t.Errorf("all:\n%s\nwant:\n%s", strings.Join(all, "\n"), strings.Join(wantAll, "\n"))
	}
	if strings.Join(big, "\n") != strings.Join(wantBig, "\n") {
		t.Errorf("routed:\n%s\nwant:\n%s", strings.Join(big, "\n"), strings.Join(wantBig, "\n"))
	}
}

// TestConditions: Data Prepper conditions and their guards, exactly.
func TestConditions(t *testing.T) {
	for _, tc := range []struct{ src, cond, guard string }{
		{`/a == "x"`, `col("a") == "x"`, `true`},
		{`/a != null and /b > 1.5`, `(col("a") != nil && col("b") > 1.5)`, `col("b") != nil`},
		{`/flag`, `col("flag") == true`, `type(col("flag")) == "bool"`},
		{`not /flag or /n <= -2`, `!(col("flag") == true) || col("n") <= -2`, `type(col("flag")) == "bool" && col("n") != nil`},
		{`/s !~ "a|b"`, `!(col("s") matches "^(?:a|b)$$")`, `type(col("s")) == "string"`},
		{`/odd-name == "it's \"q\""`, `col("odd-name") == "it's \"q\""`, `true`},
		{`/price >= /min`, `col("price") >= col("min")`, `col("price") != nil && col("min") != nil`},
	} {
		cond, guard, err := translateCondition(tc.src)
		if err != nil || cond != tc.cond || guard != tc.guard {
			t.Errorf("%s:\n got %s | %s | %v\nwant %s | %s", tc.src, cond, guard, err, tc.cond, tc.guard)
		}
	}
	for _, tc := range []struct{ src, want string }{
		{`/a ==`, "an operand is missing at the end"},
		{`(/a == 1`, "a ( at 1 is not closed"},
		{`/a == "x`, "an unclosed string at 7"},
		{`/a/b == 1`, "key /a/b is not translated: sluice translates top-level keys"},
		{`/a == 1 /b`, `"/b" at 9 is not translated`},
		{`/a & 1`, `"&" at 4 is not translated`},
		{`getMetadata("x") == 1`, "function getMetadata() is not translated"},
		{`""`, `"" is not a condition (true or false)`},
		{`/a == 1 and 5`, `5 is not a condition (true or false)`},
	} {
		_, _, err := translateCondition(tc.src)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.src, err, tc.want)
		}
	}
}

// TestSubstituteString: Java's replacement syntax rewritten for
// regex_replace, and what it does to documents.
func TestSubstituteString(t *testing.T) {
	re := regexp.MustCompile(`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(?<last>l)`)
	for _, tc := range []struct{ in, want, err string }{
		{`$1-$2`, `${1}-${2}`, ""},
		{`$12x`, `${12}x`, ""},
		{`$13`, `${1}3`, ""},
		{`${last}\$\\`, `${last}$$\`, ""},
		{`$x`, "", `replacement "$x" has a $ that is not a group reference (write \$ for a $)`},
		{`${nope}`, "", `replacement "${nope}" names a group the pattern lacks`},
	} {
		got, err := javaReplacement(tc.in, re)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%s: %q %v; want %q %s", tc.in, got, err, tc.want, tc.err)
		}
	}
	const file = `p:
  source:
    mongodb:
      host: "localhost"
      collections:
        - collection: "demo.c"
  processor:
    - substitute_string:
        entries:
          - {source: path, from: "/+", to: "/"}
          - {source: name, from: "(\\w+) (\\w+)", to: "$2, $1 \\$"}
  sink:
    - opensearch: {hosts: ["http://localhost:9200"], index: all}
`
	g, _ := load(t, "p.yaml", []byte(file), nil)
	s := schemaOf(1, col("_id", event.TypeInt64, true), col("path", event.TypeString, false), col("name", event.TypeInt64, false))
	s2 := schemaOf(2, col("_id", event.TypeInt64, true), col("name", event.TypeString, false))
	in := []event.Event{
		{Op: event.OpCreate, Schema: s, After: []event.Value{event.Int(1), event.String("//a///b/"), event.Int(5)}},
		{Op: event.OpCreate, Schema: s2, After: []event.Value{event.Int(2), event.String("Ada Lovelace")}},
	}
	reg := registry.Default()
	evs := in
	for _, n := range g.Processors {
		p, err := reg.Processors[n.Type].New(n.Config, component.Env{Name: n.Name})
		if err != nil {
			t.Fatal(err)
		}
		if evs, err = p.Process(context.Background(), evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, e := range evs {
		got = append(got, render(e))
	}
	want := `c{_id:"1" path:"/a/b/" name:"5"}` + "\n" + `c{_id:"2" name:"Lovelace, Ada $"}`
	if strings.Join(got, "\n") != want {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

// runProcessors passes events through every processor of g, in order.
func runProcessors(t *testing.T, g *topology.Graph, in []event.Event) []string {
	t.Helper()
	reg := registry.Default()
	evs := in
	for _, n := range g.Processors {
		p, err := reg.Processors[n.Type].New(n.Config, component.Env{Name: n.Name})
		if err != nil {
			t.Fatal(err)
		}
		if evs, err = p.Process(context.Background(), evs, nil); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
	}
	var got []string
	for _, e := range evs {
		got = append(got, render(e))
	}
	return got
}

// dateFile uses the date processor three ways.
const dateFile = `p:
  source:
    mongodb:
      host: "localhost"
      collections:
        - collection: "demo.c"
  processor:
    - date:
        match:
          - key: ts
            patterns: ["dd/MMM/yyyy:HH:mm:ss Z", "yyyy-MM-dd HH:mm", "MMM d HH:mm", epoch_second, epoch_milli]
        source_timezone: Asia/Kolkata
        destination_timezone: UTC
        destination: when
    - date:
        match:
          - {key: ts, patterns: [epoch_milli]}
        output_format: epoch_second
        destination: secs
        source_timezone: UTC
        destination_timezone: UTC
    - date:
        from_time_received: true
        destination: received
        destination_timezone: UTC
  sink:
    - opensearch: {hosts: ["http://localhost:9200"], index: all}
`

// TestDate: the date processor's patterns (Java's, converted), epochs
// told by their digits, today's date where a pattern lacks it, zones,
// output formats, and from_time_received.
func TestDate(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2006-01-02T15:04:05.000Z07:00", ""},
		{"dd/MMM/yyyy:HH:mm:ss Z", "02/Jan/2006:15:04:05 -0700", ""},
		{"EEE, d MMMM yy h:mm a", "Mon, 2 January 06 3:04 PM", ""},
		{"HH:mm", "15:04", ""},
		{"yyyy-MM-dd'at'HH", "", `pattern "yyyy-MM-dd'at'HH": the literal "at" is not translated (Go layouts read digits and words in it as fields)`},
		{"yyyy-MM-dd VV", "", `pattern "yyyy-MM-dd VV": "VV" is not translated`},
		{"ss SSS", "", `pattern "ss SSS": fractions of a second (S) are translated after a . or ,`},
	} {
		l, err := goLayout(tc.in, false)
		if l.layout != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%s: %q %v; want %q %s", tc.in, l.layout, err, tc.want, tc.err)
		}
	}
	g, tr := load(t, "p.yaml", []byte(dateFile), nil)
	if len(tr.Notes) != 0 {
		t.Errorf("notes: %v", tr.Notes)
	}
	s := schemaOf(1, col("_id", event.TypeInt64, true), col("ts", event.TypeString, false))
	sn := schemaOf(2, col("_id", event.TypeInt64, true), col("ts", event.TypeInt64, false), col("when", event.TypeString, false))
	ins := func(s *event.Schema, vals ...event.Value) event.Event {
		return event.Event{Op: event.OpCreate, Schema: s, After: vals}
	}
	year := time.Now().In(time.FixedZone("IST", 19800)).Format("2006")
	got := runProcessors(t, g, []event.Event{
		ins(s, event.Int(1), event.String("01/Mar/2024:10:20:30 +0200")),
		ins(s, event.Int(2), event.String("2024-03-01 10:20")),                // Asia/Kolkata: 04:50 UTC
		ins(s, event.Int(3), event.String("Mar 1 10:20")),                     // this year
		ins(s, event.Int(4), event.String("not a date")),                      // when: null, secs: null
		ins(sn, event.Int(5), event.Int(1709288430123), event.String("kept")), // epoch_milli
		ins(sn, event.Int(6), event.Int(1709288430), event.String("kept")),    // seconds: not for secs
	})
	received := regexp.MustCompile(`received:"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	want := []string{
		`c{_id:"1" ts:"01/Mar/2024:10:20:30 +0200" when:"2024-03-01T08:20:30.000Z" secs:null received:R}`,
		`c{_id:"2" ts:"2024-03-01 10:20" when:"2024-03-01T04:50:00.000Z" secs:null received:R}`,
		`c{_id:"3" ts:"Mar 1 10:20" when:"` + year + `-03-01T04:50:00.000Z" secs:null received:R}`,
		`c{_id:"4" ts:"not a date" when:null secs:null received:R}`,
		`c{_id:"5" ts:"1709288430123" when:"2024-03-01T10:20:30.123Z" secs:"1709288430" received:R}`,
		`c{_id:"6" ts:"1709288430" when:"2024-03-01T10:20:30.000Z" secs:null received:R}`,
	}
	for i := range got {
		got[i] = received.ReplaceAllString(got[i], "received:R")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
