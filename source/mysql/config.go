package mysql

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Config is the mysql source's configuration. Names follow the Debezium
// MySQL connector's options in snake_case where there is one.
type Config struct {
	// DSN is a go-sql-driver data source name, user:password@tcp(host:port)/db.
	// It is a secret: it never appears in errors or logs. Instead of it,
	// host, port, user and password may be given.
	DSN      string `yaml:"dsn" sluice:"secret"`
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	User     string `yaml:"user"`
	Password string `yaml:"password" sluice:"secret"`
	// TLS to the server, for the snapshot's and the binlog's connections:
	// ssl_mode, ssl_ca, ssl_cert, ssl_key.
	dbauth.MySQLSSL `yaml:",inline"`
	// ServerID is the replica id this source registers with; it must differ
	// from every server and replica of the cluster. Default: random in
	// [2^30, 2^31), a range replicas numbered by hand do not reach.
	ServerID uint32 `yaml:"server_id" sluice:"nodefault"`
	// Tables lists the captured tables as db.table; shell globs (*, ?, [...])
	// are allowed in the table part and resolved at start.
	Tables []string `yaml:"tables"`
	// Snapshot is initial (read existing rows first) or never.
	Snapshot string `yaml:"snapshot"`
	// SnapshotChunkRows is the number of rows read per snapshot query.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// BatchSize is the maximum number of events per Emit.
	BatchSize int `yaml:"batch_size"`
	// HeartbeatInterval is the server heartbeat period on the replication
	// connection (a dead connection is noticed after two missed ones) and
	// how often an idle source checkpoints the binlog position it has read
	// past; 0 disables both.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// SignalDataCollection is a Debezium signal table (db.table, columns
	// id, type, data, as Debezium's signal.data.collection): rows inserted
	// into it with type execute-snapshot or stop-snapshot start or stop
	// incremental snapshots, whose watermarks are rows of it too. Its
	// rows are not emitted.
	SignalDataCollection string `yaml:"signal_data_collection"`
	// OnBinlogLost is what happens when the checkpoint's binlog position is
	// no longer on the server (purged while sluice was stopped): fail stops
	// with a clear error, resnapshot takes a new snapshot and streams on.
	OnBinlogLost string `yaml:"on_binlog_lost"`
}

// Snapshot modes and binlog-lost policies.
const (
	SnapshotInitial = "initial"
	SnapshotNever   = "never"
	LostFail        = "fail"
	LostResnapshot  = "resnapshot"
)

// DefaultConfig returns a Config with every default set. The server id is
// random in [1<<30, 1<<31): replicas are usually numbered from 1.
func DefaultConfig() *Config {
	return &Config{
		ServerID:          1<<30 + uint32(rand.IntN(1<<30)),
		Snapshot:          SnapshotInitial,
		SnapshotChunkRows: 20000,
		BatchSize:         2048,
		HeartbeatInterval: 10 * time.Second,
		OnBinlogLost:      LostFail,
	}
}

var identRe = namecheck.New("A-Za-z0-9_$*?[]-", "A-Za-z0-9_$*?[]-", 0, 63) // [...]{1,64}

// Validate checks the configuration; every error is a *component.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	switch {
	case c.DSN != "" && c.Host != "":
		add("host", "is set together with dsn", "use either dsn or host/port/user/password")
	case c.DSN == "" && c.Host == "":
		add("dsn", "is required", "user:password@tcp(host:3306)/db (or ${ENV_VAR}), or set host, port, user and password")
	default:
		if _, err := c.driverConfig(); err != nil {
			add("dsn", "is not a valid MySQL data source name", "user:password@tcp(host:3306)/db")
		}
	}
	errs = append(errs, c.MySQLSSL.Validate()...)
	if c.Port < 0 || c.Port > 65535 {
		add("port", "is out of range", "the default is 3306")
	}
	if c.ServerID == 0 {
		add("server_id", "must not be 0", "leave it unset for a random id, or pick one unique in the cluster")
	}
	if len(c.Tables) == 0 {
		add("tables", "is required", `list db.table names, globs allowed in the table, e.g. ["shop.*"]`)
	}
	for i, t := range c.Tables {
		db, tbl, ok := strings.Cut(t, ".")
		if !ok || !identRe.Match(db) || strings.ContainsAny(db, "*?[]") || !identRe.Match(tbl) {
			add(fmt.Sprintf("tables[%d]", i), fmt.Sprintf("%q is not db.table", t), "write db.table, e.g. shop.orders or shop.*; letters, digits, _ and $")
		}
	}
	switch c.Snapshot {
	case SnapshotInitial, SnapshotNever:
	default:
		add("snapshot", fmt.Sprintf("%q is not a snapshot mode", c.Snapshot), "use initial or never")
	}
	switch c.OnBinlogLost {
	case LostFail, LostResnapshot:
	default:
		add("on_binlog_lost", fmt.Sprintf("%q is not a policy", c.OnBinlogLost), "use fail or resnapshot")
	}
	if c.SnapshotChunkRows <= 0 {
		add("snapshot_chunk_rows", "must be positive", "the default is 20000")
	}
	if c.BatchSize <= 0 {
		add("batch_size", "must be positive", "the default is 2048")
	}
	if c.HeartbeatInterval < 0 {
		add("heartbeat_interval", "must not be negative", "0 disables heartbeats; the default is 10s")
	}
	if c.SignalDataCollection != "" {
		db, tbl, ok := strings.Cut(c.SignalDataCollection, ".")
		if !ok || db == "" || tbl == "" || strings.ContainsAny(c.SignalDataCollection, "*?[]`") || strings.Contains(tbl, ".") {
			add("signal_data_collection", fmt.Sprintf("%q is not db.table", c.SignalDataCollection), "name the signal table, e.g. shop.debezium_signal")
		}
	}
	return errs
}

// driverConfig builds the go-sql-driver configuration. Its errors never
// quote the DSN (it holds the password).
func (c *Config) driverConfig() (*mysql.Config, error) {
	var dc *mysql.Config
	if c.DSN != "" {
		var err error
		if dc, err = mysql.ParseDSN(c.DSN); err != nil {
			return nil, fmt.Errorf("dsn is not a valid MySQL data source name")
		}
	} else {
		dc = mysql.NewConfig()
		dc.Net = "tcp"
		port := c.Port
		if port == 0 {
			port = 3306
		}
		dc.Addr = net.JoinHostPort(c.Host, strconv.Itoa(port))
		dc.User, dc.Passwd = c.User, c.Password
	}
	if dc.Net != "tcp" {
		return nil, fmt.Errorf("dsn: only tcp(host:port) addresses are supported (the binlog connection needs one)")
	}
	// One text form per type: UTC session time zone, utf8mb4, strings for
	// dates (parsed here, exactly).
	if dc.Params == nil {
		dc.Params = map[string]string{}
	}
	dc.Params["time_zone"] = "'+00:00'"
	dc.Collation = "utf8mb4_bin"
	dc.ParseTime = false
	dc.InterpolateParams = false
	return dc, nil
}

// hostPort splits the driver address for the replication connection.
func hostPort(dc *mysql.Config) (string, uint16, error) {
	h, p, err := net.SplitHostPort(dc.Addr)
	if err != nil {
		return dc.Addr, 3306, nil
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("dsn: port %q is not a number", p)
	}
	return h, uint16(n), nil
}

// Factory builds mysql sources.
var Factory = component.SourceFactory{
	Doc:    "MySQL/MariaDB change data capture: consistent snapshot, then the row-based binlog",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Source, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("mysql: configuration is %T, want *mysql.Config", cfg)
		}
		return New(c, env)
	},
}
