package connect

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Node names in a connector's pipeline.
const (
	readerNode = "topics" // a sink connector's topic reader
	writerNode = "topics" // a source connector's topic writer
	sinkNode   = "sink"
)

var classes = []*class{
	{name: "io.debezium.connector.postgresql.PostgresConnector", aliases: []string{"PostgresConnector"}, typ: "source",
		secrets: []string{"database.password"}, translate: debeziumPostgres},
	{name: "io.debezium.connector.mysql.MySqlConnector", aliases: []string{"MySqlConnector"}, typ: "source",
		secrets: []string{"database.password"}, translate: debeziumMySQL},
	{name: "io.debezium.connector.mariadb.MariaDbConnector", aliases: []string{"MariaDbConnector"}, typ: "source",
		secrets: []string{"database.password"}, translate: debeziumMySQL},
	{name: "io.debezium.connector.mongodb.MongoDbConnector", aliases: []string{"MongoDbConnector"}, typ: "source",
		secrets: []string{"mongodb.password", "mongodb.connection.string"}, translate: debeziumMongo},
	{name: "io.confluent.connect.jdbc.JdbcSourceConnector", aliases: []string{"JdbcSourceConnector"}, typ: "source",
		secrets: []string{"connection.password"}, translate: jdbcSource},
	{name: "io.confluent.connect.jdbc.JdbcSinkConnector", typ: "sink",
		secrets: []string{"connection.password"}, translate: confluentJDBCSink},
	{name: "io.debezium.connector.jdbc.JdbcSinkConnector", typ: "sink",
		secrets: []string{"connection.password"}, translate: debeziumJDBCSink},
	{name: "io.confluent.connect.s3.S3SinkConnector", aliases: []string{"S3SinkConnector"}, typ: "sink",
		secrets: []string{"aws.secret.access.key"}, translate: s3Sink},
	{name: "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector", aliases: []string{"ElasticsearchSinkConnector"}, typ: "sink",
		secrets: []string{"connection.password"}, translate: searchSink("elasticsearch")},
	{name: "io.aiven.kafka.connect.opensearch.OpensearchSinkConnector", aliases: []string{"OpensearchSinkConnector"}, typ: "sink",
		secrets: []string{"connection.password"}, translate: searchSink("opensearch")},
	{name: "org.apache.kafka.connect.file.FileStreamSourceConnector", aliases: []string{"FileStreamSource", "FileStreamSourceConnector"}, typ: "source",
		translate: fileSource},
	{name: "org.apache.kafka.connect.file.FileStreamSinkConnector", aliases: []string{"FileStreamSink", "FileStreamSinkConnector"}, typ: "sink",
		translate: fileSink},
}

func lookupClass(name string) *class {
	for _, c := range classes {
		if c.name == name {
			return c
		}
		for _, a := range c.aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// ClassNames lists the translated connector classes, sorted.
func ClassNames() []string {
	out := make([]string, len(classes))
	for i, c := range classes {
		out[i] = c.name
	}
	sort.Strings(out)
	return out
}

// Plugin is one entry of GET /connector-plugins.
type Plugin struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

// Plugins lists the translated classes as GET /connector-plugins does.
func Plugins(version string) []Plugin {
	out := make([]Plugin, 0, len(classes))
	for _, n := range ClassNames() {
		out = append(out, Plugin{Class: n, Type: lookupClass(n).typ, Version: version})
	}
	return out
}

// Mask replaces a secret's value in every answer (Kafka Connect's own
// mask for PASSWORD-type keys).
const Mask = "[hidden]"

// IsSecretKey tells whether a key's value is a secret whatever the class:
// the class's own secret keys (Plan.Secrets) come on top.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "sasl.jaas.config", "api.key", "token", "credentials"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

var nodeName = namecheck.New("A-Za-z", "A-Za-z0-9_-", 0, 62)

// sourceNode picks the source node's name: the topic prefix when it is a
// valid node name, so the envelope's source.name is the prefix as
// Debezium writes it.
func sourceNode(prefix string) string {
	if nodeName.Match(prefix) {
		return prefix
	}
	return "source"
}

func ms(r *reader, key string, def time.Duration) (time.Duration, bool) {
	if r.spec != nil {
		r.spec.record(key, "LONG", strconv.FormatInt(def.Milliseconds(), 10), false)
	}
	if r.get(key, "") == "" {
		return def, false
	}
	n := r.integer(key, 0)
	if n < 0 {
		r.fail(key, "must not be negative")
	}
	return time.Duration(n) * time.Millisecond, true
}

func hostPort(host string, port string) string { return net.JoinHostPort(host, port) }

// debeziumTables turns Debezium's include lists (comma-separated regular
// expressions matched against whole schema.table names) into sluice's
// globs. Only the forms that have a glob twin are taken: names, with "\."
// or "." between the parts, and ".*" as a wildcard.
func debeziumTables(r *reader, key string, v string) []string {
	var out []string
	for _, e := range list(v) {
		g := strings.ReplaceAll(e, `\.`, "\x00")
		g = strings.ReplaceAll(g, ".*", "*")
		g = strings.ReplaceAll(g, "\x00", ".")
		if strings.ContainsAny(g, `\()[]{}+?^$|`) {
			r.fail(key, fmt.Sprintf("the pattern %q uses regular expression syntax sluice cannot translate (hint: names, and .* as a wildcard)", e))
			continue
		}
		out = append(out, g)
	}
	return out
}

// defaultOnly takes keys sluice supports only with Debezium's default
// value.
func defaultOnly(r *reader, defs map[string]string) {
	keys := make([]string, 0, len(defs))
	for k := range defs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order for the plugin config's listing
	for _, k := range keys {
		def := defs[k]
		if v := r.get(k, def); !strings.EqualFold(v, def) {
			r.fail(k, fmt.Sprintf("only %q (the default) is supported", def))
		}
	}
}

func debeziumPostgres(r *reader, env Env, p *Plan) {
	host := r.required("database.hostname")
	port := r.get("database.port", "5432")
	user := r.required("database.user")
	pass := r.get("database.password", "")
	db := r.required("database.dbname")
	prefix := r.first("", "topic.prefix", "database.server.name")
	if prefix == "" {
		r.fail("topic.prefix", `Missing required configuration "topic.prefix" which has no default value.`)
	}
	u := url.URL{Scheme: "postgres", Host: hostPort(host, port), Path: "/" + db}
	if pass != "" {
		u.User = url.UserPassword(user, pass)
	} else {
		u.User = url.User(user)
	}
	q := url.Values{}
	// Debezium's TLS keys are libpq's, which pgx reads from the DSN.
	for _, k := range []string{"sslmode", "sslrootcert", "sslcert", "sslkey"} {
		if v := r.get("database."+k, ""); v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	var tables []string
	if v := r.first("", "table.include.list", "table.whitelist"); v != "" {
		tables = debeziumTables(r, "table.include.list", v)
	} else if v := r.first("", "schema.include.list", "schema.whitelist"); v != "" {
		for _, s := range debeziumTables(r, "schema.include.list", v) {
			tables = append(tables, s+".*")
		}
	} else {
		tables = []string{"*.*"}
	}
	src := Node{"type": "postgres", "dsn": u.String(), "tables": tables}
	if v := r.oneOf("plugin.name", "pgoutput", "pgoutput"); v != "pgoutput" {
		r.fail("plugin.name", "sluice decodes pgoutput only (hint: plugin.name=pgoutput)")
	}
	if v := r.get("slot.name", ""); v != "" {
		src["slot"] = v
	}
	if v := r.get("publication.name", ""); v != "" {
		src["publication"] = v
	}
	switch r.oneOf("publication.autocreate.mode", "all_tables", "all_tables", "filtered", "disabled") {
	case "disabled":
		src["create_publication"] = false
	}
	switch r.oneOf("snapshot.mode", "initial", "initial", "never", "no_data") {
	case "never", "no_data":
		src["snapshot"] = "never"
	}
	if r.boolean("slot.drop.on.stop", false) {
		src["drop_slot_on_stop"] = true
	}
	if d, ok := ms(r, "heartbeat.interval.ms", 0); ok {
		src["heartbeat_interval"] = d.String()
	}
	if n := r.integer("max.batch.size", 0); n > 0 {
		src["batch_size"] = n
	}
	debeziumSignals(r, src)
	defaultOnly(r, map[string]string{"decimal.handling.mode": "precise", "time.precision.mode": "adaptive", "include.unknown.datatypes": "false"})
	debeziumWriter(r, env, p, prefix, src)
}

// debeziumSignals maps Debezium's signal table to the source's
// signal_data_collection (incremental snapshots). Only the "source"
// channel (the signal table) is read; sluice's own requests (sluice
// snapshot, POST /pipelines/{name}/snapshot) need no channel.
func debeziumSignals(r *reader, src Node) {
	if v := r.get("signal.data.collection", ""); v != "" {
		src["signal_data_collection"] = v
	}
	for _, ch := range strings.Split(r.get("signal.enabled.channels", "source"), ",") {
		if ch = strings.TrimSpace(ch); ch != "" && ch != "source" {
			r.warn(fmt.Sprintf("signal.enabled.channels: channel %q is not read; signals come from the signal table (source) and from sluice snapshot / POST /pipelines/{name}/snapshot", ch))
		}
	}
}

func debeziumMySQL(r *reader, env Env, p *Plan) {
	host := r.required("database.hostname")
	port := r.integer("database.port", 3306)
	user := r.required("database.user")
	pass := r.get("database.password", "")
	prefix := r.first("", "topic.prefix", "database.server.name")
	if prefix == "" {
		r.fail("topic.prefix", `Missing required configuration "topic.prefix" which has no default value.`)
	}
	src := Node{"type": "mysql", "host": host, "port": port, "user": user}
	if pass != "" {
		src["password"] = pass
	}
	if id := r.integer("database.server.id", 0); id > 0 {
		src["server_id"] = id
	}
	// Debezium's TLS modes are the source's ssl_mode values; its trust and
	// key stores are Java's (JKS, PKCS#12), so the PEM files are set on
	// the sluice side (ssl_ca, ssl_cert, ssl_key).
	// Unset, the source keeps its own default (plain TCP) rather than
	// Debezium's preferred.
	if _, set := r.cfg["database.ssl.mode"]; set {
		src["ssl_mode"] = r.oneOf("database.ssl.mode", "preferred", "disabled", "preferred", "required", "verify_ca", "verify_identity")
	} else {
		r.get("database.ssl.mode", "")
	}
	var tables []string
	if v := r.first("", "table.include.list", "table.whitelist"); v != "" {
		tables = debeziumTables(r, "table.include.list", v)
	} else if v := r.first("", "database.include.list", "database.whitelist"); v != "" {
		for _, s := range debeziumTables(r, "database.include.list", v) {
			tables = append(tables, s+".*")
		}
	} else {
		r.fail("database.include.list", "sluice needs the captured databases or tables named (hint: database.include.list=inventory)")
	}
	src["tables"] = tables
	switch r.oneOf("snapshot.mode", "initial", "initial", "never", "no_data", "schema_only") {
	case "never", "no_data", "schema_only":
		src["snapshot"] = "never"
	}
	debeziumSignals(r, src)
	// sluice keeps the table schemas in its own state: the schema history
	// topic and its Kafka settings have nothing to configure.
	r.ignorePrefix("schema.history.internal.")
	r.ignorePrefix("database.history.")
	r.ignore("include.schema.changes")
	defaultOnly(r, map[string]string{"decimal.handling.mode": "precise", "time.precision.mode": "adaptive_time_microseconds"})
	debeziumWriter(r, env, p, prefix, src)
}

// debeziumMongo translates Debezium's MongoDB connector: mongodb.hosts
// ("rs0/host:port,host:port" or "host:port") or mongodb.connection.string,
// the credentials, the collections (Debezium's regexes over db.collection,
// as globs), snapshot.mode (initial: export then stream; initial_only:
// export only; never/no_data: stream only) and capture.mode (full
// documents, with pre-images or not). Topics are prefix.db.collection.
func debeziumMongo(r *reader, env Env, p *Plan) {
	prefix := r.first("", "topic.prefix", "mongodb.name")
	if prefix == "" {
		r.fail("topic.prefix", `Missing required configuration "topic.prefix" which has no default value.`)
	}
	user := r.get("mongodb.user", "")
	pass := r.get("mongodb.password", "")
	authSource := r.get("mongodb.authsource", "admin")
	tls := r.boolean("mongodb.ssl.enabled", false)
	insecure := r.boolean("mongodb.ssl.invalid.hostname.allowed", false)
	hosts := r.get("mongodb.hosts", "")
	cs := r.get("mongodb.connection.string", "")
	var u *url.URL
	switch {
	case cs != "" && hosts != "":
		r.fail("mongodb.hosts", "mongodb.hosts and mongodb.connection.string exclude each other (hint: keep mongodb.connection.string)")
		return
	case cs != "":
		var err error
		u, err = url.Parse(cs)
		if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
			r.fail("mongodb.connection.string", "is not a MongoDB connection string (hint: mongodb://host:27017/?replicaSet=rs0)")
			return
		}
	case hosts != "":
		rs, list, ok := strings.Cut(hosts, "/")
		if !ok {
			rs, list = "", hosts
		}
		hs := strings.Split(list, ",")
		for i, h := range hs {
			h = strings.TrimSpace(h)
			if h == "" || strings.ContainsAny(h, "/@?#") {
				r.fail("mongodb.hosts", fmt.Sprintf("%q is not a host:port (hint: rs0/mongo1:27017,mongo2:27017 or mongo:27017)", h))
				return
			}
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(h, "27017")
			}
			hs[i] = h
		}
		u = &url.URL{Scheme: "mongodb", Host: strings.Join(hs, ","), Path: "/"}
		if rs != "" {
			q := u.Query()
			q.Set("replicaSet", rs)
			u.RawQuery = q.Encode()
		}
	default:
		r.fail("mongodb.connection.string", `Missing required configuration "mongodb.connection.string" which has no default value. (hint: or mongodb.hosts)`)
		return
	}
	q := u.Query()
	if user != "" && u.User == nil {
		if pass != "" {
			u.User = url.UserPassword(user, pass)
		} else {
			u.User = url.User(user)
		}
	}
	if u.User != nil && q.Get("authSource") == "" {
		q.Set("authSource", authSource)
	}
	if tls {
		q.Set("tls", "true")
	}
	if insecure {
		q.Set("tlsInsecure", "true")
	}
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/"
	}

	export, stream := true, true
	switch r.oneOf("snapshot.mode", "initial", "initial", "initial_only", "never", "no_data") {
	case "initial_only":
		stream = false
	case "never", "no_data":
		export = false
	}
	src := Node{"type": "mongodb", "uri": u.String()}
	switch r.oneOf("capture.mode", "change_streams_update_full", "change_streams_update_full", "change_streams_update_full_with_pre_image", "change_streams", "change_streams_with_pre_image") {
	case "change_streams_update_full_with_pre_image":
		src["full_document_before_change"] = "when_available"
	case "change_streams", "change_streams_with_pre_image":
		r.fail("capture.mode", "sluice carries full documents: updates without the full document are not supported (hint: change_streams_update_full)")
	}
	var colls []string
	if v := r.first("", "collection.include.list", "collection.whitelist"); v != "" {
		for _, e := range list(v) {
			// "logistics.*" is every collection of logistics: the regex's
			// "." matches the separator.
			if db, ok := strings.CutSuffix(e, ".*"); ok && db != "" && !strings.ContainsAny(db, `.\()[]{}+?^$|*`) {
				colls = append(colls, db+".*")
				continue
			}
			colls = append(colls, debeziumTables(r, "collection.include.list", e)...)
		}
	} else if v := r.first("", "database.include.list", "database.whitelist"); v != "" {
		for _, d := range debeziumTables(r, "database.include.list", v) {
			colls = append(colls, d+".*")
		}
	} else {
		r.fail("collection.include.list", "sluice needs the captured databases or collections named (hint: collection.include.list=inventory.*)")
	}
	for _, k := range []string{"collection.exclude.list", "collection.blacklist", "database.exclude.list", "database.blacklist"} {
		if r.get(k, "") != "" {
			r.fail(k, "is not supported (hint: name the collections in collection.include.list)")
		}
	}
	var cl []any
	for _, c := range colls {
		if strings.Count(c, ".") < 1 || strings.HasPrefix(c, "*") {
			r.fail("collection.include.list", fmt.Sprintf("%q must name a database, then a collection (hint: inventory.orders or inventory.*)", c))
			continue
		}
		cl = append(cl, map[string]any{"collection": c, "export": export, "stream": stream})
	}
	src["collections"] = cl
	if n := r.integer("max.batch.size", 0); n > 0 {
		src["batch_size"] = n
	}
	if d, ok := ms(r, "heartbeat.interval.ms", 0); ok {
		src["heartbeat_interval"] = d.String()
	}
	r.ignore("mongodb.members.auto.discover", "mongodb.poll.interval.ms", "mongodb.connect.timeout.ms", "mongodb.server.selection.timeout.ms", "mongodb.socket.timeout.ms", "mongodb.heartbeat.frequency.ms", "snapshot.max.threads", "connect.max.attempts", "connect.backoff.initial.delay.ms", "connect.backoff.max.delay.ms")
	name := sourceNode(prefix)
	p.Sources[name] = src
	p.Topic = tmplLiteral(prefix) + ".${database}.${table}"
	w := env.Topics.Writer(r.name, p.Topic, WriterOptions{Schemas: schemasEnabled(r), Tombstones: r.boolean("tombstones.on.delete", true)})
	w["inputs"] = []string{name}
	p.Sinks[writerNode] = w
}

func debeziumWriter(r *reader, env Env, p *Plan, prefix string, src Node) {
	name := sourceNode(prefix)
	p.Sources[name] = src
	p.Topic = tmplLiteral(prefix) + ".${schema}.${table}"
	w := env.Topics.Writer(r.name, p.Topic, WriterOptions{Schemas: schemasEnabled(r), Tombstones: r.boolean("tombstones.on.delete", true)})
	w["inputs"] = []string{name}
	p.Sinks[writerNode] = w
}

// jdbcURL parses a JDBC URL into the driver and a DSN for it.
func jdbcURL(r *reader, key, raw, user, pass string) (driver, dsn string) {
	rest, ok := strings.CutPrefix(raw, "jdbc:")
	if !ok {
		r.fail(key, fmt.Sprintf("%q is not a JDBC URL (hint: jdbc:postgresql://host:5432/db or jdbc:mysql://host:3306/db)", raw))
		return "", ""
	}
	u, err := url.Parse(rest)
	if err != nil || u.Host == "" {
		r.fail(key, "is not a JDBC URL sluice can read (hint: jdbc:postgresql://host:5432/db or jdbc:mysql://host:3306/db)")
		return "", ""
	}
	if user == "" && u.Query().Get("user") != "" {
		user, pass = u.Query().Get("user"), u.Query().Get("password")
	}
	switch u.Scheme {
	case "postgresql":
		d := url.URL{Scheme: "postgres", Host: u.Host, Path: u.Path}
		if pass != "" {
			d.User = url.UserPassword(user, pass)
		} else if user != "" {
			d.User = url.User(user)
		}
		// pgjdbc's TLS keys are libpq's; its ssl=true alone means
		// verify-full. Dropping them would connect in the clear.
		q, dq := u.Query(), url.Values{}
		for _, k := range []string{"sslmode", "sslrootcert", "sslcert", "sslkey"} {
			if v := q.Get(k); v != "" {
				dq.Set(k, v)
			}
		}
		if dq.Get("sslmode") == "" && strings.EqualFold(q.Get("ssl"), "true") {
			dq.Set("sslmode", "verify-full")
		}
		d.RawQuery = dq.Encode()
		return "postgres", d.String()
	case "mysql", "mariadb":
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "3306")
		}
		cred := user
		if pass != "" {
			cred += ":" + pass
		}
		if cred != "" {
			cred += "@"
		}
		dsn := cred + "tcp(" + host + ")" + u.Path
		if tls, ok := jdbcMySQLTLS(u.Query()); !ok {
			r.fail(key, "its TLS settings are not understood (hint: sslMode=DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)")
		} else if tls != "" {
			dsn += "?tls=" + tls
		}
		return "mysql", dsn
	}
	r.fail(key, fmt.Sprintf("the %s JDBC driver is not supported (hint: postgresql, mysql or mariadb)", u.Scheme))
	return "", ""
}

// jdbcMySQLTLS maps the TLS parameters of MySQL's and MariaDB's JDBC
// drivers (sslMode, and the older useSSL/useSsl, requireSSL and
// verifyServerCertificate) to go-sql-driver's tls parameter: "" for none,
// "preferred", "skip-verify" (encrypted, unverified) or "true" (verified
// against the system's CAs, host name included: VERIFY_CA and verify-ca
// check the name too, as go-sql-driver's DSN cannot leave it out). ok is
// false for a value it does not know.
func jdbcMySQLTLS(q url.Values) (tls string, ok bool) {
	get := func(keys ...string) string {
		for k, v := range q {
			for _, want := range keys {
				if strings.EqualFold(k, want) && len(v) > 0 {
					return strings.ToLower(v[0])
				}
			}
		}
		return ""
	}
	switch get("sslMode") {
	case "disabled", "disable":
		return "", true
	case "preferred":
		return "preferred", true
	case "required", "trust":
		return "skip-verify", true
	case "verify_ca", "verify_identity", "verify-ca", "verify-full":
		return "true", true
	case "":
	default:
		return "", false
	}
	switch get("useSSL", "useSsl") {
	case "", "false":
		return "", true
	case "true":
		if get("verifyServerCertificate") == "false" {
			return "skip-verify", true
		}
		return "true", true
	}
	return "", false
}

func jdbcSource(r *reader, env Env, p *Plan) {
	raw := r.required("connection.url")
	user := r.get("connection.user", "")
	pass := r.get("connection.password", "")
	driver, dsn := jdbcURL(r, "connection.url", raw, user, pass)
	mode := r.oneOf("mode", "", "bulk", "incrementing", "timestamp", "timestamp+incrementing")
	if mode == "" {
		r.fail("mode", `Missing required configuration "mode" which has no default value.`)
	}
	prefix := r.required("topic.prefix")
	src := Node{"type": "sql_poll", "driver": driver, "dsn": dsn, "mode": mode}
	if v := r.get("incrementing.column.name", ""); v != "" {
		src["incrementing_column"] = v
	}
	if v := r.get("timestamp.column.name", ""); v != "" {
		src["timestamp_columns"] = list(v)
	}
	query := r.get("query", "")
	tables := list(r.first("", "table.whitelist", "table.include.list"))
	if bl := r.first("", "table.blacklist", "table.exclude.list"); bl != "" {
		r.fail("table.exclude.list", "is not supported (hint: name the tables in table.include.list)")
	}
	switch {
	case query != "" && len(tables) > 0:
		r.fail("query", "query and table.include.list are mutually exclusive")
	case query != "":
		src["query"] = query
		p.Topic = tmplLiteral(prefix) // the query's topic is the prefix itself
	case len(tables) == 0:
		r.fail("table.include.list", "sluice needs the polled tables named (hint: table.include.list=USERS)")
	default:
		src["tables"] = tables
		p.Topic = tmplLiteral(prefix) + "${table}"
	}
	if d, ok := ms(r, "poll.interval.ms", 0); ok {
		src["poll_interval"] = d.String()
	}
	if n := r.integer("batch.max.rows", 0); n > 0 {
		src["batch_max_rows"] = n
	}
	if d, ok := ms(r, "timestamp.delay.interval.ms", 0); ok {
		src["timestamp_delay"] = d.String()
	}
	// validate.non.null checks the columns are NOT NULL at start; sluice
	// never reads a row whose watermark column is NULL either way.
	r.ignore("validate.non.null", "table.types", "db.timezone", "numeric.mapping", "dialect.name", "connection.attempts", "connection.backoff.ms", "table.poll.interval.ms", "quote.sql.identifiers")
	p.Sources["source"] = src
	p.Flat = true
	w := env.Topics.Writer(r.name, p.Topic, WriterOptions{Schemas: schemasEnabled(r), Flat: true})
	w["inputs"] = []string{"source"}
	p.Sinks[writerNode] = w
}

func sinkReader(r *reader, env Env, p *Plan) {
	topics, regex := sinkTopics(r)
	p.Sources[readerNode] = env.Topics.Reader(r.name, topics, regex)
}

// sqlSink builds the mysql or postgres sink of a JDBC sink connector.
func sqlSink(r *reader, env Env, p *Plan, user, pass string) Node {
	raw := r.required("connection.url")
	driver, dsn := jdbcURL(r, "connection.url", raw, user, pass)
	sinkReader(r, env, p)
	n := Node{"type": driver, "dsn": dsn, "inputs": []string{readerNode}}
	switch r.oneOf("insert.mode", "insert", "insert", "upsert", "update") {
	case "insert":
		n["mode"] = "insert"
	case "upsert":
		n["mode"] = "upsert"
	case "update":
		n["mode"] = "update"
	}
	// ${topic} is the topic's name: the reader names streams after their
	// topics (stream_from_topic), so ${stream} is the topic.
	tf := r.get("table.name.format", "${topic}")
	n["table"] = strings.ReplaceAll(tf, "${topic}", "${stream}")
	if r.boolean("delete.enabled", false) {
		n["delete_mode"] = "delete"
	} else {
		n["delete_mode"] = "none"
	}
	return n
}

func confluentJDBCSink(r *reader, env Env, p *Plan) {
	n := sqlSink(r, env, p, r.get("connection.user", ""), r.get("connection.password", ""))
	if r.boolean("auto.create", false) {
		n["auto_create"] = true
	}
	if r.boolean("auto.evolve", false) {
		n["auto_evolve"] = true
	}
	switch r.oneOf("pk.mode", "none", "none", "record_key", "record_value", "kafka") {
	case "record_value", "record_key":
		if f := list(r.get("pk.fields", "")); len(f) > 0 {
			n["key_columns"] = f
		}
	case "kafka":
		r.fail("pk.mode", "kafka (topic, partition, offset as the key) is not supported (hint: record_key)")
	default:
		r.ignore("pk.fields")
	}
	r.ignore("max.retries", "retry.backoff.ms", "db.timezone", "quote.sql.identifiers", "dialect.name", "connection.attempts", "connection.backoff.ms")
	batch(r, n)
	p.Sinks[sinkNode] = n
}

func debeziumJDBCSink(r *reader, env Env, p *Plan) {
	n := sqlSink(r, env, p, r.get("connection.username", ""), r.get("connection.password", ""))
	if r.oneOf("schema.evolution", "none", "none", "basic") == "basic" {
		n["auto_create"], n["auto_evolve"] = true, true
	}
	switch r.oneOf("primary.key.mode", "none", "none", "record_key", "record_value", "kafka") {
	case "record_value", "record_key":
		if f := list(r.get("primary.key.fields", "")); len(f) > 0 {
			n["key_columns"] = f
		}
	case "kafka":
		r.fail("primary.key.mode", "kafka (topic, partition, offset as the key) is not supported (hint: record_key)")
	default:
		r.ignore("primary.key.fields")
	}
	r.ignore("database.time_zone", "quote.identifiers")
	batch(r, n)
	p.Sinks[sinkNode] = n
}

func batch(r *reader, n Node) {
	if b := r.integer("batch.size", 0); b > 0 {
		n["batch"] = map[string]any{"max_events": b}
	}
}

func s3Sink(r *reader, env Env, p *Plan) {
	topics, regex := sinkTopics(r)
	p.Sources[readerNode] = env.Topics.Reader(r.name, topics, regex)
	n := Node{"type": "s3", "inputs": []string{readerNode}, "bucket": r.required("s3.bucket.name")}
	if v := r.get("s3.region", ""); v != "" {
		n["region"] = v
	}
	if v := r.get("store.url", ""); v != "" {
		n["endpoint"] = v
		n["path_style"] = r.boolean("s3.path.style.access.enabled", true)
	} else {
		r.ignore("s3.path.style.access.enabled")
	}
	if v := r.get("aws.access.key.id", ""); v != "" {
		n["access_key_id"] = v
		n["secret_access_key"] = r.get("aws.secret.access.key", "")
	}
	n["prefix"] = r.get("topics.dir", "topics")
	n["partition"] = "${stream}/partition=0"
	if fs := r.integer("flush.size", 0); fs < 1 {
		r.fail("flush.size", `Missing required configuration "flush.size" which has no default value.`)
	} else {
		n["flush_size"] = fs
	}
	if d, ok := ms(r, "rotate.schedule.interval.ms", 0); ok && d > 0 {
		n["rotate_schedule_interval"] = d.String()
	}
	if d, ok := ms(r, "rotate.interval.ms", 0); ok && d > 0 {
		n["rotate_interval"] = d.String()
	}
	switch r.get("format.class", "") {
	case "io.confluent.connect.s3.format.json.JsonFormat":
		// JsonFormat writes each record's value: rows for topics a JDBC
		// source wrote, change envelopes for Debezium's.
		flat := env.FlatTopic != nil && len(topics) > 0
		for _, t := range topics {
			flat = flat && env.FlatTopic(t)
		}
		if flat {
			n["format"] = "row"
		} else {
			n["format"] = "debezium"
		}
	case "":
		r.fail("format.class", `Missing required configuration "format.class" which has no default value.`)
	default:
		r.fail("format.class", fmt.Sprintf("%s is not supported (hint: io.confluent.connect.s3.format.json.JsonFormat)", r.cfg["format.class"]))
	}
	switch v := r.get("partitioner.class", "io.confluent.connect.storage.partitioner.DefaultPartitioner"); v {
	case "io.confluent.connect.storage.partitioner.DefaultPartitioner":
	default:
		r.fail("partitioner.class", v+" is not supported (hint: io.confluent.connect.storage.partitioner.DefaultPartitioner)")
	}
	if v := r.get("storage.class", "io.confluent.connect.s3.storage.S3Storage"); v != "io.confluent.connect.s3.storage.S3Storage" {
		r.fail("storage.class", v+" is not supported (hint: io.confluent.connect.s3.storage.S3Storage)")
	}
	if v := r.get("s3.compression.type", "none"); v != "none" {
		r.fail("s3.compression.type", "only none is supported")
	}
	if ps := r.integer("s3.part.size", 0); ps > 0 {
		n["part_size"] = ps
	}
	// locale and timezone shape time-based partitions only; the schema
	// compatibility of the default partitioner is NONE.
	r.ignore("locale", "timezone", "schema.compatibility", "behavior.on.null.values")
	p.Sinks[sinkNode] = n
}

func searchSink(typ string) func(r *reader, env Env, p *Plan) {
	return func(r *reader, env Env, p *Plan) {
		sinkReader(r, env, p)
		hosts := list(r.required("connection.url"))
		n := Node{"type": typ, "inputs": []string{readerNode}, "hosts": hosts, "index": "${stream}"}
		if v := r.get("connection.username", ""); v != "" {
			n["username"] = v
			n["password"] = r.get("connection.password", "")
		}
		if r.boolean("key.ignore", false) {
			r.fail("key.ignore", "true (ids from topic, partition and offset) is not supported: sluice's document ids are the record keys (hint: remove it)")
		}
		switch r.oneOf("behavior.on.null.values", "fail", "ignore", "delete", "fail") {
		case "ignore":
			r.fail("behavior.on.null.values", "ignore is not supported: deletes delete the document (hint: delete)")
		}
		r.oneOf("write.method", "insert", "insert", "upsert")
		batch(r, n)
		r.ignore("schema.ignore", "type.name", "max.retries", "retry.backoff.ms", "read.timeout.ms", "connection.timeout.ms", "max.buffered.records", "linger.ms", "flush.timeout.ms", "max.in.flight.requests", "drop.invalid.message", "compact.map.entries")
		p.Sinks[sinkNode] = n
		if typ == "elasticsearch" {
			// The sink lower-cases index names (as both connectors do);
			// Confluent's connector also drops a leading - or _, cuts
			// the name to 255 characters and names "." and ".." "dot"
			// and "dotdot": a route renames the listed topics that
			// need more than lower-casing.
			topics, _ := p.Sources[readerNode]["topics"].([]string)
			in := []string{readerNode}
			for i, t := range topics {
				idx := confluentIndexName(t)
				if idx == strings.ToLower(t) {
					continue
				}
				name := fmt.Sprintf("index_name%d", i+1)
				if p.Processors == nil {
					p.Processors = map[string]Node{}
				}
				if p.sinkHead == "" {
					p.sinkHead = name
				}
				p.Processors[name] = Node{"type": "route", "inputs": in, "regex": regexp.QuoteMeta(t), "replacement": strings.ReplaceAll(strings.ReplaceAll(idx, `\`, `\\`), "$", `\$`)}
				in = []string{name}
			}
			n["inputs"] = in
		}
	}
}

// confluentIndexName is the index Confluent's Elasticsearch sink connector
// writes a topic's records to (ElasticsearchSinkTask.convertTopicToIndexName).
func confluentIndexName(topic string) string {
	idx := strings.ToLower(topic)
	if r := []rune(idx); len(r) > 255 {
		idx = string(r[:255])
	}
	if strings.HasPrefix(idx, "-") || strings.HasPrefix(idx, "_") {
		idx = idx[1:]
	}
	if idx == "." || idx == ".." {
		idx = strings.ReplaceAll(idx, ".", "dot")
	}
	return idx
}

func fileSource(r *reader, env Env, p *Plan) {
	file := r.get("file", "")
	topic := r.required("topic")
	if file == "" {
		r.fail("file", "reading the server's standard input is not supported (hint: name a file)")
	}
	if env.FilesRoot == "" {
		r.fail("file", "this server has no directory for FileStream files (hint: sluice serve --files DIR)")
		return
	}
	src := Node{"type": "lines", "root": env.FilesRoot, "path": file, "stream": topic}
	if n := r.integer("batch.size", 0); n > 0 {
		src["batch_size"] = n
	}
	p.Sources["source"] = src
	p.Topic = tmplLiteral(topic)
	p.Flat = true
	w := env.Topics.Writer(r.name, p.Topic, WriterOptions{Schemas: schemasEnabled(r), Flat: true})
	w["inputs"] = []string{"source"}
	p.Sinks[writerNode] = w
}

func fileSink(r *reader, env Env, p *Plan) {
	sinkReader(r, env, p)
	file := r.get("file", "")
	if file == "" {
		r.fail("file", "writing to the server's standard output is not supported (hint: name a file)")
	}
	if env.FilesRoot == "" {
		r.fail("file", "this server has no directory for FileStream files (hint: sluice serve --files DIR)")
		return
	}
	p.Sinks[sinkNode] = Node{"type": "lines", "root": env.FilesRoot, "path": file, "inputs": []string{readerNode}}
}
