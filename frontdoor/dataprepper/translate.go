package dataprepper

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Note is a key that was accepted without an equivalent in sluice, or that
// sluice does differently; the command line prints notes as warnings.
type Note struct {
	File string
	Line int
	Path string // the key in Data Prepper's terms, e.g. pipeline.source.mongodb.s3_bucket
	Msg  string
}

func (n Note) String() string {
	return fmt.Sprintf("%s:%d: note: %s: %s", n.File, n.Line, n.Path, n.Msg)
}

// Secret is a secret value of the translated pipeline: Explain prints it
// as ${Env} instead of its value.
type Secret struct {
	Env  string // the environment variable the explained pipeline reads
	Line int    // where the value is written
	node *yaml.Node
}

// Translation is a Data Prepper pipeline file translated into a sluice
// pipeline document.
type Translation struct {
	// Doc is the sluice pipeline's root mapping, for config.LoadNode; its
	// nodes carry the lines of the Data Prepper keys they come from.
	Doc     *yaml.Node
	Notes   []Note
	Secrets []Secret
}

// ServerConfig is data-prepper-config.yaml, read next to the pipeline file.
type ServerConfig struct {
	File string
	Data []byte
}

var nameRE = namecheck.New("A-Za-z", "A-Za-z0-9_-", 0, 62)

type translator struct {
	file    string
	errs    config.Errors
	notes   []Note
	secrets []Secret
}

func (t *translator) fail(n *yaml.Node, path, msg, hint string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	t.errs = append(t.errs, &config.Error{File: t.file, Line: line, Path: path, Msg: msg, Hint: hint})
}

func (t *translator) note(n *yaml.Node, path, msg string) {
	t.notes = append(t.notes, Note{File: t.file, Line: n.Line, Path: path, Msg: msg})
}

// Translate translates a Data Prepper pipeline file (file names it in
// messages) and, when server is not nil, its data-prepper-config.yaml. The
// error is a config.Errors listing every key that is not translated, with
// file:line and a hint.
func Translate(file string, data []byte, server *ServerConfig) (*Translation, error) {
	t := &translator{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, config.Errors{{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: "), Hint: "check indentation and quoting"}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, config.Errors{{File: file, Msg: "a Data Prepper pipeline file is a mapping of pipeline names to {source, sink}"}}
	}
	root := doc.Content[0]
	out := mapping(root.Line)
	sources, procs, sinks := mapping(root.Line), mapping(root.Line), mapping(root.Line)
	stateDir := ""
	if server != nil {
		st := &translator{file: server.File}
		stateDir = st.server(server.Data)
		t.errs = append(t.errs, st.errs...)
		t.notes = append(t.notes, st.notes...)
	}
	pairs(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "version":
			if !scalar(v) || (v.Value != "2" && v.Value != "2.0") {
				t.fail(v, "version", fmt.Sprintf("version %q is not translated", v.Value), `Data Prepper 2's pipeline files say version: "2"`)
			}
			return
		case "pipeline_configurations":
			t.fail(k, k.Value, "is not translated (AWS Secrets Manager references)", "sluice reads secrets from the environment: write ${VAR} and export VAR")
			return
		}
		t.pipeline(k, v, sources, procs, sinks)
	})
	if stateDir != "" {
		put(out, "state_dir", str(stateDir, 0))
	}
	if len(sources.Content) > 0 {
		put(out, "sources", sources)
	}
	if len(procs.Content) > 0 {
		put(out, "processors", procs)
	}
	if len(sinks.Content) > 0 {
		put(out, "sinks", sinks)
	}
	if len(t.errs) > 0 {
		sort.SliceStable(t.errs, func(i, j int) bool {
			if t.errs[i].File != t.errs[j].File {
				return t.errs[i].File == file // the pipeline file first
			}
			return t.errs[i].Line < t.errs[j].Line
		})
		return nil, t.errs
	}
	return &Translation{Doc: out, Notes: t.notes, Secrets: t.secrets}, nil
}

// pipeline translates one pipeline (name k, body v) into a source, its
// processors (a chain), the route filters and its sinks.
func (t *translator) pipeline(k, v *yaml.Node, sources, procs, sinks *yaml.Node) {
	name := k.Value
	if v.Kind != yaml.MappingNode {
		t.fail(v, name, "a pipeline must be a mapping with source: and sink:", "")
		return
	}
	if !nameRE.Match(name) {
		t.fail(k, name, fmt.Sprintf("pipeline name %q cannot name a sluice component", name), "use letters, digits, _ and -, starting with a letter, at most 63")
		return
	}
	var srcNode, sinkNode, procNode, routeNode *yaml.Node
	var procPath, routePath string
	pairs(v, func(kk, vv *yaml.Node) {
		path := name + "." + kk.Value
		switch kk.Value {
		case "source":
			srcNode = vv
		case "sink":
			sinkNode = vv
		case "workers", "delay":
			t.note(kk, path, "accepted without effect: sluice's sources and sinks run concurrently on their own and write as soon as a batch is there")
		case "buffer":
			t.buffer(kk, vv, path)
		case "processor":
			procNode, procPath = vv, path
		case "route", "routes":
			if routeNode != nil {
				t.fail(kk, path, "route and routes are the same key: give one", "")
				return
			}
			routeNode, routePath = vv, path
		default:
			t.fail(kk, path, "unknown pipeline key", "a pipeline has source, processor, sink, buffer, workers and delay")
		}
	})
	if srcNode == nil {
		t.fail(k, name+".source", "is missing", "add source: {mongodb: {...}}")
		return
	}
	if !t.source(name, srcNode, sources) {
		return
	}
	c := &chain{t: t, pipeline: name, procs: procs, last: name, index: -1}
	if procNode != nil {
		t.processors(c, procNode, procPath)
	}
	routes := t.routes(routeNode, routePath)
	if sinkNode == nil || sinkNode.Kind != yaml.SequenceNode || len(sinkNode.Content) == 0 {
		at := sinkNode
		if at == nil {
			at = k
		}
		t.fail(at, name+".sink", "must be a list of sinks", "sink:\n  - opensearch: {hosts: [...], index: ...}")
		return
	}
	count := map[string]int{}
	for i, s := range sinkNode.Content {
		path := fmt.Sprintf("%s.sink[%d]", name, i)
		if s.Kind != yaml.MappingNode || len(s.Content) != 2 {
			t.fail(s, path, "must be one plugin: {opensearch: {...}}", "")
			continue
		}
		plugin, body := s.Content[0], s.Content[1]
		path += "." + plugin.Value
		switch plugin.Value {
		case "opensearch":
			count[plugin.Value]++
			sinkName := name + "-" + plugin.Value
			if n := count[plugin.Value]; n > 1 {
				sinkName += fmt.Sprintf("-%d", n)
			}
			if len(sinkName) > 63 {
				t.fail(plugin, path, fmt.Sprintf("the sink's sluice name %s is longer than 63", sinkName), "shorten the pipeline's name")
				continue
			}
			input := c.last
			if r := get(body, "routes"); r != nil {
				if input = t.sinkRoutes(c, sinkName, r, path+".routes", routes, procs); input == "" {
					continue
				}
			}
			if n := t.opensearch(input, sinkName, plugin, body, path); n != nil {
				put(sinks, sinkName, n)
			}
		default:
			t.fail(plugin, path, fmt.Sprintf("sink plugin %s is not translated", plugin.Value), "Data Prepper files translate opensearch sinks; for other sinks write a sluice pipeline (sluice help types)")
		}
	}
}

func (t *translator) buffer(k, v *yaml.Node, path string) {
	if v.Kind != yaml.MappingNode || len(v.Content) != 2 {
		t.fail(v, path, "must be one buffer plugin", "")
		return
	}
	plugin, body := v.Content[0], v.Content[1]
	if plugin.Value != "bounded_blocking" {
		t.fail(plugin, path+"."+plugin.Value, "buffer plugin is not translated", "sluice's buffer is bounded in memory (engine.max_inflight batches per source); remove the buffer")
		return
	}
	pairs(body, func(kk, _ *yaml.Node) {
		switch kk.Value {
		case "batch_size", "buffer_size":
		default:
			t.fail(kk, path+".bounded_blocking."+kk.Value, "unknown key", "bounded_blocking has batch_size and buffer_size")
		}
	})
	t.note(k, path, "accepted without effect: sluice bounds memory by engine.max_inflight batches per source and each sink's batch (max_events, max_bytes), with back-pressure to the source")
}

// sourceKeys are the mongodb/documentdb keys, translated or accepted.
var sourceKeys = []string{"host", "port", "authentication", "collections", "acknowledgments", "insecure",
	"ssl_insecure_disable_verification", "s3_bucket", "s3_region", "s3_prefix", "aws", "direct_connection",
	"read_preference", "partition_acknowledgment_timeout", "disable_s3_read_for_leader"}

// source translates source: {mongodb|documentdb: {...}} into a mongodb
// source named after the pipeline.
func (t *translator) source(name string, v *yaml.Node, sources *yaml.Node) bool {
	path := name + ".source"
	if v.Kind != yaml.MappingNode || len(v.Content) != 2 {
		t.fail(v, path, "must be one source plugin: {mongodb: {...}}", "")
		return false
	}
	plugin, body := v.Content[0], v.Content[1]
	path += "." + plugin.Value
	if plugin.Value != "mongodb" && plugin.Value != "documentdb" {
		t.fail(plugin, path, fmt.Sprintf("source plugin %s is not translated", plugin.Value), "Data Prepper files translate mongodb and documentdb sources; for other sources write a sluice pipeline (sluice help types)")
		return false
	}
	if body.Kind != yaml.MappingNode {
		t.fail(body, path, "must be a mapping", "")
		return false
	}
	n := mapping(plugin.Line)
	put(n, "type", str("mongodb", plugin.Line))
	tls, tlsInsecure := true, false // Data Prepper's default: insecure false, so TLS on
	var tlsLine, authLine int
	before := len(t.errs)
	pairs(body, func(k, v *yaml.Node) {
		p := path + "." + k.Value
		switch k.Value {
		case "host":
			if s, ok := t.plainValue(v, p); ok {
				put(n, "host", str(s, v.Line))
			}
		case "port":
			if i, ok := asInt(v); ok {
				put(n, "port", num(i, v.Line))
			} else {
				t.fail(v, p, "must be an integer", "the default is 27017")
			}
		case "authentication":
			authLine = k.Line
			if a := t.auth(name, v, p); a != nil {
				put(n, "authentication", a)
			}
		case "collections":
			if c := t.collections(v, p); c != nil {
				put(n, "collections", c)
			}
		case "acknowledgments":
			b, ok := asBool(v)
			switch {
			case !ok:
				t.fail(v, p, "must be true or false", "")
			case !b:
				t.note(k, p, "sluice always acknowledges end to end: a position is checkpointed only after every sink wrote the changes before it")
			}
		case "insecure":
			b, ok := asBool(v)
			if !ok {
				t.fail(v, p, "must be true or false", "")
			}
			tls, tlsLine = !b, k.Line
		case "ssl_insecure_disable_verification":
			b, ok := asBool(v)
			if !ok {
				t.fail(v, p, "must be true or false", "")
			}
			tlsInsecure = b
			if tlsLine == 0 {
				tlsLine = k.Line
			}
		case "s3_bucket":
			t.note(k, p, "accepted: sluice needs no S3 hop; the export and the change stream go straight to the sinks (s3_region and s3_prefix are accepted with it)")
		case "s3_region", "s3_prefix":
			if get(body, "s3_bucket") == nil {
				t.note(k, p, "accepted: sluice needs no S3 hop")
			}
		case "aws":
			t.note(k, p, "accepted without effect: Data Prepper uses it for S3 and DynamoDB, which sluice does not need")
		case "direct_connection":
			if _, ok := asBool(v); !ok {
				t.fail(v, p, "must be true or false", "")
			}
			t.note(k, p, "accepted without effect: sluice's driver connects to the host and discovers the replica set's members")
		case "read_preference":
			if !scalar(v) || (v.Value != "primary" && v.Value != "primaryPreferred") {
				t.fail(v, p, fmt.Sprintf("read preference %q is not translated", v.Value), "sluice reads from the primary; write primaryPreferred or primary, or remove the key")
				return
			}
			t.note(k, p, "sluice reads from the primary")
		case "partition_acknowledgment_timeout", "disable_s3_read_for_leader":
			t.note(k, p, "accepted without effect: this tunes Data Prepper's partitions in S3 and DynamoDB, which sluice does not use")
		case "trust_store_file_path", "trust_store_password":
			t.fail(k, p, "is not translated", "sluice's mongodb source verifies TLS against the system's CA certificates; install the CA (for DocumentDB, global-bundle.pem) there, or set ssl_insecure_disable_verification: true for a test server")
		case "id_key":
			t.fail(k, p, "is not translated", "sluice's search sink uses _id as the document id and leaves it out of the document; copy it into a field with a map processor in the translated pipeline")
		default:
			t.fail(k, p, "unknown key", "valid keys: "+strings.Join(sourceKeys, ", "))
		}
	})
	if get(body, "host") == nil {
		t.fail(plugin, path+".host", "is required", "host: docdb-cluster.example.com")
	}
	if get(body, "collections") == nil {
		t.fail(plugin, path+".collections", "is required", "collections: [{collection: db.coll, export: true, stream: true}]")
	}
	if authLine == 0 && get(body, "aws") != nil {
		// Data Prepper may take the AWS role for DocumentDB's credentials;
		// sluice connects without credentials then, which a server with
		// authentication refuses at start, naming the user.
		t.note(plugin, path+".authentication", "not set: sluice connects without credentials; it does not authenticate with an AWS role (add authentication: {username, password} for a server that needs it)")
	}
	if tls {
		put(n, "tls", boolean(true, tlsLine))
		if tlsInsecure {
			put(n, "tls_insecure", boolean(true, tlsLine))
		}
	}
	if len(t.errs) > before {
		return false
	}
	put(sources, name, n)
	n.Line = plugin.Line
	return true
}

func (t *translator) plainValue(v *yaml.Node, path string) (string, bool) {
	if !scalar(v) {
		t.fail(v, path, "must be a string", "")
		return "", false
	}
	s, err := plain(v.Value)
	if err != nil {
		t.fail(v, path, err.Error(), "write ${VAR} and export VAR")
		return "", false
	}
	return s, true
}

// secretValue is plainValue for a password: its errors never quote it.
func (t *translator) secretValue(v *yaml.Node, path string) (string, bool) {
	if !scalar(v) {
		t.fail(v, path, "must be a string", "")
		return "", false
	}
	s, err := plain(v.Value)
	if err != nil {
		msg := "holds a ${...} expression that is not an environment variable"
		if strings.Contains(v.Value, "${{") {
			msg = "holds a Data Prepper secret reference (${{...}}); sluice reads secrets from the environment"
		}
		t.fail(v, path, msg, "write ${VAR} and export VAR")
		return "", false
	}
	return s, true
}

func (t *translator) auth(name string, v *yaml.Node, path string) *yaml.Node {
	if v.Kind != yaml.MappingNode {
		t.fail(v, path, "must be a mapping with username and password", "")
		return nil
	}
	a := mapping(v.Line)
	pairs(v, func(k, vv *yaml.Node) {
		p := path + "." + k.Value
		switch k.Value {
		case "username":
			if s, ok := t.plainValue(vv, p); ok {
				put(a, "username", str(s, vv.Line))
			}
		case "password":
			if s, ok := t.secretValue(vv, p); ok {
				pw := str(s, vv.Line)
				put(a, "password", pw)
				t.secret(name, pw)
			}
		default:
			t.fail(k, p, "unknown key", "authentication has username and password")
		}
	})
	return a
}

// secret records a secret value for Explain; its variable is named after
// the component.
func (t *translator) secret(component string, n *yaml.Node) {
	env := strings.ToUpper(strings.ReplaceAll(component, "-", "_")) + "_PASSWORD"
	t.secrets = append(t.secrets, Secret{Env: env, Line: n.Line, node: n})
}

func (t *translator) collections(v *yaml.Node, path string) *yaml.Node {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		t.fail(v, path, "must be a list of {collection: db.coll, export: true, stream: true}", "")
		return nil
	}
	out := seq(v.Line)
	for i, c := range v.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		if c.Kind != yaml.MappingNode {
			t.fail(c, p, "must be a mapping {collection: db.coll, export: true, stream: true}", "")
			continue
		}
		e := mapping(c.Line)
		export, stream := true, true // Data Prepper's defaults
		exportLine, streamLine := c.Line, c.Line
		pairs(c, func(k, vv *yaml.Node) {
			pp := p + "." + k.Value
			switch k.Value {
			case "collection":
				if s, ok := t.plainValue(vv, pp); ok {
					put(e, "collection", str(s, vv.Line))
				}
			case "export", "stream":
				b, ok := asBool(vv)
				if !ok {
					t.fail(vv, pp, "must be true or false", "")
					return
				}
				if k.Value == "export" {
					export, exportLine = b, vv.Line
				} else {
					stream, streamLine = b, vv.Line
				}
			case "partition_count", "export_batch_size", "stream_batch_size":
				if _, ok := asInt(vv); !ok {
					t.fail(vv, pp, "must be an integer", "")
					return
				}
				t.note(k, pp, "accepted without effect: sluice cuts the export into _id ranges of export.partition_size documents and sizes its batches by batch_size")
			default:
				t.fail(k, pp, "unknown key", "a collection has collection, export, stream, partition_count, export_batch_size and stream_batch_size")
			}
		})
		put(e, "export", boolean(export, exportLine))
		put(e, "stream", boolean(stream, streamLine))
		out.Content = append(out.Content, e)
	}
	return out
}

// sinkKeys are the opensearch sink keys, translated or accepted.
var sinkKeys = []string{"hosts", "index", "document_id", "document_id_field", "action", "document_version",
	"document_version_type", "routing", "routing_field", "username", "password", "insecure", "cert", "flush_timeout", "bulk_size"}

// opensearch translates an opensearch sink into sluice's opensearch sink
// reading every stream of the pipeline's source.
func (t *translator) opensearch(input, name string, plugin, body *yaml.Node, path string) *yaml.Node {
	if body.Kind != yaml.MappingNode {
		t.fail(body, path, "must be a mapping", "")
		return nil
	}
	n := mapping(plugin.Line)
	put(n, "type", str("opensearch", plugin.Line))
	put(n, "inputs", seq(plugin.Line, str(input, plugin.Line)))
	before := len(t.errs)
	tmplKey := func(key string, v *yaml.Node, p string) {
		if !scalar(v) {
			t.fail(v, p, "must be a string", "")
			return
		}
		s, err := template(v.Value)
		if err != nil {
			t.fail(v, p, err.Error(), "")
			return
		}
		put(n, key, str(s, v.Line))
	}
	pairs(body, func(k, v *yaml.Node) {
		p := path + "." + k.Value
		switch k.Value {
		case "routes": // the sink's input (pipeline)
		case "hosts":
			if v.Kind != yaml.SequenceNode {
				t.fail(v, p, "must be a list of URLs", `hosts: ["https://localhost:9200"]`)
				return
			}
			hs := seq(v.Line)
			for i, h := range v.Content {
				if s, ok := t.plainValue(h, fmt.Sprintf("%s[%d]", p, i)); ok {
					hs.Content = append(hs.Content, str(s, h.Line))
				}
			}
			put(n, "hosts", hs)
		case "index", "document_id", "document_version", "routing":
			tmplKey(k.Value, v, p)
		case "document_id_field", "routing_field":
			if !scalar(v) || v.Value == "" || strings.ContainsAny(v.Value, "${}") {
				t.fail(v, p, "must be a field name", "")
				return
			}
			key := strings.TrimSuffix(k.Value, "_field")
			field := strings.TrimPrefix(v.Value, "/")
			put(n, key, str("${/"+field+"}", v.Line))
		case "action":
			if !scalar(v) || strings.TrimSpace(v.Value) != actionExpr {
				t.fail(v, p, fmt.Sprintf("action %q is not translated", v.Value), "sluice derives the action from each change (index for exported documents, inserts and updates; delete for deletes), as "+actionExpr+" does: write that, or leave action out")
			}
		case "document_version_type":
			switch v.Value {
			case "external", "external_gte":
				put(n, "document_version_type", str(v.Value, v.Line))
			case "internal":
				put(n, "document_version_type", str("none", v.Line))
			default:
				t.fail(v, p, fmt.Sprintf("document_version_type %q is not translated", v.Value), "use external, external_gte or internal")
			}
		case "username":
			if s, ok := t.plainValue(v, p); ok {
				put(n, "username", str(s, v.Line))
			}
		case "password":
			if s, ok := t.secretValue(v, p); ok {
				pw := str(s, v.Line)
				put(n, "password", pw)
				t.secret(name, pw)
			}
		case "insecure":
			b, ok := asBool(v)
			if !ok {
				t.fail(v, p, "must be true or false", "")
				return
			}
			put(n, "insecure", boolean(b, v.Line))
		case "cert":
			if s, ok := t.plainValue(v, p); ok {
				put(n, "ca_file", str(s, v.Line))
			}
		case "flush_timeout":
			ms, ok := asInt(v)
			switch {
			case !ok || ms < -1:
				t.fail(v, p, "must be a number of milliseconds or -1", "")
			case ms > 0:
				b := mapping(v.Line)
				put(b, "linger", str(fmt.Sprintf("%dms", ms), v.Line))
				put(n, "batch", b)
			}
			// -1 (and 0): flush what the batch holds, sluice's default linger 0.
		case "bulk_size":
			mib, ok := asInt(v)
			if !ok || mib < 1 || mib > 1<<10 {
				t.fail(v, p, "must be a number of MiB between 1 and 1024", "Data Prepper's default is 5")
				return
			}
			put(n, "max_request_bytes", num(mib<<20, v.Line))
		default:
			t.fail(k, p, "is not translated", "the translated opensearch keys: "+strings.Join(sinkKeys, ", "))
		}
	})
	if get(body, "index") == nil {
		t.fail(plugin, path+".index", "is required", `index: "mongodb-index" (or a template with ${getMetadata("mongodb_collection")})`)
	}
	if len(t.errs) > before {
		return nil
	}
	return n
}
