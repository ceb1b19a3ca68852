package mongodb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	mysqlsink "github.com/sluice-dev/sluice/sink/mysql"
	pgsink "github.com/sluice-dev/sluice/sink/postgres"
)

// sqlDoc is a document with the types README's MongoDB section describes
// for the SQL sinks, at the top level and nested.
func sqlDoc(t *testing.T) (*event.Schema, []event.Value) {
	t.Helper()
	dec, err := bson.ParseDecimal128("1234.5600")
	if err != nil {
		t.Fatal(err)
	}
	small, _ := bson.ParseDecimal128("1.5")
	uuid := []byte{0x73, 0xff, 0xd2, 0x64, 0x44, 0xb3, 0x4c, 0x69, 0x90, 0xe8, 0xe7, 0xd1, 0xdf, 0xc0, 0x35, 0xd4}
	raw, err := bson.Marshal(bson.D{
		{Key: "_id", Value: oid(1)},
		{Key: "dec", Value: dec},
		{Key: "at", Value: bson.DateTime(1700000000123)},
		{Key: "uid", Value: bson.Binary{Subtype: 4, Data: uuid}},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{1, 2, 3}}},
		{Key: "n", Value: int64(5000000000)},
		{Key: "obj", Value: bson.D{{Key: "oid", Value: oid(2)}, {Key: "when", Value: bson.DateTime(0)},
			{Key: "dec", Value: small}, {Key: "bin", Value: bson.Binary{Data: []byte{1}}}, {Key: "n", Value: int64(5)}}},
		{Key: "arr", Value: bson.A{int32(1), "two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sch, vals, err := newConverter().document(newRegistry("mongo").collection("shop", "orders"), raw)
	if err != nil {
		t.Fatal(err)
	}
	return sch, vals
}

// TestDocumentsIntoSQLTables writes a document, as this source converts
// it, with the postgres and mysql sinks (auto_create) and reads the row
// back: decimal128 stays exact (an unconstrained numeric, not PostgreSQL
// 15's negative scale), dates are timestamps, ObjectIds text, UUIDs uuid /
// CHAR(36), other binary bytes, and nested values are JSON holding relaxed
// Extended JSON ({"$oid": …}, {"$date": "…"}, {"$numberDecimal": "…"},
// {"$binary": …}).
func TestDocumentsIntoSQLTables(t *testing.T) {
	sch, vals := sqlDoc(t)
	ev := []event.Event{{Op: event.OpRead, Schema: sch, After: vals, Source: event.Source{Snapshot: event.SnapshotTrue}}}
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		cfg := pgsink.DefaultConfig()
		cfg.DSN, cfg.AutoCreate = dsn, true
		s, err := pgsink.New(*cfg, component.Env{Name: "pg"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if err := s.Write(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		conn := pgtest.Connect(t, dsn)
		var types string
		if err := conn.QueryRow(context.Background(), `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders'`).Scan(&types); err != nil {
			t.Fatal(err)
		}
		if want := "_id text, dec numeric, at timestamp with time zone, uid uuid, bin bytea, n bigint, obj jsonb, arr jsonb"; types != want {
			t.Errorf("columns\n got %s\nwant %s", types, want)
		}
		var got string
		if err := conn.QueryRow(context.Background(), `SELECT concat_ws(' | ', _id, pg_typeof(dec), dec, at AT TIME ZONE 'UTC', uid, encode(bin, 'hex'), n, obj, arr) FROM orders`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := `65a000000000000000000001 | numeric | 1234.5600 | 2023-11-14 22:13:20.123 | 73ffd264-44b3-4c69-90e8-e7d1dfc035d4 | 010203 | 5000000000 | ` +
			`{"n": 5, "bin": {"$binary": {"base64": "AQ==", "subType": "00"}}, "dec": {"$numberDecimal": "1.5"}, "oid": {"$oid": "65a000000000000000000002"}, "when": {"$date": "1970-01-01T00:00:00Z"}} | [1, "two"]`
		if got != want {
			t.Errorf("row\n got %s\nwant %s", got, want)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		base := svctest.Need(t, svctest.MariaDB)
		mc, err := gomysql.ParseDSN(base)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := sql.Open("mysql", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		b := make([]byte, 4)
		rand.Read(b)
		name := "mongo_sql_" + hex.EncodeToString(b)
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
		mc.DBName = name
		cfg := mysqlsink.DefaultConfig()
		cfg.DSN, cfg.AutoCreate = mc.FormatDSN(), true
		s, err := mysqlsink.New(*cfg, component.Env{Name: "my"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if err := s.Write(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		var got, typ string
		if err := admin.QueryRow(`SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR ', ')
			FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'orders'`, name).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		cols := make([]string, 8)
		ptrs := make([]any, len(cols))
		for i := range cols {
			ptrs[i] = &cols[i]
		}
		if err := admin.QueryRow("SELECT _id, `dec`, at, uid, HEX(bin), n, obj, arr FROM " + name + ".orders").Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		got = strings.Join(cols, " | ")
		// MariaDB's JSON is LONGTEXT: the relaxed Extended JSON as written.
		want := `65a000000000000000000001 | 1234.560000000000000000000000000000 | 2023-11-14 22:13:20.123000 | 73ffd264-44b3-4c69-90e8-e7d1dfc035d4 | 010203 | 5000000000 | ` +
			`{"oid":{"$oid":"65a000000000000000000002"},"when":{"$date":"1970-01-01T00:00:00Z"},"dec":{"$numberDecimal":"1.5"},"bin":{"$binary":{"base64":"AQ==","subType":"00"}},"n":5} | [1,"two"]`
		// MariaDB reports JSON as longtext (with a json_valid check).
		wantTypes := "_id varchar(255), dec decimal(65,30), at datetime(6), uid char(36), bin longblob, n bigint(20), obj longtext, arr longtext"
		if typ != wantTypes {
			t.Errorf("columns\n got %s\nwant %s", typ, wantTypes)
		}
		if got != want {
			t.Errorf("row\n got %s\nwant %s", got, want)
		}
	})
}
