package dataprepper

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Builders of the translated document. Every node carries the line of the
// Data Prepper key it comes from, so that sluice's own checks of the
// translated components (config.LoadNode) point into the user's file.

func str(v string, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: line}
}

func num(v int64, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10), Line: line}
}

func boolean(v bool, line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v), Line: line}
}

func mapping(line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
}

func seq(line int, items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line, Content: items}
}

// put appends key: v to mapping m; the key takes v's line.
func put(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key, v.Line), v)
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// pairs iterates over a mapping's keys and values.
func pairs(m *yaml.Node, f func(k, v *yaml.Node)) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		f(m.Content[i], m.Content[i+1])
	}
}

// scalar reports whether n is a non-null scalar.
func scalar(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null"
}

// asBool reads a boolean as Data Prepper's Jackson does: true/false, also
// written as strings ("true", as seed 000 writes insecure).
func asBool(n *yaml.Node) (bool, bool) {
	if !scalar(n) {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// asInt reads an integer, also written as a string ("27017").
func asInt(n *yaml.Node) (int64, bool) {
	if !scalar(n) {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64)
	return v, err == nil
}
