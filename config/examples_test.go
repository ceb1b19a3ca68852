package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

// Every example pipeline, in examples/, the README and docs/, must load.
func TestExamplesLoad(t *testing.T) {
	env := func(k string) (string, bool) {
		return map[string]string{"SHOP_DSN": "postgres://u@localhost/shop", "MONGODB_URI": "mongodb://localhost:27017/?replicaSet=rs0",
			"CUSTOMERS_DSN": "postgres://u@localhost/customers", "LOGISTICS_DSN": "u:p@tcp(localhost:3306)/logistics"}[k], true
	}
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		if _, err := config.LoadFile(f, registry.Default(), env); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
	docs, _ := filepath.Glob("../docs/*.md")
	n := 0
	for _, doc := range append([]string{"../README.md"}, docs...) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(text, -1)
		for i, b := range blocks {
			if !regexp.MustCompile(`(?m)^sources:`).Match(b[1]) {
				continue // a fragment such as the engine: block
			}
			n++
			name := fmt.Sprintf("%s block %d", filepath.Base(doc), i+1)
			if _, err := config.Load(name, b[1], registry.Default(), env); err != nil {
				t.Errorf("%s:\n%v", name, err)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d pipelines found in README and docs/", n)
	}
}
