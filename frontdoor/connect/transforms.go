package connect

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Single message transforms and predicates become processors between a
// connector's source and its last node: a source connector's chain runs
// before the topic writer, a sink connector's after the topic reader, in
// the order of transforms. A transform type or option sluice does not
// translate is a 400 naming the key.

// Transform type names, canonical.
const (
	smtExtractNewRecordState   = "io.debezium.transforms.ExtractNewRecordState"
	smtExtractNewDocumentState = "io.debezium.connector.mongodb.transforms.ExtractNewDocumentState"
	smtRegexRouter             = "org.apache.kafka.connect.transforms.RegexRouter"
	smtFilter                  = "org.apache.kafka.connect.transforms.Filter"
	smtReplaceFieldValue       = "org.apache.kafka.connect.transforms.ReplaceField$Value"
	smtInsertFieldValue        = "org.apache.kafka.connect.transforms.InsertField$Value"

	predTopicNameMatches  = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
	predRecordIsTombstone = "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"
	predHasHeaderKey      = "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"
)

// smtNames maps the names Kafka Connect accepts for a transform (the class,
// its simple name) to the canonical class.
func canonicalSMT(t string) string {
	for _, c := range []string{smtExtractNewRecordState, smtExtractNewDocumentState, smtRegexRouter, smtFilter, smtReplaceFieldValue, smtInsertFieldValue, predTopicNameMatches, predRecordIsTombstone, predHasHeaderKey} {
		simple := c[strings.LastIndexByte(c, '.')+1:]
		if t == c || t == simple {
			return c
		}
	}
	return t
}

// unsupportedSMTs are transforms people use that sluice does not translate
// yet, with what to do instead.
var unsupportedSMTs = map[string]string{
	"org.apache.kafka.connect.transforms.TimestampConverter$Value": "convert the column in a YAML pipeline with a map processor",
	"org.apache.kafka.connect.transforms.ReplaceField$Key":         "key columns cannot be renamed or dropped through sluice serve",
	"org.apache.kafka.connect.transforms.InsertField$Key":          "add the column in a YAML pipeline with a map processor",
	"org.apache.kafka.connect.transforms.ValueToKey":               "sluice's keys are the table's primary key (write the pipeline in YAML)",
	"org.apache.kafka.connect.transforms.ExtractField$Key":         "sluice's keys are the table's primary key (write the pipeline in YAML)",
	"org.apache.kafka.connect.transforms.ExtractField$Value":       "write the pipeline in YAML with a map processor",
	"org.apache.kafka.connect.transforms.MaskField$Value":          "write the pipeline in YAML with a map processor that sets the column",
	"org.apache.kafka.connect.transforms.Cast$Value":               "write the pipeline in YAML with a map processor",
	"org.apache.kafka.connect.transforms.Flatten$Value":            "write the pipeline in YAML",
	"org.apache.kafka.connect.transforms.HoistField$Value":         "write the pipeline in YAML",
	"org.apache.kafka.connect.transforms.SetSchemaMetadata$Value":  "remove it (sluice names schemas after their tables)",
	"org.apache.kafka.connect.transforms.TimestampRouter":          "remove it, or write the pipeline in YAML with a route processor",
	"org.apache.kafka.connect.transforms.DropHeaders":              "remove it (sluice's topics carry only its own headers)",
	"org.apache.kafka.connect.transforms.InsertHeader":             "remove it (sluice's topics carry only its own headers)",
	"org.apache.kafka.connect.transforms.HeaderFrom$Value":         "remove it (sluice's topics carry only its own headers)",
	"io.debezium.transforms.ByLogicalTableRouter":                  "use org.apache.kafka.connect.transforms.RegexRouter",
	"io.debezium.transforms.outbox.EventRouter":                    "the outbox event router is not translated (write the pipeline in YAML)",
}

// transformChain reads transforms and predicates into processor nodes.
type transformChain struct {
	r     *reader
	p     *Plan
	nodes []Node // in order; each node's inputs are set by attach
	names []string
	// tombstones tells whether the records the chain gets are followed by
	// tombstones after deletes (Debezium's tombstones.on.delete).
	tombstones bool
	// byTopic is set when a transform renames topics or reads their names.
	byTopic bool
	// unwrapped is set when ExtractNewRecordState/DocumentState is applied.
	unwrapped bool
}

// transforms reads the transforms key of any connector.
func transforms(r *reader, p *Plan, tombstones bool) *transformChain {
	tc := &transformChain{r: r, p: p, tombstones: tombstones}
	preds := predicates(r)
	aliases := list(r.get("transforms", ""))
	seen := map[string]bool{}
	for _, a := range aliases {
		if seen[a] {
			r.fail("transforms", fmt.Sprintf("Duplicate alias provided: %s", a))
			continue
		}
		seen[a] = true
		pre := "transforms." + a + "."
		typ := r.get(pre+"type", "")
		if typ == "" {
			r.fail(pre+"type", fmt.Sprintf(`Missing required configuration "%stype" which has no default value.`, pre))
			continue
		}
		ct := canonicalSMT(typ)
		var pred *predicate
		if pn := r.get(pre+"predicate", ""); pn != "" {
			pred = preds[pn]
			if pred == nil {
				r.fail(pre+"predicate", fmt.Sprintf("the predicate %q is not defined (hint: list it in predicates and give predicates.%s.type)", pn, pn))
				continue
			}
			pred.negate = r.boolean(pre+"negate", false)
		} else if r.get(pre+"negate", "") != "" {
			r.fail(pre+"negate", "negate needs a predicate (hint: set "+pre+"predicate)")
		}
		switch ct {
		case smtExtractNewRecordState, smtExtractNewDocumentState:
			tc.unwrap(pre, ct, pred)
		case smtRegexRouter:
			tc.regexRouter(pre, pred)
		case smtFilter:
			tc.filter(pre, pred)
		case smtReplaceFieldValue:
			tc.replaceField(pre, pred)
		case smtInsertFieldValue:
			tc.insertField(pre, pred)
		default:
			if hint, ok := unsupportedSMTs[ct]; ok {
				r.fail(pre+"type", fmt.Sprintf("the transform %s is not supported by sluice (hint: %s)", typ, hint))
			} else {
				r.fail(pre+"type", fmt.Sprintf("the transform %s is not supported by sluice (hint: ExtractNewRecordState, ExtractNewDocumentState, RegexRouter, Filter, ReplaceField$Value and InsertField$Value are; or write the pipeline in YAML with processors)", typ))
			}
		}
		// Every other key of this transform is one sluice does not know.
		for k := range r.cfg {
			if strings.HasPrefix(k, pre) && !r.used[k] {
				r.fail(k, fmt.Sprintf("the option %s of %s is not supported by sluice (hint: remove it)", strings.TrimPrefix(k, pre), typ))
				r.used[k] = true
			}
		}
	}
	// Keys of transforms not listed in transforms are ignored by Kafka
	// Connect; sluice says so instead.
	for k := range r.cfg {
		if strings.HasPrefix(k, "transforms.") && !r.used[k] {
			alias, _, _ := strings.Cut(strings.TrimPrefix(k, "transforms."), ".")
			r.fail(k, fmt.Sprintf("the transform %q is not listed in transforms (hint: add it to transforms, or remove its keys)", alias))
			r.used[k] = true
		}
	}
	for name, pd := range preds {
		if !pd.used {
			r.warn(fmt.Sprintf("predicates.%s is defined but no transform uses it", name))
		}
	}
	return tc
}

// predicate is one entry of predicates.
type predicate struct {
	name    string
	typ     string
	pattern string // TopicNameMatches
	negate  bool
	used    bool
}

func predicates(r *reader) map[string]*predicate {
	out := map[string]*predicate{}
	for _, n := range list(r.get("predicates", "")) {
		pre := "predicates." + n + "."
		typ := r.get(pre+"type", "")
		pd := &predicate{name: n, typ: canonicalSMT(typ)}
		switch pd.typ {
		case "":
			r.fail(pre+"type", fmt.Sprintf(`Missing required configuration "%stype" which has no default value.`, pre))
			continue
		case predTopicNameMatches:
			pd.pattern = r.get(pre+"pattern", "")
			if pd.pattern == "" {
				r.fail(pre+"pattern", fmt.Sprintf(`Missing required configuration "%spattern" which has no default value.`, pre))
				continue
			}
			if _, err := regexp.Compile(pd.pattern); err != nil {
				r.fail(pre+"pattern", fmt.Sprintf("Invalid value %s for configuration pattern: %s (hint: RE2 syntax, as Java's without lookaround or backreferences)", pd.pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: ")))
				continue
			}
		case predRecordIsTombstone:
		case predHasHeaderKey:
			r.get(pre+"name", "")
			r.fail(pre+"type", "HasHeaderKey is not supported: sluice's records carry only its own headers (hint: TopicNameMatches or RecordIsTombstone)")
			continue
		default:
			r.fail(pre+"type", fmt.Sprintf("the predicate %s is not supported (hint: TopicNameMatches or RecordIsTombstone)", typ))
			continue
		}
		out[n] = pd
	}
	for k := range r.cfg {
		if strings.HasPrefix(k, "predicates.") && !r.used[k] {
			r.fail(k, "this predicate option is not supported by sluice (hint: remove it)")
			r.used[k] = true
		}
	}
	return out
}

// topicCondition is an expression (processor/expr) true for the events
// whose topic the predicate matches.
func (pd *predicate) topicCondition() string {
	c := "meta.stream matches " + exprString("^(?:"+pd.pattern+")$")
	if pd.negate {
		c = "!(" + c + ")"
	}
	return c
}

// exprString quotes s as an expr-lang string literal.
func exprString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func (tc *transformChain) add(name string, n Node) {
	tc.nodes = append(tc.nodes, n)
	tc.names = append(tc.names, name)
}

// nodeFor names the processor of transform number len(nodes).
func (tc *transformChain) nodeName() string { return fmt.Sprintf("transform%d", len(tc.nodes)+1) }

// noPredicate refuses a predicate on a transform that cannot take one.
func (tc *transformChain) noPredicate(pre string, pred *predicate, why string) bool {
	if pred == nil {
		return true
	}
	pred.used = true
	tc.r.fail(pre+"predicate", "a predicate on this transform is not supported: "+why+" (hint: remove it)")
	return false
}

func (tc *transformChain) unwrap(pre, typ string, pred *predicate) {
	r := tc.r
	if !tc.noPredicate(pre, pred, "the transform applies to every record of the connector") {
		return
	}
	mode := ""
	if v := r.get(pre+"delete.tombstone.handling.mode", ""); v != "" {
		switch strings.ToLower(v) {
		case "drop":
			mode = "drop"
		case "tombstone":
			mode = "tombstone"
		case "rewrite":
			mode = "rewrite"
		case "rewrite-with-tombstone":
			mode = "rewrite_with_tombstone"
		default:
			r.fail(pre+"delete.tombstone.handling.mode", fmt.Sprintf("Invalid value %s for configuration delete.tombstone.handling.mode: Value must be one of drop, tombstone, rewrite, rewrite-with-tombstone", v))
		}
		for _, k := range []string{"delete.handling.mode", "drop.tombstones"} {
			if r.get(pre+k, "") != "" {
				r.warn(fmt.Sprintf("%s%s is ignored: delete.tombstone.handling.mode is set (Debezium 2.x does the same)", pre, k))
			}
		}
	} else {
		// Debezium 2.7 applies the legacy options whenever
		// delete.tombstone.handling.mode is not set: deletes dropped and
		// tombstones dropped by default.
		legacy := r.get(pre+"delete.handling.mode", "") != "" || r.get(pre+"drop.tombstones", "") != ""
		dh := strings.ToLower(r.get(pre+"delete.handling.mode", "drop"))
		drop := r.boolean(pre+"drop.tombstones", true)
		keep := !drop && tc.tombstones // a tombstone survives the transform
		switch dh {
		case "drop":
			mode = "drop"
			if keep {
				mode = "tombstone"
			}
		case "none":
			mode = "tombstone"
		case "rewrite":
			mode = "rewrite"
			if keep {
				mode = "rewrite_with_tombstone"
			}
		default:
			r.fail(pre+"delete.handling.mode", fmt.Sprintf("Invalid value %s for configuration delete.handling.mode: Value must be one of drop, rewrite, none", dh))
		}
		if legacy && mode != "" {
			r.warn(fmt.Sprintf("%sdelete.handling.mode and %sdrop.tombstones are deprecated (removed in Debezium 3.0): this configuration is %sdelete.tombstone.handling.mode=%s", pre, pre, pre, strings.ReplaceAll(mode, "_", "-")))
		}
	}
	n := Node{"type": "unwrap", "delete_handling": mode}
	if f := list(r.get(pre+"add.fields", "")); len(f) > 0 {
		n["add_fields"] = f
	}
	if v, ok := r.cfg[pre+"add.fields.prefix"]; ok {
		r.used[pre+"add.fields.prefix"] = true
		n["add_fields_prefix"] = v
	}
	// Headers: sluice's topics carry the events; the transform's headers
	// (the operation for a consumer outside sluice) are not written.
	if v := r.get(pre+"add.headers", ""); v != "" {
		r.warn(fmt.Sprintf("%sadd.headers=%s: sluice does not write the transform's headers (add.fields carries the same values in the row)", pre, v))
	}
	r.ignore(pre + "add.headers.prefix")
	if typ == smtExtractNewDocumentState {
		if r.boolean(pre+"operation.header", false) {
			r.warn(pre + "operation.header is deprecated (Debezium 2.x: add.headers=op), and sluice does not write the header")
		}
		if v := strings.ToLower(r.get(pre+"array.encoding", "array")); v != "array" {
			r.fail(pre+"array.encoding", "only array (the default) is supported")
		}
		if r.boolean(pre+"flatten.struct", false) {
			r.fail(pre+"flatten.struct", "true is not supported: nested documents stay nested (hint: remove it)")
		}
		r.ignore(pre + "flatten.struct.delimiter")
		if r.boolean(pre+"sanitize.field.names", false) {
			r.fail(pre+"sanitize.field.names", "true is not supported (hint: remove it)")
		}
	}
	if v := r.get(pre+"route.by.field", ""); v != "" {
		r.fail(pre+"route.by.field", "routing by a field's value is not supported (hint: RegexRouter)")
	}
	tc.unwrapped = true
	tc.add(tc.nodeName(), n)
}

func (tc *transformChain) regexRouter(pre string, pred *predicate) {
	r := tc.r
	regex := r.required(pre + "regex")
	repl := r.required(pre + "replacement")
	if pred != nil {
		pred.used = true
		if pred.typ != predTopicNameMatches {
			r.fail(pre+"predicate", "only TopicNameMatches predicates apply to RegexRouter here (hint: remove it)")
			return
		}
		// The router renames the topics the predicate selects: the
		// predicate's pattern joins the router's as a condition.
		r.fail(pre+"predicate", "a predicate on RegexRouter is not supported (hint: put the topic selection into the regex)")
		return
	}
	if regex == "" || repl == "" {
		return
	}
	tc.byTopic = true
	tc.add(tc.nodeName(), Node{"type": "route", "regex": regex, "replacement": repl})
}

func (tc *transformChain) filter(pre string, pred *predicate) {
	r := tc.r
	if pred == nil {
		// Filter without a predicate drops every record.
		r.fail(pre+"predicate", "a Filter without a predicate drops every record (hint: give it a predicate)")
		return
	}
	pred.used = true
	switch pred.typ {
	case predTopicNameMatches:
		// Filter drops the records the predicate matches.
		keep := "!(" + pred.topicCondition() + ")"
		tc.byTopic = true
		tc.add(tc.nodeName(), Node{"type": "filter", "condition": keep, "on_delete": "evaluate"})
	case predRecordIsTombstone:
		if pred.negate {
			r.fail(pre+"negate", "dropping every record but tombstones is not supported (hint: remove the transform)")
			return
		}
		// Dropping tombstones: the topic writer writes none.
		tc.p.dropTombstones = true
	}
}

func (tc *transformChain) replaceField(pre string, pred *predicate) {
	r := tc.r
	if !tc.noPredicate(pre, pred, "ReplaceField with a predicate") {
		return
	}
	n := Node{"type": "map"}
	include := list(r.first("", pre+"include", pre+"whitelist"))
	exclude := list(r.first("", pre+"exclude", pre+"blacklist"))
	for _, k := range []string{"whitelist", "blacklist"} {
		if r.cfg[pre+k] != "" {
			r.warn(fmt.Sprintf("%s%s is deprecated (Kafka 3.0 removed it; use %s)", pre, k, map[string]string{"whitelist": "include", "blacklist": "exclude"}[k]))
		}
	}
	if len(include) > 0 {
		n["keep"] = include
	}
	if len(exclude) > 0 {
		n["drop"] = exclude
	}
	if len(include) > 0 && len(exclude) > 0 {
		// Connect applies include then exclude: keep what include lists
		// and exclude does not.
		var keep []string
		for _, f := range include {
			if !contains(exclude, f) {
				keep = append(keep, f)
			}
		}
		n["keep"] = keep
		delete(n, "drop")
	}
	if rn := list(r.get(pre+"renames", "")); len(rn) > 0 {
		m := map[string]any{}
		for _, e := range rn {
			from, to, ok := strings.Cut(e, ":")
			if !ok || from == "" || to == "" {
				r.fail(pre+"renames", fmt.Sprintf("Invalid rename mapping: %s", e))
				return
			}
			m[from] = to
		}
		n["rename"] = m
		// ReplaceField filters by the original names, renames after;
		// sluice's map renames first: name the kept and dropped columns
		// by their new names.
		for _, k := range []string{"keep", "drop"} {
			if cols, ok := n[k].([]string); ok {
				for i, c := range cols {
					if to, ok := m[c]; ok {
						cols[i] = to.(string)
					}
				}
			}
		}
	}
	if len(n) == 1 {
		return // nothing to do
	}
	tc.add(tc.nodeName(), n)
}

func (tc *transformChain) insertField(pre string, pred *predicate) {
	r := tc.r
	if !tc.noPredicate(pre, pred, "InsertField with a predicate") {
		return
	}
	// InsertField appends topic, partition, offset, timestamp, then the
	// static field: set keeps that order (a YAML mapping node, as a Go
	// map would be written sorted).
	set := &yaml.Node{Kind: yaml.MappingNode}
	add := func(col, expr string) {
		set.Content = append(set.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: col}, &yaml.Node{Kind: yaml.ScalarNode, Value: expr, Style: yaml.DoubleQuotedStyle})
	}
	for _, k := range []string{"topic.field", "partition.field", "offset.field", "timestamp.field"} {
		f := r.get(pre+k, "")
		if f == "" {
			continue
		}
		// A trailing ! (required) or ? (optional) is the field's schema.
		f = strings.TrimSuffix(f, "!")
		f = strings.TrimSuffix(f, "?")
		switch k {
		case "topic.field":
			add(f, "meta.stream")
			tc.byTopic = true
		case "partition.field":
			add(f, "0")
		default:
			r.fail(pre+k, fmt.Sprintf("%s is not supported: sluice's events have no Kafka %s (hint: remove it)", k, strings.TrimSuffix(k, ".field")))
		}
	}
	if f := r.get(pre+"static.field", ""); f != "" {
		add(f, exprString(r.get(pre+"static.value", "")))
	} else if r.get(pre+"static.value", "") != "" {
		r.fail(pre+"static.field", "static.value needs static.field")
	}
	if len(set.Content) == 0 {
		return
	}
	n := Node{"type": "map", "set": set}
	tc.add(tc.nodeName(), n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// attach puts the chain before the node last (the writer or the sink):
// the first processor takes last's inputs, last takes the final one's.
func (tc *transformChain) attach(last Node) {
	if len(tc.nodes) == 0 || last == nil {
		return
	}
	if tc.p.Processors == nil {
		tc.p.Processors = map[string]Node{}
	}
	in := last["inputs"]
	for i, n := range tc.nodes {
		n["inputs"] = in
		tc.p.Processors[tc.names[i]] = n
		in = []string{tc.names[i]}
	}
	last["inputs"] = in
}
