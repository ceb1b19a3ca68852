package parse

import (
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, every statement it accepts prints to text
// that parses back to the same AST, and errors are positioned. The corpus
// under testdata/fuzz/FuzzParse keeps what the fuzzer found.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../../examples/seed004-ksql.sql", "testdata/statements.sql"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
		for _, s := range strings.Split(string(src), ";") {
			f.Add(s)
		}
	}
	for _, s := range []string{"", ";", "SELECT", "SELECT * FROM t WHERE ((((a", "SELECT 'x", "/*", "SELECT `a``b` FROM `c`", "SELECT -(-(-5)) FROM t", "SELECT STRUCT<> FROM t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Parse(src)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || !strings.HasPrefix(e.Error(), "line ") {
					t.Fatalf("unpositioned error %q", e)
				}
			}
		}
		for _, s := range stmts {
			text := Print(s)
			again, err := Parse(text)
			if err != nil || len(again) != 1 {
				t.Fatalf("printed statement does not parse back (%v):\n%s", err, text)
			}
			zeroPositions(reflect.ValueOf(s))
			zeroPositions(reflect.ValueOf(again))
			if !reflect.DeepEqual(s, again[0]) {
				t.Fatalf("round trip changed the AST:\n%s\n%s", text, Print(again[0]))
			}
		}
	})
}

// TestParseMemoryBounded: what Parse allocates grows with the input, not
// faster, for inputs built to stress it (deep nesting, long lists, long
// names, many broken statements).
func TestParseMemoryBounded(t *testing.T) {
	const n = 20000
	for _, tc := range []struct{ name, src string }{
		{"nesting", "SELECT " + strings.Repeat("(", n) + "a" + strings.Repeat(")", n) + " FROM t"},
		{"not", "SELECT * FROM t WHERE " + strings.Repeat("NOT ", n) + "a"},
		{"minus", "SELECT " + strings.Repeat("- ", n) + "a FROM t"},
		{"list", "SELECT " + strings.Repeat("a, ", n) + "a FROM t"},
		{"sum", "SELECT " + strings.Repeat("a + ", n) + "a FROM t"},
		{"subscripts", "SELECT a" + strings.Repeat("[1]", n) + " FROM t"},
		{"name", "SELECT " + strings.Repeat("x", 10*n) + " FROM t"},
		{"broken", strings.Repeat("SELECT FROM;", n)},
		{"group paren", "SELECT * FROM t GROUP BY (" + strings.Repeat("a + ", n) + "a"},
		{"string", "SELECT '" + strings.Repeat("''", n) + "' FROM t"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _ = Parse(tc.src)
		runtime.ReadMemStats(&after)
		got := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d bytes for %d bytes of input", tc.name, got, len(tc.src))
		if limit := uint64(600*len(tc.src) + 1<<20); got > limit {
			t.Errorf("%s: %d bytes allocated for %d bytes of input (limit %d)", tc.name, got, len(tc.src), limit)
		}
	}
}
