package parse

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + a + "\ngot:  " + b
		}
	}
	return ""
}

// TestSeed004 parses seed 004's statements as written into the expected
// AST (golden), and checks that printing them gives text that parses to
// the same AST.
func TestSeed004(t *testing.T) {
	src, err := os.ReadFile("../../examples/seed004-ksql.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 10 {
		t.Fatalf("%d statements, want 10", len(stmts))
	}
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(dump(s))
		b.WriteString("\n")
	}
	golden(t, "seed004.ast", b.String())
	golden(t, "seed004.canonical.sql", PrintStatements(stmts))
	checkRoundTrip(t, stmts)
}

// checkRoundTrip prints stmts, parses the text, and requires the same
// ASTs, positions aside. It clears the positions of stmts.
func checkRoundTrip(t *testing.T, stmts []Statement) {
	t.Helper()
	text := PrintStatements(stmts)
	again, err := Parse(text)
	if err != nil {
		t.Fatalf("printed text does not parse: %v\n%s", err, text)
	}
	a, b := append([]Statement(nil), stmts...), again
	zeroPositions(reflect.ValueOf(a))
	zeroPositions(reflect.ValueOf(b))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the AST:\n%s\n--- first:\n%s\n--- second:\n%s", text, dump(a), dump(b))
	}
}

// TestStatements parses a text with every form of the grammar (golden
// AST) and round-trips it.
func TestStatements(t *testing.T) {
	src, err := os.ReadFile("testdata/statements.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(dump(s))
		b.WriteString("\n")
	}
	golden(t, "statements.ast", b.String())
	golden(t, "statements.canonical.sql", PrintStatements(stmts))
	checkRoundTrip(t, stmts)
}
