package mongodb

import (
	"crypto/tls"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
)

// Config is the mongodb source's configuration. Its shape follows Data
// Prepper's mongodb source (host, port, authentication, collections with
// export/stream flags); a MongoDB connection string in uri replaces host,
// port and authentication.
type Config struct {
	// URI is a MongoDB connection string (mongodb:// or mongodb+srv://). It
	// is a secret: it never appears in errors or logs. Write it as
	// ${MONGODB_URI} to keep the password out of the pipeline file.
	URI string `yaml:"uri" sluice:"secret"`
	// Host and Port name one server (or a replica set member: the driver
	// discovers the others) when uri is not set.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// Authentication holds the user and password for host/port (SCRAM,
	// against auth_source).
	Authentication Authentication `yaml:"authentication"`
	// AuthSource is the database that holds the user (default admin).
	AuthSource string `yaml:"auth_source"`
	// TLS turns TLS on for host/port; TLSInsecure skips certificate
	// verification (test servers only).
	TLS         bool `yaml:"tls"`
	TLSInsecure bool `yaml:"tls_insecure"`

	// Collections lists what to capture.
	Collections []Collection `yaml:"collections"`

	// Export tunes the initial export.
	Export ExportConfig `yaml:"export"`
	// BatchSize is the maximum number of events per Emit.
	BatchSize int `yaml:"batch_size"`
	// FullDocument is the change stream's fullDocument mode for updates:
	// update_lookup, when_available or required.
	FullDocument string `yaml:"full_document"`
	// FullDocumentBeforeChange is the change stream's pre-image mode: off,
	// when_available or required.
	FullDocumentBeforeChange string `yaml:"full_document_before_change"`
	// OnHistoryLost is what happens when the checkpoint's resume token is no
	// longer in the oplog: fail, or reexport.
	OnHistoryLost string `yaml:"on_history_lost"`
	// HeartbeatInterval is how often an idle stream checkpoints the
	// server's newest resume token, so that a quiet collection in a busy
	// cluster does not fall out of the oplog window. 0 disables it.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
}

// Authentication is the user and password for host/port.
type Authentication struct {
	// Username and Password authenticate with SCRAM against auth_source;
	// the password is a secret (write it as ${MONGODB_PASSWORD}).
	Username string `yaml:"username"`
	Password string `yaml:"password" sluice:"secret"`
}

// ExportConfig tunes the export.
type ExportConfig struct {
	// PartitionSize is the number of documents per _id range.
	PartitionSize int `yaml:"partition_size"`
	// Workers is the number of ranges read at once.
	Workers int `yaml:"workers"`
}

// Collection is one entry of collections.
type Collection struct {
	// Name is db.collection; the collection part may be a shell glob
	// (demo.*, demo.orders_*), resolved when the source starts and matched
	// against every change.
	Name string `yaml:"collection"`
	// Export reads the existing documents first.
	Export bool `yaml:"export"`
	// Stream follows changes with a change stream.
	Stream bool `yaml:"stream"`

	db, coll string   // split Name, set by Validate
	problems []string // found by UnmarshalYAML, reported by Validate
}

// UnmarshalYAML decodes an entry. An unknown key or a bad value is kept
// and reported by Validate, where the loader shows it with its line (the
// loader's own strictness stops at lists, and its message for a list
// element's error does not say which key was wrong).
func (c *Collection) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		c.problems = append(c.problems, "is not a mapping; write {collection: db.coll, export: true, stream: true}")
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "collection":
			err = v.Decode(&c.Name)
		case "export":
			err = v.Decode(&c.Export)
		case "stream":
			err = v.Decode(&c.Stream)
		default:
			c.problems = append(c.problems, fmt.Sprintf("unknown key %q (valid keys: collection, export, stream)", k.Value))
			continue
		}
		if err != nil {
			want := "true or false"
			if k.Value == "collection" {
				want = "db.collection"
			}
			c.problems = append(c.problems, fmt.Sprintf("%s: cannot use this value: want %s", k.Value, want))
		}
	}
	return nil
}

// Change stream modes and history-lost policies.
const (
	UpdateLookup  = "update_lookup"
	WhenAvailable = "when_available"
	Required      = "required"
	Off           = "off"
	LostFail      = "fail"
	LostReexport  = "reexport"
)

// DefaultConfig returns a Config with every default set.
func DefaultConfig() *Config {
	return &Config{
		AuthSource:               "admin",
		Export:                   ExportConfig{PartitionSize: 100000, Workers: 4},
		BatchSize:                2048,
		FullDocument:             UpdateLookup,
		FullDocumentBeforeChange: Off,
		OnHistoryLost:            LostFail,
		HeartbeatInterval:        10 * time.Second,
	}
}

// validDBName: MongoDB forbids /\. "$ and NUL in database names (and spaces
// on Windows); 1 to 63 characters (runes; an invalid UTF-8 byte counts as
// one). It is the regexp ^[^/\\. "$*?\[\]\x00]{1,63}$ without its cost: a
// counted repetition compiles to an expanded program, about 60 kB of heap
// built at every start of the binary (see internal/namecheck).
func validDBName(db string) bool {
	n := utf8.RuneCountInString(db)
	return n >= 1 && n <= 63 && !strings.ContainsAny(db, "/\\. \"$*?[]\x00")
}

// Validate checks the configuration; every error is a *component.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	switch {
	case c.URI != "" && c.Host != "":
		add("host", "is set together with uri", "use either uri or host/port/authentication")
	case c.URI == "" && c.Host == "":
		add("uri", "is required", "mongodb://user:password@host:27017/?replicaSet=rs0 (or ${MONGODB_URI}), or set host, port and authentication")
	case c.URI != "":
		if c.Authentication.Username != "" || c.Authentication.Password != "" {
			add("authentication", "is set together with uri", "put the user and password in the uri, or use host/port")
		}
		if !validURI(c.URI) {
			// The driver's message may quote the URI, which holds the password.
			add("uri", "is not a valid MongoDB connection string", "mongodb://user:password@host:27017/?replicaSet=rs0; percent-encode @ : / in the password")
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port", "is out of range", "the default is 27017")
	}
	if c.Authentication.Password != "" && c.Authentication.Username == "" {
		add("authentication.username", "is required with a password", "set authentication.username")
	}
	if c.AuthSource == "" {
		add("auth_source", "must not be empty", "the default is admin")
	}
	if len(c.Collections) == 0 {
		add("collections", "is required", "list {collection: db.coll, export: true, stream: true} entries, e.g. demo.demo_collection or demo.*")
	}
	seen := map[string]bool{}
	for i := range c.Collections {
		e := &c.Collections[i]
		field := fmt.Sprintf("collections[%d]", i)
		for _, p := range e.problems {
			add(field, p, "")
		}
		db, coll, ok := strings.Cut(e.Name, ".")
		switch {
		case !ok || !validDBName(db) || coll == "" || strings.ContainsAny(coll, "$\x00") || len(e.Name) > 255:
			add(field, fmt.Sprintf("%q is not db.collection", e.Name), "write db.collection, e.g. demo.demo_collection, or db.* for every collection of a database")
			continue
		case strings.HasPrefix(coll, "system."):
			add(field, fmt.Sprintf("%q is a system collection", e.Name), "system collections cannot be captured")
			continue
		}
		if _, err := path.Match(coll, ""); err != nil {
			add(field, fmt.Sprintf("%q has a malformed pattern", e.Name), "close the [...] class, or escape it with \\")
			continue
		}
		if !e.Export && !e.Stream {
			add(field, fmt.Sprintf("%s has neither export nor stream", e.Name), "set export: true, stream: true, or both")
		}
		if seen[e.Name] {
			add(field, fmt.Sprintf("%s is listed twice", e.Name), "list each collection once")
		}
		seen[e.Name] = true
		e.db, e.coll = db, coll
	}
	switch c.FullDocument {
	case UpdateLookup, WhenAvailable, Required:
	default:
		add("full_document", fmt.Sprintf("%q is not a mode", c.FullDocument), "use update_lookup, when_available or required")
	}
	switch c.FullDocumentBeforeChange {
	case Off, WhenAvailable, Required:
	default:
		add("full_document_before_change", fmt.Sprintf("%q is not a mode", c.FullDocumentBeforeChange), "use off, when_available or required (quote off in YAML 1.1 tools: \"off\")")
	}
	switch c.OnHistoryLost {
	case LostFail, LostReexport:
	default:
		add("on_history_lost", fmt.Sprintf("%q is not a policy", c.OnHistoryLost), "use fail or reexport")
	}
	if c.Export.PartitionSize <= 0 {
		add("export.partition_size", "must be positive", "the default is 100000 documents per range")
	}
	if c.Export.Workers <= 0 || c.Export.Workers > 64 {
		add("export.workers", "must be between 1 and 64", "the default is 4")
	}
	if c.BatchSize <= 0 {
		add("batch_size", "must be positive", "the default is 2048")
	}
	if c.HeartbeatInterval < 0 {
		add("heartbeat_interval", "must not be negative", "0 disables idle checkpoints; the default is 10s")
	}
	return errs
}

// validURI checks a connection string without network access: mongodb+srv
// URIs are resolved through DNS when parsed, so only their scheme is checked
// here, and the rest when the source connects.
func validURI(uri string) bool {
	switch {
	case strings.HasPrefix(uri, "mongodb+srv://"):
		return len(uri) > len("mongodb+srv://")
	case strings.HasPrefix(uri, "mongodb://"):
		return options.Client().ApplyURI(uri).Validate() == nil
	}
	return false
}

// clientOptions builds the driver's options. Its errors never quote the
// URI (it holds the password).
func (c *Config) clientOptions() *options.ClientOptions {
	o := options.Client().SetAppName("sluice")
	if c.URI != "" {
		o.ApplyURI(c.URI)
	} else {
		port := c.Port
		if port == 0 {
			port = 27017
		}
		o.SetHosts([]string{net.JoinHostPort(c.Host, strconv.Itoa(port))})
		if c.Authentication.Username != "" {
			o.SetAuth(options.Credential{
				Username:   c.Authentication.Username,
				Password:   c.Authentication.Password,
				AuthSource: c.AuthSource,
			})
		}
		if c.TLS || c.TLSInsecure {
			o.SetTLSConfig(&tls.Config{InsecureSkipVerify: c.TLSInsecure}) //nolint:gosec // opt-in for test servers
		}
	}
	return o
}

// streamed reports whether any collection is streamed.
func (c *Config) streamed() bool {
	for _, e := range c.Collections {
		if e.Stream {
			return true
		}
	}
	return false
}

// Factory builds mongodb sources.
var Factory = component.SourceFactory{
	Doc:    "MongoDB: parallel export of collections by _id range, then change streams from the export's start",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Source, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("mongodb: configuration is %T, want *mongodb.Config", cfg)
		}
		return New(c, env)
	},
}
