package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// newDatabase creates a database for t on the MariaDB of
// $SLUICE_MYSQL_DSN, dropped at cleanup, and returns its DSN.
func newDatabase(t testing.TB) string {
	t.Helper()
	base := svctest.Need(t, svctest.MariaDB)
	mc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("SLUICE_MYSQL_DSN cannot be parsed")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + sqlsink.QuoteMySQL(name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", base)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE " + sqlsink.QuoteMySQL(name)); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	mc.DBName = name
	return mc.FormatDSN()
}

func openDB(t *testing.T) *sqltest.DB { return openDBWith(t, 0) }

// openDBLoad is openDB with sinks that take the LOAD DATA path for every
// insert and upsert step (from one row on).
func openDBLoad(t *testing.T) *sqltest.DB { return openDBWith(t, 1) }

// openDBWith is openDB with sinks whose bulk path starts at copyMin rows
// (0: the default).
func openDBWith(t *testing.T, copyMin int) *sqltest.DB {
	dsn := newDatabase(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return &sqltest.DB{
		Sink: func(t *testing.T, cfg sqlsink.Config) component.Sink {
			s := newSink(t, dsn, cfg)
			if copyMin > 0 {
				s.SetLimits(1000, copyMin)
			}
			return s
		},
		Rows: func(t *testing.T, table string, cols ...string) []string {
			return rows(t, db, table, cols...)
		},
		Exec: func(t *testing.T, q string) {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		Exists: func(t *testing.T, table string) bool {
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		},
		Addr: mc.Addr,
		New: func(t *testing.T, cfg sqlsink.Config, p sinktest.Params) (component.Sink, error) {
			c := *mc
			if p.Via != "" {
				c.Addr = p.Via
			}
			if p.Secret != "" {
				c.Passwd = p.Secret
			}
			cfg.DSN = c.FormatDSN()
			sc := Config{Config: cfg}
			if errs := sc.Validate(); len(errs) > 0 {
				return nil, errors.Join(errs...)
			}
			w, err := New(sc, component.Env{Name: p.Name, Logger: p.Logger, Epoch: p.Epoch})
			if err == nil && copyMin > 0 {
				w.SetLimits(1000, copyMin)
			}
			return w, err
		},
	}
}

func newSink(t *testing.T, dsn string, cfg sqlsink.Config) *sqlsink.Pipelined {
	s, _ := newSinkD(t, dsn, cfg)
	return s
}

// newSinkD is newSink that also returns the sink's dialect (its load
// counters).
func newSinkD(t *testing.T, dsn string, cfg sqlsink.Config) (*sqlsink.Pipelined, *dialect) {
	cfg.DSN = dsn
	c := Config{Config: cfg}
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	s, d, err := newWriter(c, component.Env{Name: "sink1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, d
}

func rows(t testing.TB, db *sql.DB, table string, cols ...string) []string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "COALESCE(CAST(" + sqlsink.QuoteMySQL(c) + " AS CHAR), 'NULL')"
	}
	q := "SELECT CONCAT_WS('|', " + strings.Join(sel, ", ") + ") FROM " + sqlsink.QuoteMySQL(table) + " ORDER BY " + sqlsink.QuoteMySQL(cols[0]) + ", 1"
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSuite(t *testing.T) {
	sqltest.Run(t, sqltest.Harness{Server: "mysql", Open: openDB})
}

// TestSuiteLoad is the suite with every insert and upsert step trying the
// LOAD DATA path first (load.go): the outcomes are the same.
func TestSuiteLoad(t *testing.T) {
	sqltest.Run(t, sqltest.Harness{Server: "mysql", Open: openDBLoad})
}

// TestConformance runs the sink suite (internal/sinktest) in modes upsert
// and insert.
func TestConformance(t *testing.T) {
	_ = mysql.SetLogger(nopLogger{}) // the driver's own log of the cut connections
	sqltest.Conformance(t, sqltest.Harness{Server: "mysql", Open: openDB})
}

// TestConformanceLoad is TestConformance through the LOAD DATA path.
func TestConformanceLoad(t *testing.T) {
	_ = mysql.SetLogger(nopLogger{})
	sqltest.Conformance(t, sqltest.Harness{Server: "mysql", Open: openDBLoad})
}
