package config_test

import (
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/registry"
)

// A processor reading a source whose schemas are known before running (the
// generator's tables) is checked against them when the file is loaded.
func TestProcessorsAreCheckedAgainstKnownSchemas(t *testing.T) {
	src := `sources:
  gen: {type: generator, tables: [product]}
processors:
  cheap:
    type: filter
    inputs: [gen]
    condition: "prise < 1"
sinks:
  out: {type: stdout, inputs: [cheap]}
`
	_, err := config.Load("p.yaml", []byte(src), registry.Default(), nil)
	want := `p.yaml:4: processors.cheap.condition: "prise < 1": column "prise" not in gen.public.product at column 1 (hint: did you mean price?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	ok := `sources:
  gen: {type: generator, tables: [product]}
processors:
  cheap: {type: filter, inputs: [gen], condition: "price < 1"}
sinks:
  out: {type: stdout, inputs: [cheap]}
`
	if _, err := config.Load("p.yaml", []byte(ok), registry.Default(), nil); err != nil {
		t.Fatal(err)
	}
}
