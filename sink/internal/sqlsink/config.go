package sqlsink

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// Modes.
const (
	ModeInsert = "insert"
	ModeUpsert = "upsert"
	ModeUpdate = "update"

	DeleteHard = "delete"
	DeleteSoft = "soft"
	DeleteNone = "none"
)

// Defaults.
const (
	DefaultTable          = "${table}"
	DefaultPositionsTable = "sluice_positions"
	DefaultSoftColumn     = "__deleted"
)

// Config holds the keys both SQL sinks share; each sink embeds it inline.
type Config struct {
	// DSN locates the database; its password never appears in messages.
	DSN string `yaml:"dsn" sluice:"secret"`
	// Table names the target table, a template (default "${table}").
	Table string `yaml:"table"`
	// Mode is insert, upsert (default) or update.
	Mode string `yaml:"mode"`
	// DeleteMode is delete (default: remove the row), soft (set
	// SoftDeleteColumn to true) or none (ignore deletes).
	DeleteMode string `yaml:"delete_mode"`
	// SoftDeleteColumn is the boolean column soft deletes set (default
	// "__deleted"); rows written by other events set it to false.
	SoftDeleteColumn string `yaml:"soft_delete_column"`
	// Truncate applies truncate events by emptying the target table
	// (default false: truncate events are ignored).
	Truncate bool `yaml:"truncate"`
	// AutoCreate creates missing tables from the event's schema.
	AutoCreate bool `yaml:"auto_create"`
	// AutoEvolve adds columns that a newer schema has and the table lacks.
	AutoEvolve bool `yaml:"auto_evolve"`
	// KeyColumns overrides the source's key (for tables without one).
	KeyColumns []string `yaml:"key_columns"`
	// PositionsTable is the sink's own table of positions, one row per
	// (sink, source), written in the same transaction as the rows.
	PositionsTable string `yaml:"positions_table"`

	tableTmpl *tmpl.Template
}

// Defaults returns a Config with every default set.
func Defaults() Config {
	return Config{
		Table:            DefaultTable,
		Mode:             ModeUpsert,
		DeleteMode:       DeleteHard,
		SoftDeleteColumn: DefaultSoftColumn,
		PositionsTable:   DefaultPositionsTable,
	}
}

// Validate checks the shared keys; server is "postgres" or "mysql" and
// maxIdent its identifier length limit. It compiles the table template.
func (c *Config) Validate(server string, maxIdent int) []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.DSN == "" {
		hint := "dsn: postgres://user:${PGPASSWORD}@host:5432/db"
		if server == "mysql" {
			hint = "dsn: user:${MYSQL_PASSWORD}@tcp(host:3306)/db"
		}
		add("dsn", "is required", hint)
	}
	switch c.Mode {
	case ModeInsert, ModeUpsert, ModeUpdate:
	default:
		add("mode", "must be insert, upsert or update", "upsert writes a row whatever the event; insert fails on an existing key; update only changes existing rows")
	}
	switch c.DeleteMode {
	case DeleteHard, DeleteSoft, DeleteNone:
	default:
		add("delete_mode", "must be delete, soft or none", "soft sets soft_delete_column to true instead of deleting")
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	t, err := tmpl.Parse(c.Table)
	if err != nil {
		add("table", err.Error(), "e.g. table: ${table} or ${schema}_${table}")
	} else {
		c.tableTmpl = t
		if t.Constant() {
			if err := CheckIdent(c.Table, maxIdent, server); err != nil {
				add("table", err.Error(), "")
			}
		}
	}
	if c.DeleteMode == DeleteSoft {
		if err := CheckIdent(c.SoftDeleteColumn, maxIdent, server); err != nil {
			add("soft_delete_column", err.Error(), "default: "+DefaultSoftColumn)
		}
	}
	if err := CheckIdent(c.PositionsTable, maxIdent, server); err != nil {
		add("positions_table", err.Error(), "default: "+DefaultPositionsTable)
	}
	seen := map[string]bool{}
	for _, k := range c.KeyColumns {
		if err := CheckIdent(k, maxIdent, server); err != nil {
			add("key_columns", err.Error(), "")
		} else if seen[k] {
			add("key_columns", "column "+k+" is listed twice", "")
		}
		seen[k] = true
	}
	return errs
}

// TableTemplate returns the compiled table template (after Validate).
func (c *Config) TableTemplate() *tmpl.Template {
	if c.tableTmpl == nil {
		c.tableTmpl = tmpl.MustParse(c.Table)
	}
	return c.tableTmpl
}
