package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Config is a connector's configuration as Kafka Connect holds it: every
// value a string.
type Config map[string]string

// ParseConfig decodes a JSON object of connector configuration. Values may
// be strings, numbers or booleans, as Kafka Connect accepts them (Jackson
// turns them into strings: 1 becomes "1", true "true"); null, objects and
// arrays are refused.
func ParseConfig(raw json.RawMessage) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("the connector configuration must be a JSON object")
	}
	out := make(Config, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, fmt.Errorf("the value of %q must be a string, a number or a boolean", k)
		}
	}
	return out, nil
}

// FieldError is one problem with one key of a connector's configuration.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// ConfigError lists every problem of a connector's configuration; the REST
// API answers it with 400 in Kafka Connect's words.
type ConfigError []*FieldError

func (es ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):", len(es))
	for _, e := range es {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	b.WriteString("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return b.String()
}

// UnknownClassError is a connector.class sluice does not translate.
type UnknownClassError struct{ Class string }

func (e *UnknownClassError) Error() string {
	return fmt.Sprintf("Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", e.Class, strings.Join(ClassNames(), ", "))
}

// Node is one pipeline-file node (a source or sink block): its type and
// keys, as config.LoadValue takes them.
type Node map[string]any

// Topics carries connectors' topics: a source connector's pipeline ends in
// the Writer, a sink connector's starts at the Reader. The server's topic
// log (internal/topiclog) or a Kafka cluster implement it.
type Topics interface {
	// Writer returns the sink that appends every event it gets to the
	// topic the template topic names (package internal/tmpl: ${stream},
	// ${schema}, ${table}, …), with w's record options.
	Writer(connector string, topic string, w WriterOptions) Node
	// Reader returns the source that reads topics (or those matching
	// regex, a whole-name regular expression) from the earliest retained
	// offset, its stream names being the topic names.
	Reader(connector string, topics []string, regex string) Node
}

// WriterOptions say how a source connector's records are written.
type WriterOptions struct {
	// Schemas is JsonConverter's schemas.enable (the envelope with its
	// schema).
	Schemas bool
	// Flat writes the row (JDBC and FileStream sources), not Debezium's
	// change envelope.
	Flat bool
	// Tombstones writes a null-valued record after a delete (Debezium's
	// tombstones.on.delete).
	Tombstones bool
}

// Env is what the translation needs from the server.
type Env struct {
	Topics Topics
	// FilesRoot confines the FileStream connectors' files; "" refuses
	// them (no request may make the server read an arbitrary file).
	FilesRoot string
	// FlatTopic tells whether the records of a topic are rows written by
	// a JDBC or FileStream source (for the S3 sink's JsonFormat, which
	// writes the record's value as it is); nil: none are.
	FlatTopic func(topic string) bool
}

// Plan is a connector translated: what kind it is and its pipeline.
type Plan struct {
	Class string // the canonical connector class
	Type  string // "source" or "sink"
	// Sources and Sinks are the pipeline's nodes, by name.
	Sources map[string]Node
	Sinks   map[string]Node
	// Topic is the writer's topic template (source connectors).
	Topic string
	// Flat is set when a source connector writes rows (WriterOptions.Flat).
	Flat bool
	// Secrets are the configuration keys whose values are secrets.
	Secrets []string
	// Processors are the single message transforms translated, by name,
	// chained in the order of the transforms key.
	Processors map[string]Node
	// Unwrapped is set when ExtractNewRecordState (or
	// ExtractNewDocumentState) is applied: the records are rows.
	Unwrapped bool
	// Warnings are what the server logs when it installs the connector
	// (deprecated options, options without effect).
	Warnings []string

	dropTombstones bool  // Filter with RecordIsTombstone
	replaceNull    *bool // value.converter.replace.null.with.default
	// sinkHead names the processor a sink connector's own chain starts
	// with (the Elasticsearch index names' routes), which the transforms
	// go before: Connect names indices after the transformed topics.
	sinkHead string
}

// Doc returns the pipeline document for config.LoadValue.
func (p *Plan) Doc(name, stateDir string) map[string]any {
	doc := map[string]any{"name": name, "state_dir": stateDir}
	if len(p.Sources) > 0 {
		doc["sources"] = toAny(p.Sources)
	}
	if len(p.Sinks) > 0 {
		doc["sinks"] = toAny(p.Sinks)
	}
	if len(p.Processors) > 0 {
		doc["processors"] = toAny(p.Processors)
	}
	return doc
}

func toAny(m map[string]Node) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = map[string]any(v)
	}
	return out
}

// class describes one translated connector class.
type class struct {
	name    string   // canonical
	aliases []string // short names Kafka Connect accepts too
	typ     string   // source | sink
	secrets []string
	// translate fills the plan from the config through r; keys it does not
	// take are reported by Translate.
	translate func(r *reader, env Env, p *Plan)
}

// Translate turns a connector's configuration into a pipeline plan. Every
// key must be one the class's translation takes, one of the common keys
// Kafka Connect defines, or one documented as accepted without effect;
// any other is an error naming it.
func Translate(name string, cfg Config, env Env) (*Plan, error) {
	cls, ok := cfg["connector.class"]
	if !ok || strings.TrimSpace(cls) == "" {
		return nil, fmt.Errorf("Connector config %s contains no connector type", sortedConfig(cfg))
	}
	c := lookupClass(cls)
	if c == nil {
		return nil, &UnknownClassError{Class: cls}
	}
	r := &reader{name: name, cfg: cfg, used: map[string]bool{}}
	p := &Plan{Class: c.name, Type: c.typ, Sources: map[string]Node{}, Sinks: map[string]Node{}, Secrets: append([]string(nil), c.secrets...)}
	if name == "" {
		r.fail("name", "Invalid value  for configuration name: String may not be empty")
	}
	common(r, c, p)
	if env.Topics == nil {
		r.fail("connector.class", "this server carries no topics (hint: run sluice serve with its topic log or --kafka)")
	} else {
		c.translate(r, env, p)
		chain(r, p)
		if p.replaceNull != nil {
			if w := p.Sinks[writerNode]; p.Type == "source" && w != nil {
				w["replace_null_with_default"] = *p.replaceNull
			} else if !*p.replaceNull {
				r.fail("value.converter.replace.null.with.default", "false is not supported on sink connectors: the records are read as their source connector wrote them (hint: set it on the source connector)")
			}
		}
	}
	p.Warnings = r.warnings
	for _, k := range r.unused() {
		r.fail(k, "sluice does not support this key for "+c.name+" (hint: remove it; `sluice help` lists what each sluice component takes)")
	}
	if len(r.errs) > 0 {
		sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Key < r.errs[j].Key })
		return nil, r.errs
	}
	return p, nil
}

func sortedConfig(cfg Config) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := cfg[k]
		if IsSecretKey(k) {
			v = Mask
		}
		parts[i] = k + "=" + MaskValue(v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// reader takes keys from a config and collects the problems.
type reader struct {
	name string // the connector's
	cfg  Config
	used map[string]bool
	errs ConfigError
	// warnings are logged when the connector is installed.
	warnings []string
	// spec, when set, records every key the translation reads (GET
	// /connector-plugins/{type}/config).
	spec *specRecorder
}

func (r *reader) fail(key, msg string) { r.errs = append(r.errs, &FieldError{Key: key, Msg: msg}) }

func (r *reader) warn(msg string) { r.warnings = append(r.warnings, msg) }

// get returns a key's value (or def when absent or empty), marking it used.
func (r *reader) get(key, def string) string {
	r.used[key] = true
	if r.spec != nil {
		r.spec.record(key, "STRING", def, false)
	}
	if v, ok := r.cfg[key]; ok && v != "" {
		return v
	}
	return def
}

// first returns the first of the keys that is set (a current name and its
// legacy ones), marking all used.
func (r *reader) first(def string, keys ...string) string {
	v := ""
	for _, k := range keys {
		if x := r.get(k, ""); x != "" && v == "" {
			v = x
		}
	}
	if v == "" {
		return def
	}
	return v
}

func (r *reader) required(keys ...string) string {
	v := r.first("", keys...)
	if r.spec != nil {
		r.spec.record(keys[0], "STRING", "", true)
	}
	if v == "" {
		r.fail(keys[0], fmt.Sprintf("Missing required configuration %q which has no default value.", keys[0]))
	}
	return v
}

func (r *reader) boolean(key string, def bool) bool {
	if r.spec != nil {
		r.spec.record(key, "BOOLEAN", strconv.FormatBool(def), false)
	}
	v := r.get(key, "")
	if v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	r.fail(key, fmt.Sprintf("Invalid value %s for configuration %s: Expected value to be either true or false", v, key))
	return def
}

func (r *reader) integer(key string, def int64) int64 {
	if r.spec != nil {
		typ := "INT"
		if strings.HasSuffix(key, ".ms") {
			typ = "LONG"
		}
		r.spec.record(key, typ, strconv.FormatInt(def, 10), false)
	}
	v := r.get(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		r.fail(key, fmt.Sprintf("Invalid value %s for configuration %s: Not a number of type INT", v, key))
		return def
	}
	return n
}

// oneOf takes a key whose value must be one of allowed (case-insensitive);
// it returns the lower-cased value.
func (r *reader) oneOf(key, def string, allowed ...string) string {
	if r.spec != nil {
		r.spec.record(key, "STRING", def, false)
		r.spec.allowed(key, allowed)
	}
	v := strings.ToLower(r.get(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, fmt.Sprintf("value %q is not supported (hint: one of %s)", r.cfg[key], strings.Join(allowed, ", ")))
	return def
}

// ignore marks keys accepted without effect (documented in doc.go).
func (r *reader) ignore(keys ...string) {
	for _, k := range keys {
		r.used[k] = true
		if r.spec != nil {
			r.spec.ignored(k)
		}
	}
}

// ignorePrefix marks every key with the prefix as accepted.
func (r *reader) ignorePrefix(prefix string) {
	for k := range r.cfg {
		if strings.HasPrefix(k, prefix) {
			r.used[k] = true
		}
	}
}

func (r *reader) unused() []string {
	var out []string
	for k := range r.cfg {
		if !r.used[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// list splits a comma-separated list, trimming blanks.
func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// common takes the keys Kafka Connect defines for every connector.
func common(r *reader, c *class, p *Plan) {
	r.ignore("name", "connector.class", "config.action.reload", "tasks.max.enforce", "errors.retry.timeout", "errors.retry.delay.max.ms", "errors.log.enable", "errors.log.include.messages", "header.converter")
	if n := r.integer("tasks.max", 1); n < 1 {
		r.fail("tasks.max", fmt.Sprintf("Invalid value %d for configuration tasks.max: Value must be at least 1", n))
	}
	if r.oneOf("errors.tolerance", "none", "none", "all") == "all" {
		r.fail("errors.tolerance", "all (skip bad records) is not supported: sluice stops with the checkpoint intact rather than drop a record (hint: remove it)")
	}
	if v := r.get("errors.deadletterqueue.topic.name", ""); v != "" {
		r.fail("errors.deadletterqueue.topic.name", "dead letter topics are not supported by this front door yet (hint: remove it, or use a YAML pipeline with dead_letter:)")
	}
	r.ignorePrefix("errors.deadletterqueue.")
	converters(r, c, p)
	// Removed in Kafka 3.0; Connect ignores them with a warning.
	r.ignorePrefix("internal.key.converter")
	r.ignorePrefix("internal.value.converter")
	if c.typ == "source" {
		// Topics are created at the first write; their settings mean
		// nothing to the topic log.
		r.ignorePrefix("topic.creation.")
	}
}

// chain translates the transforms into processors before the connector's
// last node: a source connector's topic writer, a sink connector's sink.
func chain(r *reader, p *Plan) {
	tombstones := true
	if p.Type == "source" && !p.Flat {
		tombstones = !strings.EqualFold(r.cfg["tombstones.on.delete"], "false")
	} else if p.Type == "source" {
		tombstones = false
	}
	tc := transforms(r, p, tombstones)
	var last Node
	if p.Type == "source" {
		last = p.Sinks[writerNode]
		if tc.byTopic && last != nil && p.Topic != "${stream}" {
			// The transforms see records by topic (RegexRouter renames
			// it, TopicNameMatches tests it): name the streams as the
			// topics first, and write each to its stream's name.
			tc.nodes = append([]Node{{"type": "route", "template": p.Topic}}, tc.nodes...)
			tc.names = append([]string{"topic_names"}, tc.names...)
			last["topic"] = "${stream}"
		}
		if last != nil && p.dropTombstones {
			last["tombstones_on_delete"] = false
		}
	} else {
		last = p.Sinks[sinkNode]
		if p.sinkHead != "" {
			last = p.Processors[p.sinkHead]
		}
	}
	tc.attach(last)
	if tc.unwrapped {
		p.Unwrapped = true
		if p.Type == "source" {
			// The topic's records are rows, as a JDBC source's: the S3
			// sink's JsonFormat writes them as rows.
			p.Flat = true
		}
	}
}

// Converter classes.
const (
	jsonConverter   = "org.apache.kafka.connect.json.JsonConverter"
	stringConverter = "org.apache.kafka.connect.storage.StringConverter"
)

// foreignConverterKeys are settings of other converters (Confluent's
// schema registry converters) that JsonConverter ignores, as configs
// written for several converters carry them (seed 003's subject name
// strategy).
var foreignConverterKeys = []string{"schema.registry.", "basic.auth.", "bearer.auth.", "key.subject.name.strategy", "value.subject.name.strategy",
	"auto.register.schemas", "use.latest.version", "latest.compatibility.strict", "enhanced.avro.schema.support", "connect.meta.data", "specific.avro.reader",
	"avro.", "scrub.invalid.names", "normalize.schemas", "use.schema.id", "id.compatibility.strict"}

// converters takes key.converter and value.converter with their settings:
// JsonConverter (schemas.enable, replace.null.with.default,
// decimal.format BASE64, schemas.cache.size), StringConverter for the
// FileStream connectors, whose records are strings; registry converters
// are a 400 saying why.
func converters(r *reader, c *class, p *Plan) {
	schemas := map[string]bool{}
	for _, k := range []string{"key.converter", "value.converter"} {
		v := r.get(k, jsonConverter)
		switch v {
		case jsonConverter, "JsonConverter":
			schemas[k] = r.boolean(k+".schemas.enable", true)
			switch strings.ToUpper(r.get(k+".decimal.format", "BASE64")) {
			case "BASE64":
			default:
				r.fail(k+".decimal.format", "only BASE64 (the default) is supported: sluice writes decimals as Debezium does (hint: remove it)")
			}
			if k == "value.converter" {
				if v := r.get(k+".replace.null.with.default", ""); v != "" {
					b := r.boolean(k+".replace.null.with.default", true)
					p.replaceNull = &b
				}
			} else if !r.boolean(k+".replace.null.with.default", true) {
				r.fail(k+".replace.null.with.default", "false is not supported for keys (key columns have no defaults to replace)")
			}
			r.ignore(k + ".schemas.cache.size")
		case stringConverter, "StringConverter":
			if c.name != "org.apache.kafka.connect.file.FileStreamSourceConnector" && c.name != "org.apache.kafka.connect.file.FileStreamSinkConnector" {
				r.fail(k, stringConverter+" turns "+c.name+"'s structured records into Struct{…} text (hint: "+jsonConverter+")")
			}
			schemas[k] = true
			r.ignore(k + ".encoding")
		case "io.confluent.connect.avro.AvroConverter", "io.confluent.connect.protobuf.ProtobufConverter", "io.confluent.connect.json.JsonSchemaConverter",
			"io.apicurio.registry.utils.converter.AvroConverter", "io.apicurio.registry.utils.converter.ProtobufConverter", "io.apicurio.registry.utils.converter.ExtJsonConverter":
			r.fail(k, v+" needs a schema registry, which sluice does not talk to (hint: "+jsonConverter+")")
		default:
			r.fail(k, v+" is not supported (hint: "+jsonConverter+")")
		}
		for key := range r.cfg {
			rest, ok := strings.CutPrefix(key, k+".")
			if !ok || r.used[key] {
				continue
			}
			foreign := false
			for _, f := range foreignConverterKeys {
				if strings.HasPrefix(rest, f) {
					foreign = true
				}
			}
			if foreign {
				r.used[key] = true // JsonConverter ignores it too
			} else {
				r.used[key] = true
				r.fail(key, fmt.Sprintf("%s is not a setting sluice supports for %s (hint: remove it)", rest, v))
			}
		}
	}
	// The writer's format carries one schemas.enable for keys and values:
	// the value converter's. A key setting given otherwise is said so
	// (sluice's readers decode either; a consumer outside sluice of a
	// --kafka topic sees the keys that way).
	if k, v := schemas["key.converter"], schemas["value.converter"]; len(schemas) == 2 && k != v && r.cfg["key.converter.schemas.enable"] != "" {
		r.warn(fmt.Sprintf("key.converter.schemas.enable=%v: sluice writes keys with the value converter's schemas.enable (%v)", k, v))
	}
}

// schemasEnabled is the value converter's schemas.enable (default true).
func schemasEnabled(r *reader) bool {
	return r.boolean("value.converter.schemas.enable", true)
}

// sinkTopics takes topics / topics.regex.
func sinkTopics(r *reader) (topics []string, regex string) {
	topics = list(r.get("topics", ""))
	regex = r.get("topics.regex", "")
	switch {
	case len(topics) == 0 && regex == "":
		r.fail("topics", "Must configure one of topics or topics.regex")
	case len(topics) > 0 && regex != "":
		r.fail("topics", "topics and topics.regex are mutually exclusive options, but both are set.")
	}
	return topics, regex
}

// tmplLiteral escapes s for a template.
func tmplLiteral(s string) string { return strings.ReplaceAll(s, "$", "$$") }
