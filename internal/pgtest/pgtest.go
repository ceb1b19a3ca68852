// Package pgtest gives tests a real PostgreSQL: DSN finds the server started by
// scripts/postgres.sh, NewDatabase gives each test its own database so tests
// run in parallel and leave nothing behind. StartTLS starts a private
// server that speaks TLS only, for the TLS and authentication tests.
//
// Without SLUICE_PG_DSN a test is skipped with a how-to message, except in CI
// ($CI set), where it fails: integration tests never pass silently when the
// service is missing.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const howTo = "PostgreSQL not reachable: SLUICE_PG_DSN is not set; run `eval $(scripts/postgres.sh start)` from the repository root"

// DSN returns $SLUICE_PG_DSN. When it is unset the test is skipped, or failed
// when $CI is set.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("SLUICE_PG_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(howTo)
		}
		t.Skip(howTo)
	}
	return dsn
}

// Connect opens a connection to dsn and closes it at cleanup.
func Connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v (is scripts/postgres.sh running?)", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates a fresh, uniquely named database for t and returns its
// DSN. At cleanup the database is dropped together with its replication slots
// (terminating any session still using them).
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("SLUICE_PG_DSN cannot be parsed")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(rnd[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, cfg, name) })

	return replaceDatabase(base, name)
}

// replaceDatabase swaps the database of a URL or keyword/value DSN.
func replaceDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		rest := dsn[strings.Index(dsn, "://")+3:]
		q := ""
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest, q = rest[:i], rest[i:]
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		return dsn[:strings.Index(dsn, "://")+3] + rest + "/" + name + q
	}
	return dsn + " dbname=" + name
}

func dropDatabase(t testing.TB, cfg *pgx.ConnConfig, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Errorf("cleanup: connect: %v", err)
		return
	}
	defer admin.Close(context.Background())
	// Slots outlive their database's sessions; drop them first (the
	// database cannot be dropped while a slot refers to it).
	for attempt := 0; ; attempt++ {
		_, _ = admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
			WHERE database = $1 AND active_pid IS NOT NULL`, name)
		_, err = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
			WHERE database = $1 AND NOT active`, name)
		var left int
		_ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, name).Scan(&left)
		if left == 0 {
			break
		}
		if attempt > 100 {
			t.Errorf("cleanup: %d replication slots of %s remain: %v", left, name, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		// PG 12 has no WITH (FORCE).
		if _, err2 := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err2 != nil {
			t.Errorf("cleanup: drop database %s: %v", name, err)
		}
	}
}
