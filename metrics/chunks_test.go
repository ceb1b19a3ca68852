package metrics

import "testing"

// TestChunkMetrics: the lease table's chunk states as last observed
// (every state present, a missing one at zero), and this node's chunk runs
// by result with the rows of the completed ones.
func TestChunkMetrics(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.ObserveChunks("my", map[string]int{"open": 5, "owned": 2})
	p.ObserveChunks("my", map[string]int{"open": 1, "owned": 3, "done": 20})
	p.ObserveChunkRun("my", "done", 1000)
	p.ObserveChunkRun("my", "done", 998)
	p.ObserveChunkRun("my", "released", 500) // not completed: its rows are not counted
	p.ObserveChunkRun("pg", "failed", 7)
	compare(t, m, `
# HELP sluice_snapshot_chunks Snapshot chunk partitions of the source in each state, as this node last read the lease table.
# TYPE sluice_snapshot_chunks gauge
sluice_snapshot_chunks{pipeline="shop",source="my",state="done"} 20
sluice_snapshot_chunks{pipeline="shop",source="my",state="failed"} 0
sluice_snapshot_chunks{pipeline="shop",source="my",state="open"} 1
sluice_snapshot_chunks{pipeline="shop",source="my",state="owned"} 3
# HELP sluice_snapshot_chunk_runs_total Snapshot chunk runs of this node, by result: done (every row durably written, the chunk completed), failed (the chunk marked failed), released (stopped, lost or failed to be read again).
# TYPE sluice_snapshot_chunk_runs_total counter
sluice_snapshot_chunk_runs_total{pipeline="shop",result="done",source="my"} 2
sluice_snapshot_chunk_runs_total{pipeline="shop",result="failed",source="my"} 0
sluice_snapshot_chunk_runs_total{pipeline="shop",result="released",source="my"} 1
sluice_snapshot_chunk_runs_total{pipeline="shop",result="done",source="pg"} 0
sluice_snapshot_chunk_runs_total{pipeline="shop",result="failed",source="pg"} 1
sluice_snapshot_chunk_runs_total{pipeline="shop",result="released",source="pg"} 0
# HELP sluice_snapshot_chunk_rows_total Rows read by this node's snapshot chunk runs that completed.
# TYPE sluice_snapshot_chunk_rows_total counter
sluice_snapshot_chunk_rows_total{pipeline="shop",source="my"} 1998
sluice_snapshot_chunk_rows_total{pipeline="shop",source="pg"} 0
`, "sluice_snapshot_chunks", "sluice_snapshot_chunk_runs_total", "sluice_snapshot_chunk_rows_total")
	// A removed pipeline's chunk series go with it.
	m.Remove("shop")
	compare(t, m, "", "sluice_snapshot_chunks", "sluice_snapshot_chunk_runs_total", "sluice_snapshot_chunk_rows_total")
}
