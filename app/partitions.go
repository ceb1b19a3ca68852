package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/store/pgleases"
	"github.com/sluice-dev/sluice/topology"
)

// Partition is one row of a coordinated pipeline's lease table, as
// `sluice status` and GET /pipelines/{name}/partitions show it.
type Partition struct {
	Key      string          `json:"key"`
	Kind     string          `json:"kind"`
	Owner    string          `json:"owner"`
	Status   string          `json:"status"`
	Epoch    uint64          `json:"epoch"`
	Expires  *time.Time      `json:"expires,omitempty"`
	Progress json.RawMessage `json:"progress,omitempty"`
}

// Partitions is a coordinated pipeline's partitions at the store's time.
type Partitions struct {
	Namespace  string      `json:"namespace"`
	ServerTime time.Time   `json:"server_time"`
	Partitions []Partition `json:"partitions"`
}

// ErrNotCoordinated is returned by ReadPartitions for a pipeline without
// coordination: it runs on one node and has no partitions.
var ErrNotCoordinated = errors.New("the pipeline runs on one node: it has no partitions (coordination: is not set)")

// ReadPartitions reads g's partitions from its coordination store.
func ReadPartitions(ctx context.Context, g *topology.Graph) (Partitions, error) {
	co := g.Cluster.Coordination
	if co.Type != topology.CoordinationPostgres {
		return Partitions{}, ErrNotCoordinated
	}
	ns := co.Namespace
	if ns == "" {
		ns = g.Name
	}
	st, err := pgleases.Open(ctx, co.DSN, pgleases.Options{Table: co.Table})
	if err != nil {
		return Partitions{}, err
	}
	defer st.Close()
	now, err := st.Now(ctx)
	if err != nil {
		return Partitions{}, err
	}
	ls, err := st.Leases(ns).List(ctx, "")
	if err != nil {
		return Partitions{}, err
	}
	out := Partitions{Namespace: ns, ServerTime: now.UTC(), Partitions: make([]Partition, len(ls))}
	for i, l := range ls {
		p := Partition{Key: l.Key, Kind: l.Kind, Owner: l.Owner, Status: l.Status, Epoch: l.Epoch}
		if !l.Expires.IsZero() {
			e := l.Expires.UTC()
			p.Expires = &e
		}
		if json.Valid(l.Progress) {
			p.Progress = l.Progress
		}
		out.Partitions[i] = p
	}
	return out, nil
}

// ChunkSummary is a source's snapshot chunks in a coordinated pipeline's
// partitions: how many, by status, and the rows read by the done ones.
type ChunkSummary struct {
	Source string         `json:"source"`
	Chunks int            `json:"chunks"`
	States map[string]int `json:"states"`
	Rows   int64          `json:"rows"`
}

// SummarizeChunks sums the chunk partitions of ps by source, in source
// order.
func SummarizeChunks(ps Partitions) []ChunkSummary {
	by := map[string]*ChunkSummary{}
	var order []string
	for _, p := range ps.Partitions {
		if !strings.HasPrefix(p.Kind, "chunk/") {
			continue
		}
		var pr chunkProgress
		_ = json.Unmarshal(p.Progress, &pr)
		src := pr.Source
		if src == "" {
			// Not read yet: the key is chunk/<pipeline>/<source>/<n>.
			src, _, _ = strings.Cut(strings.TrimPrefix(p.Key, p.Kind+"/"), "/")
		}
		c := by[src]
		if c == nil {
			c = &ChunkSummary{Source: src, States: map[string]int{}}
			by[src] = c
			order = append(order, src)
		}
		c.Chunks++
		c.States[p.Status]++
		if pr.Rows != nil && p.Status == "done" {
			c.Rows += *pr.Rows
		}
	}
	slices.Sort(order)
	out := make([]ChunkSummary, len(order))
	for i, src := range order {
		out[i] = *by[src]
	}
	return out
}
