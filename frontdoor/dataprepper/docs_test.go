package dataprepper

import (
	"regexp"
	"testing"
)

// TestDocsExample: docs/dataprepper.md's Data Prepper example translates
// to exactly the sluice pipeline printed after it.
func TestDocsExample(t *testing.T) {
	text := read(t, "../../docs/dataprepper.md")
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(text, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d yaml blocks in docs/dataprepper.md", len(blocks))
	}
	in, want := blocks[0][1], string(blocks[1][1])
	if !Detect(in) {
		t.Fatal("the first block is not a Data Prepper pipeline")
	}
	_, tr := load(t, "pipeline.yaml", in, nil)
	if got := string(tr.Explain("pipeline.yaml")); got != want {
		t.Fatalf("docs/dataprepper.md's explained pipeline:\n%s\nthe translation prints:\n%s", want, got)
	}
}
