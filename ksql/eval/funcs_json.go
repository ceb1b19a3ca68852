package eval

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/types"
)

func jsonFuncs() map[string][]*overload {
	return map[string][]*overload{
		"EXTRACTJSONFIELD": {over("STRING, STRING -> STRING").with(extractJSONField)},
		"IS_JSON_STRING": {over("STRING -> BOOLEAN").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull {
				return vFalse, nil
			}
			n, err := parseJSON(a[0].Str)
			return event.Bool(err == nil && n.kind != jMissing), nil
		})},
		"JSON_ARRAY_LENGTH": {over("STRING -> INTEGER").fn(func(a []event.Value) (event.Value, error) {
			n, err := parseJSON(a[0].Str)
			if err != nil {
				return event.Null, fmt.Errorf("JSON_ARRAY_LENGTH: %w", err)
			}
			if n.kind != jArray {
				return event.Null, nil
			}
			return event.Int(int64(len(n.elems))), nil
		})},
		"JSON_KEYS": {over("STRING -> ARRAY<STRING>").fn(func(a []event.Value) (event.Value, error) {
			n, err := parseJSON(a[0].Str)
			if err != nil {
				return event.Null, fmt.Errorf("JSON_KEYS: %w", err)
			}
			if n.kind != jObject {
				return event.Null, nil
			}
			out := make([]event.Value, len(n.keys))
			for i, k := range n.keys {
				out[i] = event.String(k)
			}
			return event.Array(out), nil
		})},
		"JSON_ARRAY_CONTAINS": {over("STRING, ANY -> BOOLEAN").nulls().with(jsonArrayContains)},
		"TO_JSON_STRING":      {over("ANY -> STRING").nulls().with(toJSONString)},
	}
}

// jsonPath reads ksqlDB's JSONPath subset: $ then .name, [name],
// ["quoted name"] (\" and \\ escapes) or [index] steps.
func jsonPath(path string) ([]string, error) {
	bad := fmt.Errorf("invalid JSON path: '%s'", path)
	if !strings.HasPrefix(path, "$") {
		return nil, bad
	}
	var toks []string
	i := 1
	unquoted := func(extra string) string {
		start := i
		for i < len(path) {
			r, n := utf8.DecodeRuneInString(path[i:])
			if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(extra, r) {
				break
			}
			i += n
		}
		return path[start:i]
	}
	for i < len(path) {
		switch path[i] {
		case '.':
			i++
			t := unquoted(":@")
			if t == "" {
				return nil, bad
			}
			toks = append(toks, t)
		case '[':
			i++
			var t string
			if i < len(path) && path[i] == '"' {
				i++
				var b strings.Builder
				closed := false
				for i < len(path) {
					c := path[i]
					if c == '\\' {
						if i+1 >= len(path) || path[i+1] != '"' && path[i+1] != '\\' {
							return nil, bad
						}
						b.WriteByte(path[i+1])
						i += 2
						continue
					}
					if c == '"' {
						closed = true
						i++
						break
					}
					b.WriteByte(c)
					i++
				}
				if !closed {
					return nil, bad
				}
				t = b.String()
			} else {
				if t = unquoted(""); t == "" {
					return nil, bad
				}
			}
			if i >= len(path) || path[i] != ']' {
				return nil, bad
			}
			i++
			toks = append(toks, t)
		default:
			return nil, bad
		}
	}
	return toks, nil
}

// extractJSONField is EXTRACTJSONFIELD(json, path): the value at path, a
// string as its text, anything else as compact JSON; NULL when the path
// leads nowhere. Text that is not JSON is an error (ksqlDB: NULL and a
// processing-log entry).
func extractJSONField(c *callSite) (callFn, error) {
	var fixed []string
	if v := c.lits[1]; v != nil && v.Kind != event.KindNull {
		toks, err := jsonPath(v.Str)
		if err != nil {
			return nil, fmt.Errorf("EXTRACTJSONFIELD: %w", err)
		}
		fixed = toks
	}
	var lastPath string
	var lastToks []string
	return func(a []event.Value) (event.Value, error) {
		toks := fixed
		if toks == nil {
			if a[1].Str != lastPath || lastToks == nil {
				t, err := jsonPath(a[1].Str)
				if err != nil {
					return event.Null, fmt.Errorf("EXTRACTJSONFIELD: %w", err)
				}
				lastPath, lastToks = a[1].Str, t
			}
			toks = lastToks
		}
		n, err := parseJSON(a[0].Str)
		if err != nil {
			return event.Null, fmt.Errorf("EXTRACTJSONFIELD: %w", err)
		}
		for _, t := range toks {
			switch n.kind {
			case jArray:
				i, err := strconv.ParseInt(t, 10, 32)
				if err != nil || i < 0 || i >= int64(len(n.elems)) {
					return event.Null, nil
				}
				n = n.elems[i]
			case jObject:
				found := false
				for j, k := range n.keys {
					if k == t {
						n, found = n.elems[j], true
						break
					}
				}
				if !found {
					return event.Null, nil
				}
			default:
				return event.Null, nil
			}
		}
		switch n.kind {
		case jString:
			return event.String(n.text), nil
		case jMissing:
			return event.String(""), nil
		}
		return event.String(n.String()), nil
	}, nil
}

// jsonArrayContains is JSON_ARRAY_CONTAINS(json, value): whether a
// top-level element of the JSON array equals value, of the same JSON kind
// (an INTEGER or BIGINT matches integers, a DOUBLE numbers with a fraction
// or exponent, a NULL matches null); FALSE for text that is not a JSON
// array. Like ksqlDB, it reads elements only until one matches.
func jsonArrayContains(c *callSite) (callFn, error) {
	t := c.params[1]
	return func(a []event.Value) (event.Value, error) {
		if a[0].Kind == event.KindNull {
			return event.Null, nil
		}
		v := a[1]
		r := &jsonReader{s: a[0].Str}
		r.skipSpace()
		if r.pos >= len(r.s) || r.s[r.pos] != '[' {
			return vFalse, nil
		}
		r.pos++
		r.skipSpace()
		if r.pos < len(r.s) && r.s[r.pos] == ']' {
			return vFalse, nil
		}
		for {
			e, err := r.value(1)
			if err != nil {
				return vFalse, nil
			}
			if jsonMatches(e, v, t) {
				return vTrue, nil
			}
			r.skipSpace()
			if r.pos < len(r.s) && r.s[r.pos] == ',' {
				r.pos++
				continue
			}
			return vFalse, nil
		}
	}, nil
}

func jsonMatches(e *jsonNode, v event.Value, t types.Type) bool {
	if v.Kind == event.KindNull {
		return e.kind == jNull
	}
	switch {
	case e.kind == jNumber && !e.float && isInt(t):
		i, err := strconv.ParseInt(e.text, 10, 64)
		return err == nil && i == v.AsInt()
	case e.kind == jNumber && e.float && t.Base == types.Double:
		f, ok := parseJavaDouble(e.text)
		return ok && f == v.AsFloat()
	case e.kind == jString && t.Base == types.String:
		return e.text == v.Str
	case e.kind == jTrue && t.Base == types.Boolean:
		return v.AsBool()
	case e.kind == jFalse && t.Base == types.Boolean:
		return !v.AsBool()
	}
	return false
}

// toJSONString is TO_JSON_STRING(value): JSON as ksqlDB writes it (struct
// fields and map keys sorted, decimals plain, BYTES in base64, temporal
// values as CAST to STRING gives them).
func toJSONString(c *callSite) (callFn, error) {
	t := c.params[0]
	return func(a []event.Value) (event.Value, error) {
		var b strings.Builder
		if err := writeJSONValue(&b, a[0], t); err != nil {
			return event.Null, err
		}
		return event.String(b.String()), nil
	}, nil
}

func writeJSONValue(b *strings.Builder, v event.Value, t types.Type) error {
	if v.Kind == event.KindNull {
		b.WriteString("null")
		return nil
	}
	switch t.Base {
	case types.Boolean:
		b.WriteString(strconv.FormatBool(v.AsBool()))
	case types.Integer, types.Bigint:
		b.WriteString(strconv.FormatInt(v.AsInt(), 10))
	case types.Double:
		b.WriteString(javaDouble(v.AsFloat()))
	case types.Decimal:
		d, err := parseDec(v.Str)
		if err != nil {
			return fmt.Errorf("decimal %q: %w", v.Str, err)
		}
		b.WriteString(d.String())
	case types.String:
		appendJSONString(b, v.Str)
	case types.Bytes:
		appendJSONString(b, base64.StdEncoding.EncodeToString([]byte(v.Str)))
	case types.Date, types.Time, types.Timestamp:
		s, err := sqlString(v, t)
		if err != nil {
			return err
		}
		appendJSONString(b, s)
	case types.Array:
		b.WriteByte('[')
		for i, e := range v.Elems() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSONValue(b, e, *t.Elem); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case types.Map, types.Struct:
		type entry struct {
			k string
			v event.Value
			t types.Type
		}
		var es []entry
		elems := v.Elems()
		if t.Base == types.Struct {
			for i, f := range t.Fields {
				if i < len(elems) {
					es = append(es, entry{f.Name, elems[i], f.Type})
				}
			}
		} else {
			for i := 0; i+1 < len(elems); i += 2 {
				var kb strings.Builder
				if err := writeJavaString(&kb, elems[i], *t.Key); err != nil {
					return err
				}
				es = append(es, entry{kb.String(), elems[i+1], *t.Elem})
			}
		}
		sort.SliceStable(es, func(i, j int) bool { return javaCompareStrings(es[i].k, es[j].k) < 0 })
		b.WriteByte('{')
		first := true
		for i, e := range es {
			if i+1 < len(es) && es[i+1].k == e.k {
				continue // a TreeMap holds a key once, with its last value
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			appendJSONString(b, e.k)
			b.WriteByte(':')
			if err := writeJSONValue(b, e.v, e.t); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("TO_JSON_STRING cannot write a %s", t)
	}
	return nil
}
