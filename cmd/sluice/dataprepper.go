package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/frontdoor/dataprepper"
	"github.com/sluice-dev/sluice/topology"
)

// loadPipeline loads a pipeline file: sluice's own, or a Data Prepper
// pipeline file (package frontdoor/dataprepper), translated with the
// data-prepper-config.yaml next to it and its notes printed to stderr as
// warnings. The translation is nil for a sluice file.
func loadPipeline(path string, reg component.Registry, stderr io.Writer) (*topology.Graph, *dataprepper.Translation, error) {
	if dataprepper.IsServerConfig(path) {
		return nil, nil, fmt.Errorf("%s is Data Prepper's server configuration, not a pipeline: sluice reads it with the pipeline file next to it (or in ../config/); name the pipeline file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read pipeline: %w", err)
	}
	if !dataprepper.Detect(data) {
		g, err := config.Load(path, data, reg, nil)
		return g, nil, err
	}
	g, tr, err := dataprepper.LoadFile(path, reg, nil)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range tr.Notes {
		fmt.Fprintln(stderr, n)
	}
	return g, tr, nil
}
