package postgres

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// TestReconnect kills the walsender mid-stream: the source reconnects and
// resumes after the last emitted checkpoint without losing a change.
func TestReconnect(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE rc (id int PRIMARY KEY)`)
	out := newEmitter()
	cfg := te.config("public.rc")
	te.start(cfg, nil, out)
	out.waitCP(t)
	te.exec(`INSERT INTO rc VALUES (1)`)
	waitN(t, out, 1)
	te.exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot)
	te.exec(`INSERT INTO rc VALUES (2)`)
	te.exec(`INSERT INTO rc VALUES (3)`)
	out.waitFor(t, "rows after the reconnect", 20*time.Second, func(evs []event.Event) bool { return len(evs) >= 3 })
	ids := []int64{}
	for _, e := range out.snapshotEvents() {
		ids = append(ids, e.After[0].AsInt())
	}
	if !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Fatalf("ids %v, want [1 2 3]", ids)
	}
}

// TestRestartFromStreamCheckpoint restarts a source from its checkpoint:
// transactions after it are delivered again, earlier ones are not.
func TestRestartFromStreamCheckpoint(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE rs (id int PRIMARY KEY)`)
	cfg := te.config("public.rs")
	out := newEmitter()
	r := te.start(cfg, nil, out)
	out.waitCP(t)
	te.exec(`INSERT INTO rs VALUES (1)`)
	waitN(t, out, 1)
	cp := out.checkpoint()
	te.exec(`INSERT INTO rs VALUES (2)`) // emitted, but its checkpoint is "lost"
	waitN(t, out, 2)
	r.stop(t)
	te.exec(`INSERT INTO rs VALUES (3)`)

	out2 := newEmitter()
	te.start(cfg, cp, out2)
	evs := waitN(t, out2, 2)
	if got := describe(evs); !slices.Equal(got, []string{"c rs id=2", "c rs id=3"}) {
		t.Fatalf("after restart: %q", got)
	}
}

func TestSnapshotNeverAndDropSlot(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE sn (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO sn VALUES (1)`)
	cfg := te.config("public.sn")
	cfg.Snapshot = SnapshotNever
	cfg.DropSlotOnStop = true
	out := newEmitter()
	r := te.start(cfg, nil, out)
	waitStreaming(t, te, cfg.Slot)
	te.exec(`INSERT INTO sn VALUES (2)`)
	evs := waitN(t, out, 1)
	if got := describe(evs); got[0] != "c sn id=2" {
		t.Fatalf("got %q", got)
	}
	r.stop(t)
	var slots, pubs int
	_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&slots)
	_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_publication`).Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Fatalf("after Close with drop_slot_on_stop: %d slots, %d publications", slots, pubs)
	}
}

// waitStreaming waits until the slot's walsender streams: changes committed
// after that are after the stream's start.
func waitStreaming(t *testing.T, te *testEnv, slot string) {
	t.Helper()
	waitCond(t, "the walsender to stream", 10*time.Second, func() bool {
		var n int
		_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots s
			JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1 AND r.state = 'streaming'`, slot).Scan(&n)
		return n == 1
	})
}

func runErr(t *testing.T, te *testEnv, cfg *Config) error {
	t.Helper()
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return src.Run(ctx, nil, newEmitter())
}

func TestPublicationAndTables(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE SCHEMA "Odd Schema"`)
	te.exec(`CREATE TABLE "Odd Schema"."Mixed Case" (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE plain (id int PRIMARY KEY)`)
	te.exec(`CREATE PUBLICATION existing FOR TABLE plain`)

	// A pattern matching nothing is an error naming it.
	cfg := te.config("public.plain", "public.nope*")
	if err := runErr(t, te, cfg); err == nil || !strings.Contains(err.Error(), `"public.nope*"`) {
		t.Fatalf("unmatched pattern: %v", err)
	}
	// create_publication: false with missing tables is an error naming them.
	cfg = te.config("Odd Schema.*", "public.plain")
	cfg.Publication = "existing"
	cfg.CreatePublication = false
	if err := runErr(t, te, cfg); err == nil || !strings.Contains(err.Error(), "Odd Schema.Mixed Case") {
		t.Fatalf("missing tables: %v", err)
	}
	if strings.Contains(te.dsn, "@") && func() bool { err := runErr(t, te, cfg); return strings.Contains(err.Error(), te.dsn) }() {
		t.Fatalf("error contains the DSN")
	}
	// An existing publication lacking tables is extended; quoted names work
	// end to end.
	cfg.CreatePublication = true
	te.exec(`INSERT INTO "Odd Schema"."Mixed Case" VALUES (1)`)
	out := newEmitter()
	te.start(cfg, nil, out)
	out.waitCP(t)
	te.exec(`INSERT INTO "Odd Schema"."Mixed Case" VALUES (2)`)
	evs := waitN(t, out, 2)
	if evs[1].Schema.Stream != "pg.Odd Schema.Mixed Case" || evs[1].Schema.Namespace != "Odd Schema" || evs[1].Schema.Database != te.database() {
		t.Fatalf("schema identity: %+v", evs[1].Schema)
	}
	var n int
	_ = te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_publication_tables WHERE pubname = 'existing'`).Scan(&n)
	if n != 2 {
		t.Fatalf("publication has %d tables, want 2", n)
	}
}

// TestAuthFailure: credentials the server refuses stop Run with a
// permanent error naming the user, the server and the key to fix, never
// the password. (The test server trusts every password, so the role is one
// that does not exist: SQLSTATE 28000, the class of 28P01.)
func TestAuthFailure(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	u, err := url.Parse(te.dsn)
	if err != nil {
		t.Skip("the test DSN is not a URL")
	}
	u.User = url.UserPassword("sluice_nobody", "canary-Pw-7731")
	cfg := te.config("public.x")
	cfg.DSN = u.String()
	src, err := New(cfg, component.Env{Name: "shop", Pipeline: "p", Logger: testLogger(t), Path: "sources.shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Run(context.Background(), nil, newEmitter())
	want := `postgres source "shop": ` + u.Host + ` refused user "sluice_nobody": role "sluice_nobody" does not exist (SQLSTATE 28000); ` +
		"check the user and password in sources.shop.dsn (a ${VAR} there is read from the environment), " +
		"and that the role exists and may log in, and that pg_hba.conf admits it from this host"
	if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), "canary") {
		t.Fatalf("Run = %v\nwant the permanent error %s", err, want)
	}
}
