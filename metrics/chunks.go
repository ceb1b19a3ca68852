package metrics

import "github.com/prometheus/client_golang/prometheus"

// Snapshot chunks of a pipeline shared by several nodes (package app's
// chunks.go; docs/coordination.md). Every node observes its own chunk runs
// and the lease table as it last read it.

// chunkStates are the states of a chunk partition, every one exported (at
// zero when none is in it) once a source's chunks are observed.
var chunkStates = []string{"open", "owned", "done", "failed"}

// chunkResults are the results of a chunk run.
var chunkResults = []string{"done", "failed", "released"}

type chunkVecs struct {
	states *prometheus.GaugeVec
	runs   *prometheus.CounterVec
	rows   *prometheus.CounterVec
}

func newChunkVecs(m *Metrics) chunkVecs {
	c := chunkVecs{
		states: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_snapshot_chunks",
			Help: "Snapshot chunk partitions of the source in each state, as this node last read the lease table.",
		}, []string{labelPipeline, labelSource, labelState}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_snapshot_chunk_runs_total",
			Help: "Snapshot chunk runs of this node, by result: done (every row durably written, the chunk completed), failed (the chunk marked failed), released (stopped, lost or failed to be read again).",
		}, []string{labelPipeline, labelSource, labelResult}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_snapshot_chunk_rows_total",
			Help: "Rows read by this node's snapshot chunk runs that completed.",
		}, []string{labelPipeline, labelSource}),
	}
	m.reg.MustRegister(c.states, c.runs, c.rows)
	m.vecs = append(m.vecs, c.states, c.runs, c.rows)
	return c
}

// ObserveChunks records how many of source's chunk partitions are in each
// state (open, owned, done, failed; a state missing from states is 0).
func (p *PipelineMetrics) ObserveChunks(source string, states map[string]int) {
	for _, st := range chunkStates {
		p.m.chunks.states.WithLabelValues(p.name, source, st).Set(float64(states[st]))
	}
}

// ObserveChunkRun records one chunk run of source with its result (done,
// failed or released) and, when done, the rows it read.
func (p *PipelineMetrics) ObserveChunkRun(source, result string, rows int64) {
	for _, r := range chunkResults {
		p.m.chunks.runs.WithLabelValues(p.name, source, r) // every result exists, at zero
	}
	p.m.chunks.runs.WithLabelValues(p.name, source, result).Inc()
	c := p.m.chunks.rows.WithLabelValues(p.name, source)
	if result == "done" {
		c.Add(float64(rows))
	}
}
