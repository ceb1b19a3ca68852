package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var durationType = reflect.TypeOf(time.Duration(0))

// decodeStruct decodes a mapping node into the struct pointed to by out,
// rejecting keys that no field's yaml tag names. Fields tagged ",inline"
// contribute their keys; nested structs are decoded strictly too.
func (l *loader) decodeStruct(n *yaml.Node, out any, path string) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: decodeStruct needs a struct pointer, got %T", out))
	}
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return
		}
		l.add(n, path, "must be a mapping", "")
		return
	}
	fields := map[string]reflect.Value{}
	collectFields(rv.Elem(), fields)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := path + "." + k.Value
		f, ok := fields[k.Value]
		if !ok {
			names := make([]string, 0, len(fields))
			for name := range fields {
				names = append(names, name)
			}
			sort.Strings(names)
			l.add(k, p, "unknown key", "valid keys: "+strings.Join(names, ", ")+suggest(k.Value, names))
			continue
		}
		if f.Kind() == reflect.Struct && f.Type() != durationType {
			l.decodeStruct(v, f.Addr().Interface(), p)
			continue
		}
		l.decode(v, f.Addr().Interface(), p)
	}
}

func collectFields(v reflect.Value, into map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if !sf.IsExported() && !(sf.Anonymous && strings.Contains(opts, "inline")) {
			continue
		}
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			collectFields(v.Field(i), into)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		into[name] = v.Field(i)
	}
}

// decode decodes one value node with yaml.v3, turning its errors into ours.
// Values are never echoed: they may hold secrets.
func (l *loader) decode(n *yaml.Node, out any, path string) {
	if err := n.Decode(out); err != nil {
		want := describe(reflect.TypeOf(out).Elem())
		l.add(n, path, "cannot use this value: want "+want, "")
	}
}

func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "500ms", "10s" or "5m"`
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of " + describe(t.Elem()) + "s"
	case t.Kind() == reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// interpolate replaces ${VAR} and ${VAR:-default} in scalar values; $$ is a
// literal $. An unset variable without default is an error at its line.
func (l *loader) interpolate(n *yaml.Node, lookup func(string) (string, bool)) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		out, missing := expand(n.Value, lookup)
		for _, m := range missing {
			l.add(n, "", fmt.Sprintf("environment variable %s is not set", m), fmt.Sprintf("export %s=..., or write ${%s:-default}", m, m))
		}
		if out != n.Value {
			n.Value = out
			// An interpolated value is data, not YAML: keep it a string
			// unless the whole value was one variable (then let YAML
			// resolve it, so `batch_size: ${N}` gives an int).
			if n.Style == 0 && n.Tag == "!!str" {
				n.Tag = ""
			}
		}
	}
	for _, c := range n.Content {
		l.interpolate(c, lookup)
	}
}

func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), missing
			}
			expr := s[i+2 : i+end]
			if IsTemplatePlaceholder(expr) {
				// A sink's name template (index: ${schema}_${table}):
				// left for the sink, which checks it.
				b.WriteString(s[i : i+end+1])
				i += end
				continue
			}
			name, def, hasDef := strings.Cut(expr, ":-")
			if v, ok := lookup(name); ok && (v != "" || !hasDef) {
				b.WriteString(v)
			} else if hasDef {
				b.WriteString(def)
			} else {
				missing = append(missing, name)
			}
			i += end
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), missing
}

// TemplatePlaceholders are the names that sinks' templates use (index,
// document id, table, topic, object partition): `${table}` in a pipeline file
// is such a placeholder, never an environment variable. So are `${/column}`
// references to row values. Environment variables are every other name;
// by convention they are upper-case.
var TemplatePlaceholders = []string{
	"source", "connector", "database", "schema", "table", "stream", "op", "key", "version",
	"date", "year", "month", "day", "hour", "minute",
}

// IsTemplatePlaceholder reports whether `${expr}` is left to a sink's
// template rather than taken from the environment.
func IsTemplatePlaceholder(expr string) bool {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "/") {
		return true
	}
	for _, n := range TemplatePlaceholders {
		if expr == n {
			return true
		}
	}
	return false
}

// suggest returns "; did you mean X?" for the closest candidate.
func suggest(got string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := levenshtein(got, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || got == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
