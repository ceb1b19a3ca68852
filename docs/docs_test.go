package docs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/spec"
	"github.com/sluice-dev/sluice/registry"
)

var update = flag.Bool("update", false, "rewrite the generated reference")

// The generated reference must match the configuration structs: change a
// field, its comment or its default, and run `go test ./docs -update`.
func TestReferenceIsFresh(t *testing.T) {
	root := ".."
	cs, err := spec.Describe(registry.Default(), root)
	if err != nil {
		t.Fatal(err)
	}
	top, engine, batch, retry, err := spec.Common(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := spec.Files(cs, top, engine, batch, retry)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		old, _ := filepath.Glob(filepath.Join(root, "docs/reference/*/*.md"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	for path, want := range files {
		full := filepath.Join(root, path)
		if *update {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run: go test ./docs -update)", path)
		}
	}
	// No page for a type that no longer exists.
	pages, _ := filepath.Glob(filepath.Join(root, "docs/reference/*/*.md"))
	for _, p := range pages {
		rel, _ := filepath.Rel(root, p)
		if _, ok := files[rel]; !ok {
			t.Errorf("%s describes no registered type (run: go test ./docs -update)", rel)
		}
	}
}

func TestEveryFieldIsDocumented(t *testing.T) {
	cs, err := spec.Describe(registry.Default(), "..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Doc == "" {
			t.Errorf("%s %s has no Doc", c.Kind, c.Type)
		}
		for _, f := range c.Fields {
			if f.Doc == "" {
				t.Errorf("%s %s: key %s has no doc comment", c.Kind, c.Type, f.Key)
			}
		}
	}
}
