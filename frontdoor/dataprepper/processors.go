package dataprepper

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Processors: each Data Prepper processor (or entry of one, where Data
// Prepper applies entries one after the other) becomes a sluice map or
// filter, chained in the file's order between the source and the sinks.
// Data Prepper acts on a JSON document where "the key exists" decides; a
// sluice row's columns are the document's top-level fields (the mongodb
// source), so "exists" is "the table has the column": map's if_columns and
// unless_columns, and col("k") (nil when absent) in expressions.

// chain is the processors of one pipeline, in order.
type chain struct {
	t        *translator
	pipeline string
	procs    *yaml.Node // the translated document's processors mapping
	last     string     // the node the next one reads: the source, then each processor
	index    int        // the Data Prepper processor last added (-1: none)
	entry    int        // the nodes it gave so far
}

// add appends a processor node named after the pipeline and the Data
// Prepper processor's position (<pipeline>-p1, -p2, …; -p1-2, -p1-3 for the
// further nodes of one processor) reading the previous node.
func (c *chain) add(at *yaml.Node, path string, index int, n *yaml.Node) {
	if index != c.index {
		c.index, c.entry = index, 0
	}
	c.entry++
	name := fmt.Sprintf("%s-p%d", c.pipeline, index+1)
	if c.entry > 1 {
		name += fmt.Sprintf("-%d", c.entry)
	}
	if len(name) > 63 {
		c.t.fail(at, path, fmt.Sprintf("the processor's sluice name %s is longer than 63", name), "shorten the pipeline's name")
		return
	}
	body := mapping(n.Line)
	put(body, "type", get(n, "type"))
	put(body, "inputs", seq(n.Line, str(c.last, n.Line)))
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "type" {
			body.Content = append(body.Content, n.Content[i], n.Content[i+1])
		}
	}
	put(c.procs, name, body)
	c.last = name
}

// processors translates a pipeline's processor list.
func (t *translator) processors(c *chain, v *yaml.Node, path string) {
	if v.Tag == "!!null" {
		return
	}
	if v.Kind != yaml.SequenceNode {
		t.fail(v, path, "must be a list of processors", "processor:\n  - delete_entries: {with_keys: [a]}")
		return
	}
	for i, p := range v.Content {
		pp := fmt.Sprintf("%s[%d]", path, i)
		if p.Kind != yaml.MappingNode || len(p.Content) != 2 {
			t.fail(p, pp, "must be one processor: {delete_entries: {...}}", "")
			continue
		}
		plugin, body := p.Content[0], p.Content[1]
		pp += "." + plugin.Value
		if body.Tag == "!!null" {
			body = mapping(plugin.Line)
		}
		if body.Kind != yaml.MappingNode {
			t.fail(body, pp, "must be a mapping", "")
			continue
		}
		switch plugin.Value {
		case "add_entries":
			t.addEntries(c, i, plugin, body, pp)
		case "delete_entries":
			t.deleteEntries(c, i, plugin, body, pp)
		case "rename_keys":
			t.renameKeys(c, i, plugin, body, pp)
		case "copy_values":
			t.copyValues(c, i, plugin, body, pp)
		case "drop_events":
			t.dropEvents(c, i, plugin, body, pp)
		case "lowercase_string", "uppercase_string", "trim_string":
			t.stringKeys(c, i, plugin, body, pp)
		case "substitute_string":
			t.substitute(c, i, plugin, body, pp)
		case "date":
			t.date(c, i, plugin, body, pp)
		default:
			t.fail(plugin, pp, fmt.Sprintf("processor %s is not translated", plugin.Value), "sluice translates "+strings.Join(translatedProcessors, ", ")+"; for others write sluice's processors (filter, map, route, sql) in the pipeline `sluice validate --explain` prints (docs/pipeline.md)")
		}
	}
}

var translatedProcessors = []string{"add_entries", "delete_entries", "rename_keys", "copy_values", "drop_events", "lowercase_string", "uppercase_string", "trim_string", "substitute_string", "date"}

// keys checks that body has only the keys allowed; others are errors
// naming the key, with why where known.
func (t *translator) keys(body *yaml.Node, path string, allowed []string, why map[string]string) bool {
	ok := true
	pairs(body, func(k, _ *yaml.Node) {
		for _, a := range allowed {
			if k.Value == a {
				return
			}
		}
		ok = false
		hint := "the translated keys: " + strings.Join(allowed, ", ")
		if w, found := why[k.Value]; found {
			hint = w
		}
		t.fail(k, path+"."+k.Value, "is not translated", hint)
	})
	return ok
}

// whenHint is the hint of the *_when keys that are not translated.
const whenHint = "a condition on each event is not translated for this processor: split the events with a drop_events or a route first, or write a sluice filter and map in the translated pipeline"

// fieldName returns a top-level key of a JSON pointer ("/a" or "a"); a
// nested one is an error.
func (t *translator) fieldName(v *yaml.Node, path string) (string, bool) {
	if !scalar(v) || v.Tag == "!!null" || v.Value == "" {
		t.fail(v, path, "must be a key", "")
		return "", false
	}
	name := strings.TrimPrefix(v.Value, "/")
	if name == "" || strings.ContainsAny(name, "/~") || strings.Contains(name, "${") {
		t.fail(v, path, fmt.Sprintf("key %q is not translated: sluice translates top-level keys", v.Value), "a MongoDB document's nested fields are one column holding JSON; reshape them in a sluice map (docs/pipeline.md)")
		return "", false
	}
	return name, true
}

// entries returns the entries list of body (required, non-empty).
func (t *translator) entryList(body *yaml.Node, path, example string) []*yaml.Node {
	e := get(body, "entries")
	if e == nil || e.Kind != yaml.SequenceNode || len(e.Content) == 0 {
		at := e
		if at == nil {
			at = body
		}
		t.fail(at, path+".entries", "must be a list of entries", example)
		return nil
	}
	for i, x := range e.Content {
		if x.Kind != yaml.MappingNode {
			t.fail(x, fmt.Sprintf("%s.entries[%d]", path, i), "must be a mapping", example)
			return nil
		}
	}
	return e.Content
}

func boolKey(t *translator, m *yaml.Node, key, path string) bool {
	v := get(m, key)
	if v == nil {
		return false
	}
	b, ok := asBool(v)
	if !ok {
		t.fail(v, path+"."+key, "must be true or false", "")
	}
	return b
}

func names(line int, ns ...string) *yaml.Node {
	s := seq(line)
	for _, n := range ns {
		s.Content = append(s.Content, str(n, line))
	}
	return s
}

// addEntries: each entry sets key to a value or format; without
// overwrite_if_key_exists only where the document lacks the key.
func (t *translator) addEntries(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"entries"}, nil) {
		return
	}
	const example = "entries:\n  - {key: status, value: new}"
	for j, e := range t.entryList(body, path, example) {
		ep := fmt.Sprintf("%s.entries[%d]", path, j)
		if !t.keys(e, ep, []string{"key", "value", "format", "overwrite_if_key_exists", "append_if_key_exists"}, map[string]string{
			"add_when":         whenHint,
			"metadata_key":     "sluice events carry no user metadata; add a field (key) instead",
			"value_expression": "write value (a constant) or format (\"${/a}-${/b}\")",
			"iterate_on":       "lists are one JSON column in sluice; reshape them in a sluice map",
		}) {
			continue
		}
		kv := get(e, "key")
		if kv == nil {
			t.fail(e, ep+".key", "is required", "")
			continue
		}
		key, ok := t.fieldName(kv, ep+".key")
		if !ok {
			continue
		}
		if boolKey(t, e, "append_if_key_exists", ep) {
			t.fail(get(e, "append_if_key_exists"), ep+".append_if_key_exists", "is not translated", "sluice columns hold one value; a list of values is JSON: write a sluice map")
			continue
		}
		overwrite := boolKey(t, e, "overwrite_if_key_exists", ep)
		value, format := get(e, "value"), get(e, "format")
		if (value == nil) == (format == nil) {
			t.fail(e, ep, "needs exactly one of value and format", example)
			continue
		}
		var x string
		var needs []string
		if value != nil {
			if x, ok = literal(value); !ok {
				t.fail(value, ep+".value", "must be a string, number, boolean or null", "lists and objects are not translated")
				continue
			}
		} else {
			if x, needs, ok = t.format(format, ep+".format"); !ok {
				continue
			}
		}
		// Data Prepper skips the entry when a key of the format is missing
		// (formatString throws): if_columns. A null value there: the key
		// keeps its value, or is null where the document lacked it.
		anyNil := make([]string, len(needs))
		for i, n := range needs {
			anyNil[i] = column(n) + " == nil"
		}
		at := line(value, format)
		variant := func(onNil string, ifCols, unlessCols []string) {
			n := mapping(kv.Line)
			put(n, "type", str("map", kv.Line))
			set := mapping(kv.Line)
			v := x
			if len(anyNil) > 0 {
				v = fmt.Sprintf("%s ? %s : %s", strings.Join(anyNil, " || "), onNil, x)
			}
			put(set, key, str(v, at))
			put(n, "set", set)
			if len(ifCols) > 0 {
				put(n, "if_columns", names(at, ifCols...))
			}
			if len(unlessCols) > 0 {
				put(n, "unless_columns", names(kv.Line, unlessCols...))
			}
			c.add(kv, ep, index, n)
		}
		if overwrite && len(needs) > 0 {
			variant(column(key), append([]string{key}, needs...), nil)
			variant("nil", needs, []string{key})
		} else if overwrite {
			variant("nil", nil, nil)
		} else {
			variant("nil", needs, []string{key})
		}
	}
}

func line(ns ...*yaml.Node) int {
	for _, n := range ns {
		if n != nil {
			return n.Line
		}
	}
	return 0
}

// literal is a YAML scalar as an expression literal.
func literal(v *yaml.Node) (string, bool) {
	if !scalar(v) {
		return "", false
	}
	switch v.Tag {
	case "!!null":
		return "nil", true
	case "!!bool":
		b, _ := asBool(v)
		return strconv.FormatBool(b), true
	case "!!int":
		if i, ok := asInt(v); ok {
			return strconv.FormatInt(i, 10), true
		}
	case "!!float":
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil {
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEn") { // a float stays a float
				s += ".0"
			}
			return s, true
		}
		return "", false
	}
	return quote(v.Value), true
}

// quote is a string literal of the expression language, with $ doubled
// for the pipeline file's ${VAR} interpolation.
func quote(s string) string { return dollars(strconv.Quote(s)) }

func dollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reserved are the names an identifier cannot read as a column: the
// language's words and sluice's metadata (a column shadows metadata, but
// only when the table has it).
var reserved = map[string]bool{"in": true, "not": true, "and": true, "or": true, "let": true, "true": true, "false": true,
	"nil": true, "matches": true, "contains": true, "startsWith": true, "endsWith": true, "after": true, "before": true,
	"meta": true, "op": true, "stream": true, "table": true, "schema": true, "namespace": true, "database": true,
	"source": true, "connector": true, "key": true, "ts_ms": true, "ts_us": true, "snapshot": true}

// column is an expression reading a column the table has.
func column(name string) string {
	if identRE.MatchString(name) && !reserved[name] {
		return name
	}
	return "$$env[" + quote(name) + "]"
}

// format translates add_entries' format ("${/a}-${/b}") into a string
// expression and the keys it reads.
func (t *translator) format(v *yaml.Node, path string) (string, []string, bool) {
	if !scalar(v) || v.Tag == "!!null" {
		t.fail(v, path, "must be a string", "")
		return "", nil, false
	}
	s := v.Value
	var parts, needs []string
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			parts = append(parts, quote(s))
			break
		}
		if i > 0 {
			parts = append(parts, quote(s[:i]))
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			t.fail(v, path, fmt.Sprintf("%s has an unclosed ${", v.Value), "")
			return "", nil, false
		}
		ref := s[i+2 : i+end]
		if !strings.HasPrefix(ref, "/") {
			t.fail(v, path, fmt.Sprintf("expression ${%s} is not translated; format takes ${/key}", ref), "")
			return "", nil, false
		}
		name, ok := t.fieldName(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ref, Line: v.Line}, path)
		if !ok {
			return "", nil, false
		}
		parts = append(parts, "string("+column(name)+")")
		needs = append(needs, name)
		s = s[i+end+1:]
	}
	if len(parts) == 0 {
		return `""`, nil, true
	}
	return strings.Join(parts, " + "), needs, true
}

// deleteEntries: with_keys (or entries of with_keys) become a map's drop;
// a key the document lacks is skipped, as Data Prepper does.
func (t *translator) deleteEntries(c *chain, index int, plugin, body *yaml.Node, path string) {
	notWhy := map[string]string{
		"delete_when":         whenHint,
		"with_keys_regex":     "name the keys in with_keys",
		"exclude_from_delete": "name the keys in with_keys",
		"iterate_on":          "lists are one JSON column in sluice; reshape them in a sluice map",
	}
	if !t.keys(body, path, []string{"with_keys", "entries"}, notWhy) {
		return
	}
	var lists []*yaml.Node
	var paths []string
	if w := get(body, "with_keys"); w != nil {
		lists, paths = append(lists, w), append(paths, path+".with_keys")
	}
	if get(body, "entries") != nil {
		for j, e := range t.entryList(body, path, "entries:\n  - with_keys: [a, b]") {
			ep := fmt.Sprintf("%s.entries[%d]", path, j)
			if !t.keys(e, ep, []string{"with_keys"}, notWhy) {
				return
			}
			w := get(e, "with_keys")
			if w == nil {
				t.fail(e, ep+".with_keys", "is required", "")
				return
			}
			lists, paths = append(lists, w), append(paths, ep+".with_keys")
		}
	}
	if len(lists) != 1 {
		t.fail(plugin, path, "needs with_keys or entries, not both", "delete_entries:\n  with_keys: [a, b]")
		return
	}
	w, wp := lists[0], paths[0]
	if w.Kind != yaml.SequenceNode || len(w.Content) == 0 {
		t.fail(w, wp, "must be a list of keys", "with_keys: [a, b]")
		return
	}
	drop := seq(w.Line)
	for i, k := range w.Content {
		name, ok := t.fieldName(k, fmt.Sprintf("%s[%d]", wp, i))
		if !ok {
			return
		}
		if name == "_id" {
			t.fail(k, fmt.Sprintf("%s[%d]", wp, i), "_id cannot be deleted: sluice's MongoDB rows are keyed by it, and the sink's document id and deletes need it", "remove it from with_keys; the opensearch sink writes _id as the document id, not as a field")
			return
		}
		drop.Content = append(drop.Content, str(name, k.Line))
	}
	n := mapping(plugin.Line)
	put(n, "type", str("map", plugin.Line))
	put(n, "drop", drop)
	c.add(plugin, path, index, n)
}

// fromTo reads an entry's from_key and to_key.
func (t *translator) fromTo(e *yaml.Node, ep string) (from, to string, ok bool) {
	fv, tv := get(e, "from_key"), get(e, "to_key")
	if fv == nil || tv == nil {
		t.fail(e, ep, "needs from_key and to_key", "entries:\n  - {from_key: a, to_key: b}")
		return "", "", false
	}
	if from, ok = t.fieldName(fv, ep+".from_key"); !ok {
		return
	}
	to, ok = t.fieldName(tv, ep+".to_key")
	return
}

// renameKeys: Data Prepper renames a key the document has, unless to_key
// exists and overwrite_if_to_key_exists is false; with it, to_key's old
// value goes.
func (t *translator) renameKeys(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"entries"}, map[string]string{"transform_key": "name each key in entries"}) {
		return
	}
	for j, e := range t.entryList(body, path, "entries:\n  - {from_key: a, to_key: b}") {
		ep := fmt.Sprintf("%s.entries[%d]", path, j)
		if !t.keys(e, ep, []string{"from_key", "to_key", "overwrite_if_to_key_exists"}, map[string]string{
			"rename_when":    whenHint,
			"from_key_regex": "name the key in from_key",
		}) {
			continue
		}
		from, to, ok := t.fromTo(e, ep)
		overwrite := boolKey(t, e, "overwrite_if_to_key_exists", ep)
		if !ok || from == to {
			continue
		}
		at := get(e, "from_key")
		if from == "_id" || to == "_id" {
			t.fail(at, ep, "_id cannot be renamed or replaced: sluice's MongoDB rows are keyed by it", "copy it instead (copy_values)")
			continue
		}
		if overwrite {
			n := mapping(at.Line)
			put(n, "type", str("map", at.Line))
			put(n, "drop", names(at.Line, to))
			put(n, "if_columns", names(at.Line, from))
			c.add(at, ep, index, n)
		}
		n := mapping(at.Line)
		put(n, "type", str("map", at.Line))
		r := mapping(at.Line)
		put(r, from, str(to, at.Line))
		put(n, "rename", r)
		if !overwrite {
			put(n, "unless_columns", names(at.Line, to))
		}
		c.add(at, ep, index, n)
	}
}

// copyValues: Data Prepper copies a key the document has, unless to_key
// exists and overwrite_if_to_key_exists is false.
func (t *translator) copyValues(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"entries"}, map[string]string{
		"from_list": "lists are one JSON column in sluice; reshape them in a sluice map",
		"to_list":   "lists are one JSON column in sluice; reshape them in a sluice map",
	}) {
		return
	}
	for j, e := range t.entryList(body, path, "entries:\n  - {from_key: a, to_key: b}") {
		ep := fmt.Sprintf("%s.entries[%d]", path, j)
		if !t.keys(e, ep, []string{"from_key", "to_key", "overwrite_if_to_key_exists"}, map[string]string{"copy_when": whenHint}) {
			continue
		}
		from, to, ok := t.fromTo(e, ep)
		overwrite := boolKey(t, e, "overwrite_if_to_key_exists", ep)
		if !ok || from == to {
			continue
		}
		at := get(e, "from_key")
		if to == "_id" {
			t.fail(get(e, "to_key"), ep+".to_key", "_id cannot be replaced: sluice's MongoDB rows are keyed by it", "")
			continue
		}
		n := mapping(at.Line)
		put(n, "type", str("map", at.Line))
		set := mapping(at.Line)
		put(set, to, str(column(from), at.Line))
		put(n, "set", set)
		put(n, "if_columns", names(at.Line, from))
		if !overwrite {
			put(n, "unless_columns", names(at.Line, to))
		}
		c.add(at, ep, index, n)
	}
}

// stringKeys: lowercase_string, uppercase_string and trim_string change a
// key's value when it is a string; other values stay.
func (t *translator) stringKeys(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"with_keys"}, nil) {
		return
	}
	w := get(body, "with_keys")
	if w == nil || w.Kind != yaml.SequenceNode || len(w.Content) == 0 {
		t.fail(plugin, path+".with_keys", "must be a list of keys", "with_keys: [a, b]")
		return
	}
	for i, k := range w.Content {
		name, ok := t.fieldName(k, fmt.Sprintf("%s.with_keys[%d]", path, i))
		if !ok {
			continue
		}
		v := fmt.Sprintf("col(%s)", quote(name))
		var f string
		switch plugin.Value {
		case "lowercase_string":
			f = "lower(" + v + ")"
		case "uppercase_string":
			f = "upper(" + v + ")"
		case "trim_string":
			// Java's String.trim: every character up to U+0020 at either end.
			f = "trim(" + v + ", " + quote(javaTrimSet) + ")"
		}
		n := mapping(k.Line)
		put(n, "type", str("map", k.Line))
		set := mapping(k.Line)
		// The untyped branch first: expr-lang types a conditional by its
		// first branch when the second takes it, and the column must keep
		// its own type when it is not a string.
		put(set, name, str(fmt.Sprintf(`type(%s) != "string" ? %s : %s`, v, v, f), k.Line))
		put(n, "set", set)
		put(n, "if_columns", names(k.Line, name))
		c.add(k, path, index, n)
	}
}

var javaTrimSet = func() string {
	var b strings.Builder
	for r := rune(0); r <= ' '; r++ {
		b.WriteRune(r)
	}
	return b.String()
}()

// dropEvents: a filter keeping what drop_when does not drop. An
// evaluation Data Prepper cannot do (a key it compares with < missing)
// keeps the event with handle_failed_events skip (the default), drops it
// with drop; deletes pass (see docs/dataprepper.md).
func (t *translator) dropEvents(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"drop_when", "handle_failed_events"}, nil) {
		return
	}
	w := get(body, "drop_when")
	if w == nil {
		t.fail(plugin, path+".drop_when", "is required", `drop_when: '/status == "deleted"'`)
		return
	}
	cond, guard, ok := t.condition(w, path+".drop_when")
	if !ok {
		return
	}
	keep := fmt.Sprintf("!(%s && (%s))", guard, cond) // skip: a failed evaluation keeps the event
	if h := get(body, "handle_failed_events"); h != nil {
		switch h.Value {
		case "skip", "skip_silently":
		case "drop", "drop_silently":
			keep = fmt.Sprintf("%s && !(%s)", guard, cond)
		default:
			t.fail(h, path+".handle_failed_events", fmt.Sprintf("%q is not one of skip, skip_silently, drop, drop_silently", h.Value), "")
			return
		}
	}
	n := mapping(w.Line)
	put(n, "type", str("filter", w.Line))
	put(n, "condition", str(keep, w.Line))
	c.add(w, path, index, n)
}

// route is one of a pipeline's conditional routes.
type route struct {
	cond, guard string
}

// routes reads a pipeline's route list: [{name: condition}, ...].
func (t *translator) routes(v *yaml.Node, path string) map[string]route {
	out := map[string]route{}
	if v == nil || v.Tag == "!!null" {
		return out
	}
	if v.Kind != yaml.SequenceNode {
		t.fail(v, path, "must be a list of routes", `route:\n  - big: '/amount > 100'`)
		return out
	}
	for i, r := range v.Content {
		rp := fmt.Sprintf("%s[%d]", path, i)
		if r.Kind != yaml.MappingNode || len(r.Content) != 2 {
			t.fail(r, rp, "must be one route: {name: condition}", `- big: '/amount > 100'`)
			continue
		}
		k, cv := r.Content[0], r.Content[1]
		if _, dup := out[k.Value]; dup {
			t.fail(k, rp, fmt.Sprintf("route %s is defined twice", k.Value), "")
			continue
		}
		cond, guard, ok := t.condition(cv, rp+"."+k.Value)
		if ok {
			out[k.Value] = route{cond, guard}
		}
	}
	return out
}

// sinkRoutes adds the filter that takes a sink's routes (an event goes
// once to a sink when any of its routes takes it) and returns its name,
// or "" after an error.
func (t *translator) sinkRoutes(c *chain, sinkName string, v *yaml.Node, path string, routes map[string]route, procs *yaml.Node) string {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		t.fail(v, path, "must be a list of route names", "routes: [big]")
		return ""
	}
	var conds []string
	for i, r := range v.Content {
		rt, ok := routes[r.Value]
		if !ok {
			t.fail(r, fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("route %q is not defined", r.Value), "define it in the pipeline's route list")
			return ""
		}
		// A route whose evaluation fails in Data Prepper does not take
		// the event: the guard.
		if rt.guard == "true" {
			conds = append(conds, "("+rt.cond+")")
		} else {
			conds = append(conds, "("+rt.guard+" && ("+rt.cond+"))")
		}
	}
	name := sinkName + "-routes"
	if len(name) > 63 {
		t.fail(v, path, fmt.Sprintf("the route filter's sluice name %s is longer than 63", name), "shorten the pipeline's name")
		return ""
	}
	n := mapping(v.Line)
	put(n, "type", str("filter", v.Line))
	put(n, "inputs", seq(v.Line, str(c.last, v.Line)))
	put(n, "condition", str(strings.Join(conds, " || "), v.Line))
	put(procs, name, n)
	return name
}

// substitute: substitute_string replaces every match of from (a Java
// regular expression) in a key's string value by to (Java's replacement
// syntax); other values stay. The pattern must be RE2 (no lookaround or
// backreferences); the replacement is rewritten for regex_replace.
func (t *translator) substitute(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"entries"}, nil) {
		return
	}
	for j, e := range t.entryList(body, path, "entries:\n  - {source: message, from: \"[?&#=]\", to: \"-\"}") {
		ep := fmt.Sprintf("%s.entries[%d]", path, j)
		if !t.keys(e, ep, []string{"source", "from", "to"}, map[string]string{"substitute_when": whenHint}) {
			continue
		}
		sv, fv, tv := get(e, "source"), get(e, "from"), get(e, "to")
		if sv == nil || fv == nil || tv == nil {
			t.fail(e, ep, "needs source, from and to", "entries:\n  - {source: message, from: \"[?&#=]\", to: \"-\"}")
			continue
		}
		name, ok := t.fieldName(sv, ep+".source")
		if !ok {
			continue
		}
		if !scalar(fv) || !scalar(tv) {
			t.fail(e, ep, "from and to must be strings", "")
			continue
		}
		re, err := regexp.Compile(fv.Value)
		if err != nil {
			t.fail(fv, ep+".from", fmt.Sprintf("the regular expression %q is not translated (RE2 syntax: no lookaround or backreferences): %v", fv.Value, err), "")
			continue
		}
		repl, err := javaReplacement(tv.Value, re)
		if err != nil {
			t.fail(tv, ep+".to", err.Error(), "")
			continue
		}
		v := fmt.Sprintf("col(%s)", quote(name))
		n := mapping(sv.Line)
		put(n, "type", str("map", sv.Line))
		set := mapping(sv.Line)
		put(set, name, str(fmt.Sprintf(`type(%s) != "string" ? %s : regex_replace(%s, %s, %s)`, v, v, v, quote(fv.Value), quote(repl)), sv.Line))
		put(n, "set", set)
		put(n, "if_columns", names(sv.Line, name))
		c.add(sv, ep, index, n)
	}
}

// javaReplacement rewrites a Java Matcher replacement ($1, ${name}, \x
// for a literal x; $12 is group 12 when there are 12 groups, else group 1
// then "2") into Go's regexp.Expand template.
func javaReplacement(s string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	groups := re.NumSubexp()
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("replacement %q ends with a \\", s)
			}
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			if i+1 < len(s) && s[i+1] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 || re.SubexpIndex(s[i+2:i+end]) < 0 {
					return "", fmt.Errorf("replacement %q names a group the pattern lacks", s)
				}
				b.WriteString(s[i : i+end+1])
				i += end
				continue
			}
			if i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9' {
				return "", fmt.Errorf("replacement %q has a $ that is not a group reference (write \\$ for a $)", s)
			}
			n, k := int(s[i+1]-'0'), i+2
			for k < len(s) && s[k] >= '0' && s[k] <= '9' && n*10+int(s[k]-'0') <= groups {
				n, k = n*10+int(s[k]-'0'), k+1
			}
			if n > groups {
				return "", fmt.Errorf("replacement %q refers to group %d; the pattern has %d", s, n, groups)
			}
			fmt.Fprintf(&b, "${%d}", n)
			i = k - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
