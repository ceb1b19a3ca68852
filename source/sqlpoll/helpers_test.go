package sqlpoll

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// testDB is a fresh, empty database of one kind.
type testDB struct {
	driver string
	dsn    string
	db     *sql.DB
	ns     string // namespace in stream names
	// Column types for the common test table.
	idType, tsType, textType string
	// nowMinus is an SQL expression for the database's current time minus
	// the given number of seconds, in the test table's timestamp format.
	nowMinus func(secs int) string
	// wmTS is how the watermark spells a timestamp written as
	// "YYYY-MM-DD HH:MM:SS" into the test table.
	wmTS func(string) string
}

var allDrivers = []string{DriverPostgres, DriverMySQL, DriverSQLite}

func newTestDB(t *testing.T, driver string) *testDB {
	t.Helper()
	d := &testDB{driver: driver}
	switch driver {
	case DriverPostgres:
		d.dsn = pgtest.NewDatabase(t)
		d.ns = "public"
		d.idType, d.tsType, d.textType = "bigint", "timestamp(6)", "text"
		d.nowMinus = func(s int) string { return "LOCALTIMESTAMP - INTERVAL '" + itoa(s) + " seconds'" }
		d.wmTS = func(s string) string { return strings.Replace(s, " ", "T", 1) + "Z" }
	case DriverMySQL:
		base := svctest.Need(t, svctest.MariaDB)
		mc, err := mysql.ParseDSN(base)
		if err != nil {
			t.Fatal("SLUICE_MYSQL_DSN cannot be parsed")
		}
		var rnd [4]byte
		_, _ = crand.Read(rnd[:])
		name := "sqlpoll_" + hex.EncodeToString(rnd[:])
		admin, err := sql.Open("mysql", base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
		mc.DBName = name
		d.dsn = mc.FormatDSN()
		d.ns = name
		d.idType, d.tsType, d.textType = "BIGINT", "DATETIME(6)", "VARCHAR(100)"
		d.nowMinus = func(s int) string { return "UTC_TIMESTAMP(6) - INTERVAL " + itoa(s) + " SECOND" }
		d.wmTS = func(s string) string { return s + ".000000" }
	case DriverSQLite:
		d.dsn = filepath.Join(t.TempDir(), "test.db") + "?_pragma=busy_timeout(10000)"
		d.ns = "main"
		d.idType, d.tsType, d.textType = "INTEGER", "DATETIME", "TEXT"
		d.nowMinus = func(s int) string { return "strftime('%Y-%m-%d %H:%M:%f', 'now', '-" + itoa(s) + " seconds')" }
		d.wmTS = func(s string) string { return s }
	}
	db, err := dialect{driver}.open(d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.db = db
	return d
}

func itoa(i int) string { return strconv.Itoa(i) }

// exec runs statements, failing the test on error.
func (d *testDB) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// usersTable creates users(id, name, updated_at).
func (d *testDB) usersTable(t *testing.T) {
	t.Helper()
	d.exec(t, "CREATE TABLE users (id "+d.idType+" PRIMARY KEY, name "+d.textType+" NOT NULL, updated_at "+d.tsType+")")
}

// config returns a source configuration for d with test defaults.
func (d *testDB) config(mode string) Config {
	c := *DefaultConfig()
	c.Driver = d.driver
	c.DSN = d.dsn
	c.Mode = mode
	c.Tables = []string{"users"}
	c.BatchMaxRows = 2
	return c
}

// started builds a source and starts it from cp, without the poll loop:
// tests drive polls one at a time.
func started(t *testing.T, cfg Config, cp []byte) *Source {
	t.Helper()
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	s := newSource(cfg, component.Env{Name: "src"})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.start(ctx, cp); err != nil {
		t.Fatalf("start: %v", err)
	}
	return s
}

// pollOnce runs one poll and returns what it emitted.
func pollOnce(t *testing.T, s *Source) ([]event.Event, []byte) {
	t.Helper()
	c := sourcetest.NewEmitter()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.poll(ctx, c); err != nil {
		t.Fatalf("poll: %v", err)
	}
	return c.Take()
}

// summary renders events as "op id name position" lines, one per event.
func summary(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		var vals []string
		for j := range e.After {
			if e.Schema.Columns[j].Name == "updated_at" {
				continue
			}
			vals = append(vals, e.After[j].Text())
		}
		out[i] = e.Op.String() + " " + strings.Join(vals, " ") + " @" + e.Position
	}
	return out
}
