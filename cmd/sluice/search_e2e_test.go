package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// searchIndex is an index of the test cluster, deleted at cleanup.
type searchIndex struct {
	t    *testing.T
	base string
	name string
}

func newSearchIndex(t *testing.T, base, prefix string) *searchIndex {
	x := &searchIndex{t: t, base: base, name: fmt.Sprintf("%s-%d", prefix, rand.Uint32())}
	t.Cleanup(func() {
		if os.Getenv("SLUICE_KEEP_INDEX") != "" {
			return
		}
		// Wildcard deletes may be refused (action.destructive_requires_name).
		_, b := x.do("GET", "/_cat/indices/"+x.name+"*?h=index")
		for _, name := range strings.Fields(string(b)) {
			x.do("DELETE", "/"+name)
		}
	})
	return x
}

func (x *searchIndex) do(method, path string) (int, []byte) {
	x.t.Helper()
	req, _ := http.NewRequest(method, x.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// count returns the number of documents in index (0 when it is missing).
func (x *searchIndex) count(index string) int {
	x.do("POST", "/"+index+"/_refresh")
	st, b := x.do("GET", "/"+index+"/_count")
	var r struct{ Count int }
	if st != 200 || json.Unmarshal(b, &r) != nil {
		return 0
	}
	return r.Count
}

// exists reports whether a document is there (realtime get).
func (x *searchIndex) exists(index, id string) bool {
	st, _ := x.do("GET", "/"+index+"/_doc/"+id)
	return st == 200
}

// docs returns id → canonical source of every document in index.
func (x *searchIndex) docs(index string) map[string]string {
	x.t.Helper()
	x.do("POST", "/"+index+"/_refresh")
	out := map[string]string{}
	// search_after over _id-sorted pages: indices here are a few 10k docs.
	after := ""
	for {
		q := `{"size":5000,"sort":[{"_id":"asc"}]` // OpenSearch sorts on _id
		if after != "" {
			q += `,"search_after":[` + after + `]`
		}
		q += "}"
		req, _ := http.NewRequest("POST", x.base+"/"+index+"/_search", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			x.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			x.t.Fatalf("search %s: %d %s", index, resp.StatusCode, b)
		}
		var r struct {
			Hits struct {
				Hits []struct {
					ID     string          `json:"_id"`
					Source json.RawMessage `json:"_source"`
					Sort   []json.RawMessage
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			x.t.Fatal(err)
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = canonJSON(x.t, h.Source)
		}
		if len(r.Hits.Hits) < 5000 {
			return out
		}
		after = string(r.Hits.Hits[len(r.Hits.Hits)-1].Sort[0])
	}
}

// canonJSON re-encodes JSON with sorted keys, numbers kept as written.
func canonJSON(t *testing.T, b []byte) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad JSON %.200s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// pgDocs runs a query returning (id, jsonb) and returns id → canonical JSON.
func pgDocs(t *testing.T, db *pgx.Conn, q string) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			t.Fatal(err)
		}
		out[id] = canonJSON(t, []byte(doc))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameDocs reports differences between the table and the index.
func sameDocs(t *testing.T, what string, table, index map[string]string) {
	t.Helper()
	n := 0
	for id, w := range table {
		if g, ok := index[id]; !ok || g != w {
			if n++; n <= 5 {
				t.Errorf("%s id %s:\nindex %.300s\ntable %.300s", what, id, g, w)
			}
		}
	}
	for id, g := range index {
		if _, ok := table[id]; !ok {
			if n++; n <= 5 {
				t.Errorf("%s id %s in the index, not in the table: %.200s", what, id, g)
			}
		}
	}
	if n > 0 {
		t.Errorf("%s: %d differences (table %d rows, index %d documents)", what, n, len(table), len(index))
	}
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// productDoc is the document the sink writes for a product row, in SQL.
const productDoc = `SELECT id::text, jsonb_build_object('id', id, 'name', name, 'price', price, 'tags', tags, 'attrs', attrs,
	'created', to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'big', big)::text FROM product`

// TestPostgresToOpenSearch is seeds 000/002 with a PostgreSQL source: a
// product table is snapshotted into an index (created with a mapping),
// then inserts, updates (also ones leaving a TOASTed column unchanged, and
// a key change) and deletes are streamed; the index ends equal to the
// table, document for document.
func TestPostgresToOpenSearch(t *testing.T) {
	base := svctest.Need(t, svctest.OpenSearch)
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	exec1 := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(`CREATE TABLE product (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags text[],
		attrs jsonb, created timestamptz, big text)`)
	exec1(`ALTER TABLE product ALTER COLUMN big SET STORAGE EXTERNAL`)
	exec1(`INSERT INTO product (name, price, tags, attrs, created, big)
		SELECT 'product ' || g, (g * 1.25)::numeric(10,2), ARRAY['tag' || (g % 7), 'all'], jsonb_build_object('color', 'c' || (g % 5), 'n', g),
		       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
		       CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 300) END
		FROM generate_series(1, 300) g`)

	idx := newSearchIndex(t, base, "sluice-e2e-product")
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  shop:
    type: postgres
    dsn: ${E2E_DSN}
    tables: [public.product]
    slot: %s
sinks:
  search:
    type: opensearch
    inputs: [shop]
    hosts: ["${E2E_OPENSEARCH}"]
    index: %s
    mapping:
      properties:
        name: {type: text}
        price: {type: double}
        tags: {type: keyword}
        created: {type: date}
`, dir, uniqueSlot(), idx.name))
	cmd, stderr := runSluice(t, dir, p, "E2E_DSN="+dsn, "E2E_OPENSEARCH="+base)
	defer func() {
		if t.Failed() {
			kill(cmd) // before its stderr is read
			t.Logf("sluice stderr:\n%s", stderr)
		}
	}()
	waitUntil(t, "the snapshot in the index", time.Minute, func() bool { return idx.count(idx.name) == 300 })
	sameDocs(t, "after the snapshot", pgDocs(t, db, productDoc), idx.docs(idx.name))

	exec1(`INSERT INTO product (name, price, tags, attrs, created) SELECT 'new ' || g, 2.50, '{}', '{"color": "new"}', date_trunc('second', now()) FROM generate_series(1, 40) g`)
	exec1(`UPDATE product SET price = price + 1, tags = array_append(tags, 'updated') WHERE id % 9 = 0`)
	exec1(`UPDATE product SET name = 'renamed ' || id WHERE id % 10 = 0`) // leaves big (TOASTed) unchanged
	exec1(`DELETE FROM product WHERE id % 13 = 0`)
	exec1(`UPDATE product SET id = 10005 WHERE id = 5`) // a key change
	// Key changes leaving big (9,600 TOASTed characters) unchanged: the
	// value is stored under the old id only; once, and twice in one
	// transaction.
	exec1(`UPDATE product SET id = 10020 WHERE id = 20`)
	exec1(`BEGIN; UPDATE product SET id = 10030 WHERE id = 30; UPDATE product SET id = 10031, name = 'moved twice' WHERE id = 10030; COMMIT`)
	exec1(`BEGIN; UPDATE product SET price = NULL, attrs = NULL WHERE id = 7; UPDATE product SET name = 'twice' WHERE id = 7; COMMIT`)
	exec1(`INSERT INTO product (id, name) VALUES (99999, 'marker')`)
	waitUntil(t, "the marker document", time.Minute, func() bool { return idx.exists(idx.name, "99999") })
	stop(t, cmd, stderr)
	sameDocs(t, "after the changes", pgDocs(t, db, productDoc), idx.docs(idx.name))
	if _, b := idx.do("GET", "/"+idx.name+"/_mapping"); !strings.Contains(string(b), `"double"`) {
		t.Errorf("the index was not created with the mapping: %s", b)
	}
}

// TestPostgresToOpenSearchCrashRecovery is the crash test with OpenSearch
// as the sink: sluice is SIGKILLed during the snapshot and while a random
// workload streams (multi-row transactions, key changes, TOAST values left
// unchanged, delete and re-insert of a key); at the end every index equals
// its table. SLUICE_CRASH_FULL=1 runs more kills on more rows.
func TestPostgresToOpenSearchCrashRecovery(t *testing.T) {
	base := svctest.Need(t, svctest.OpenSearch)
	snapKills, streamKills, seedRows := 3, 3, 12000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		snapKills, streamKills, seedRows = 10, 20, 90000
	}
	dsn, db, total := newCrashDB(t, seedRows)
	gate, gated := newSnapshotGate(t, dsn, "acct", "item", "link", "marker")
	idx := newSearchIndex(t, base, "sluice-e2e-crash")
	index := func(table string) string { return idx.name + "-" + table }

	dir := t.TempDir()
	r := newCrashRun(t, dir, writePipeline(t, dir, crashPipeline(dir, "pg", fmt.Sprintf(`    type: opensearch
    hosts: ["${CRASH_OPENSEARCH}"]
    index: %s-${table}
    max_request_bytes: 262144
`, idx.name))), "CRASH_DSN="+gated, "CRASH_OPENSEARCH="+base)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
			if k := os.Getenv("SLUICE_KEEP_INDEX"); k != "" {
				os.WriteFile(filepath.Join(os.TempDir(), idx.name+".log"), b, 0o644)
			}
			var keep []string
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.Contains(l, "level=INFO") && l != "" {
					keep = append(keep, l)
				}
			}
			if len(keep) > 20 {
				keep = keep[len(keep)-20:]
			}
			t.Logf("sluice stderr, warnings and errors (tail):\n%s", strings.Join(keep, "\n"))
		}
	}()
	indexed := func() int { return idx.count(index("acct")) + idx.count(index("item")) + idx.count(index("link")) }

	// Phase 1: kills during the snapshot.
	r.killDuringSnapshot(snapshotKills{
		kills: snapKills, tries: snapKills * 6, gate: gate,
		left:     func() int { return total - indexed() },
		done:     func() bool { return indexed() >= total },
		progress: func() string { return fmt.Sprintf("%d of %d rows indexed", indexed(), total) },
	})

	// The snapshot completes before the workload starts, as in
	// TestPostgresCrashRecovery: a run killed before its first checkpoint
	// makes the source start over with a new slot, and rows deleted in
	// between would be left in any idempotent sink (reported to the source).
	cmd := r.start()
	waitFor(t, 3*time.Minute, "the snapshot in the index", dir, func() bool { return indexed() == total })
	r.pause(0, 500*time.Millisecond) // a kill moment right after the snapshot
	kill(cmd)

	// Phase 2: a concurrent workload while sluice is killed again and again.
	var txs atomic.Int64
	r.killDuringWorkload(nil, streamKills, r.randomMoment(time.Second, 1500*time.Millisecond), func(ctx context.Context) {
		workload(ctx, t, dsn, seedRows, &txs)
	})
	t.Logf("workload committed %d transactions", txs.Load())

	// Final run: catch up to a marker committed after the workload.
	commitMarker(t, db)
	r.finalRun(3*time.Minute, "the marker document", func() bool { return idx.exists(index("marker"), "1") })
	sameDocs(t, "acct", pgDocs(t, db, `SELECT id::text, to_jsonb(t)::text FROM acct t`), idx.docs(index("acct")))
	sameDocs(t, "item", pgDocs(t, db, `SELECT id::text, to_jsonb(t)::text FROM item t`), idx.docs(index("item")))
	sameDocs(t, "link", pgDocs(t, db, `SELECT a::text || '|' || b::text, to_jsonb(t)::text FROM link t`), idx.docs(index("link")))
}
