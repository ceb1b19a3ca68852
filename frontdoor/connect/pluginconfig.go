package connect

import (
	"fmt"
	"net/http"
	"strings"
)

// GET /connector-plugins/{type}/config lists a plugin's keys in Kafka
// Connect's ConfigKeyInfo shape. A connector class's own keys are the keys
// its translation reads (recorded by running it on a placeholder
// configuration: type from the accessor, default, required, the allowed
// values), followed by the keys Connect defines for every connector; the
// transforms and predicates sluice translates list their options.

// configKeyInfo is one entry of the answer.
type configKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
	Order         int      `json:"order"`
}

// specRecorder collects the keys a translation reads.
type specRecorder struct {
	keys  map[string]*configKeyInfo
	order []string
}

func (s *specRecorder) key(name string) *configKeyInfo {
	k, ok := s.keys[name]
	if !ok {
		k = &configKeyInfo{Name: name, Type: "STRING", Importance: "MEDIUM", Width: "NONE", DisplayName: name, Dependents: []string{}, Order: -1,
			Documentation: "Translated by sluice (see docs/serve.md)."}
		s.keys[name] = k
		s.order = append(s.order, name)
	}
	return k
}

func (s *specRecorder) record(name, typ, def string, required bool) {
	k := s.key(name)
	if typ != "STRING" {
		k.Type = typ
	}
	if def != "" && k.DefaultValue == nil {
		k.DefaultValue = &def
	}
	if required {
		k.Required, k.Importance = true, "HIGH"
	}
}

func (s *specRecorder) allowed(name string, values []string) {
	s.key(name).Documentation = "Translated by sluice (see docs/serve.md). One of: " + strings.Join(values, ", ") + "."
}

func (s *specRecorder) ignored(name string) {
	k := s.key(name)
	k.Importance = "LOW"
	k.Documentation = "Accepted; it has no effect in sluice."
}

// specFill are placeholder values that lead every translation down its
// main path, so that it reads its keys.
var specFill = Config{
	"mongodb.hosts": "h:27017", "collection.include.list": "d.c", "topic.prefix": "p", "database.hostname": "h",
	"database.user": "u", "database.dbname": "d", "database.include.list": "d", "connection.url": "jdbc:postgresql://h/d",
	"mode": "incrementing", "table.include.list": "t", "topics": "t", "file": "f", "topic": "t", "s3.bucket.name": "b",
	"flush.size": "1", "format.class": "io.confluent.connect.s3.format.json.JsonFormat", "store.url": "http://h",
	"aws.access.key.id": "k", "connection.username": "u", "connection.user": "u",
}

// commonKeys are the keys Kafka Connect defines for every connector (and
// for sources or sinks), as sluice takes them.
func commonKeys(typ string) []configKeyInfo {
	str := func(s string) *string { return &s }
	common, errs, tr, pr := str("Common"), str("Error Handling"), str("Transforms"), str("Predicates")
	k := func(order int, group *string, name, typ string, required bool, def *string, imp, width, doc string) configKeyInfo {
		return configKeyInfo{Name: name, Type: typ, Required: required, DefaultValue: def, Importance: imp, Documentation: doc, Group: group,
			Width: width, DisplayName: name, Dependents: []string{}, Order: order}
	}
	out := []configKeyInfo{
		k(1, common, "name", "STRING", true, nil, "HIGH", "MEDIUM", "Globally unique name of the connector (its pipeline's name)."),
		k(2, common, "connector.class", "STRING", true, nil, "HIGH", "LONG", "The connector class or its alias, translated into a sluice pipeline."),
		k(3, common, "tasks.max", "INT", false, str("1"), "HIGH", "SHORT", "Accepted; sluice runs one task per connector."),
		k(4, common, "tasks.max.enforce", "BOOLEAN", false, str("true"), "LOW", "SHORT", "Accepted; it has no effect in sluice."),
		k(5, common, "key.converter", "CLASS", false, nil, "LOW", "SHORT", "org.apache.kafka.connect.json.JsonConverter (StringConverter for the FileStream connectors)."),
		k(6, common, "value.converter", "CLASS", false, nil, "LOW", "SHORT", "org.apache.kafka.connect.json.JsonConverter (StringConverter for the FileStream connectors)."),
		k(7, common, "header.converter", "CLASS", false, nil, "LOW", "SHORT", "Accepted; it has no effect in sluice."),
		k(8, tr, "transforms", "LIST", false, str(""), "LOW", "LONG", "Aliases of the transforms, translated into processors in this order."),
		k(9, pr, "predicates", "LIST", false, str(""), "LOW", "LONG", "Aliases of the predicates the transforms name."),
		k(10, common, "config.action.reload", "STRING", false, str("restart"), "LOW", "MEDIUM", "Accepted; it has no effect in sluice."),
		k(1, errs, "errors.retry.timeout", "LONG", false, str("0"), "MEDIUM", "MEDIUM", "Accepted; sluice's engine retries sinks by its own policy."),
		k(2, errs, "errors.retry.delay.max.ms", "LONG", false, str("60000"), "MEDIUM", "MEDIUM", "Accepted; sluice's engine retries sinks by its own policy."),
		k(3, errs, "errors.tolerance", "STRING", false, str("none"), "MEDIUM", "SHORT", "none only: sluice stops with its checkpoint rather than drop a record."),
		k(4, errs, "errors.log.enable", "BOOLEAN", false, str("false"), "MEDIUM", "SHORT", "Accepted; it has no effect in sluice."),
		k(5, errs, "errors.log.include.messages", "BOOLEAN", false, str("false"), "MEDIUM", "SHORT", "Accepted; it has no effect in sluice."),
	}
	if typ == "sink" {
		out = append(out,
			k(4, common, "topics", "LIST", false, str(""), "HIGH", "LONG", "The topics the connector reads."),
			k(4, common, "topics.regex", "STRING", false, str(""), "HIGH", "LONG", "A regular expression over the names of the topics the connector reads."),
			k(6, errs, "errors.deadletterqueue.topic.name", "STRING", false, str(""), "MEDIUM", "MEDIUM", "Not supported: a dead letter topic needs a YAML pipeline with dead_letter:."),
		)
	}
	return out
}

// smtKeys are the options of the transforms and predicates sluice
// translates.
var smtKeys = map[string][]string{
	smtExtractNewRecordState:   {"delete.tombstone.handling.mode", "delete.handling.mode", "drop.tombstones", "add.fields", "add.fields.prefix", "add.headers", "add.headers.prefix"},
	smtExtractNewDocumentState: {"delete.tombstone.handling.mode", "delete.handling.mode", "drop.tombstones", "add.fields", "add.fields.prefix", "add.headers", "add.headers.prefix", "operation.header", "array.encoding", "flatten.struct", "flatten.struct.delimiter", "sanitize.field.names"},
	smtRegexRouter:             {"regex", "replacement"},
	smtFilter:                  {},
	smtReplaceFieldValue:       {"exclude", "include", "renames", "blacklist", "whitelist"},
	smtInsertFieldValue:        {"topic.field", "partition.field", "static.field", "static.value"},
	smtTimestampConverterValue: {"field", "target.type", "format", "unix.precision"},
	predTopicNameMatches:       {"pattern"},
	predRecordIsTombstone:      {},
}

// pluginConfig returns the keys of a plugin, or false when sluice does not
// know it.
func pluginConfig(plugin string) ([]configKeyInfo, bool) {
	if keys, ok := smtKeys[canonicalSMT(plugin)]; ok {
		out := []configKeyInfo{}
		for _, n := range keys {
			required := n == "regex" || n == "replacement" || n == "pattern"
			imp := "MEDIUM"
			if required {
				imp = "HIGH"
			}
			out = append(out, configKeyInfo{Name: n, Type: "STRING", Required: required, Importance: imp, Documentation: "Translated by sluice (see docs/serve.md).",
				Width: "NONE", DisplayName: n, Dependents: []string{}, Order: -1})
		}
		return out, true
	}
	c := lookupClass(plugin)
	if c == nil {
		return nil, false
	}
	rec := &specRecorder{keys: map[string]*configKeyInfo{}}
	cfg := Config{}
	for k, v := range specFill {
		cfg[k] = v
	}
	// A second pass without the include lists and with a connection
	// string reads the keys of the other branches.
	alt := Config{"mongodb.connection.string": "mongodb://h"}
	for k, v := range cfg {
		switch k {
		case "table.include.list", "collection.include.list", "mongodb.hosts":
		default:
			alt[k] = v
		}
	}
	for _, cfg := range []Config{cfg, alt} {
		r := &reader{name: "spec", cfg: cfg, used: map[string]bool{}, spec: rec}
		p := &Plan{Class: c.name, Type: c.typ, Sources: map[string]Node{}, Sinks: map[string]Node{}}
		c.translate(r, Env{Topics: LogTopics{Dir: "/spec"}, FilesRoot: "/spec"}, p)
	}
	common := commonKeys(c.typ)
	skip := map[string]bool{}
	for _, k := range common {
		skip[k.Name] = true
	}
	var own []configKeyInfo
	// In the order the translation reads them, as Connect lists a
	// connector's keys in the order it defines them.
	for _, n := range rec.order {
		if skip[n] || strings.HasPrefix(n, "transforms") || strings.HasPrefix(n, "predicates") || strings.HasPrefix(n, "key.converter.") || strings.HasPrefix(n, "value.converter.") {
			continue
		}
		k := *rec.keys[n]
		for _, s := range c.secrets {
			if s == n {
				k.Type = "PASSWORD"
			}
		}
		own = append(own, k)
	}
	return append(own, common...), true
}

func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	plugin := r.PathValue("plugin")
	keys, ok := pluginConfig(plugin)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown plugin %s.", plugin))
		return
	}
	writeJSON(w, http.StatusOK, keys)
}
