package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// A coordinated run (Env.Epoch > 0) whose slot is still held by another
// walsender — a previous holder's of the stream partition, whose node is
// cut off or dead while the server has not noticed — ends that walsender
// and streams, instead of waiting for wal_sender_timeout.
func TestCoordinatedRunEndsOldReader(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	cfg := te.config("public.a")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	cp := out.Checkpoint()
	r.stop(t)
	waitInactive(t, te, cfg.Slot)

	// The old reader: a replication connection streaming from the slot,
	// never closed by its client.
	pc, err := pgconn.ParseConfig(te.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.RuntimeParams["replication"] = "database"
	ctx := context.Background()
	old, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close(context.Background()) })
	if err := pglogrepl.StartReplication(ctx, old, cfg.Slot, 0, pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names 'sluice_p_pg'"}}); err != nil {
		t.Fatal(err)
	}
	var oldPID int32
	if err := te.conn.QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&oldPID); err != nil || oldPID == 0 {
		t.Fatalf("the old reader does not hold the slot: %v", err)
	}

	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t), Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	out2 := sourcetest.NewEmitter()
	go func() { done <- src.Run(rctx, cp, out2) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
		src.Close()
	})
	te.exec(`INSERT INTO a VALUES (1)`)
	if got := describe(waitN(t, out2, 1)); !slices.Equal(got, []string{"c a id=1"}) {
		t.Fatalf("events %q", got)
	}
	var newPID int32
	if err := te.conn.QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&newPID); err != nil || newPID == oldPID {
		t.Fatalf("slot held by %d (old reader %d): %v", newPID, oldPID, err)
	}
}
