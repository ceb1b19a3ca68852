package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/coordination"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/topology"
)

// Snapshot chunks shared by every node (issue 13; docs/coordination.md).
//
// The holder of the stream partition is the leader: before its first run
// it asks every source that is a component.Chunker for a plan (for
// PostgreSQL: the slot, an exported snapshot kept alive by the idle
// replication connection, key ranges), and stores the plan and each such
// source's stream checkpoint in one write of the stream partition's
// progress (the checkpoint named planKey). Then it creates one partition
// of kind ChunkKind per chunk and waits until all are done before it runs
// the pipeline, whose chunked sources start from their stream checkpoint:
// a key belongs to one chunk until every chunk is written, and to the
// stream after.
//
// Every node (the leader too) runs runChunks: it acquires chunk
// partitions one at a time and runs the pipeline for each with the
// chunk's source reading that chunk only; the chunk is completed (fenced
// by its epoch) only after the run drained, i.e. every sink durably wrote
// every row. A chunk whose owner died is taken over when its lease
// expires and read again whole.
//
// Once every chunk is done the leader removes the plan from the progress
// (checkpoints would rewrite it every time); the chunk rows stay, done.
//
// A leader that dies after storing the plan leaves it to the next holder,
// which creates the chunk partitions again (existing ones are kept) and
// waits likewise; the exported snapshot died with it, and the chunks read
// after are read at new snapshots (component.Chunker.ReadChunk).

// planKey names the plan among the stream partition's checkpoints (no
// source is named so: names are identifiers).
const planKey = "#chunks"

// ChunkKind is the kind of a pipeline's chunk partitions; their keys are
// ChunkKind(pipeline) + "/" + source + "/" + chunk name.
func ChunkKind(pipeline string) string { return "chunk/" + pipeline }

type chunkPlan struct {
	Chunks []plannedChunk `json:"chunks"`
}

type plannedChunk struct {
	Key    string          `json:"key"`
	Source string          `json:"source"`
	Spec   json.RawMessage `json:"spec"`
}

// chunkers builds the pipeline's sources that can share their snapshot.
func chunkers(g *topology.Graph, reg component.Registry, log *slog.Logger) (map[string]component.Chunker, error) {
	out := map[string]component.Chunker{}
	for _, c := range g.Sources {
		s, err := reg.Sources[c.Type].New(c.Config, component.Env{Name: c.Name, Pipeline: g.Name,
			Logger: log.With("source", c.Name), Path: "sources." + c.Name, StartRetry: g.Engine.StartRetry})
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", c.Name, err)
		}
		if ch, ok := s.(component.Chunker); ok {
			out[c.Name] = ch
		}
	}
	return out, nil
}

// waitForChunks plans the shared snapshot if nobody has (the term holds
// the stream partition), creates its chunk partitions and waits until
// every one is done.
func waitForChunks(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, term *coordination.Term,
	leases store.Leases, opt coordination.Options) error {
	raw, _ := term.Checkpoint(planKey)
	var exporters []interface{ Close() error }
	defer func() {
		for _, e := range exporters {
			e.Close()
		}
	}()
	if raw == nil {
		chs, err := chunkers(g, reg, log)
		if err != nil {
			return err
		}
		var plan chunkPlan
		cps := map[string][]byte{}
		for _, c := range g.Sources {
			ch := chs[c.Name]
			if cp, _ := term.Checkpoint(c.Name); ch == nil || cp != nil {
				continue // not shared, or past its snapshot
			}
			p, err := ch.PlanChunks(ctx)
			if err != nil {
				return fmt.Errorf("source %s: plan the snapshot chunks: %w", c.Name, err)
			}
			if p == nil {
				continue
			}
			if p.Exporter != nil {
				exporters = append(exporters, p.Exporter)
			}
			for _, k := range p.Chunks {
				plan.Chunks = append(plan.Chunks, plannedChunk{Key: ChunkKind(g.Name) + "/" + c.Name + "/" + k.Name, Source: c.Name, Spec: k.Spec})
			}
			cps[c.Name] = p.Checkpoint
		}
		if len(cps) == 0 {
			return nil
		}
		var err2 error
		if raw, err2 = json.Marshal(plan); err2 != nil {
			return err2
		}
		cps[planKey] = raw
		if err := term.SetCheckpoints(cps); err != nil {
			return err
		}
		log.Info("planned the shared snapshot", "chunks", len(plan.Chunks))
	}
	var plan chunkPlan
	if err := json.Unmarshal(raw, &plan); err != nil {
		return fmt.Errorf("coordination: the snapshot plan of pipeline %s does not decode (%v); remove its rows from the lease table to start afresh", g.Name, err)
	}
	keys := make([]string, len(plan.Chunks))
	for i, c := range plan.Chunks {
		keys[i] = c.Key
	}
	if err := leases.Create(ctx, ChunkKind(g.Name), keys); err != nil {
		return err
	}
	start := time.Now()
	logged := false
	for {
		left, failed, err := chunksLeft(ctx, leases, g.Name, len(keys))
		if err != nil {
			log.Warn("coordination store: listing the snapshot chunks failed; retrying", "err", err)
		} else if failed != nil {
			return failed
		} else if left == 0 {
			log.Info("every snapshot chunk is done; starting the stream", "chunks", len(keys), "waited", time.Since(start).Round(time.Millisecond))
			// The plan is no longer needed: drop it, so that checkpoints
			// do not rewrite it (the chunk rows stay, done, as the record).
			// Nodes then see checkpoints without a plan: nothing to read.
			return term.SetCheckpoints(map[string][]byte{planKey: nil})
		} else if !logged {
			log.Info("waiting for every snapshot chunk before starting the stream", "chunks", len(keys), "left", left)
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-term.Lost():
			return term.Err()
		case <-time.After(chunkPoll(opt)):
		}
	}
}

// chunkPoll is how often a node looks at the chunks' state.
func chunkPoll(opt coordination.Options) time.Duration { return min(opt.Renew, 250*time.Millisecond) }

// chunksLeft counts the pipeline's chunk partitions that are not done
// (want: how many the plan has); failed is the error of a failed one
// (chunkFailedError), nil while none failed.
func chunksLeft(ctx context.Context, leases store.Leases, pipeline string, want int) (left int, failed error, err error) {
	left, failed, _, err = chunkStates(ctx, leases, pipeline, want)
	return left, failed, err
}

// chunkStates is chunksLeft with the count of chunk partitions by source
// and status.
func chunkStates(ctx context.Context, leases store.Leases, pipeline string, want int) (left int, failed error, states map[string]map[string]int, err error) {
	prefix := ChunkKind(pipeline) + "/"
	ls, err := leases.List(ctx, prefix)
	if err != nil {
		return 0, nil, nil, err
	}
	left = want
	states = map[string]map[string]int{}
	for _, l := range ls {
		src, _, _ := strings.Cut(strings.TrimPrefix(l.Key, prefix), "/")
		if states[src] == nil {
			states[src] = map[string]int{}
		}
		states[src][l.Status]++
		switch l.Status {
		case store.StatusDone:
			left--
		case store.StatusFailed:
			if failed == nil {
				failed = failedChunk(l)
			}
		}
	}
	return left, failed, states, nil
}

// maxChunkFailures is how many runs of a chunk may fail in a row, on any
// nodes, before the chunk is failed (a permanent error fails it at once).
// The count is the chunk's progress (failures), so a node that dies while
// reading counts nothing: its chunk is taken over as usual.
const maxChunkFailures = 3

// chunkProgress is a chunk partition's progress: the chunk's spec, the
// node reading (or that read) it, and when done the rows read and the time
// taken; failures counts its runs that failed in a row and err says why
// the last one did.
type chunkProgress struct {
	Source   string          `json:"source"`
	Spec     json.RawMessage `json:"spec"`
	Node     string          `json:"node"`
	Rows     *int64          `json:"rows,omitempty"`
	Ms       *int64          `json:"ms,omitempty"`
	Failures int             `json:"failures,omitempty"`
	Err      string          `json:"error,omitempty"`
}

// chunkFailedError stops every node of a pipeline whose snapshot chunk
// failed: the snapshot cannot be completed, so the stream cannot start.
type chunkFailedError struct {
	key, node, cause string
	failures         int
}

func (e *chunkFailedError) Error() string {
	why := "a permanent error"
	if e.failures >= maxChunkFailures {
		why = fmt.Sprintf("%d failed runs in a row", e.failures)
	}
	return fmt.Sprintf("coordination: snapshot chunk %s failed on node %s (%s): %s; fix the cause and start the nodes again (a starting node reopens the failed chunks)",
		e.key, e.node, why, e.cause)
}

// failedChunk is the error of a failed chunk partition, from its progress.
func failedChunk(l store.Lease) error {
	var p chunkProgress
	_ = json.Unmarshal(l.Progress, &p)
	if p.Node == "" {
		p.Node = l.Owner
	}
	return &chunkFailedError{key: l.Key, node: p.Node, cause: p.Err, failures: p.Failures}
}

// reopenFailedChunks opens the pipeline's failed chunks again (a node
// starting after the cause was fixed), with their failure counts reset.
func reopenFailedChunks(ctx context.Context, leases store.Leases, pipeline string, log *slog.Logger) error {
	ls, err := leases.List(ctx, ChunkKind(pipeline)+"/")
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.Status != store.StatusFailed {
			continue
		}
		var p chunkProgress
		_ = json.Unmarshal(l.Progress, &p)
		p.Failures = 0
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := leases.Reopen(ctx, l, b); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			return err
		}
		log.Warn("reopened a failed snapshot chunk: it is read again", "chunk", l.Key, "failed_on", p.Node, "last_error", p.Err)
	}
	return nil
}

// streamPlan reads the plan from the stream partition's progress: nil
// while none is stored; done is true when the stream has checkpoints but
// no plan (nothing is shared: the pipeline is past its snapshot, or was
// planned without chunks).
func streamPlan(ctx context.Context, leases store.Leases, pipeline string) (plan *chunkPlan, done bool, err error) {
	ls, err := leases.List(ctx, coordination.StreamKey(pipeline))
	if err != nil {
		return nil, false, err
	}
	for _, l := range ls {
		if l.Key != coordination.StreamKey(pipeline) || len(l.Progress) == 0 {
			continue
		}
		var p struct {
			Checkpoints map[string][]byte `json:"checkpoints"`
		}
		if err := json.Unmarshal(l.Progress, &p); err != nil {
			return nil, false, err
		}
		raw, ok := p.Checkpoints[planKey]
		if !ok {
			return nil, len(p.Checkpoints) > 0, nil
		}
		var cp chunkPlan
		if err := json.Unmarshal(raw, &cp); err != nil {
			return nil, false, err
		}
		return &cp, false, nil
	}
	return nil, false, nil
}

// runChunks reads chunks of the pipeline's shared snapshot until every
// one is done (or ctx ends). It returns a chunkFailedError once a chunk
// failed, by this node's run or another's: the snapshot cannot complete.
func runChunks(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, h Hooks, leases store.Leases, node string, opt coordination.Options) error {
	chs, err := chunkers(g, reg, log)
	if err != nil || len(chs) == 0 {
		return nil
	}
	obs := chunkObserver(g, h) // only for a pipeline that can share a snapshot
	for n := 0; ; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(chunkPoll(opt)):
			}
		}
		plan, done, err := streamPlan(ctx, leases, g.Name)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("coordination store: reading the snapshot plan failed; retrying", "err", err)
			continue
		case done:
			// The leader dropped the plan: every chunk is done. The
			// observer gets the final states.
			if _, _, states, err := chunkStates(ctx, leases, g.Name, 0); err == nil {
				for src, st := range states {
					obs.ObserveChunks(src, st)
				}
			}
			return nil
		case plan == nil:
			continue // not planned yet
		}
		left, failed, states, err := chunkStates(ctx, leases, g.Name, len(plan.Chunks))
		for src, st := range states {
			obs.ObserveChunks(src, st)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("coordination store: listing the snapshot chunks failed; retrying", "err", err)
			continue
		case failed != nil:
			return failed
		case left == 0:
			return nil
		}
		for ctx.Err() == nil {
			term, ok, err := coordination.TryAcquire(ctx, leases, ChunkKind(g.Name), node, opt)
			if err != nil {
				log.Warn("coordination store: acquiring a snapshot chunk failed; retrying", "err", err)
				break
			}
			if !ok {
				break
			}
			if err := runChunk(ctx, g, reg, log, h, obs, term, plan, node); err != nil && ctx.Err() == nil {
				var failed *chunkFailedError
				if errors.As(err, &failed) {
					log.Error("a snapshot chunk failed: stopping", "partition", term.Lease().Key, "err", err)
					return err
				}
				log.Error("reading a snapshot chunk failed; it is read again (by this node or another)", "partition", term.Lease().Key, "err", err)
				break
			}
		}
	}
}

// ChunkObserver observes a node's part in a shared snapshot (package
// metrics' PipelineMetrics implements it): the chunk partitions of each
// source by state (open, owned, done, failed) at each look at the lease
// table, and each chunk run of this node with its result (done, failed,
// released) and, when done, the rows it read.
type ChunkObserver interface {
	ObserveChunks(source string, states map[string]int)
	ObserveChunkRun(source, result string, rows int64)
}

type noChunkObserver struct{}

func (noChunkObserver) ObserveChunks(string, map[string]int)  {}
func (noChunkObserver) ObserveChunkRun(string, string, int64) {}

// chunkObserver is the observer the hooks give for the pipeline (Observe
// called with a Pipeline holding only the Graph), or one that does nothing.
func chunkObserver(g *topology.Graph, h Hooks) ChunkObserver {
	if h.Observe != nil {
		if o, ok := h.Observe(&Pipeline{Graph: g}).(ChunkObserver); ok {
			return o
		}
	}
	return noChunkObserver{}
}

// chunkDone is the checkpoint a chunk run emits after its last row: stored
// (by the engine, in the chunk store) only once every sink wrote every row.
var chunkDone = []byte(`{"chunk":"done"}`)

// runChunk reads the chunk the term holds through the pipeline and
// completes it.
func runChunk(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, h Hooks, obs ChunkObserver,
	term *coordination.Term, plan *chunkPlan, node string) (err error) {
	key := term.Lease().Key
	source, _, _ := strings.Cut(strings.TrimPrefix(key, ChunkKind(g.Name)+"/"), "/")
	var rows int64
	defer func() {
		result := "released"
		var failed *chunkFailedError
		switch {
		case err == nil:
			result = "done"
		case errors.As(err, &failed):
			result = "failed"
		}
		obs.ObserveChunkRun(source, result, rows)
	}()
	var pc *plannedChunk
	for i := range plan.Chunks {
		if plan.Chunks[i].Key == key {
			pc = &plan.Chunks[i]
		}
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = term.Release(rctx)
	}
	if pc == nil {
		release()
		return fmt.Errorf("chunk %s is not in the pipeline's snapshot plan", key)
	}
	var prev chunkProgress
	_ = json.Unmarshal(term.Lease().Progress, &prev) // absent or another node's: failures count on
	pr := chunkProgress{Source: pc.Source, Spec: pc.Spec, Node: node, Failures: prev.Failures, Err: prev.Err}
	b, _ := json.Marshal(pr)
	if err := term.SetProgress(b); err != nil {
		release()
		return err
	}
	clog := log.With("chunk", key, "epoch", term.Epoch())
	clog.Info("reading snapshot chunk", "spec", string(pc.Spec))
	start := time.Now()
	cr := &chunkRun{name: pc.Source, spec: pc.Spec, store: &chunkStore{}}
	p, err := build(g, reg, clog, nil, nil, cr)
	if err != nil {
		// A component refused its configuration: no run can succeed.
		return failChunk(ctx, term, pr, err, true)
	}
	if h.Observe != nil {
		// Observed like a term's run: the chunk's rows count in the
		// source's and the sinks' metrics.
		p.Runner.Observe(h.Observe(p))
	}
	// Started and Ended too: a progress bar (the chunk source reports the
	// rows read) and a pause apply to the chunk run.
	if h.Started != nil {
		h.Started(p)
	}

	done := make(chan struct{})
	go func() {
		select {
		case <-term.Lost():
			p.Runner.Abort(term.Err())
		case <-done:
		}
	}()
	err = p.Run(ctx)
	close(done)
	if h.Ended != nil {
		h.Ended(p) // before the chunk is completed, so before the stream's run starts
	}
	if err != nil && ctx.Err() == nil && term.Err() == nil {
		return failChunk(ctx, term, pr, err, component.IsPermanent(err))
	}
	if err != nil || !cr.store.done.Load() {
		release()
		if err == nil {
			err = ctx.Err()
		}
		return err
	}
	ms := time.Since(start).Milliseconds()
	rows = cr.rows.Load()
	pr.Failures, pr.Err = 0, ""
	pr.Rows, pr.Ms = &rows, &ms
	b, _ = json.Marshal(pr)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := term.Complete(cctx, b); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	clog.Info("snapshot chunk done", "rows", rows, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// failChunk records a failed run of the chunk the term holds: the chunk
// is failed (no node reads it again; every node stops) when the error is
// permanent or the runs failed maxChunkFailures times in a row; else the
// count is stored and the chunk released, for any node to read again.
func failChunk(ctx context.Context, term *coordination.Term, pr chunkProgress, cause error, permanent bool) error {
	pr.Failures++
	pr.Err = cause.Error()
	b, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if !permanent && pr.Failures < maxChunkFailures {
		if err := term.SetProgress(b); err != nil {
			return fmt.Errorf("%w (and storing the failure: %v)", cause, err)
		}
		_ = term.Release(cctx)
		return cause
	}
	if err := term.Fail(cctx, b); err != nil {
		// Lost meanwhile: the chunk is another node's now; it fails there
		// too if the cause is permanent.
		return fmt.Errorf("%w (and marking the chunk failed: %v)", cause, err)
	}
	return &chunkFailedError{key: term.Lease().Key, node: pr.Node, cause: pr.Err, failures: pr.Failures}
}

// chunkRun is a run of the pipeline that reads one chunk of source name.
type chunkRun struct {
	name  string
	spec  []byte
	store *chunkStore
	rows  atomic.Int64
}

// source replaces the pipeline's source name by the chunk reader, and
// every other source by one that emits nothing.
func (c *chunkRun) source(name string, s component.Source) component.Source {
	if name != c.name {
		return idleSource{}
	}
	ch, ok := s.(component.Chunker)
	if !ok {
		return failedSource{fmt.Errorf("source %s cannot read snapshot chunks", name)}
	}
	return &chunkSource{ch: ch, run: c}
}

// chunkStore is a chunk run's checkpoint store: it only notes that the
// chunkDone checkpoint became durable.
type chunkStore struct{ done atomic.Bool }

func (*chunkStore) Checkpoint(string) ([]byte, error) { return nil, nil }

func (s *chunkStore) SetCheckpoint(_ string, cp []byte) error {
	if bytes.Equal(cp, chunkDone) {
		s.done.Store(true)
	}
	return nil
}

type chunkSource struct {
	ch  component.Chunker
	run *chunkRun
}

func (s *chunkSource) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	if err := s.ch.ReadChunk(ctx, s.run.spec, countingEmitter{out, &s.run.rows}); err != nil {
		return err
	}
	return out.Emit(ctx, nil, chunkDone)
}

// Progress is the rows the chunk run read so far, as a snapshot's (the
// total is not known: the plan's ranges are sized by row counts that the
// table's changes move).
func (s *chunkSource) Progress() component.Progress {
	return component.Progress{Phase: "snapshot", Done: s.run.rows.Load()}
}

func (*chunkSource) Committed(context.Context, []byte) error { return nil }

// Close does nothing: ReadChunk closed what it opened, and the source's
// own Close may drop its slot (drop_slot_on_stop).
func (*chunkSource) Close() error { return nil }

type countingEmitter struct {
	out component.Emitter
	n   *atomic.Int64
}

func (e countingEmitter) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	if err := e.out.Emit(ctx, evs, cp); err != nil {
		return err
	}
	e.n.Add(int64(len(evs)))
	return nil
}

// EmitSized forwards a sized batch (component.SizedEmitter), so that
// counting does not hide the size the source knows from the engine.
func (e countingEmitter) EmitSized(ctx context.Context, evs []event.Event, cp []byte, size int64) error {
	if err := component.EmitSized(ctx, e.out, evs, cp, size); err != nil {
		return err
	}
	e.n.Add(int64(len(evs)))
	return nil
}

// EmitReleasing forwards a batch with its release function
// (component.ReleasingEmitter); the chunk's row count reads only
// len(evs), which the release does not change.
func (e countingEmitter) EmitReleasing(ctx context.Context, evs []event.Event, cp []byte, size int64, release func()) error {
	if err := component.EmitReleasing(ctx, e.out, evs, cp, size, release); err != nil {
		return err
	}
	e.n.Add(int64(len(evs)))
	return nil
}

type idleSource struct{}

func (idleSource) Run(context.Context, []byte, component.Emitter) error { return nil }
func (idleSource) Committed(context.Context, []byte) error              { return nil }
func (idleSource) Close() error                                         { return nil }

type failedSource struct{ err error }

func (f failedSource) Run(context.Context, []byte, component.Emitter) error {
	return component.Permanent(f.err)
}
func (failedSource) Committed(context.Context, []byte) error { return nil }
func (failedSource) Close() error                            { return nil }
