package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestCoordinationMongoDBSharedExport: three nodes share the export of a
// FerretDB collection (stream: false; FerretDB has no change streams) in
// _id-range chunks into a PostgreSQL table. The lease table shows chunks
// read by more than one node, every node exits by itself once every chunk
// is done (the pipeline is finished), and the table equals the collection.
func TestCoordinationMongoDBSharedExport(t *testing.T) {
	const docs, partition = 4000, 400
	m := mongotest.New(t, "coord")
	ctx := context.Background()
	batch := make([]any, 0, docs)
	for i := 1; i <= docs; i++ {
		batch = append(batch, bson.D{{Key: "_id", Value: int32(i)}, {Key: "balance", Value: int64(i * 10)}, {Key: "note", Value: fmt.Sprintf("n%d", i)}})
	}
	for len(batch) > 0 {
		n := min(len(batch), 2000)
		if _, err := m.Database.Collection("acct").InsertMany(ctx, batch[:n]); err != nil {
			t.Fatal(err)
		}
		batch = batch[n:]
	}
	targetDSN := pgtest.NewDatabase(t)
	coordDSN := pgtest.NewDatabase(t)
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`name: shop
state_dir: ${NODE_DIR}/state
node_id: ${NODE}
coordination:
  type: postgres
  dsn: ${COORD_DSN}
  lease: %s
  renew: %s
sources:
  mongo:
    type: mongodb
    uri: ${MONGODB_URI}
    collections:
      - collection: %s.acct
        export: true
        stream: false
    export:
      partition_size: %d
    batch_size: 250
sinks:
  db:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [mongo]
    auto_create: true
`, coordLease, coordRenew, m.Name, partition))
	c := &coordCluster{t: t, dir: dir, pipeline: p, target: pgtest.Connect(t, targetDSN), coord: pgtest.Connect(t, coordDSN),
		env: []string{"MONGODB_URI=" + m.URI, "TARGET_DSN=" + targetDSN, "COORD_DSN=" + coordDSN}, nodes: map[string]*exec1{}}
	start := time.Now()
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		c.start(name, "")
	}
	// Without a stream the pipeline ends with its export: each node exits
	// by itself, with status 0.
	for name, n := range c.nodes {
		select {
		case <-n.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("node %s still runs 60 s after the start; logs:\n%s", name, c.logs())
		}
		if err := n.wait(); err != nil {
			t.Errorf("node %s: %v; log:\n%s", name, err, stderrTail(n.dir))
		}
	}
	took := time.Since(start)
	rs := c.chunks()
	byNode := map[string]int{}
	var total int64
	for _, r := range rs {
		if r.status != "done" {
			t.Errorf("chunk %s is %s; want done", r.key, r.status)
		}
		byNode[r.node]++
		total += r.rows
	}
	t.Logf("%d chunks, %d documents read in %v, by node: %v", len(rs), total, took.Round(time.Millisecond), byNode)
	if want := docs / partition; len(rs) != want {
		t.Errorf("%d chunks; want %d (%d documents by %d)", len(rs), want, docs, partition)
	}
	if total != docs {
		t.Errorf("the chunks read %d documents; want %d", total, docs)
	}
	if len(byNode) < 2 {
		t.Errorf("the lease table shows chunks done by %v; want more than one node", byNode)
	}
	got := rowsOf(t, c.target, `SELECT concat_ws('|', _id, balance, note) FROM acct ORDER BY _id`)
	want := make([]string, docs)
	for i := range want {
		want[i] = fmt.Sprintf("%d|%d|n%d", i+1, (i+1)*10, i+1)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		sameRows(t, "acct", "PostgreSQL", got, "FerretDB", want)
	}
}
