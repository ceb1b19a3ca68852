package search

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// Versioning modes (document_version_type).
const (
	VersionExternal    = "external"
	VersionExternalGTE = "external_gte"
	VersionNone        = "none"
)

// Truncate modes (on_truncate).
const (
	TruncateDeleteIndex = "delete_index"
	TruncateIgnore      = "ignore"
	TruncateFail        = "fail"
)

// DefaultMaxRequestBytes bounds one bulk request body.
const DefaultMaxRequestBytes = 5 << 20

// Config is what the OpenSearch and Elasticsearch sinks share. The key names
// are Data Prepper's opensearch sink's where it has one (hosts, index,
// document_id, routing, document_version, document_version_type, username,
// password, insecure), so that seed 000's pipelines carry over.
type Config struct {
	// Hosts are the cluster's URLs, e.g. [http://localhost:9200].
	Hosts []string `yaml:"hosts"`
	// Username and Password for HTTP basic authentication.
	Username string `yaml:"username"`
	Password string `yaml:"password" sluice:"secret"`
	// Insecure skips TLS certificate verification.
	Insecure bool `yaml:"insecure"`
	// CAFile is a PEM file of CA certificates to trust (in addition to the
	// system's).
	CAFile string `yaml:"ca_file"`
	// Index is a template for the index name (default ${table}); rendered
	// names are lower-cased, as indices must be.
	Index string `yaml:"index"`
	// DocumentID is a template for the document id (default ${key}).
	DocumentID string `yaml:"document_id"`
	// Routing is an optional template for the shard routing value.
	Routing string `yaml:"routing"`
	// DocumentVersion is a template for the external version (default
	// ${version}: 1 for snapshot rows, the change's LSN for changes).
	DocumentVersion string `yaml:"document_version"`
	// DocumentVersionType is external (default), external_gte, or none
	// (internal versioning: last write wins, no replay protection).
	DocumentVersionType string `yaml:"document_version_type"`
	// Mapping is the index's mappings object (inline, or the path of a JSON
	// or YAML file); when set, a missing index is created with it.
	Mapping any `yaml:"mapping"`
	// IndexSettings are the settings a missing index is created with
	// (inline, or a file path), e.g. {number_of_shards: 1}.
	IndexSettings any `yaml:"index_settings"`
	// MaxRequestBytes splits bulk requests at this body size.
	MaxRequestBytes int `yaml:"max_request_bytes"`
	// OnTruncate is delete_index (default: the index is deleted and created
	// again on the next write), ignore (logged) or fail (the pipeline stops).
	OnTruncate string `yaml:"on_truncate"`
	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// Defaults returns a Config with every default set.
func Defaults() Config {
	return Config{
		Index:               "${table}",
		DocumentID:          "${key}",
		DocumentVersion:     "${version}",
		DocumentVersionType: VersionExternal,
		MaxRequestBytes:     DefaultMaxRequestBytes,
		OnTruncate:          TruncateDeleteIndex,
		RequestTimeout:      time.Minute,
	}
}

// compiled is a validated Config in the form the sink uses.
type compiled struct {
	index, id, routing, version *tmpl.Template
	versionType                 string // "" for none
	createBody                  []byte // PUT /<index> body; nil: rely on auto-create
	maxBytes                    int
	onTruncate                  string
	timeout                     time.Duration
	// username and hosts (passwords in URLs redacted) name the
	// credentials and the cluster in messages.
	username, hosts string
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	_, errs := c.compile()
	return errs
}

func (c *Config) compile() (*compiled, []error) {
	var errs []error
	bad := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if len(c.Hosts) == 0 {
		bad("hosts", "is required", "hosts: [http://localhost:9200]")
	}
	for i, h := range c.Hosts {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Sprintf("hosts[%d]", i), fmt.Sprintf("%q is not an http(s) URL", redactURL(h)), "e.g. https://search.example.com:9200")
		}
	}
	if c.Password != "" && c.Username == "" {
		bad("password", "is set without username", "set username too")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			bad("ca_file", err.Error(), "a PEM file of CA certificates")
		}
	}
	out := &compiled{maxBytes: c.MaxRequestBytes, onTruncate: c.OnTruncate, timeout: c.RequestTimeout, username: c.Username}
	hosts := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		hosts[i] = redactURL(h)
		if u, err := url.Parse(h); err == nil && u.User != nil && out.username == "" {
			out.username = u.User.Username()
		}
	}
	out.hosts = strings.Join(hosts, ",")
	parse := func(field, src string, required bool) *tmpl.Template {
		if src == "" {
			if required {
				bad(field, "must not be empty", "")
			}
			return nil
		}
		t, err := tmpl.Parse(src)
		if err != nil {
			bad(field, err.Error(), "")
		}
		return t
	}
	out.index = parse("index", c.Index, true)
	out.id = parse("document_id", c.DocumentID, true)
	out.routing = parse("routing", c.Routing, false)
	if out.index != nil && out.index.Constant() {
		if err := checkIndexName(strings.ToLower(out.index.String())); err != nil {
			bad("index", err.Error(), "index names are lower case without \\ / * ? \" < > | , # : or spaces")
		}
	}
	switch c.DocumentVersionType {
	case VersionExternal, VersionExternalGTE:
		out.versionType = c.DocumentVersionType
		out.version = parse("document_version", c.DocumentVersion, true)
	case VersionNone, "internal":
	default:
		bad("document_version_type", fmt.Sprintf("unknown type %q", c.DocumentVersionType), "use external, external_gte or none")
	}
	if c.MaxRequestBytes < 1024 {
		bad("max_request_bytes", "must be at least 1024", "default 5 MiB; the server's http.max_content_length is 100 MB")
	}
	switch c.OnTruncate {
	case TruncateDeleteIndex, TruncateIgnore, TruncateFail:
	default:
		bad("on_truncate", fmt.Sprintf("unknown mode %q", c.OnTruncate), "use delete_index, ignore or fail")
	}
	if c.RequestTimeout <= 0 {
		bad("request_timeout", "must be positive", "e.g. 1m")
	}
	mapping, err := loadJSON(c.Mapping)
	if err != nil {
		bad("mapping", err.Error(), "the index's mappings object, e.g. {properties: {name: {type: text}}}, or a JSON/YAML file")
	}
	settings, err := loadJSON(c.IndexSettings)
	if err != nil {
		bad("index_settings", err.Error(), "e.g. {number_of_shards: 1}, or a JSON/YAML file")
	}
	if mapping != nil || settings != nil {
		body := map[string]json.RawMessage{}
		if mapping != nil {
			body["mappings"] = mapping
		}
		if settings != nil {
			body["settings"] = settings
		}
		out.createBody, _ = json.Marshal(body)
	}
	return out, errs
}

// loadJSON turns an inline YAML value or a file path into JSON text of an
// object. nil and "" give nil.
func loadJSON(v any) (json.RawMessage, error) {
	if path, ok := v.(string); ok {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		v = doc
	}
	if v == nil {
		return nil, nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("must be a mapping (an object), not %T", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// checkIndexName applies the server's rules for index names so that a bad
// name is reported before any request.
func checkIndexName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("index name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("index name %q is not allowed", name)
	case len(name) > 255:
		return fmt.Errorf("index name %.40q... is longer than 255 bytes", name)
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Errorf("index name %q must not start with -, _ or +", name)
	case strings.ContainsAny(name, "\\/*?\"<>| ,#:"):
		return fmt.Errorf("index name %q contains one of \\ / * ? \" < > | , # : or a space", name)
	}
	return nil
}

// redactURL drops the password of a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.Index(s, "@"); i >= 0 {
			return "…" + s[i:]
		}
		return s
	}
	return u.Redacted()
}

// TLSFiles returns the CA file's contents, if one is configured; the
// engine packages pass them to their client's CACert.
func (c *Config) TLSFiles() ([]byte, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	return os.ReadFile(c.CAFile)
}
