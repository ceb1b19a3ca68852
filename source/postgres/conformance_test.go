package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against PostgreSQL.
func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Harness{
		Caps: sourcetest.Caps{Snapshot: true, Stream: true, Updates: true, Deletes: true, Ops: true, CommitOrder: true, Seq: true},
		// BeforeImages stays false: with the default replica identity an
		// update carries no before image and a delete only the key.
		Setup:      func(t *testing.T) sourcetest.Target { return newConfTarget(t) },
		Checkpoint: confMark,
		Types:      confTypes(),
	})
}

// confSecret is a password put in the source's DSN: the test server trusts
// local connections and ignores it, and the suite checks that no log or
// error shows it.
const confSecret = "sourcetest-Pw-4d1c"

// confTarget is a database of its own on the test server.
type confTarget struct {
	dsn  string
	conn *pgx.Conn
}

func newConfTarget(t *testing.T) *confTarget {
	dsn := pgtest.NewDatabase(t)
	return &confTarget{dsn: dsn, conn: pgtest.Connect(t, dsn)}
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
		t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func (c *confTarget) CreateTable(t *testing.T, table string) {
	c.exec(t, "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (id int PRIMARY KEY, v text)")
}

func (c *confTarget) Apply(t *testing.T, table string, changes []sourcetest.Change) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := pgx.Identifier{table}.Sanitize()
	err := pgx.BeginFunc(ctx, c.conn, func(tx pgx.Tx) error {
		for _, ch := range changes {
			var sql string
			args := []any{ch.ID}
			switch ch.Op {
			case event.OpCreate:
				sql, args = "INSERT INTO "+q+" (id, v) VALUES ($1, $2)", append(args, ch.V)
			case event.OpUpdate:
				sql, args = "UPDATE "+q+" SET v = $2 WHERE id = $1", append(args, ch.V)
			case event.OpDelete:
				sql = "DELETE FROM " + q + " WHERE id = $1"
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
	c.exec(t, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" (id, v) SELECT g, 'f' || g || '-' || repeat('x', $3) FROM generate_series($1::int, $2::int) g",
		first, last, pad)
}

func (c *confTarget) CreateTypes(t *testing.T, table string) {
	c.exec(t, `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
	c.exec(t, `CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)`)
	ddl := "CREATE TABLE " + pgx.Identifier{table}.Sanitize() + " (id int PRIMARY KEY"
	for _, tc := range typeCases {
		ddl += ", " + tc.col + " " + tc.sqlType
	}
	c.exec(t, ddl+")")
}

func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	if null {
		c.exec(t, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" (id) VALUES ($1)", id)
		return
	}
	ins := "INSERT INTO " + pgx.Identifier{table}.Sanitize() + " VALUES ($1"
	for _, tc := range typeCases {
		ins += ", " + tc.literal
	}
	c.exec(t, ins+")", id)
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
	cfg.DSN = u.String()
	cfg.Tables = []string{"public." + p.Table}
	cfg.Slot = "s_" + c.conn.Config().Database // slots are cluster-wide
	if len(cfg.Slot) > 63 {
		cfg.Slot = cfg.Slot[:63]
	}
	cfg.HeartbeatInterval = 0
	cfg.StatusInterval = 50 * time.Millisecond
	cfg.BatchSize = p.BatchSize
	if p.ChunkRows > 0 {
		cfg.SnapshotChunkRows = p.ChunkRows
	}
	src, err := New(cfg, component.Env{Name: p.Name, Pipeline: "conformance", Logger: p.Logger})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// confMark reads a checkpoint as (phase, table done, last key, stream LSN).
func confMark(b []byte) ([]int64, error) {
	cp, err := parseCheckpoint(b)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return nil, errors.New("empty checkpoint")
	}
	if cp.Phase == phaseStream {
		l, _ := cp.streamLSN()
		return []int64{1, 0, 0, int64(l)}, nil
	}
	var done, last int64
	for _, tp := range cp.Tables {
		if tp.Done {
			done = 1
		}
		if len(tp.LastKey) == 1 {
			if last, err = strconv.ParseInt(tp.LastKey[0], 10, 64); err != nil {
				return nil, fmt.Errorf("last key: %w", err)
			}
		}
	}
	return []int64{0, done, last, 0}, nil
}

// confTypes is the all-types table of TestTypes with the type name each
// column must report: PostgreSQL's own (pg_type.typname), "_" and the
// element's for arrays, the base type's for a domain.
func confTypes() []sourcetest.TypeCase {
	names := map[string]string{
		"c_int2": "int2", "c_int4": "int4", "c_int8": "int8", "c_oid": "oid",
		"c_num": "numeric", "c_num_free": "numeric", "c_num_nan": "numeric", "c_num_inf": "numeric",
		"c_f4": "float4", "c_f8": "float8", "c_f8_nan": "float8", "c_f8_ninf": "float8", "c_bool": "bool",
		"c_text": "text", "c_varchar": "varchar", "c_bpchar": "bpchar", "c_name": "name",
		"c_bytea": "bytea", "c_bytea_empty": "bytea", "c_uuid": "uuid", "c_json": "json", "c_jsonb": "jsonb",
		"c_date": "date", "c_date_bc": "date", "c_date_inf": "date", "c_time": "time",
		"c_timetz": "timetz", "c_timetz2": "timetz", "c_timetz3": "timetz",
		"c_ts": "timestamp", "c_ts_old": "timestamp", "c_ts_ninf": "timestamp", "c_tstz": "timestamptz",
		"c_interval": "interval", "c_interval_neg": "interval", "c_interval_zero": "interval",
		"c_int_arr": "_int4", "c_text_arr": "_text", "c_int_arr2": "_int8", "c_ts_arr": "_timestamptz",
		"c_enum": "mood", "c_enum_arr": "_mood", "c_money": "money", "c_money_neg": "money",
		"c_inet": "inet", "c_cidr": "cidr", "c_mac": "macaddr", "c_xml": "xml", "c_point": "point",
		"c_domain": "int4", "c_null": "text",
	}
	out := make([]sourcetest.TypeCase, len(typeCases))
	for i, tc := range typeCases {
		name, ok := names[tc.col]
		if !ok {
			panic("confTypes: no type name for " + tc.col)
		}
		out[i] = sourcetest.TypeCase{Column: tc.col, Type: tc.typ, TypeName: name, Want: tc.want}
	}
	return out
}
