package dataprepper

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// javaLayout is a Java DateTimeFormatter pattern as a Go layout, with the
// fields it lacks (Data Prepper's date processor defaults a missing year,
// month and day to today's in the source zone).
type javaLayout struct {
	layout                 string
	year, month, day, zone bool
}

// goLayout converts the Java pattern letters sluice translates; others
// are errors naming them. output says the layout formats (a one-digit H is
// refused there: Go always writes two).
func goLayout(p string, output bool) (javaLayout, error) {
	var out javaLayout
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		if c == '\'' {
			end := strings.IndexByte(p[i+1:], '\'')
			if end < 0 {
				return out, fmt.Errorf("pattern %q has an unclosed quote", p)
			}
			lit := p[i+1 : i+1+end]
			if lit == "" {
				lit = "'"
			}
			for _, r := range lit {
				if r >= '0' && r <= '9' || (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') && r != 'T' {
					return out, fmt.Errorf("pattern %q: the literal %q is not translated (Go layouts read digits and words in it as fields)", p, lit)
				}
			}
			b.WriteString(lit)
			i += end + 2
			continue
		}
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			if c >= '0' && c <= '9' {
				return out, fmt.Errorf("pattern %q: the digit %q is not translated", p, c)
			}
			b.WriteString(p[i : i+n])
			i += n
			continue
		}
		var g string
		switch {
		case (c == 'y' || c == 'u') && n == 2:
			g, out.year = "06", true
		case c == 'y' || c == 'u':
			g, out.year = "2006", true
		case c == 'M' && n == 1:
			g, out.month = "1", true
		case c == 'M' && n == 2:
			g, out.month = "01", true
		case c == 'M' && n == 3:
			g, out.month = "Jan", true
		case c == 'M' && n == 4:
			g, out.month = "January", true
		case c == 'd' && n <= 2:
			g, out.day = map[int]string{1: "2", 2: "02"}[n], true
		case c == 'H' && n == 2, c == 'H' && n == 1 && !output:
			g = "15"
		case c == 'h' && n <= 2:
			g = map[int]string{1: "3", 2: "03"}[n]
		case c == 'm' && n <= 2:
			g = map[int]string{1: "4", 2: "04"}[n]
		case c == 's' && n <= 2:
			g = map[int]string{1: "5", 2: "05"}[n]
		case c == 'S' && n <= 9:
			prev := b.String()
			if !strings.HasSuffix(prev, ".") && !strings.HasSuffix(prev, ",") {
				return out, fmt.Errorf("pattern %q: fractions of a second (S) are translated after a . or ,", p)
			}
			g = strings.Repeat("0", n)
		case c == 'a' && n == 1:
			g = "PM"
		case c == 'E' && n <= 3:
			g = "Mon"
		case c == 'E' && n == 4:
			g = "Monday"
		case c == 'X' && n <= 3:
			g, out.zone = map[int]string{1: "Z07", 2: "Z0700", 3: "Z07:00"}[n], true
		case c == 'x' && n <= 3:
			g, out.zone = map[int]string{1: "-07", 2: "-0700", 3: "-07:00"}[n], true
		case c == 'Z' && n <= 3:
			g, out.zone = "-0700", true
		case c == 'Z' && n == 5:
			g, out.zone = "Z07:00", true
		default:
			return out, fmt.Errorf("pattern %q: %q is not translated", p, p[i:i+n])
		}
		b.WriteString(g)
		i += n
	}
	out.layout = b.String()
	return out, nil
}

// dateDefaultOutput is Data Prepper's default output_format.
const dateDefaultOutput = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"

// date: Data Prepper's date processor. match (one key, its patterns:
// Java DateTimeFormatter patterns and epoch_second … epoch_nano) or
// from_time_received (the time the event is processed), written to
// destination in output_format (a pattern or epoch_*). A key the document
// lacks skips the event; a value no pattern parses leaves destination as
// it is (null where the document lacked it; Data Prepper leaves it out).
func (t *translator) date(c *chain, index int, plugin, body *yaml.Node, path string) {
	if !t.keys(body, path, []string{"match", "from_time_received", "destination", "output_format", "source_timezone", "destination_timezone", "locale"}, map[string]string{
		"date_when":               whenHint,
		"to_origination_metadata": "sluice events carry their commit time (ts_ms) already; remove the key",
	}) {
		return
	}
	dest := "@timestamp"
	if v := get(body, "destination"); v != nil {
		var ok bool
		if dest, ok = t.fieldName(v, path+".destination"); !ok {
			return
		}
	}
	zone := func(key string) (string, bool) {
		v := get(body, key)
		if v == nil {
			t.note(plugin, path+"."+key, "not set: Data Prepper uses the machine's time zone, sluice UTC; set it to be explicit")
			return "UTC", true
		}
		if _, err := time.LoadLocation(v.Value); err != nil || !scalar(v) {
			t.fail(v, path+"."+key, fmt.Sprintf("time zone %q is not known", v.Value), "an IANA name such as UTC or Europe/Paris")
			return "", false
		}
		return v.Value, true
	}
	if l := get(body, "locale"); l != nil && !strings.HasPrefix(strings.ToLower(l.Value), "en") && l.Value != "ROOT" {
		t.fail(l, path+".locale", fmt.Sprintf("locale %q is not translated", l.Value), "sluice reads and writes month and day names in English: en, en-US or ROOT")
		return
	}
	dst, ok := zone("destination_timezone")
	if !ok {
		return
	}
	outPattern := dateDefaultOutput
	if v := get(body, "output_format"); v != nil {
		outPattern = v.Value
	}
	var format string // an expression of t, the parsed time
	switch outPattern {
	case "epoch_second":
		format = "string(t.Unix())"
	case "epoch_milli":
		format = "string(t.UnixMilli())"
	case "epoch_micro":
		format = "string(t.UnixMicro())"
	case "epoch_nano":
		format = "string(t.UnixNano())"
	default:
		l, err := goLayout(outPattern, true)
		if err != nil {
			t.fail(get(body, "output_format"), path+".output_format", err.Error(), "")
			return
		}
		format = fmt.Sprintf("format_time(t, %s, %s)", quote(l.layout), quote(dst))
	}
	ftr, _ := asBool(get(body, "from_time_received"))
	m := get(body, "match")
	if ftr == (m != nil) {
		t.fail(plugin, path, "needs match or from_time_received: true (one of them)", "match:\n  - key: timestamp\n    patterns: [\"dd/MMM/yyyy:HH:mm:ss Z\"]")
		return
	}
	n := mapping(plugin.Line)
	put(n, "type", str("map", plugin.Line))
	set := mapping(plugin.Line)
	if ftr {
		put(set, dest, str("let t = now(); "+format, plugin.Line))
		put(n, "set", set)
		c.add(plugin, path, index, n)
		return
	}
	if m.Kind != yaml.SequenceNode || len(m.Content) != 1 || m.Content[0].Kind != yaml.MappingNode {
		t.fail(m, path+".match", "must be a list of one entry", "match:\n  - key: timestamp\n    patterns: [...]")
		return
	}
	e := m.Content[0]
	if !t.keys(e, path+".match[0]", []string{"key", "patterns"}, nil) {
		return
	}
	kv, pv := get(e, "key"), get(e, "patterns")
	if kv == nil || pv == nil || pv.Kind != yaml.SequenceNode || len(pv.Content) == 0 {
		t.fail(e, path+".match[0]", "needs key and patterns", "")
		return
	}
	key, ok := t.fieldName(kv, path+".match[0].key")
	if !ok {
		return
	}
	src, ok := zone("source_timezone")
	if !ok {
		return
	}
	v := fmt.Sprintf("col(%s)", quote(key))
	var epochs, tries []string
	for i, p := range pv.Content {
		pp := fmt.Sprintf("%s.match[0].patterns[%d]", path, i)
		switch p.Value {
		case "epoch_second":
			epochs = append(epochs, "s")
			continue
		case "epoch_milli":
			epochs = append(epochs, "ms")
			continue
		case "epoch_micro":
			epochs = append(epochs, "us")
			continue
		case "epoch_nano":
			epochs = append(epochs, "ns")
			continue
		}
		l, err := goLayout(p.Value, false)
		if err != nil {
			t.fail(p, pp, err.Error(), "")
			return
		}
		// Data Prepper defaults a missing year, month and day to today's
		// (in the source zone): prefixed to the value, so Go reads them.
		prefix, layout := "", l.layout
		for _, f := range []struct {
			has    bool
			layout string
		}{{l.day, "02"}, {l.month, "01"}, {l.year, "2006"}} {
			if !f.has {
				prefix = f.layout + " " + prefix
			}
		}
		arg := "string(" + v + ")"
		if prefix != "" {
			layout = prefix + layout
			arg = fmt.Sprintf("format_time(now(), %s, %s) + %s", quote(prefix), quote(src), arg)
		}
		tries = append(tries, fmt.Sprintf("parse_time(%s, %s, %s)", arg, quote(layout), quote(src)))
	}
	parse := "nil"
	if len(tries) > 0 {
		parse = strings.Join(tries, " ?? ")
	}
	if len(epochs) > 0 {
		// An integer is read as an epoch only, as Data Prepper does.
		parse = fmt.Sprintf(`string(%s) matches "^[-+]?[0-9]+$$" ? parse_epoch(%s, %s) : %s`, v, v, quote(strings.Join(epochs, ",")), parse)
	}
	// The untyped branch first, so destination keeps its own type where
	// the document has it (see stringKeys).
	variant := func(onNil string, ifCols, unlessCols []string) {
		n := mapping(plugin.Line)
		put(n, "type", str("map", plugin.Line))
		set := mapping(plugin.Line)
		put(set, dest, str(fmt.Sprintf("let t = %s == nil ? nil : (%s); t == nil ? %s : %s", v, parse, onNil, format), kv.Line))
		put(n, "set", set)
		put(n, "if_columns", names(kv.Line, ifCols...))
		if len(unlessCols) > 0 {
			put(n, "unless_columns", names(kv.Line, unlessCols...))
		}
		c.add(kv, path, index, n)
	}
	if dest == key {
		variant(fmt.Sprintf("col(%s)", quote(dest)), []string{key}, nil)
		return
	}
	variant(fmt.Sprintf("col(%s)", quote(dest)), []string{key, dest}, nil)
	variant("nil", []string{key}, []string{dest})
}
