package config_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/sink/file"
)

func TestLoadValueDoesNotReadTheEnvironment(t *testing.T) {
	t.Setenv("SLUICE_TEST_SECRET", "leaked")
	doc := map[string]any{
		"name":      "fromvalue",
		"state_dir": "/tmp/x",
		"sources":   map[string]any{"gen": map[string]any{"type": "generator", "tables": []string{"product"}}},
		"sinks":     map[string]any{"out": map[string]any{"type": "file", "inputs": []string{"gen"}, "path": "out/${SLUICE_TEST_SECRET}.jsonl"}},
	}
	g, err := config.LoadValue("connector x", doc, registry.Default())
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Sinks[0].Config.(*file.Config).Path; got != "out/${SLUICE_TEST_SECRET}.jsonl" {
		t.Fatalf("path %q: the value must be taken as it is", got)
	}
	doc["sinks"].(map[string]any)["out"].(map[string]any)["bogus"] = 1
	_, err = config.LoadValue("connector x", doc, registry.Default())
	if err == nil || !strings.Contains(err.Error(), "connector x: sinks.out.bogus: unknown key") {
		t.Fatalf("got %v", err)
	}
}
