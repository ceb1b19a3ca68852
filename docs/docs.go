// Package docs holds sluice's user documentation and embeds the generated
// component reference (docs/reference/components.json) for `sluice help
// TYPE`. The reference pages, the JSON Schema and components.json are
// generated from the configuration structs by package internal/spec;
// TestReferenceIsFresh fails when they are stale, and
// `go test ./docs -update` rewrites them.
package docs

import (
	_ "embed"
	"encoding/json"

	"github.com/sluice-dev/sluice/internal/spec"
)

//go:embed reference/components.json
var componentsJSON []byte

// Components returns the description of every component type.
func Components() ([]spec.Component, error) {
	var cs []spec.Component
	err := json.Unmarshal(componentsJSON, &cs)
	return cs, err
}
