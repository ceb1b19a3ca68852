// Package route is the route processor: it renames streams, by a regular
// expression as Kafka Connect's RegexRouter (which Debezium users configure
// as transforms.route) or by a template over the table's names.
//
//	processors:
//	  topics:
//	    type: route
//	    inputs: [shape]
//	    regex: '([^.]+)\.([^.]+)\.([^.]+)'
//	    replacement: '$3'          # shop.public.orders → orders
//	  by_db:
//	    type: route
//	    inputs: [shop]
//	    template: '${database}.${table}'
//
// Regex follows RegexRouter exactly: a stream whose whole name matches is
// renamed to the name with its first match replaced (the whole name,
// unless the pattern has alternatives that match a prefix); other streams
// keep their names. The pattern is RE2 (Go's regexp): Java's syntax except
// lookaround and backreferences, which are rejected when the file is
// loaded. The replacement is Java's Matcher syntax: $n and ${name} insert
// a group ($12 is group 12 when there are 12 groups, else group 1 then
// "2"), an unmatched group inserts nothing, \ makes the next character
// literal. In a pipeline file ${name} reads an environment variable:
// write $${name} for a named group.
//
// Template renders the new name from the table's metadata with the sinks'
// template syntax (internal/tmpl): ${source}, ${connector}, ${database},
// ${schema}, ${table}, ${stream}; $$ is a $. Names that vary per row (op,
// key, version, /column) are refused: a stream per row would make the
// number of streams, and of cached schemas, unbounded.
//
// Each input schema gets one output schema, built at its first event and
// cached: the same columns, key and Version, the stream renamed (the
// input schema itself when the name does not change). Events keep their
// images. Streams of different tables renamed to one name form one stream
// of several shapes: sinks see each shape's schema. Route's outputs are
// streams of its own naming (component.ProcessorFactory.NamesStreams):
// sinks may select them by the new names.
package route

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// Config is the route processor's configuration: regex with replacement,
// or template.
type Config struct {
	// Regex is matched against the whole stream name, as Kafka Connect's
	// RegexRouter regex (RE2 syntax: no lookaround or backreferences),
	// e.g. '([^.]+)\.([^.]+)\.([^.]+)'.
	Regex string `yaml:"regex"`
	// Replacement is the new name of a matching stream, in Java's syntax:
	// $1, ${name} insert groups, \ quotes the next character; e.g. '$3'.
	Replacement string `yaml:"replacement"`
	// Template names every stream from its table's metadata: ${source},
	// ${connector}, ${database}, ${schema}, ${table}, ${stream}; e.g.
	// '${database}.${table}'.
	Template string `yaml:"template"`

	re, whole *regexp.Regexp
	repl      []part
	tmpl      *tmpl.Template
}

// DefaultConfig returns the defaults (none: regex or template is required).
func DefaultConfig() *Config { return &Config{} }

// templateNames are the placeholders a route template may use.
var templateNames = []string{"source", "connector", "database", "schema", "table", "stream"}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	c.re, c.whole, c.repl, c.tmpl = nil, nil, nil, nil
	switch {
	case c.Template != "" && (c.Regex != "" || c.Replacement != ""):
		add("template", "template and regex/replacement exclude each other", "rename by a template, or by a regex and its replacement")
		return errs
	case c.Template != "":
		t, err := tmpl.Parse(c.Template)
		if err != nil {
			add("template", err.Error(), "")
			return errs
		}
		for _, name := range t.Placeholders() {
			if !contains(templateNames, name) {
				add("template", fmt.Sprintf("${%s} varies per row; a route names streams from the table only", name), "use ${"+strings.Join(templateNames, "}, ${")+"}")
				return errs
			}
		}
		if t.Constant() && strings.TrimSpace(c.Template) == "" {
			add("template", "renders an empty name", "")
			return errs
		}
		c.tmpl = t
		return errs
	case c.Regex == "" && c.Replacement == "":
		add("regex", "is missing", `give regex: and replacement: (e.g. regex: '([^.]+)\.([^.]+)\.([^.]+)', replacement: '$3'), or template: (e.g. '${database}.${table}')`)
		return errs
	case c.Regex == "":
		add("regex", "is missing; replacement needs it", `e.g. regex: '([^.]+)\.([^.]+)\.([^.]+)'`)
		return errs
	case c.Replacement == "":
		add("replacement", "is missing", "e.g. replacement: '$3' (a stream name cannot be empty)")
		return errs
	}
	re, err := regexp.Compile(c.Regex)
	if err != nil {
		add("regex", strings.TrimPrefix(err.Error(), "error parsing regexp: "), "RE2 syntax (Go's regexp): as Java's, without lookahead, lookbehind or backreferences")
		return errs
	}
	repl, err := parseReplacement(c.Replacement, re)
	if err != nil {
		add("replacement", err.Error(), `Java's replacement syntax: $1, ${name}, \$ for a literal $`)
		return errs
	}
	c.re, c.whole, c.repl = re, regexp.MustCompile(`^(?:`+c.Regex+`)$`), repl
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// part is a piece of a replacement: literal text, or group number group.
type part struct {
	lit   string
	group int // -1 for literal text
}

// parseReplacement parses Java's Matcher replacement syntax against re's
// groups, rejecting what Matcher.appendReplacement throws on, at load time
// rather than at the first event.
func parseReplacement(s string, re *regexp.Regexp) ([]part, error) {
	groups := re.NumSubexp()
	var parts []part
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, part{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			if i == len(s) {
				return nil, fmt.Errorf("%q ends with \\, which escapes nothing", s)
			}
			lit.WriteByte(s[i])
		case '$':
			i++
			if i == len(s) {
				return nil, fmt.Errorf("%q ends with $: a group number or {name} must follow (\\$ is a literal $)", s)
			}
			if s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("%q: ${ is not closed", s)
				}
				name := s[i+1 : i+end]
				if !validGroupName(name) {
					return nil, fmt.Errorf("%q: ${%s} is not a group name (letters and digits, starting with a letter)", s, name)
				}
				g := re.SubexpIndex(name)
				if g < 0 {
					return nil, fmt.Errorf("%q: regex has no group named %s", s, name)
				}
				flush()
				parts = append(parts, part{group: g})
				i += end
				continue
			}
			if s[i] < '0' || s[i] > '9' {
				return nil, fmt.Errorf("%q: $ must be followed by a group number or {name} (\\$ is a literal $)", s)
			}
			// Java: the first digit is a group; more digits join it while
			// the number stays a group of the pattern.
			g := int(s[i] - '0')
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && g*10+int(s[i+1]-'0') <= groups {
				g = g*10 + int(s[i+1]-'0')
				i++
			}
			if g > groups {
				return nil, fmt.Errorf("%q refers to group %d, but regex has %d", s, g, groups)
			}
			flush()
			parts = append(parts, part{group: g})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

func validGroupName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// rename returns the stream's new name and whether it changes.
func (c *Config) rename(s *event.Schema) (string, error) {
	if c.tmpl != nil {
		return c.tmpl.RenderString(&event.Event{Schema: s})
	}
	name := s.Stream
	if !c.whole.MatchString(name) {
		return name, nil
	}
	m := c.re.FindStringSubmatchIndex(name) // Matcher.replaceFirst: the first match
	var b strings.Builder
	b.WriteString(name[:m[0]])
	for _, p := range c.repl {
		if p.group < 0 {
			b.WriteString(p.lit)
		} else if m[2*p.group] >= 0 {
			b.WriteString(name[m[2*p.group]:m[2*p.group+1]])
		}
	}
	b.WriteString(name[m[1]:])
	return b.String(), nil
}

// Factory builds route processors. Register it under "route".
var Factory = component.ProcessorFactory{
	Doc:    "renames streams by a regex and replacement (Kafka Connect's RegexRouter) or a template over the table's names",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("route: config is %T, not *route.Config", cfg)
		}
		return New(c)
	},
	NamesStreams: true,
}

// Route is the route processor. Process is called from one goroutine at a
// time (component.Processor), which owns the schema cache.
type Route struct {
	cfg     *Config
	schemas map[*event.Schema]routed
}

type routed struct {
	out *event.Schema
	err error
}

var (
	_ component.Processor     = (*Route)(nil)
	_ component.KeepsNoEvents = (*Route)(nil)
)

// KeepsNoEvents implements component.KeepsNoEvents, so that a source may
// recycle a batch that passed through a route: outputs are the inputs
// under another schema; the cache is keyed by *event.Schema, and the new
// names are rendered from schema metadata, never from a row.
func (r *Route) KeepsNoEvents() bool { return true }

// maxSchemas bounds the cache; past it the cache starts afresh.
const maxSchemas = 1024

// New returns a route for cfg (validated afresh, on a copy).
func New(cfg *Config) (*Route, error) {
	c := *cfg
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("route: %w", errs[0])
	}
	return &Route{cfg: &c, schemas: map[*event.Schema]routed{}}, nil
}

// Process appends in's events to out under their new stream names.
func (r *Route) Process(_ context.Context, in []event.Event, out []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		rt := r.route(in[i].Schema)
		if rt.err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: rt.err})
			continue
		}
		o := in[i]
		o.Schema = rt.out
		out = append(out, o)
	}
	if len(rejected) > 0 {
		return out, rejected
	}
	return out, nil
}

func (r *Route) route(s *event.Schema) routed {
	if rt, ok := r.schemas[s]; ok {
		return rt
	}
	var rt routed
	name, err := r.cfg.rename(s)
	switch {
	case err != nil:
		rt.err = err
	case name == "":
		rt.err = fmt.Errorf("route renames %s to an empty name (hint: check the replacement or template)", s.Stream)
	case name == s.Stream:
		rt.out = s
	default:
		o := *s
		o.Stream = name
		rt.out = &o
	}
	if len(r.schemas) >= maxSchemas {
		clear(r.schemas)
	}
	r.schemas[s] = rt
	return rt
}

// Close implements component.Processor.
func (r *Route) Close() error { return nil }
