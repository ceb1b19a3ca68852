package postgres

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

func waitN(t *testing.T, out *sourcetest.Emitter, n int) []event.Event {
	t.Helper()
	out.WaitFor(t, "events", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= n })
	evs := out.Events()
	if len(evs) != n {
		t.Fatalf("got %d events, want %d: %q", len(evs), n, describe(evs))
	}
	return evs
}

func TestStreamOperations(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE k (id int PRIMARY KEY, v text)`)
	te.exec(`CREATE TABLE f (id int PRIMARY KEY, v text, w int)`)
	te.exec(`ALTER TABLE f REPLICA IDENTITY FULL`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.k", "public.f"), nil, out)
	out.WaitCheckpoint(t)

	te.exec(`BEGIN; INSERT INTO k VALUES (1, 'a'), (2, 'b'); INSERT INTO f VALUES (1, 'x', 10); COMMIT`)
	te.exec(`UPDATE k SET v = 'a2' WHERE id = 1`)
	te.exec(`UPDATE k SET id = 3 WHERE id = 2`) // key change: old key sent
	te.exec(`UPDATE f SET w = 11 WHERE id = 1`) // full identity: old tuple sent
	te.exec(`DELETE FROM k WHERE id = 1`)
	te.exec(`DELETE FROM f WHERE id = 1`)
	te.exec(`TRUNCATE k, f`)
	evs := waitN(t, out, 10)

	type img struct{ op, table, before, after string }
	var got []img
	for _, e := range evs {
		got = append(got, img{e.Op.String(), e.Schema.Table, rowText(e.Schema, e.Before), rowText(e.Schema, e.After)})
	}
	want := []img{
		{"c", "k", "<nil>", "id=1 v=a"},
		{"c", "k", "<nil>", "id=2 v=b"},
		{"c", "f", "<nil>", "id=1 v=x w=10"},
		{"u", "k", "<nil>", "id=1 v=a2"},
		{"u", "k", "id=2 v=NULL", "id=3 v=b"},
		{"u", "f", "id=1 v=x w=10", "id=1 v=x w=11"},
		{"d", "k", "id=1 v=NULL", "<nil>"},
		{"d", "f", "id=1 v=x w=11", "<nil>"},
		{"t", "k", "<nil>", "<nil>"},
		{"t", "f", "<nil>", "<nil>"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %v\nwant %v", got, want)
	}
	// Source metadata: one transaction for the first three, commit order.
	first := evs[0].Source
	if !first.HasTxID || first.TxID == 0 || evs[1].Source.TxID != first.TxID || evs[2].Source.TxID != first.TxID ||
		evs[3].Source.TxID == first.TxID {
		t.Errorf("transaction ids: %d %d %d %d", first.TxID, evs[1].Source.TxID, evs[2].Source.TxID, evs[3].Source.TxID)
	}
	for i, e := range evs {
		if e.Source.LSN == 0 || !e.Source.HasLSN || e.Source.TsMs() == 0 || e.TsMs == 0 || !strings.HasPrefix(e.Where(), "lsn ") {
			t.Errorf("event %d: source %+v position %q", i, e.Source, e.Where())
		}
		if i > 0 && e.Source.LSN < evs[i-1].Source.LSN && e.Source.TxID == evs[i-1].Source.TxID {
			t.Errorf("event %d: LSN goes back within a transaction", i)
		}
	}
	// LastCommitLSN of the second transaction is the first one's commit,
	// which lies after all of its changes.
	if evs[3].Source.LastCommitLSN <= evs[2].Source.LSN || evs[3].Source.LastCommitLSN == first.LastCommitLSN {
		t.Errorf("last commit LSN: tx1 %d, tx2 %d (tx1 last change %d)", first.LastCommitLSN, evs[3].Source.LastCommitLSN, evs[2].Source.LSN)
	}
	if k := evs[0].Schema.KeyIdx; len(k) != 1 || k[0] != 0 {
		t.Errorf("key of k: %v", k)
	}
	if k := evs[2].Schema.KeyIdx; len(k) != 1 || k[0] != 0 {
		t.Errorf("key of a REPLICA IDENTITY FULL table: %v, want the primary key", k)
	}
}

func TestSchemaChange(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE s (id int PRIMARY KEY, a int, b text)`)
	te.exec(`INSERT INTO s VALUES (1, 1, 'x')`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.s"), nil, out)
	waitN(t, out, 1)
	te.exec(`INSERT INTO s VALUES (2, 2, 'y')`)
	te.exec(`ALTER TABLE s ADD COLUMN c bool NOT NULL DEFAULT false`)
	te.exec(`INSERT INTO s VALUES (3, 3, 'z', true)`)
	te.exec(`ALTER TABLE s DROP COLUMN b`)
	te.exec(`INSERT INTO s VALUES (4, 4, true)`)
	te.exec(`ALTER TABLE s ALTER COLUMN a TYPE numeric(6,1)`)
	te.exec(`INSERT INTO s VALUES (5, 5.5, false)`)
	te.exec(`UPDATE s SET c = true WHERE id = 2`)
	evs := waitN(t, out, 6)
	got := describe(evs)
	want := []string{
		"r s id=1 a=1 b=x",
		"c s id=2 a=2 b=y",
		"c s id=3 a=3 b=z c=true",
		"c s id=4 a=4 c=true",
		"c s id=5 a=5.5 c=false",
		"u s id=2 a=2.0 c=true",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	versions := []int{}
	for _, e := range evs {
		versions = append(versions, e.Schema.Version)
	}
	if !slices.Equal(versions, []int{1, 1, 2, 3, 4, 4}) {
		t.Errorf("schema versions %v", versions)
	}
	if evs[0].Schema != evs[1].Schema {
		t.Errorf("the stream did not reuse the snapshot's schema for an unchanged table")
	}
	c := evs[2].Schema.Columns[3]
	if c.Name != "c" || c.Optional || !c.HasDefault || !c.Default.Equal(event.Bool(false)) {
		t.Errorf("added column: %+v", c)
	}
	if a := evs[4].Schema.Columns[1]; a.Type != event.TypeDecimal || a.Precision != 6 || a.Scale != 1 {
		t.Errorf("retyped column: %+v", a)
	}
}

func TestUnchangedToast(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE big (id int PRIMARY KEY, n int, doc text)`)
	te.exec(`ALTER TABLE big ALTER COLUMN doc SET STORAGE EXTERNAL`)
	out := sourcetest.NewEmitter()
	te.start(te.config("public.big"), nil, out)
	out.WaitCheckpoint(t)
	long := strings.Repeat("0123456789", 1000)
	te.exec(`INSERT INTO big VALUES (1, 1, $1)`, long)
	te.exec(`UPDATE big SET n = 2 WHERE id = 1`)
	evs := waitN(t, out, 2)
	if v := evs[0].After[2]; v.Kind != event.KindString || v.Str != long {
		t.Errorf("insert: doc is %v (%d bytes)", v.Kind, len(v.Str))
	}
	if v := evs[1].After[2]; v.Kind != event.KindUnchanged {
		t.Errorf("update: unchanged TOAST column is %#v, want event.Unchanged", v.Kind)
	}
	if v := evs[1].After[1]; !v.Equal(event.Int(2)) {
		t.Errorf("update: n = %v", v.Text())
	}
}

func TestNoPrimaryKey(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE nk (a int, b text)`)
	te.exec(`INSERT INTO nk SELECT g, 'r' || g FROM generate_series(1, 1000) g`)
	te.exec(`ANALYZE nk`)
	te.exec(`CREATE TABLE nkf (a int, b text)`)
	te.exec(`ALTER TABLE nkf REPLICA IDENTITY FULL`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.nk*")
	cfg.SnapshotChunkRows = 100 // several ctid ranges
	te.start(cfg, nil, out)
	evs := waitN(t, out, 1000)
	seen := map[int64]bool{}
	for _, e := range evs {
		if e.Key() != nil {
			t.Fatalf("event of a keyless table has key %v", e.Key())
		}
		seen[e.After[0].AsInt()] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("snapshot read %d distinct rows of 1000", len(seen))
	}
	te.exec(`INSERT INTO nkf VALUES (1, 'x')`)
	te.exec(`UPDATE nkf SET b = 'y'`)
	te.exec(`DELETE FROM nkf`)
	evs = waitN(t, out, 1003)[1000:]
	got := describe(evs)
	want := []string{"c nkf a=1 b=x", "u nkf a=1 b=y", "d nkf a=1 b=y"}
	if !slices.Equal(got, want) {
		t.Fatalf("stream:\n got %q\nwant %q", got, want)
	}
	if rowText(evs[1].Schema, evs[1].Before) != "a=1 b=x" {
		t.Errorf("update before image: %s", rowText(evs[1].Schema, evs[1].Before))
	}
}

// A lone transaction is emitted once the stream is quiet, not after the
// longest linger: with lingerMax far longer than the test, the change
// arrives only because the stream went quiet (commit → sink latency at
// low rates; issue 15).
func TestLoneTransactionNotHeldForLinger(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE k (id int PRIMARY KEY, v text)`)
	out := sourcetest.NewEmitter()
	te.startWith(te.config("public.k"), nil, out, func(s *Source) { s.lingerSet.Max = time.Hour })
	out.WaitCheckpoint(t)

	te.exec(`INSERT INTO k VALUES (1, 'a')`)
	evs := waitN(t, out, 1)
	if got := rowText(evs[0].Schema, evs[0].After); got != "id=1 v=a" {
		t.Fatalf("event after %q, want %q", got, "id=1 v=a")
	}
}

// Complete transactions go at the latest lingerMax after the first of them,
// however busy the stream: with a quiet gap longer than the test (as when a
// steady stream never pauses for it), the change still arrives.
func TestBusyStreamEmitsWithinLingerMax(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE k (id int PRIMARY KEY, v text)`)
	out := sourcetest.NewEmitter()
	te.startWith(te.config("public.k"), nil, out, func(s *Source) { s.lingerSet.Quiet = time.Hour })
	out.WaitCheckpoint(t)

	te.exec(`INSERT INTO k VALUES (1, 'a')`)
	evs := waitN(t, out, 1)
	if got := rowText(evs[0].Schema, evs[0].After); got != "id=1 v=a" {
		t.Fatalf("event after %q, want %q", got, "id=1 v=a")
	}
}

// TestStreamBatchesBoundedByBytes: a transaction of 10 kB rows is emitted
// in batches cut after about 1 MiB of row messages (batchBytes), not after
// batch_size rows, in order, and only its last batch carries a checkpoint.
func TestStreamBatchesBoundedByBytes(t *testing.T) {
	te := newTestEnv(t)
	const rows, pad = 300, 10_000
	te.exec(`CREATE TABLE wide (id int PRIMARY KEY, pad text)`)
	out := sourcetest.NewEmitter()
	cfg := te.config("public.wide")
	te.start(cfg, nil, out)
	out.WaitFor(t, "the snapshot's end", 15*time.Second, func([]event.Event) bool { return out.Checkpoint() != nil })
	te.exec(`INSERT INTO wide SELECT g, repeat('x', $1) FROM generate_series(1, $2) g`, pad, rows)
	evs := waitN(t, out, rows)
	for i, e := range evs {
		if e.After[0].AsInt() != int64(i+1) || len(e.After[1].Str) != pad {
			t.Fatalf("event %d: got id %s and %d bytes of pad", i, e.After[0].Text(), len(e.After[1].Str))
		}
	}
	// An insert message: 'I', relation id, 'N', column count, then per
	// column 't', length and the text.
	msgLen := func(id int) int { return 1 + 4 + 1 + 2 + (1 + 4 + len(strconv.Itoa(id))) + (1 + 4 + pad) }
	var want []int
	n, size := 0, 0
	for id := 1; id <= rows; id++ {
		n++
		size += msgLen(id)
		if size >= batchBytes {
			want, n, size = append(want, n), 0, 0
		}
	}
	want = append(want, n)
	var got []int
	var cps []bool
	for _, b := range out.Batches() {
		if b.N > 0 {
			got = append(got, b.N)
			cps = append(cps, b.Checkpoint != nil)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("batch sizes %v, want %v (batch_size %d)", got, want, cfg.BatchSize)
	}
	for i, cp := range cps {
		if cp != (i == len(cps)-1) {
			t.Fatalf("batch %d of %d has a checkpoint: %v; want one on the last only", i+1, len(cps), cp)
		}
	}
}
