package sqlpoll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against sql_poll on PostgreSQL, in incrementing and in
// timestamp+incrementing mode. A poll sees no deletes, tells no insert from
// an update (op c for both) and may miss the states a row passes through
// between two polls; incrementing mode sees no updates at all.
func TestConformance(t *testing.T) {
	for _, mode := range []string{ModeIncrementing, ModeTimestampIncrementing} {
		t.Run(mode, func(t *testing.T) {
			h := sourcetest.Harness{
				Caps: sourcetest.Caps{Stream: true, Updates: mode != ModeIncrementing, Coalesce: true,
					AscendingInserts: mode == ModeIncrementing},
				Setup:      func(t *testing.T) sourcetest.Target { return newConfTarget(t, mode) },
				Checkpoint: confMark,
				Types:      confTypes,
			}
			if mode != ModeIncrementing {
				h.Extra = []string{confTS}
			}
			sourcetest.Run(t, h)
		})
	}
}

// confSecret is a password put in the source's DSN: the test server trusts
// local connections and ignores it, and the suite checks that no log or
// error shows it.
const confSecret = "sourcetest-Pw-93be"

// confTS is the timestamp column of timestamp+incrementing mode.
const confTS = "changed_at"

// confTarget is a database of its own on the test server.
type confTarget struct {
	mode string
	dsn  string
	conn *pgx.Conn
	// tick is the last timestamp written, in ms after 2000-01-01: every
	// insert and update moves it on, so timestamps follow commit order.
	tick atomic.Int64
}

func newConfTarget(t *testing.T, mode string) *confTarget {
	dsn := pgtest.NewDatabase(t)
	return &confTarget{mode: mode, dsn: dsn, conn: pgtest.Connect(t, dsn)}
}

func (c *confTarget) ts() bool { return c.mode != ModeIncrementing }

// tsExpr is the next timestamp as SQL, taking the tick as parameter n.
func tsExpr(n int) string {
	return fmt.Sprintf("(TIMESTAMP '2000-01-01' + $%d::int8 * INTERVAL '1 millisecond')", n)
}

func (c *confTarget) Addr() string {
	cfg := c.conn.Config()
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

func (c *confTarget) Secrets() []string { return []string{confSecret} }

func (c *confTarget) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (c *confTarget) CreateTable(t *testing.T, table string) {
	ddl := "CREATE TABLE " + pgx.Identifier{table}.Sanitize() + " (id bigint PRIMARY KEY, v text"
	if c.ts() {
		ddl += ", " + confTS + " timestamp(6) NOT NULL"
	}
	c.exec(t, ddl+")")
}

func (c *confTarget) Apply(t *testing.T, table string, changes []sourcetest.Change) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := pgx.Identifier{table}.Sanitize()
	err := pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
		for _, ch := range changes {
			var sql string
			args := []any{ch.ID, ch.V}
			switch {
			case ch.Op == event.OpCreate && c.ts():
				sql, args = "INSERT INTO "+q+" (id, v, "+confTS+") VALUES ($1, $2, "+tsExpr(3)+")", append(args, c.tick.Add(1))
			case ch.Op == event.OpCreate:
				sql = "INSERT INTO " + q + " (id, v) VALUES ($1, $2)"
			case ch.Op == event.OpUpdate && c.ts():
				sql, args = "UPDATE "+q+" SET v = $2, "+confTS+" = "+tsExpr(3)+" WHERE id = $1", append(args, c.tick.Add(1))
			case ch.Op == event.OpUpdate:
				sql = "UPDATE " + q + " SET v = $2 WHERE id = $1"
			default:
				return fmt.Errorf("%s: sql_poll sees no deletes; the suite should not ask for one", ch)
			}
			tag, err := tx.Exec(ctx, sql, args...)
			if err != nil {
				return fmt.Errorf("%s: %w", ch, err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%s: %d rows", ch, tag.RowsAffected())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *confTarget) Fill(t *testing.T, table string, first, last int64, pad int) {
	q := "INSERT INTO " + pgx.Identifier{table}.Sanitize()
	if c.ts() {
		c.exec(t, q+" (id, v, "+confTS+") SELECT g, 'f' || g || '-' || repeat('x', $3), "+tsExpr(4)+" FROM generate_series($1::int8, $2::int8) g",
			first, last, pad, c.tick.Add(1))
		return
	}
	c.exec(t, q+" (id, v) SELECT g, 'f' || g || '-' || repeat('x', $3) FROM generate_series($1::int8, $2::int8) g", first, last, pad)
}

// confColumns are the type matrix's columns: name, SQL type, literal.
var confColumns = []struct{ name, sqlType, literal string }{
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
}

func micros(s string) event.Value {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return event.Int(ts.UnixMicro())
}

// confTypes are the values sql_poll reads from confColumns through pgx:
// PostgreSQL's type names, a float4 as the float32 widened exactly,
// decimals as exact text, times in µs; interval is not mapped (the
// driver's text, type unknown).
var confTypes = []sourcetest.TypeCase{
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
}

func (c *confTarget) CreateTypes(t *testing.T, table string) {
	ddl := "CREATE TABLE " + pgx.Identifier{table}.Sanitize() + " (id bigint PRIMARY KEY"
	for _, col := range confColumns {
		ddl += ", " + col.name + " " + col.sqlType
	}
	if c.ts() {
		ddl += ", " + confTS + " timestamp(6) NOT NULL"
	}
	c.exec(t, ddl+")")
}

func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	cols, vals := "id", "$1"
	args := []any{id}
	if !null {
		for _, col := range confColumns {
			cols += ", " + col.name
			vals += ", " + col.literal
		}
	}
	if c.ts() {
		cols += ", " + confTS
		vals += ", " + tsExpr(2)
		args = append(args, c.tick.Add(1))
	}
	c.exec(t, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" ("+cols+") VALUES ("+vals+")", args...)
}

func (c *confTarget) Source(t *testing.T, p sourcetest.Params) component.Source {
	t.Helper()
	u, err := url.Parse(c.dsn)
	if err != nil {
		t.Fatalf("SLUICE_PG_DSN is not a URL: %v", err)
	}
	u.User = url.UserPassword(u.User.Username(), confSecret)
	if p.Via != "" {
		u.Host = p.Via
	}
	cfg := DefaultConfig()
	cfg.Driver = DriverPostgres
	cfg.DSN = u.String()
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
			ts, ok := v.(time.Time)
			if !ok {
				return nil, fmt.Errorf("timestamp watermark is %T", v)
			}
			mark[0] = ts.UnixMicro()
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
