package sqlpoll

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against sql_poll on PostgreSQL, in incrementing and in
// timestamp+incrementing mode. A poll sees no deletes, tells no insert from
// an update (op c for both) and may miss the states a row passes through
// between two polls; incrementing mode sees no updates at all, and only
// rows inserted with growing ids.
//
// SQLite runs too with SLUICE_SQLPOLL_SQLITE=1 (it has no connection to
// cut): 10 s without the race detector, but over two minutes with it (the
// database engine is pure Go and runs in the test process), which is how
// scripts/test.sh runs every test.
func TestConformance(t *testing.T) {
	drivers := []string{DriverPostgres}
	if os.Getenv("SLUICE_SQLPOLL_SQLITE") != "" {
		drivers = append(drivers, DriverSQLite)
	} else {
		t.Log("SQLite not run: set SLUICE_SQLPOLL_SQLITE=1 to run the suite against sql_poll on SQLite as well")
	}
	for _, driver := range drivers {
		for _, mode := range []string{ModeIncrementing, ModeTimestampIncrementing} {
			t.Run(driver+"/"+mode, func(t *testing.T) {
				h := sourcetest.Harness{
					Caps: sourcetest.Caps{Stream: true, Updates: mode != ModeIncrementing, Coalesce: true,
						AscendingInserts: mode == ModeIncrementing},
					Setup:      func(t *testing.T) sourcetest.Target { return newConfTarget(t, driver, mode) },
					Checkpoint: confMark,
					Types:      confTypes[driver],
				}
				if mode != ModeIncrementing {
					h.Extra = []string{confTS}
				}
				sourcetest.Run(t, h)
			})
		}
	}
}

// confSecret is a password put in the source's DSN: the test server trusts
// local connections and ignores it, and the suite checks that no log or
// error shows it.
const confSecret = "sourcetest-Pw-93be"

// confTS is the timestamp column of timestamp+incrementing mode.
const confTS = "changed_at"

// confTarget is a database of its own: on the test server, or a file.
type confTarget struct {
	driver, mode string
	dsn          string
	db           *sql.DB
	pgHost       string // host:port of the PostgreSQL server
	// tick is the last timestamp written, in ms after 2000-01-01: every
	// insert and update moves it on, so timestamps follow commit order.
	tick atomic.Int64
}

func newConfTarget(t *testing.T, driver, mode string) *confTarget {
	c := &confTarget{driver: driver, mode: mode}
	switch driver {
	case DriverPostgres:
		c.dsn = pgtest.NewDatabase(t)
		cfg := pgtest.Connect(t, c.dsn).Config()
		c.pgHost = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	case DriverSQLite:
		c.dsn = filepath.Join(t.TempDir(), "conformance.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	}
	db, err := dialect{driver}.open(c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	c.db = db
	return c
}

func (c *confTarget) ts() bool { return c.mode != ModeIncrementing }

// next is the next timestamp: a parameter, and its SQL (parameter n).
func (c *confTarget) next(n int) (any, string) {
	tick := c.tick.Add(1)
	if c.driver == DriverSQLite {
		// UTC text in SQLite's format, as the sql_poll docs require.
		return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(tick) * time.Millisecond).Format("2006-01-02 15:04:05.000"), "?"
	}
	return tick, fmt.Sprintf("(TIMESTAMP '2000-01-01' + $%d::int8 * INTERVAL '1 millisecond')", n)
}

// ph is the n-th placeholder.
func (c *confTarget) ph(n int) string { return dialect{c.driver}.placeholder(n) }

func (c *confTarget) tsType() string {
	if c.driver == DriverSQLite {
		return "DATETIME"
	}
	return "timestamp(6)"
}

// Addr is the server's address; SQLite has none.
func (c *confTarget) Addr() string { return c.pgHost }

func (c *confTarget) Secrets() []string { return []string{confSecret} }

func (c *confTarget) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (c *confTarget) quote(table string) string { return dialect{c.driver}.quote(table) }

// idType is the key's type: in SQLite only INTEGER PRIMARY KEY is NOT NULL.
func (c *confTarget) idType() string {
	if c.driver == DriverSQLite {
		return "INTEGER"
	}
	return "bigint"
}

func (c *confTarget) CreateTable(t *testing.T, table string) {
	ddl := "CREATE TABLE " + c.quote(table) + " (id " + c.idType() + " PRIMARY KEY, v text"
	if c.ts() {
		ddl += ", " + confTS + " " + c.tsType() + " NOT NULL"
	}
	c.exec(t, ddl+")")
	c.index(t, table)
}

// index creates the index the docs ask for in timestamp modes: every poll
// filters and sorts on (timestamp, id).
func (c *confTarget) index(t *testing.T, table string) {
	if c.ts() {
		c.exec(t, "CREATE INDEX "+c.quote(table+"_wm")+" ON "+c.quote(table)+" ("+confTS+", id)")
	}
}

func (c *confTarget) Apply(t *testing.T, table string, changes []sourcetest.Change) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	q := c.quote(table)
	for _, ch := range changes {
		var stmt string
		args := []any{ch.ID, ch.V}
		switch ch.Op {
		case event.OpCreate:
			stmt = "INSERT INTO " + q + " (id, v) VALUES (" + c.ph(1) + ", " + c.ph(2) + ")"
			if c.ts() {
				arg, expr := c.next(3)
				stmt, args = "INSERT INTO "+q+" (id, v, "+confTS+") VALUES ("+c.ph(1)+", "+c.ph(2)+", "+expr+")", append(args, arg)
			}
		case event.OpUpdate:
			args = []any{ch.V}
			set := "v = " + c.ph(1)
			if c.ts() {
				arg, expr := c.next(2)
				set += ", " + confTS + " = " + expr
				args = append(args, arg)
			}
			stmt, args = "UPDATE "+q+" SET "+set+" WHERE id = "+c.ph(len(args)+1), append(args, ch.ID)
		default:
			t.Fatalf("%s: sql_poll sees no deletes; the suite should not ask for one", ch)
		}
		res, err := tx.ExecContext(ctx, stmt, args...)
		if err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s: %d rows", ch, n)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (c *confTarget) Fill(t *testing.T, table string, first, last int64, pad int) {
	q := "INSERT INTO " + c.quote(table)
	if c.driver == DriverSQLite {
		with := "WITH RECURSIVE g(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM g WHERE x < ?) "
		val := "'f' || x || '-' || replace(hex(zeroblob(?)), '00', 'x')"
		if c.ts() {
			arg, _ := c.next(0)
			c.exec(t, with+q+" (id, v, "+confTS+") SELECT x, "+val+", ? FROM g", first, last, pad, arg)
			return
		}
		c.exec(t, with+q+" (id, v) SELECT x, "+val+" FROM g", first, last, pad)
		return
	}
	if c.ts() {
		arg, expr := c.next(4)
		c.exec(t, q+" (id, v, "+confTS+") SELECT g, 'f' || g || '-' || repeat('x', $3), "+expr+" FROM generate_series($1::int8, $2::int8) g",
			first, last, pad, arg)
		return
	}
	c.exec(t, q+" (id, v) SELECT g, 'f' || g || '-' || repeat('x', $3) FROM generate_series($1::int8, $2::int8) g", first, last, pad)
}

// confColumns are the type matrix's columns per driver: name, SQL type,
// literal.
var confColumns = map[string][]struct{ name, sqlType, literal string }{
	DriverPostgres: {
		{"i2", "smallint", "-2"},
		{"i4", "integer", "2147483647"},
		{"i8", "bigint", "9007199254740993"},
		{"f4", "real", "1.1"},
		{"f8", "double precision", "0.1"},
		{"n", "numeric(10,3)", "12.340"},
		{"nfree", "numeric", "-0.000100"},
		{"s", "varchar(20)", "'héllo 🌍'"},
		{"tx", "text", `E'tab\there\nline'`},
		{"b", "bytea", `'\x00ff'`},
		{"ok", "boolean", "true"},
		{"d", "date", "'2024-02-29'"},
		{"tm", "time", "'13:14:15.5'"},
		{"ts6", "timestamp(6)", "'2024-02-29 13:14:15.123456'"},
		{"tz", "timestamptz", "'2024-02-29 13:14:15.123456+02'"},
		{"j", "jsonb", `'{"a": 1}'`},
		{"u", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
		{"iv", "interval", "'1 day 02:00:00'"},
	},
	DriverSQLite: {
		{"i8", "BIGINT", "9007199254740993"},
		{"f8", "REAL", "0.1"},
		{"n", "NUMERIC", "'12.340'"},
		{"s", "VARCHAR(20)", "'héllo 🌍'"},
		{"tx", "TEXT", "'tab' || char(9) || 'here'"},
		{"b", "BLOB", "x'00ff'"},
		{"ok", "BOOLEAN", "1"},
		{"d", "DATE", "'2024-02-29'"},
		{"ts", "DATETIME", "'2024-02-29 13:14:15.123'"},
		{"j", "JSON", `'{"a": 1}'`},
	},
}

func micros(s string) event.Value {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return event.Int(ts.UnixMicro())
}

// confTypes are the values sql_poll reads from confColumns. PostgreSQL
// (pgx): its type names, a float4 as the float32 widened exactly, decimals
// as exact text, times in µs; interval is not mapped (the driver's text,
// type unknown). SQLite: the declared type names; NUMERIC affinity stores
// '12.340' as a REAL, read back as 12.34.
var confTypes = map[string][]sourcetest.TypeCase{
	DriverPostgres: {
		{Column: "i2", Type: event.TypeInt16, TypeName: "int2", Want: event.Int(-2)},
		{Column: "i4", Type: event.TypeInt32, TypeName: "int4", Want: event.Int(2147483647)},
		{Column: "i8", Type: event.TypeInt64, TypeName: "int8", Want: event.Int(9007199254740993)},
		{Column: "f4", Type: event.TypeFloat32, TypeName: "float4", Want: event.Float(float64(float32(1.1)))},
		{Column: "f8", Type: event.TypeFloat64, TypeName: "float8", Want: event.Float(0.1)},
		{Column: "n", Type: event.TypeDecimal, TypeName: "numeric", Want: event.Decimal("12.340")},
		{Column: "nfree", Type: event.TypeDecimal, TypeName: "numeric", Want: event.Decimal("-0.000100")},
		{Column: "s", Type: event.TypeString, TypeName: "varchar", Want: event.String("héllo 🌍")},
		{Column: "tx", Type: event.TypeString, TypeName: "text", Want: event.String("tab\there\nline")},
		{Column: "b", Type: event.TypeBytes, TypeName: "bytea", Want: event.Bytes([]byte{0, 0xff})},
		{Column: "ok", Type: event.TypeBool, TypeName: "bool", Want: event.Bool(true)},
		{Column: "d", Type: event.TypeDate, TypeName: "date", Want: event.Int(19782)},
		{Column: "tm", Type: event.TypeTime, TypeName: "time", Want: event.Int((13*3600+14*60+15)*1e6 + 500000)},
		{Column: "ts6", Type: event.TypeTimestamp, TypeName: "timestamp", Want: micros("2024-02-29T13:14:15.123456Z")},
		{Column: "tz", Type: event.TypeTimestampTZ, TypeName: "timestamptz", Want: micros("2024-02-29T11:14:15.123456Z")},
		{Column: "j", Type: event.TypeJSON, TypeName: "jsonb", Want: event.String(`{"a": 1}`)},
		{Column: "u", Type: event.TypeUUID, TypeName: "uuid", Want: event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
		{Column: "iv", Type: event.TypeUnknown, TypeName: "interval", Want: event.String("1 day 02:00:00")},
	},
	DriverSQLite: {
		{Column: "i8", Type: event.TypeInt64, TypeName: "bigint", Want: event.Int(9007199254740993)},
		{Column: "f8", Type: event.TypeFloat64, TypeName: "real", Want: event.Float(0.1)},
		{Column: "n", Type: event.TypeDecimal, TypeName: "numeric", Want: event.Decimal("12.34")},
		{Column: "s", Type: event.TypeString, TypeName: "varchar", Want: event.String("héllo 🌍")},
		{Column: "tx", Type: event.TypeString, TypeName: "text", Want: event.String("tab\there")},
		{Column: "b", Type: event.TypeBytes, TypeName: "blob", Want: event.Bytes([]byte{0, 0xff})},
		{Column: "ok", Type: event.TypeBool, TypeName: "boolean", Want: event.Bool(true)},
		{Column: "d", Type: event.TypeDate, TypeName: "date", Want: event.Int(19782)},
		{Column: "ts", Type: event.TypeTimestamp, TypeName: "datetime", Want: micros("2024-02-29T13:14:15.123Z")},
		{Column: "j", Type: event.TypeJSON, TypeName: "json", Want: event.String(`{"a": 1}`)},
	},
}

func (c *confTarget) CreateTypes(t *testing.T, table string) {
	ddl := "CREATE TABLE " + c.quote(table) + " (id " + c.idType() + " PRIMARY KEY"
	for _, col := range confColumns[c.driver] {
		ddl += ", " + col.name + " " + col.sqlType
	}
	if c.ts() {
		ddl += ", " + confTS + " " + c.tsType() + " NOT NULL"
	}
	c.exec(t, ddl+")")
	c.index(t, table)
}

func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	cols, vals := "id", c.ph(1)
	args := []any{id}
	if !null {
		for _, col := range confColumns[c.driver] {
			cols += ", " + col.name
			vals += ", " + col.literal
		}
	}
	if c.ts() {
		arg, expr := c.next(2)
		cols += ", " + confTS
		vals += ", " + expr
		args = append(args, arg)
	}
	c.exec(t, "INSERT INTO "+c.quote(table)+" ("+cols+") VALUES ("+vals+")", args...)
}

func (c *confTarget) Source(t *testing.T, p sourcetest.Params) component.Source {
	t.Helper()
	dsn := c.dsn
	if c.driver == DriverPostgres {
		u, err := url.Parse(c.dsn)
		if err != nil {
			t.Fatalf("SLUICE_PG_DSN is not a URL: %v", err)
		}
		u.User = url.UserPassword(u.User.Username(), confSecret)
		if p.Via != "" {
			u.Host = p.Via
		}
		dsn = u.String()
	}
	cfg := DefaultConfig()
	cfg.Driver = c.driver
	cfg.DSN = dsn
	cfg.Mode = c.mode
	cfg.Tables = []string{p.Table}
	cfg.IncrementingColumn = "id"
	if c.ts() {
		cfg.TimestampColumn = confTS
	}
	cfg.PollInterval = 50 * time.Millisecond
	cfg.BatchMaxRows = p.BatchSize
	src, err := Factory.New(cfg, component.Env{Name: p.Name, Pipeline: "conformance", Logger: p.Logger})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// confMark reads a checkpoint as (timestamp in µs, id) of the table's
// watermark; (0, 0) before the first row.
func confMark(b []byte) ([]int64, error) {
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	if _, err := parseCheckpoint(b, cp.Mode); err != nil {
		return nil, err
	}
	if len(cp.Tables) > 1 {
		return nil, errors.New("more than one table")
	}
	mark := []int64{0, 0}
	for _, wm := range cp.Tables {
		if wm.TS != nil {
			v, err := wm.TS.arg()
			if err != nil {
				return nil, err
			}
			switch ts := v.(type) {
			case time.Time:
				mark[0] = ts.UnixMicro()
			case string: // SQLite: UTC text
				tm, err := time.Parse("2006-01-02 15:04:05.999999999", ts)
				if err != nil {
					return nil, fmt.Errorf("timestamp watermark %q: %w", ts, err)
				}
				mark[0] = tm.UnixMicro()
			default:
				return nil, fmt.Errorf("timestamp watermark is %T", v)
			}
		}
		if wm.ID != nil {
			v, err := wm.ID.arg()
			if err != nil {
				return nil, err
			}
			id, ok := v.(int64)
			if !ok {
				return nil, fmt.Errorf("id watermark is %T", v)
			}
			mark[1] = id
		}
	}
	return mark, nil
}
