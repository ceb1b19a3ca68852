package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against MariaDB.
func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Harness{
		Caps: sourcetest.Caps{Snapshot: true, Stream: true, Updates: true, Deletes: true, Ops: true, CommitOrder: true,
			BeforeImages: true, Seq: true},
		Setup:      func(t *testing.T) sourcetest.Target { return newConfTarget(t) },
		Checkpoint: confMark,
		Types:      confTypes(),
	})
}

// confTarget is a database of its own on the test server.
type confTarget struct {
	dc   *mysql.Config // the test database, as the admin connects
	db   *sql.DB
	name string
}

func newConfTarget(t *testing.T) *confTarget {
	base := svctest.Need(t, svctest.MariaDB)
	dc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal("SLUICE_MYSQL_DSN cannot be parsed")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "sct_" + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + quoteIdent(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", dc.FormatDSN())
		if err == nil {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + quoteIdent(name))
			admin.Close()
		}
	})
	dc.DBName = name
	db, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return &confTarget{dc: dc, db: db, name: name}
}

func (c *confTarget) Addr() string { return c.dc.Addr }

// Secrets is empty: the test server's root has no password.
func (c *confTarget) Secrets() []string { return nil }

func (c *confTarget) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(q), err)
	}
}

func (c *confTarget) CreateTable(t *testing.T, table string) {
	c.exec(t, "CREATE TABLE "+quoteIdent(table)+" (id INT PRIMARY KEY, v TEXT)")
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
	q := quoteIdent(table)
	for _, ch := range changes {
		var res sql.Result
		switch ch.Op {
		case event.OpCreate:
			res, err = tx.ExecContext(ctx, "INSERT INTO "+q+" (id, v) VALUES (?, ?)", ch.ID, ch.V)
		case event.OpUpdate:
			res, err = tx.ExecContext(ctx, "UPDATE "+q+" SET v = ? WHERE id = ?", ch.V, ch.ID)
		case event.OpDelete:
			res, err = tx.ExecContext(ctx, "DELETE FROM "+q+" WHERE id = ?", ch.ID)
		}
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
	c.exec(t, fmt.Sprintf("INSERT INTO %s (id, v) SELECT seq, CONCAT('f', seq, '-', REPEAT('x', ?)) FROM seq_%d_to_%d", quoteIdent(table), first, last), pad)
}

func (c *confTarget) CreateTypes(t *testing.T, table string) {
	c.exec(t, strings.Replace(typesTable, "CREATE TABLE types (", "CREATE TABLE "+quoteIdent(table)+" (", 1))
}

func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	if null {
		c.exec(t, "INSERT INTO "+quoteIdent(table)+" (id) VALUES (?)", id)
		return
	}
	c.exec(t, "INSERT INTO "+quoteIdent(table)+" VALUES "+fmt.Sprintf(typesRow, id))
}

func (c *confTarget) Source(t *testing.T, p sourcetest.Params) component.Source {
	t.Helper()
	dc := c.dc.Clone()
	if p.Via != "" {
		dc.Addr = p.Via
	}
	cfg := DefaultConfig()
	cfg.DSN = dc.FormatDSN()
	cfg.Tables = []string{c.name + "." + p.Table}
	cfg.HeartbeatInterval = time.Second
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

// confMark reads a checkpoint as (phase, table done, last key, binlog file
// number, position).
func confMark(b []byte) ([]int64, error) {
	cp, err := parseCheckpoint(b)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return nil, errors.New("empty checkpoint")
	}
	if cp.Phase == phaseStream {
		f, _ := fileIndex(cp.File)
		return []int64{1, 0, 0, int64(f), int64(cp.Pos)}, nil
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
	return []int64{0, done, last, 0, 0}, nil
}

// confTypes is the table of TestTypes (typesTable, typesRow) with the
// values and logical types of typesWant and typesSchema, and the type name
// each column must report: the server's DATA_TYPE, with " unsigned" for
// unsigned integers (MariaDB's JSON, a checked LONGTEXT, reports json).
func confTypes() []sourcetest.TypeCase {
	names := map[string]string{
		"ti": "tinyint", "tiu": "tinyint unsigned", "si": "smallint", "siu": "smallint unsigned",
		"mi": "mediumint", "miu": "mediumint unsigned", "i": "int", "iu": "int unsigned", "bi": "bigint", "biu": "bigint unsigned",
		"f": "float", "d": "double", "dec1": "decimal", "dec2": "decimal",
		"dt6": "datetime", "dt": "datetime", "ts3": "timestamp", "dte": "date", "tm": "time", "tm0": "time", "yr": "year",
		"js": "json", "en": "enum", "st": "set", "b1": "bit", "b12": "bit",
		"bl": "blob", "tx": "text", "bin": "binary", "vb": "varbinary",
		"u8": "varchar", "l1": "varchar", "ch": "char", "lt": "longtext",
	}
	cols := make([]string, 0, len(typesWant))
	for c := range typesWant {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	out := make([]sourcetest.TypeCase, 0, len(cols))
	for _, c := range cols {
		name, ok := names[c]
		if !ok {
			panic("confTypes: no type name for " + c)
		}
		out = append(out, sourcetest.TypeCase{Column: c, Type: typesSchema[c], TypeName: name, Want: typesWant[c]})
	}
	return out
}
