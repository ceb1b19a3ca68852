// Package spec describes every component type from its typed configuration
// struct, the single source of truth: the yaml tags name the keys, the
// values Config() returns are the defaults, the fields' doc comments are
// the documentation, Validate() on the defaults tells which keys are
// required (those it reports as "is required"), a `sluice:"secret"` tag
// marks secrets, and `sluice:"nodefault"` a default that is chosen at run
// time (its doc comment says how). From the descriptions it renders the reference pages
// (docs/reference/<kind>/<type>.md), the JSON Schema of the pipeline file,
// and the text of `sluice help TYPE`.
//
// Doc comments exist only in the source code, so Describe parses the
// module's Go files (go/parser); the binary embeds the result as JSON
// (package docs) for `sluice help`. A test in package docs fails when the
// generated files are stale: `go test ./docs -update` rewrites them.
package spec

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/topology"
)

// Component is one component type.
type Component struct {
	Kind   string  `json:"kind"` // source | processor | sink
	Type   string  `json:"type"`
	Doc    string  `json:"doc"`
	Fields []Field `json:"fields"`
}

// Field is one key of a component's configuration.
type Field struct {
	Key      string   `json:"key"`  // dotted for nested mappings: unwrap.delete_handling
	Type     string   `json:"type"` // string | integer | number | boolean | duration | list of … | mapping | any
	Default  string   `json:"default,omitempty"`
	Doc      string   `json:"doc"`
	Required bool     `json:"required,omitempty"`
	Secret   bool     `json:"secret,omitempty"`
	Item     []Field  `json:"item,omitempty"` // fields of each element of a list of mappings
	json     jsonType // for the schema
}

type jsonType struct {
	typ   string // JSON Schema type
	items string // element type of arrays
}

// ModulePath is the module whose source holds the doc comments.
const ModulePath = "github.com/sluice-dev/sluice"

// Describe describes every type of reg, reading doc comments from the
// module's source tree at root.
func Describe(reg component.Registry, root string) ([]Component, error) {
	docs := &commentIndex{root: root, byPkg: map[string]map[string]string{}}
	var out []Component
	add := func(kind, typ, doc string, cfg any) error {
		c := Component{Kind: kind, Type: typ, Doc: doc}
		fs, err := describeStruct(reflect.ValueOf(cfg).Elem(), "", docs)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, typ, err)
		}
		if v, ok := cfg.(component.Validator); ok {
			required := map[string]bool{}
			for _, err := range v.Validate() {
				var fe *component.FieldError
				if errors.As(err, &fe) && fe.Msg == "is required" {
					required[fe.Field] = true
				}
			}
			for i := range fs {
				fs[i].Required = required[fs[i].Key]
			}
		}
		c.Fields = fs
		out = append(out, c)
		return nil
	}
	for _, t := range sortedKeys(reg.Sources) {
		if err := add("source", t, reg.Sources[t].Doc, reg.Sources[t].Config()); err != nil {
			return nil, err
		}
	}
	for _, t := range sortedKeys(reg.Processors) {
		if err := add("processor", t, reg.Processors[t].Doc, reg.Processors[t].Config()); err != nil {
			return nil, err
		}
	}
	for _, t := range sortedKeys(reg.Sinks) {
		if err := add("sink", t, reg.Sinks[t].Doc, reg.Sinks[t].Config()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Common describes the keys every node of a kind takes besides its
// type's (inputs, batch, retry, dead_letter) and the pipeline's top level.
func Common(root string) (top, engine, batch, retry []Field, err error) {
	docs := &commentIndex{root: root, byPkg: map[string]map[string]string{}}
	if engine, err = describeStruct(reflect.ValueOf(&topology.Engine{}).Elem(), "", docs); err != nil {
		return
	}
	if batch, err = describeStruct(reflect.ValueOf(&topology.Batch{}).Elem(), "", docs); err != nil {
		return
	}
	if retry, err = describeStruct(reflect.ValueOf(&topology.Retry{}).Elem(), "", docs); err != nil {
		return
	}
	cluster, err := describeStruct(reflect.ValueOf(&topology.Cluster{Coordination: topology.DefaultCoordination()}).Elem(), "", docs)
	if err != nil {
		return
	}
	top = []Field{
		{Key: "name", Type: "string", Doc: "The pipeline's name: names its replication slots, publications and metrics. Default: the file's base name without extension.", json: jsonType{typ: "string"}},
		{Key: "state_dir", Type: "string", Default: ".sluice", Doc: "Where checkpoints and operator state are kept. Each pipeline needs its own.", json: jsonType{typ: "string"}},
		{Key: "engine", Type: "mapping", Doc: "Engine settings (below).", json: jsonType{typ: "object"}},
	}
	top = append(top, cluster...)
	top = append(top, []Field{
		{Key: "sources", Type: "mapping", Required: true, Doc: "Sources by name.", json: jsonType{typ: "object"}},
		{Key: "processors", Type: "mapping", Doc: "Processors by name.", json: jsonType{typ: "object"}},
		{Key: "sql", Type: "string", Doc: "Streaming SQL statements (ksqlDB's dialect), run by a processor named sql fed by every source; sinks take each query's result by its stream name. See docs/sql.md.", json: jsonType{typ: "string"}},
		{Key: "sql_file", Type: "string", Doc: "A file of streaming SQL statements, relative to the pipeline file (instead of sql).", json: jsonType{typ: "string"}},
		{Key: "sinks", Type: "mapping", Required: true, Doc: "Sinks by name.", json: jsonType{typ: "object"}},
	}...)
	return
}

var durationType = reflect.TypeOf(time.Duration(0))

func describeStruct(v reflect.Value, prefix string, docs *commentIndex) ([]Field, error) {
	t := v.Type()
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if strings.Contains(opts, "inline") {
			fs, err := describeStruct(fv, prefix, docs)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		doc, err := docs.field(t, sf.Name)
		if err != nil {
			return nil, err
		}
		f := Field{Key: prefix + name, Doc: doc, Secret: strings.Contains(sf.Tag.Get("sluice"), "secret")}
		ft := sf.Type
		if s, ok := reflect.Zero(ft).Interface().(yamlShaped); ok {
			ft, fv = reflect.TypeOf(s.YAMLShape()), reflect.Value{}
		}
		if ft.Kind() == reflect.Pointer && ft != durationType {
			ft = ft.Elem()
			if !fv.IsNil() {
				fv = fv.Elem()
			} else {
				fv = reflect.Value{}
			}
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			f.Type, f.json = "mapping", jsonType{typ: "object"}
			out = append(out, f)
			if !fv.IsValid() {
				fv = reflect.New(ft).Elem()
			}
			fs, err := describeStruct(fv, prefix+name+".", docs)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			f.Type, f.json = "list of mappings", jsonType{typ: "array", items: "object"}
			items, err := describeStruct(reflect.New(ft.Elem()).Elem(), "", docs)
			if err != nil {
				return nil, err
			}
			f.Item = items
		default:
			f.Type, f.json = typeName(ft)
			if fv.IsValid() && !strings.Contains(sf.Tag.Get("sluice"), "nodefault") {
				f.Default = formatDefault(fv)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// yamlShaped is implemented by a configuration type that decodes itself
// from YAML (yaml.Unmarshaler) into a Go shape unlike its YAML one: the
// map processor's set, a mapping kept in file order as a list. YAMLShape
// returns a value of the type that has the YAML shape
// (map[string]string{} for a mapping of strings).
type yamlShaped interface{ YAMLShape() any }

func typeName(t reflect.Type) (string, jsonType) {
	switch {
	case t == durationType:
		return "duration", jsonType{typ: "string"}
	case t.Kind() == reflect.Bool:
		return "boolean", jsonType{typ: "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer", jsonType{typ: "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number", jsonType{typ: "number"}
	case t.Kind() == reflect.String:
		return "string", jsonType{typ: "string"}
	case t.Kind() == reflect.Slice:
		name, j := typeName(t.Elem())
		return "list of " + name + "s", jsonType{typ: "array", items: j.typ}
	case t.Kind() == reflect.Map:
		return "mapping", jsonType{typ: "object", items: "free"}
	}
	return "any", jsonType{}
}

func formatDefault(v reflect.Value) string {
	if v.Type() == durationType {
		d := time.Duration(v.Int())
		if d == 0 {
			return "0"
		}
		return d.String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.String:
		return v.String()
	case reflect.Slice:
		if v.Len() == 0 {
			return ""
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatDefault(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return ""
}

// commentIndex finds the doc comments of struct fields in the module's
// source files, parsing each package once.
type commentIndex struct {
	root  string
	byPkg map[string]map[string]string // package path → "Type.Field" → doc
}

func (c *commentIndex) field(t reflect.Type, field string) (string, error) {
	pkg := t.PkgPath()
	if !strings.HasPrefix(pkg, ModulePath) {
		return "", nil // a type from elsewhere: no comment to find
	}
	m, ok := c.byPkg[pkg]
	if !ok {
		var err error
		m, err = parseFieldDocs(filepath.Join(c.root, strings.TrimPrefix(strings.TrimPrefix(pkg, ModulePath), "/")))
		if err != nil {
			return "", err
		}
		c.byPkg[pkg] = m
	}
	return m[t.Name()+"."+field], nil
}

// parseFieldDocs returns the doc comment (or trailing line comment) of every
// field of every struct type declared in dir's non-test files.
func parseFieldDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(node ast.Node) bool {
			ts, ok := node.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			// A field without a comment of its own, declared on the line
			// right after a commented one, shares its comment ("Host and
			// Port name one server").
			prevText, prevLine := "", -2
			for _, fld := range st.Fields.List {
				text := fld.Doc.Text()
				if text == "" {
					text = fld.Comment.Text()
				}
				text = strings.Join(strings.Fields(text), " ")
				line := fset.Position(fld.Pos()).Line
				shared := text == "" && line == prevLine+1
				if shared {
					text = prevText
				}
				for _, name := range fld.Names {
					if shared {
						out[ts.Name.Name+"."+name.Name] = text
					} else {
						out[ts.Name.Name+"."+name.Name] = stripName(text, name.Name)
					}
				}
				if text != "" {
					prevText = text
				}
				prevLine = fset.Position(fld.End()).Line
			}
			return true
		})
	}
	return out, nil
}

// stripName turns "DSN is the connection string" into "The connection
// string": a Go doc comment starts with the field's name, which the
// reference replaces by the key.
func stripName(doc, name string) string {
	rest, ok := strings.CutPrefix(doc, name+" ")
	if !ok {
		return doc
	}
	for _, verb := range []string{"is ", "are "} {
		if r, ok := strings.CutPrefix(rest, verb); ok {
			rest = r
			break
		}
	}
	if rest == "" {
		return doc
	}
	return strings.ToUpper(rest[:1]) + rest[1:]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
