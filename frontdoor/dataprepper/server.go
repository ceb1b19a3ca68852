package dataprepper

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/internal/namecheck"
)

// ServerConfigName is the file Data Prepper reads its server settings from.
const ServerConfigName = "data-prepper-config.yaml"

// serverKeys are data-prepper-config.yaml's keys about Data Prepper's own
// server, accepted without effect (they change nothing in the data path).
var serverKeys = map[string]bool{
	"ssl": true, "serverPort": true, "keyStoreFilePath": true, "keyStorePassword": true,
	"privateKeyPassword": true, "metricRegistries": true, "processor_shutdown_timeout": true,
	"sink_shutdown_timeout": true,
}

var prefixRE = namecheck.New("A-Za-z0-9", "A-Za-z0-9_.-", 0, 62)

// server translates data-prepper-config.yaml. It returns the state
// directory that source_coordination's partition_prefix selects ("" for
// sluice's default): bumping the prefix is Data Prepper's soft reset — the
// store's old partitions are ignored and the pipeline starts over — which
// is what a fresh state directory gives sluice.
func (t *translator) server(data []byte) string {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.fail(nil, "", "YAML syntax: "+strings.TrimPrefix(err.Error(), "yaml: "), "check indentation and quoting")
		return ""
	}
	if len(doc.Content) == 0 {
		return ""
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		t.fail(root, "", "must be a mapping", "")
		return ""
	}
	stateDir := ""
	pairs(root, func(k, v *yaml.Node) {
		switch {
		case k.Value == "source_coordination":
			stateDir = t.coordination(k, v)
		case serverKeys[k.Value]:
			t.note(k, k.Value, "accepted without effect: it configures Data Prepper's own server; `sluice run --http ADDR` serves metrics and health")
		default:
			t.fail(k, k.Value, "is not translated", "sluice reads source_coordination from "+ServerConfigName+"; remove the other keys")
		}
	})
	return stateDir
}

func (t *translator) coordination(k, v *yaml.Node) string {
	path := k.Value
	if v.Kind != yaml.MappingNode {
		t.fail(v, path, "must be a mapping with store and partition_prefix", "")
		return ""
	}
	prefix := ""
	pairs(v, func(kk, vv *yaml.Node) {
		p := path + "." + kk.Value
		switch kk.Value {
		case "partition_prefix":
			if !scalar(vv) || !prefixRE.Match(vv.Value) || vv.Value == "." || vv.Value == ".." {
				t.fail(vv, p, "must be a name of letters, digits, _ . and -", "it names the pipeline's state directory")
				return
			}
			prefix = vv.Value
		case "store":
			if vv.Kind != yaml.MappingNode || len(vv.Content) != 2 {
				t.fail(vv, p, "must be one store: {in_memory: {}} or {dynamodb: {...}}", "")
				return
			}
			switch store := vv.Content[0]; store.Value {
			case "in_memory":
				t.note(store, p+".in_memory", "one node: sluice keeps the pipeline's partitions and checkpoints in its embedded store in the state directory, which survives restarts")
			case "dynamodb":
				t.fail(store, p+".dynamodb", "sluice does not use DynamoDB as a coordination store; to share the pipeline between several nodes, run its translation (sluice validate --explain prints it) with coordination: {type: postgres, dsn: …} (docs/coordination.md)",
					"remove source_coordination to run the pipeline on one node, with its partitions and checkpoints in sluice's embedded store in the state directory")
			default:
				t.fail(store, p+"."+store.Value, fmt.Sprintf("coordination store %s is not translated", store.Value), "remove source_coordination to run on one node with sluice's embedded store")
			}
		default:
			t.fail(kk, p, "unknown key", "source_coordination has store and partition_prefix")
		}
	})
	if prefix == "" {
		return ""
	}
	return ".sluice/" + prefix
}
