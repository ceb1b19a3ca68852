// Package tmpl renders the small templates sinks and the route processor take
// for names derived from an event: an index (`${schema}_${table}`), a
// document id, a table name, a routing value, a stream name. A template is
// compiled once, when the configuration is validated, so a typo is reported
// with the pipeline file's line instead of at the first event.
//
// Syntax: literal text with `${name}` placeholders and `$$` for a literal
// `$`. Names are event metadata — source, connector, database, schema,
// table, stream, op, key, version — or `/column`, a column of the row (the
// after image, or the before image for deletes), in the spirit of Data
// Prepper's `${/field}` JSON pointers used by seeds 000 and 004.
//
// `${key}` joins the key columns' text with `|`, escaping `\` and `|` in each
// part with a backslash, so two different keys never render the same id.
package tmpl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Names lists the metadata names a template may use.
var Names = []string{"source", "connector", "database", "schema", "table", "stream", "op", "key", "version"}

type part struct {
	lit  string
	name string // metadata name, or "/column"
}

// Template is a compiled template. The zero Template renders "".
type Template struct {
	src   string
	parts []part
	// constant is set when the template has no placeholder.
	constant bool
}

// Parse compiles s. The error names the bad placeholder and lists the valid
// names.
func Parse(s string) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			lit.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: unclosed ${ at offset %d (write $$ for a literal $)", s, i)
			}
			name := strings.TrimSpace(s[i+2 : i+end])
			if err := checkName(name); err != nil {
				return nil, fmt.Errorf("template %q: %w", s, err)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, part{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, part{name: name})
			i += end + 1
		default:
			lit.WriteByte('$')
			i++
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	t.constant = true
	for _, p := range t.parts {
		if p.name != "" {
			t.constant = false
		}
	}
	return t, nil
}

// MustParse is Parse for templates known to be valid.
func MustParse(s string) *Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

func checkName(name string) error {
	if strings.HasPrefix(name, "/") {
		if len(name) == 1 {
			return errors.New("${/} needs a column name, e.g. ${/id}")
		}
		return nil
	}
	for _, n := range Names {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("unknown placeholder ${%s}; use one of ${%s} or ${/column}", name, strings.Join(Names, "}, ${"))
}

// String returns the source text.
func (t *Template) String() string { return t.src }

// Constant reports whether the template has no placeholders, so that it
// renders the same text for every event.
func (t *Template) Constant() bool { return t.constant }

// Placeholders returns the names the template uses, in order ("/col" for
// a column).
func (t *Template) Placeholders() []string {
	var out []string
	for _, p := range t.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// UsesColumns reports whether the template reads row values.
func (t *Template) UsesColumns() bool {
	for _, p := range t.parts {
		if strings.HasPrefix(p.name, "/") {
			return true
		}
	}
	return false
}

// Render appends the template's text for e to dst. It fails when the event
// lacks what the template asks for: a missing column, a NULL column value,
// no key, no version.
func (t *Template) Render(dst []byte, e *event.Event) ([]byte, error) {
	for _, p := range t.parts {
		if p.name == "" {
			dst = append(dst, p.lit...)
			continue
		}
		var err error
		dst, err = appendName(dst, p.name, e)
		if err != nil {
			return dst, fmt.Errorf("template %q: %w", t.src, err)
		}
	}
	return dst, nil
}

// RenderString is Render into a new string.
func (t *Template) RenderString(e *event.Event) (string, error) {
	if t.constant {
		if len(t.parts) == 0 {
			return "", nil
		}
		return t.parts[0].lit, nil
	}
	b, err := t.Render(nil, e)
	return string(b), err
}

func appendName(dst []byte, name string, e *event.Event) ([]byte, error) {
	s := e.Schema
	switch name {
	case "source":
		return append(dst, s.Source...), nil
	case "connector":
		return append(dst, s.Connector...), nil
	case "database":
		return append(dst, s.Database...), nil
	case "schema":
		return append(dst, s.Namespace...), nil
	case "table":
		return append(dst, s.Table...), nil
	case "stream":
		return append(dst, s.Stream...), nil
	case "op":
		return append(dst, byte(e.Op)), nil
	case "version":
		v, ok := e.Version()
		if !ok {
			return dst, fmt.Errorf("%s has no version (its source gives no order per key)", s.Stream)
		}
		return strconv.AppendInt(dst, v, 10), nil
	case "key":
		return AppendKey(dst, e)
	}
	col := name[1:]
	i := s.ColumnIndex(col)
	if i < 0 {
		return dst, fmt.Errorf("%s has no column %q", s.Stream, col)
	}
	img := e.After
	if img == nil {
		img = e.Before
	}
	if img == nil {
		return dst, fmt.Errorf("%s %s event has no row image for column %q", s.Stream, e.Op, col)
	}
	v := img[i]
	switch v.Kind {
	case event.KindNull:
		return dst, fmt.Errorf("column %q of %s is NULL", col, s.Stream)
	case event.KindUnchanged:
		return dst, fmt.Errorf("column %q of %s is an unchanged TOAST value the source did not send", col, s.Stream)
	}
	return append(dst, v.Text()...), nil
}

// AppendKey appends the event's key as `${key}` renders it: the key columns'
// text joined with `|`, `\` and `|` escaped. A table without a key is an
// error: use a template over columns instead.
func AppendKey(dst []byte, e *event.Event) ([]byte, error) {
	s := e.Schema
	if len(s.KeyIdx) == 0 {
		return dst, fmt.Errorf("%s has no primary key (or replica identity); set the id template from columns, e.g. ${/id}", s.Stream)
	}
	img := e.After
	if img == nil {
		img = e.Before
	}
	if img == nil {
		return dst, fmt.Errorf("%s %s event has no row image for its key", s.Stream, e.Op)
	}
	for n, c := range s.KeyIdx {
		if n > 0 {
			dst = append(dst, '|')
		}
		v := img[c]
		if v.Kind == event.KindNull || v.Kind == event.KindUnchanged {
			return dst, fmt.Errorf("key column %q of %s has no value", s.Columns[c].Name, s.Stream)
		}
		txt := v.Text()
		if len(s.KeyIdx) == 1 {
			dst = append(dst, txt...)
			continue
		}
		for i := 0; i < len(txt); i++ {
			if txt[i] == '\\' || txt[i] == '|' {
				dst = append(dst, '\\')
			}
			dst = append(dst, txt[i])
		}
	}
	return dst, nil
}
