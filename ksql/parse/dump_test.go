package parse

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/sluice-dev/sluice/ksql/types"
)

// dump renders an AST as an indented tree for golden files: each node's
// type and position, then its non-zero fields.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v), 0)
	return b.String()
}

var (
	posType  = reflect.TypeOf(Pos{})
	typeType = reflect.TypeOf(types.Type{})
)

func dumpValue(b *strings.Builder, v reflect.Value, indent int) {
	pad := strings.Repeat("  ", indent)
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.WriteString("nil\n")
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == typeType {
			b.WriteString(v.Interface().(types.Type).String() + "\n")
			return
		}
		if id, ok := v.Interface().(Ident); ok {
			q := ""
			if id.Quoted {
				q = " (quoted)"
			}
			fmt.Fprintf(b, "%q%s @%d:%d\n", id.Name, q, id.Line, id.Col)
			return
		}
		b.WriteString(v.Type().Name())
		if f := v.FieldByName("Pos"); f.IsValid() && f.Type() == posType {
			p := f.Interface().(Pos)
			fmt.Fprintf(b, " @%d:%d", p.Line, p.Col)
		}
		b.WriteString("\n")
		for i := 0; i < v.NumField(); i++ {
			f, sf := v.Field(i), v.Type().Field(i)
			if sf.Type == posType || f.IsZero() {
				continue
			}
			if f.Kind() == reflect.Slice {
				fmt.Fprintf(b, "%s  %s:", pad, sf.Name)
			} else {
				fmt.Fprintf(b, "%s  %s: ", pad, sf.Name)
			}
			dumpValue(b, f, indent+1)
		}
	case reflect.Slice:
		b.WriteString("\n")
		for i := 0; i < v.Len(); i++ {
			fmt.Fprintf(b, "%s  - ", pad)
			dumpValue(b, v.Index(i), indent+2)
		}
	case reflect.String:
		fmt.Fprintf(b, "%q\n", v.String())
	default:
		fmt.Fprintf(b, "%v\n", v.Interface())
	}
}

// zeroPositions clears every Pos in an AST, for comparisons that ignore
// where the nodes were.
func zeroPositions(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			zeroPositions(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == posType {
			if v.CanSet() {
				v.Set(reflect.Zero(posType))
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			zeroPositions(v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			zeroPositions(v.Index(i))
		}
	}
}
