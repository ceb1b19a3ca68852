package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// heldXids lists the sessions of the test's database that hold a
// transaction id.
func heldXids(t *testing.T, te *testEnv) []string {
	t.Helper()
	var held []string
	if err := te.conn.QueryRow(context.Background(), `SELECT coalesce(array_agg(concat_ws(' ', pid, application_name, 'xid=' || backend_xid, state, left(query, 120))), '{}')
		FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	return held
}

// TestSnapshotHoldsNoTransactionID holds a snapshot (its first batch not
// taken) and then a snapshot chunk read the same way: neither holds a
// transaction id meanwhile. The server makes the creation of every
// logical replication slot wait for the transactions with an id running
// when it starts, so a snapshot transaction holding one (Debezium's
// txid_current() inside it) held up every slot created on the server
// until the snapshot ended: other pipelines' starts, and in CI the first
// checkpoint of tests running beside a held snapshot. The rows still carry
// one transaction id, assigned as the snapshot began.
func TestSnapshotHoldsNoTransactionID(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE x (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO x SELECT generate_series(1, 20)`)
	cfg := te.config("public.x")
	cfg.SnapshotWorkers = 1
	cfg.SnapshotChunkRows = 5
	cfg.BatchSize = 5
	out := sourcetest.NewEmitter()
	out.Hold()
	r := te.start(cfg, nil, out)
	waitCond(t, "the snapshot's first batch held", 15*time.Second, func() bool { return out.Waiting() > 0 })
	if held := heldXids(t, te); len(held) > 0 {
		t.Errorf("during the held snapshot, sessions hold a transaction id: %q", held)
	}
	out.Unhold()
	evs := waitN(t, out, 20)
	var before int64
	if err := te.conn.QueryRow(context.Background(), `SELECT txid_current()`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if !e.Source.HasTxID || e.Source.TxID != evs[0].Source.TxID || e.Source.TxID <= 0 || e.Source.TxID >= before {
			t.Fatalf("%s: txId %d (has %v); want one id below %d for every snapshot row", e.String(), e.Source.TxID, e.Source.HasTxID, before)
		}
	}
	r.stop(t)

	// A chunk, read at a snapshot of its own (no exported one).
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	spec, _ := json.Marshal(chunkSpec{Table: "public.x", ConsistentPoint: "0/1"})
	em := sourcetest.NewEmitter()
	em.Hold()
	done := make(chan error, 1)
	go func() { done <- src.ReadChunk(context.Background(), spec, em) }()
	waitCond(t, "the chunk's first batch held", 15*time.Second, func() bool { return em.Waiting() > 0 })
	if held := heldXids(t, te); len(held) > 0 {
		t.Errorf("during the held chunk, sessions hold a transaction id: %q", held)
	}
	em.Unhold()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := em.Count(); n != 20 {
		t.Fatalf("chunk rows %d, want 20", n)
	}
}
