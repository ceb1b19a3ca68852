package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

// Every example pipeline, in examples/ and in the README, must load.
func TestExamplesLoad(t *testing.T) {
	env := func(k string) (string, bool) {
		return map[string]string{"SHOP_DSN": "postgres://u@localhost/shop", "MONGODB_URI": "mongodb://localhost:27017/?replicaSet=rs0"}[k], true
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
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	n := 0
	for i, b := range blocks {
		if !regexp.MustCompile(`(?m)^sources:`).Match(b[1]) {
			continue // a fragment such as the engine: block
		}
		n++
		if _, err := config.Load("README.md block "+string(rune('0'+i)), b[1], registry.Default(), env); err != nil {
			t.Errorf("README yaml block %d:\n%v", i, err)
		}
	}
	if n == 0 {
		t.Fatal("no pipeline found in README")
	}
}
