package postgres

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/namecheck"
)

// Config is the postgres source's configuration. Config() in Factory returns
// it with defaults set; the pipeline loader decodes the file's keys into it.
type Config struct {
	// DSN is the connection string (URL or key=value). It is a secret: it
	// never appears in errors or logs.
	DSN string `yaml:"dsn" sluice:"secret"`
	// Tables lists the captured tables as schema.table; shell globs (*, ?,
	// [...]) are allowed in either part and resolved against the catalog at
	// start.
	Tables []string `yaml:"tables"`
	// Snapshot is initial (read existing rows first) or never.
	Snapshot string `yaml:"snapshot"`
	// Slot is the logical replication slot; default sluice_<pipeline>_<name>.
	Slot string `yaml:"slot"`
	// Publication is the pgoutput publication; default sluice_<pipeline>_<name>.
	Publication string `yaml:"publication"`
	// DropSlotOnStop drops the slot (and a publication this source created)
	// when the source closes. Changes made while sluice is down are then lost.
	DropSlotOnStop bool `yaml:"drop_slot_on_stop"`
	// CreatePublication creates the publication, or adds missing tables to
	// an existing one. When false the publication must already list them.
	CreatePublication bool `yaml:"create_publication"`
	// SnapshotChunkRows is the number of rows read per snapshot query.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// SnapshotWorkers is the number of tables read in parallel.
	SnapshotWorkers int `yaml:"snapshot_workers"`
	// BatchSize is the maximum number of events per Emit.
	BatchSize int `yaml:"batch_size"`
	// HeartbeatInterval is how often an idle source writes a heartbeat
	// message so the slot's confirmed position advances; 0 disables.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// SignalDataCollection is a Debezium signal table (schema.table, with
	// columns id, type, data, as Debezium's signal.data.collection): rows
	// inserted into it with type execute-snapshot or stop-snapshot start or
	// stop incremental snapshots. It is added to the publication; its rows
	// are not emitted.
	SignalDataCollection string `yaml:"signal_data_collection"`
	// StatusInterval is how often the durable position is reported to the
	// server.
	StatusInterval time.Duration `yaml:"status_interval"`
	// SlotCheckInterval is how often the slot guardian looks at the slot
	// while streaming (retained WAL, wal_status, safe_wal_size: metrics,
	// status, warnings, max_retained_wal); 0 disables the guardian.
	SlotCheckInterval time.Duration `yaml:"slot_check_interval"`
	// WarnRetainedWAL logs a warning (once per crossing) when the slot
	// keeps at least this many bytes of WAL written since the position
	// sluice confirmed, and another when the server holds that much before
	// it for a running transaction; 0 disables the warnings.
	WarnRetainedWAL int64 `yaml:"warn_retained_wal"`
	// MaxRetainedWAL applies on_max_retained_wal when the slot keeps at
	// least this many bytes of WAL written since the position sluice
	// confirmed at two looks in a row without shrinking (WAL held before
	// it for a running transaction is not sluice's to free); 0 (the
	// default) means no limit.
	MaxRetainedWAL int64 `yaml:"max_retained_wal"`
	// OnMaxRetainedWAL is stop (end the pipeline with an error that says
	// what to do; the slot keeps its position) or drop_and_resnapshot
	// (drop the slot, create a new one and snapshot every table again).
	OnMaxRetainedWAL string `yaml:"on_max_retained_wal"`
	// OnSlotLost is what happens when the slot is gone or invalidated
	// (dropped, a failover to a server without it, max_slot_wal_keep_size)
	// or does not match the checkpoint: fail (stop with an error naming the
	// slot and the ways out) or resnapshot (a new slot and a full
	// snapshot). Debezium's equivalent is snapshot.mode: when_needed.
	OnSlotLost string `yaml:"on_slot_lost"`
	// SlotFailover creates the slot as a failover slot (PostgreSQL 17+,
	// FAILOVER), which standbys with sync_replication_slots keep in step so
	// that the slot survives a failover; ignored with a warning on older
	// servers. Debezium: slot.failover.
	SlotFailover bool `yaml:"slot_failover"`
}

// Snapshot modes.
const (
	SnapshotInitial = "initial"
	SnapshotNever   = "never"
)

// DefaultConfig returns a Config with every default set.
func DefaultConfig() *Config {
	return &Config{
		Snapshot:          SnapshotInitial,
		CreatePublication: true,
		SnapshotChunkRows: 50000,
		SnapshotWorkers:   2,
		BatchSize:         2048,
		HeartbeatInterval: 10 * time.Second,
		StatusInterval:    time.Second,
		SlotCheckInterval: 10 * time.Second,
		WarnRetainedWAL:   1 << 30,
		OnMaxRetainedWAL:  OnMaxRetainedStop,
		OnSlotLost:        OnLostFail,
	}
}

var (
	slotRe  = namecheck.New("a-z0-9_", "a-z0-9_", 0, 62) // [a-z0-9_]{1,63}
	identRe = namecheck.New("A-Za-z_", "A-Za-z0-9_$", 0, 62)
)

// Validate checks the configuration; every error is a *component.FieldError.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.DSN == "" {
		add("dsn", "is required", "postgres://user@host:5432/db?sslmode=disable (or ${ENV_VAR})")
	} else if _, err := pgconn.ParseConfig(c.DSN); err != nil {
		// The parser's message can quote the DSN, password included: never
		// pass it on; a TLS file it cannot read is safe to name.
		if f, ok := dbauth.PostgresTLSFile(err); ok {
			add("dsn", f, "sslrootcert, sslcert and sslkey name PEM files readable by sluice")
		} else {
			add("dsn", "is not a valid PostgreSQL connection string", "use postgres://user:password@host:5432/db or host=... dbname=... key=value pairs")
		}
	}
	if len(c.Tables) == 0 {
		add("tables", "is required", `list schema.table names, globs allowed, e.g. ["public.*"]`)
	}
	for i, t := range c.Tables {
		if err := checkTablePattern(t); err != "" {
			add(fmt.Sprintf("tables[%d]", i), fmt.Sprintf("%q %s", t, err), `write schema.table, e.g. public.orders or public.*`)
		}
	}
	switch c.Snapshot {
	case SnapshotInitial, SnapshotNever:
	default:
		add("snapshot", fmt.Sprintf("%q is not a snapshot mode", c.Snapshot), "use initial or never")
	}
	if c.Slot != "" && !slotRe.Match(c.Slot) {
		add("slot", fmt.Sprintf("%q is not a valid replication slot name", c.Slot), "use 1 to 63 lower-case letters, digits and underscores")
	}
	if c.Publication != "" && !identRe.Match(c.Publication) {
		add("publication", fmt.Sprintf("%q is not a valid publication name", c.Publication), "start with a letter or underscore; letters, digits, _ and $; at most 63 bytes")
	}
	if c.SignalDataCollection != "" {
		schema, table, ok := strings.Cut(c.SignalDataCollection, ".")
		if !ok || !identRe.Match(schema) || !identRe.Match(table) {
			add("signal_data_collection", fmt.Sprintf("%q is not schema.table", c.SignalDataCollection), "name the signal table, e.g. public.debezium_signal")
		}
	}
	if c.SnapshotChunkRows <= 0 {
		add("snapshot_chunk_rows", "must be positive", "the default is 50000")
	}
	if c.SnapshotWorkers <= 0 || c.SnapshotWorkers > 64 {
		add("snapshot_workers", "must be between 1 and 64", "the default is 2")
	}
	if c.BatchSize <= 0 {
		add("batch_size", "must be positive", "the default is 2048")
	}
	if c.HeartbeatInterval < 0 {
		add("heartbeat_interval", "must not be negative", "0 disables heartbeats; the default is 10s")
	}
	if c.StatusInterval <= 0 {
		add("status_interval", "must be positive", "the default is 1s")
	}
	if c.SlotCheckInterval < 0 {
		add("slot_check_interval", "must not be negative", "0 disables the slot guardian; the default is 10s")
	}
	if c.WarnRetainedWAL < 0 {
		add("warn_retained_wal", "must not be negative", "bytes; 0 disables the warning; the default is 1073741824 (1 GiB)")
	}
	if c.MaxRetainedWAL < 0 {
		add("max_retained_wal", "must not be negative", "bytes; 0 means no limit")
	}
	if c.MaxRetainedWAL > 0 && c.SlotCheckInterval == 0 {
		add("max_retained_wal", "needs the slot guardian", "set slot_check_interval (the default is 10s)")
	}
	switch c.OnMaxRetainedWAL {
	case OnMaxRetainedStop, OnMaxRetainedResnapshot:
	default:
		add("on_max_retained_wal", fmt.Sprintf("%q is not a policy", c.OnMaxRetainedWAL), "use stop or drop_and_resnapshot")
	}
	switch c.OnSlotLost {
	case OnLostFail, OnLostResnapshot:
	default:
		add("on_slot_lost", fmt.Sprintf("%q is not a policy", c.OnSlotLost), "use fail or resnapshot")
	}
	return errs
}

// checkTablePattern returns what is wrong with a schema.table pattern, or "".
func checkTablePattern(p string) string {
	schema, table, ok := strings.Cut(p, ".")
	if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
		return "is not schema.table"
	}
	for _, part := range []string{schema, table} {
		if _, err := path.Match(part, ""); err != nil {
			return "is not a valid glob"
		}
	}
	return ""
}

// defaultName builds sluice_<pipeline>_<name>, lower-cased, with every
// character outside [a-z0-9_] replaced by _, cut to 63 bytes.
func defaultName(pipeline, name string) string {
	var b strings.Builder
	b.WriteString("sluice")
	for _, part := range []string{pipeline, name} {
		if part == "" {
			continue
		}
		b.WriteByte('_')
		for _, r := range strings.ToLower(part) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// Factory builds postgres sources.
var Factory = component.SourceFactory{
	Doc:    "PostgreSQL change data capture: consistent snapshot, then logical replication (pgoutput)",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Source, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("postgres: configuration is %T, want *postgres.Config", cfg)
		}
		return New(c, env)
	},
}
