package eval

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/reference/sql-functions.md")

const referencePath = "../../docs/reference/sql-functions.md"

// TestFunctionReference keeps the generated function reference true to the
// library: every function is described, and the page is fresh.
func TestFunctionReference(t *testing.T) {
	for n := range scalars {
		if funcDocs[n] == "" {
			t.Errorf("function %s has no description in funcDocs", n)
		}
	}
	for n := range aggregates {
		if aggDocs[n] == "" {
			t.Errorf("aggregate %s has no description in aggDocs", n)
		}
	}
	for n := range funcDocs {
		if _, ok := scalars[n]; !ok {
			t.Errorf("funcDocs describes %s, which is not a function", n)
		}
	}
	want := FunctionReference()
	if *update {
		if err := os.WriteFile(referencePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referencePath)
	if err != nil || string(got) != want {
		t.Errorf("%s is stale (run: go test ./ksql/eval -run TestFunctionReference -update)", referencePath)
	}
}
