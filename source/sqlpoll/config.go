package sqlpoll

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Factory builds sql_poll sources. Register it under the type name
// "sql_poll".
var Factory = component.SourceFactory{
	Doc:    "polls tables or a query of PostgreSQL, MySQL/MariaDB or SQLite with Kafka Connect JDBC source modes (bulk, incrementing, timestamp); sees no deletes",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Source, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("sql_poll: config is %T, want *sqlpoll.Config", cfg)
		}
		if errs := c.Validate(); len(errs) > 0 {
			return nil, fmt.Errorf("sql_poll: %w", errors.Join(errs...))
		}
		return newSource(*c, env), nil
	},
}

// Modes, spelled as Kafka Connect's JDBC source spells them.
const (
	ModeBulk                  = "bulk"
	ModeIncrementing          = "incrementing"
	ModeTimestamp             = "timestamp"
	ModeTimestampIncrementing = "timestamp+incrementing"
)

// Drivers.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
	DriverSQLite   = "sqlite"
)

// Config configures a sql_poll source.
type Config struct {
	// Driver is postgres, mysql (also MariaDB) or sqlite.
	Driver string `yaml:"driver"`
	// DSN is the driver's connection string: a postgres:// URL or key=value
	// pairs; user:password@tcp(host:port)/db for mysql; a file name (with
	// optional ?_pragma=... parameters) for sqlite. It is a secret: it never
	// appears in errors or logs.
	DSN string `yaml:"dsn" sluice:"secret"`
	// TLS for driver mysql: ssl_mode, ssl_ca, ssl_cert, ssl_key, as the
	// mysql source's (PostgreSQL takes sslmode, sslrootcert, sslcert and
	// sslkey in the DSN).
	dbauth.MySQLSSL `yaml:",inline"`
	// Mode is bulk, incrementing, timestamp or timestamp+incrementing.
	Mode string `yaml:"mode"`
	// Tables lists the polled tables as table or schema.table (for MySQL
	// the schema is the database). Names are quoted, so they are case
	// sensitive where the database is (PostgreSQL: USERS is not users).
	Tables []string `yaml:"tables"`
	// Query is a custom SELECT polled instead of tables. sluice reads it as
	// a derived table and adds the watermark's WHERE, ORDER BY and LIMIT
	// outside it, so the query may have its own WHERE; the mode's columns
	// name the query's output columns.
	Query string `yaml:"query"`
	// QueryName is the table part of the query's stream name; default
	// "query".
	QueryName string `yaml:"query_name"`
	// IncrementingColumn is the strictly increasing column (incrementing
	// and timestamp+incrementing modes). Rows where it is NULL are never
	// read.
	IncrementingColumn string `yaml:"incrementing_column"`
	// TimestampColumn is one timestamp column (timestamp modes); a shorter
	// spelling of TimestampColumns.
	TimestampColumn string `yaml:"timestamp_column"`
	// TimestampColumns are the timestamp columns; the row's timestamp is
	// the first that is not NULL (COALESCE), as in Kafka Connect. Rows where
	// all are NULL are never read.
	TimestampColumns []string `yaml:"timestamp_columns"`
	// KeyColumns are the event key; default the incrementing column. Bulk
	// and timestamp modes without them emit events without key.
	KeyColumns []string `yaml:"key_columns"`
	// PollInterval is the pause between polls once every table is caught
	// up (Kafka Connect's poll.interval.ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// BatchMaxRows is the LIMIT of each query and the most events per
	// batch (batch.max.rows).
	BatchMaxRows int `yaml:"batch_max_rows"`
	// TimestampDelay holds back rows whose timestamp is not older than the
	// database's current time minus this delay (timestamp.delay.interval.ms),
	// so a transaction that commits up to this long after its rows'
	// timestamps is still seen.
	TimestampDelay time.Duration `yaml:"timestamp_delay"`
}

// DefaultConfig returns the defaults: Kafka Connect's poll interval (5s),
// batch size (100) and delay (0).
func DefaultConfig() *Config {
	return &Config{
		PollInterval: 5 * time.Second,
		BatchMaxRows: 100,
		QueryName:    "query",
	}
}

// maxBatchMaxRows keeps one page a few hundred MB at most.
const maxBatchMaxRows = 1_000_000

var identRe = namecheck.New("A-Za-z_", "A-Za-z0-9_$", 0, 63)

// tsColumns returns the timestamp columns from either spelling.
func (c *Config) tsColumns() []string {
	if c.TimestampColumn != "" {
		return append([]string{c.TimestampColumn}, c.TimestampColumns...)
	}
	return c.TimestampColumns
}

func (c *Config) usesIncrementing() bool {
	return c.Mode == ModeIncrementing || c.Mode == ModeTimestampIncrementing
}

func (c *Config) usesTimestamp() bool {
	return c.Mode == ModeTimestamp || c.Mode == ModeTimestampIncrementing
}

// Validate checks the configuration; every error is a *component.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.Driver == DriverMySQL {
		errs = append(errs, c.MySQLSSL.Validate()...)
	} else if c.MySQLSSL != (dbauth.MySQLSSL{}) {
		add("ssl_mode", "ssl_mode, ssl_ca, ssl_cert and ssl_key are for driver mysql", "for PostgreSQL put sslmode, sslrootcert, sslcert and sslkey in the dsn")
	}
	switch c.Driver {
	case DriverPostgres, DriverMySQL, DriverSQLite:
	case "":
		add("driver", "is required", "use postgres, mysql or sqlite")
	default:
		add("driver", fmt.Sprintf("%q is not a driver", c.Driver), "use postgres, mysql or sqlite")
	}
	if c.DSN == "" {
		add("dsn", "is required", "the driver's connection string, e.g. ${DB_DSN}")
	}
	knownMode := true
	switch c.Mode {
	case ModeBulk, ModeIncrementing, ModeTimestamp, ModeTimestampIncrementing:
	case "":
		knownMode = false
		add("mode", "is required", "use bulk, incrementing, timestamp or timestamp+incrementing")
	default:
		knownMode = false
		add("mode", fmt.Sprintf("%q is not a mode", c.Mode), "use bulk, incrementing, timestamp or timestamp+incrementing")
	}
	switch {
	case len(c.Tables) == 0 && strings.TrimSpace(c.Query) == "":
		add("tables", "is required (or query)", "list tables as table or schema.table, or give a query")
	case len(c.Tables) > 0 && c.Query != "":
		add("query", "cannot be used with tables", "poll either tables or one query")
	}
	seen := map[string]bool{}
	for i, t := range c.Tables {
		if !validTable(t) {
			add(fmt.Sprintf("tables[%d]", i), fmt.Sprintf("%q is not a table name", t),
				"write table or schema.table with letters, digits, _ and $")
		} else if seen[t] {
			add(fmt.Sprintf("tables[%d]", i), fmt.Sprintf("%q is listed twice", t), "list each table once")
		}
		seen[t] = true
	}
	if c.Query != "" && !identRe.Match(c.QueryName) {
		add("query_name", fmt.Sprintf("%q is not a valid name", c.QueryName), "letters, digits, _ and $; it names the query's stream")
	}
	checkCol := func(field, name string) {
		if !identRe.Match(name) {
			add(field, fmt.Sprintf("%q is not a column name", name), "letters, digits, _ and $, starting with a letter or _")
		}
	}
	if c.usesIncrementing() {
		if c.IncrementingColumn == "" {
			add("incrementing_column", "is required in mode "+c.Mode, "name a strictly increasing column, such as an auto-increment id")
		} else {
			checkCol("incrementing_column", c.IncrementingColumn)
		}
	} else if c.IncrementingColumn != "" && knownMode {
		add("incrementing_column", "is only used in modes incrementing and timestamp+incrementing", "remove it, or change mode")
	}
	ts := c.tsColumns()
	if c.usesTimestamp() {
		if len(ts) == 0 {
			add("timestamp_columns", "is required in mode "+c.Mode, "name the column(s) set on insert and update, e.g. [updated_at, created_at]")
		}
		for i, col := range ts {
			checkCol(fmt.Sprintf("timestamp_columns[%d]", i), col)
		}
	} else if len(ts) > 0 && knownMode {
		add("timestamp_columns", "is only used in modes timestamp and timestamp+incrementing", "remove it, or change mode")
	}
	for i, col := range c.KeyColumns {
		checkCol(fmt.Sprintf("key_columns[%d]", i), col)
	}
	if c.PollInterval <= 0 {
		add("poll_interval", "must be positive", "the default is 5s")
	}
	if c.BatchMaxRows < 1 || c.BatchMaxRows > maxBatchMaxRows {
		add("batch_max_rows", fmt.Sprintf("%d is out of range", c.BatchMaxRows), fmt.Sprintf("use 1 to %d; the default is 100", maxBatchMaxRows))
	}
	if c.TimestampDelay < 0 {
		add("timestamp_delay", "must not be negative", "0 reads rows up to the database's current time")
	}
	return errs
}

func validTable(t string) bool {
	parts := strings.Split(t, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !identRe.Match(p) {
			return false
		}
	}
	return true
}
