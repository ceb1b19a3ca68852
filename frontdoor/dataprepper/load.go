package dataprepper

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/topology"
)

// sluiceKeys are the top-level keys of a sluice pipeline file: a file with
// any of them is sluice's own.
var sluiceKeys = map[string]bool{"name": true, "state_dir": true, "engine": true, "sources": true,
	"processors": true, "sql": true, "sql_file": true, "sinks": true}

// Detect reports whether data is a Data Prepper pipeline file: a mapping
// with none of a sluice pipeline's top-level keys, one of whose values is a
// pipeline (a mapping with source: or sink:).
func Detect(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	found := false
	for i, root := 0, doc.Content[0]; i+1 < len(root.Content); i += 2 {
		if sluiceKeys[root.Content[i].Value] {
			return false
		}
		v := root.Content[i+1]
		found = found || get(v, "source") != nil || get(v, "sink") != nil
	}
	return found
}

// IsServerConfig reports whether path names data-prepper-config.yaml, which
// is read with a pipeline file and is not one itself.
func IsServerConfig(path string) bool {
	return filepath.Base(path) == ServerConfigName
}

// FindServerConfig returns the data-prepper-config.yaml that goes with the
// pipeline file at path, where Data Prepper's layout puts it: next to it,
// or in ../config/ (pipelines/ and config/ side by side). "" when none.
func FindServerConfig(path string) string {
	dir := filepath.Dir(path)
	for _, p := range []string{filepath.Join(dir, ServerConfigName), filepath.Join(dir, "..", "config", ServerConfigName)} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// TranslateFile reads and translates the pipeline file at path with its
// data-prepper-config.yaml (FindServerConfig).
func TranslateFile(path string) (*Translation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	var server *ServerConfig
	if sp := FindServerConfig(path); sp != "" {
		sd, err := os.ReadFile(sp)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ServerConfigName, err)
		}
		server = &ServerConfig{File: sp, Data: sd}
	}
	return Translate(path, data, server)
}

// LoadFile translates the Data Prepper pipeline file at path and loads the
// result as config.LoadNode does (environment from lookup, os.LookupEnv when
// nil). Errors are config.Errors with the Data Prepper file's lines.
func LoadFile(path string, reg component.Registry, lookup func(string) (string, bool)) (*topology.Graph, *Translation, error) {
	tr, err := TranslateFile(path)
	if err != nil {
		return nil, nil, err
	}
	// LoadNode interpolates ${VAR} in place: it gets a copy, so that
	// Explain still prints the variables, not their values.
	g, err := config.LoadNode(path, clone(tr.Doc), reg, lookup)
	if err != nil {
		return nil, tr, err
	}
	return g, tr, nil
}

// Explain prints the translated pipeline as a sluice pipeline file, with
// every secret replaced by an environment variable (${NAME_PASSWORD}) and
// the notes and those variables in comments at the top. source names the
// Data Prepper file in the heading.
func (tr *Translation) Explain(source string) []byte {
	saved := make([]string, len(tr.Secrets))
	for i, s := range tr.Secrets {
		saved[i] = s.node.Value
		s.node.Value = "${" + s.Env + "}"
	}
	defer func() {
		for i, s := range tr.Secrets {
			s.node.Value = saved[i]
		}
	}()
	var head strings.Builder
	fmt.Fprintf(&head, "sluice pipeline translated from the Data Prepper file %s\n", filepath.Base(source))
	for _, s := range tr.Secrets {
		fmt.Fprintf(&head, "secret: export %s (the value at %s:%d)\n", s.Env, filepath.Base(source), s.Line)
	}
	for _, n := range tr.Notes {
		fmt.Fprintf(&head, "%s:%d: %s: %s\n", filepath.Base(n.File), n.Line, n.Path, n.Msg)
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSuffix(head.String(), "\n"), "\n") {
		b.WriteString("# " + line + "\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(tr.Doc) // a tree of plain scalars, maps and lists always encodes
	_ = enc.Close()
	return b.Bytes()
}

func clone(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = clone(k)
	}
	return &c
}
