package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// The tests in this file pin source metadata to what Debezium 2.7.3's
// PostgreSQL connector writes for the same rows and WAL (checked against
// the real engine by cmd/sluice's TestDebeziumDifferential).

// TestSnapshotSourceFields: snapshot rows carry the snapshot transaction's
// id (Debezium: txid_current() in its snapshot transaction) and Debezium
// 2.x's snapshot marks, first row to last.
func TestSnapshotSourceFields(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE b (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE c (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO a SELECT generate_series(1, 3)`)
	te.exec(`INSERT INTO b VALUES (1)`)
	te.exec(`INSERT INTO c SELECT generate_series(1, 4)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.a", "public.b", "public.c")
	cfg.SnapshotWorkers = 1
	cfg.SnapshotChunkRows = 2
	cfg.BatchSize = 1
	te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	out.WaitFor(t, "snapshot", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 8 })
	var after int64
	if err := te.conn.QueryRow(context.Background(), `SELECT txid_current()`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	marks := map[string]string{}
	evs := out.Events()
	for _, e := range evs {
		marks[e.Schema.Table+rowText(e.Schema, e.After)[3:]] = e.Source.Snapshot.String()
		if !e.Source.HasTxID || e.Source.TxID != evs[0].Source.TxID || e.Source.TxID <= 0 || e.Source.TxID >= after {
			t.Errorf("%s: txId %d (has %v); want one id below %d for every snapshot row", e.String(), e.Source.TxID, e.Source.HasTxID, after)
		}
	}
	want := map[string]string{
		"a1": "first", "a2": "true", "a3": "last_in_data_collection",
		"b1": "last_in_data_collection",
		"c1": "first_in_data_collection", "c2": "true", "c3": "true", "c4": "last",
	}
	if fmt.Sprint(marks) != fmt.Sprint(want) {
		t.Errorf("snapshot marks:\n got %v\nwant %v", marks, want)
	}
	if last := evs[len(evs)-1]; last.Source.Snapshot != event.SnapshotLast {
		t.Errorf("last emitted row %s is marked %s", last.String(), last.Source.Snapshot)
	}
}

// TestStreamSourceFields: commit times keep PostgreSQL's microseconds;
// source.sequence's last commit LSN is null (0) for the first transaction
// after a fresh start, the previous commit's end for the next ones, and the
// checkpoint's commit after a restart.
func TestStreamSourceFields(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO a VALUES (0)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.a")
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	const txs = 6
	for i := 1; i <= txs; i++ {
		te.exec(`INSERT INTO a VALUES ($1)`, i)
	}
	out.WaitFor(t, "stream", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 1+txs })
	evs := out.Events()[1:]
	subMs := 0
	for i, e := range evs {
		if d := time.Since(time.UnixMicro(e.Source.TsUs)); d < 0 || d > time.Minute {
			t.Errorf("%s: commit time %d µs is %v ago", e.String(), e.Source.TsUs, d)
		}
		if e.Source.TsUs%1000 != 0 {
			subMs++
		}
		switch {
		case i == 0 && e.Source.LastCommitLSN != 0:
			t.Errorf("first streamed change: last commit LSN %d, want none (Debezium writes [null,lsn])", e.Source.LastCommitLSN)
		case i > 0 && (e.Source.LastCommitLSN <= evs[i-1].Source.LSN || e.Source.LastCommitLSN > e.Source.LSN):
			t.Errorf("change %d: last commit LSN %d, want the previous commit's end (after %d, not after %d)",
				i, e.Source.LastCommitLSN, evs[i-1].Source.LSN, e.Source.LSN)
		}
	}
	// Six commits all on a whole millisecond would be a one-in-10^18 chance:
	// the microseconds were dropped.
	if subMs == 0 {
		t.Errorf("no commit time has microseconds: %d, ...", evs[0].Source.TsUs)
	}
	out.WaitFor(t, "the last commit's checkpoint", 10*time.Second, func([]event.Event) bool {
		cp, err := parseCheckpoint(out.Checkpoint())
		l, _ := cp.streamLSN()
		return err == nil && uint64(l) > evs[len(evs)-1].Source.LSN
	})
	cpb := out.Checkpoint()
	r.stop(t)
	cp, _ := parseCheckpoint(cpb)
	resume, _ := cp.streamLSN()
	// The checkpoint names its newest commit as Debezium's offset does
	// (txId, ts_usec: Kafka Connect's offsets endpoint shows them).
	if last := evs[len(evs)-1].Source; int64(cp.TxID) != last.TxID || cp.TsUs != last.TsUs {
		t.Errorf("checkpoint txid %d ts_us %d, want the last commit's %d and %d", cp.TxID, cp.TsUs, last.TxID, last.TsUs)
	}

	te.exec(`INSERT INTO a VALUES (100)`)
	out2 := sourcetest.NewEmitter()
	te.start(cfg, cpb, out2)
	out2.WaitFor(t, "stream after restart", 10*time.Second, func(evs []event.Event) bool { return len(evs) >= 1 })
	if e := out2.Events()[0]; e.Source.LastCommitLSN != uint64(resume) {
		t.Errorf("first change after a restart: last commit LSN %s, want the checkpoint's %s",
			pglogrepl.LSN(e.Source.LastCommitLSN), resume)
	}
}

// TestToastFromOldTuple: an update that leaves a TOASTed column unchanged
// gets the value from the old tuple under REPLICA IDENTITY FULL (for every
// sink, as Debezium fills its after image); under the default identity the
// old tuple has the key only and the column stays event.Unchanged.
func TestToastFromOldTuple(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	// md5 text does not compress: the values are stored out of line.
	const big = `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)`
	for _, tbl := range []string{"dflt", "fullid"} {
		te.exec(`CREATE TABLE ` + tbl + ` (id int PRIMARY KEY, name text, big text, nums int[])`)
		te.exec(`ALTER TABLE ` + tbl + ` ALTER COLUMN nums SET STORAGE EXTERNAL`)
		te.exec(`INSERT INTO ` + tbl + ` VALUES (1, 'a', ` + big + `, (SELECT array_agg(g) FROM generate_series(1, 3000) g))`)
	}
	te.exec(`ALTER TABLE fullid REPLICA IDENTITY FULL`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.dflt", "public.fullid"), nil, out)
	out.WaitCheckpoint(t)
	te.exec(`UPDATE dflt SET name = 'b'`)
	te.exec(`UPDATE fullid SET name = 'b'`)
	te.exec(`UPDATE fullid SET id = 2`) // a key change under FULL: still whole
	out.WaitFor(t, "updates", 10*time.Second, func(evs []event.Event) bool { return len(evs) == 5 })
	evs := out.Events()
	snap := map[string][]event.Value{}
	for _, e := range evs[:2] {
		snap[e.Schema.Table] = e.After
	}
	d := evs[2]
	if d.Schema.Table != "dflt" || d.After[1].Str != "b" || d.After[2].Kind != event.KindUnchanged || d.After[3].Kind != event.KindUnchanged {
		t.Errorf("default identity: after %s, want big and nums unchanged", rowText(d.Schema, d.After))
	}
	for _, e := range evs[3:] {
		if e.Schema.Table != "fullid" || e.Before == nil {
			t.Fatalf("%s: want an update of fullid with its old tuple", e.String())
		}
		for c := 2; c <= 3; c++ {
			if !e.After[c].Equal(snap["fullid"][c]) {
				t.Errorf("%s: after.%s = %.40s, want the stored value %.40s", e.String(), e.Schema.Columns[c].Name,
					e.After[c].Text(), snap["fullid"][c].Text())
			}
		}
	}
	if !strings.HasPrefix(evs[4].After[2].Str, "c4ca4238") {
		t.Errorf("big = %.20q", evs[4].After[2].Str)
	}
}
