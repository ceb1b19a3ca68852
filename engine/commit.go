package engine

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/store"
)

// A group is the sources that feed common processors, with those
// processors. Its batches are processed one at a time (mu), so a processor
// never runs twice at once, and its committer persists checkpoints:
//
//   - without stateful processors, each source's newest durable checkpoint
//     on its own, as soon as every batch before it is acknowledged;
//   - with stateful processors, a consistent cut: an epoch M such that for
//     every source of the group every batch of epoch ≤ M is acknowledged
//     and the source's last batch at or before M carried a checkpoint (it
//     did not end inside a transaction). Commit then stores those
//     checkpoints and the processors' state changes of epochs ≤ M in one
//     atomic step, so state and checkpoints always describe the same inputs
//     (architecture invariant 8).
type group struct {
	r        *Runner
	mu       sync.Mutex // held while a batch is processed and delivered
	sources  []*sourceRun
	stateful []*procRunner
	pend     [][]event.Event // processor inputs, reused under mu
	// spare holds each processor's output buffer of the last batch when
	// no sink took its events (see dispatch), for its next batch; sinkLens
	// is dispatch's scratch. Both under mu.
	spare    [][]event.Event
	sinkLens []int

	nextEpoch atomic.Uint64 // the epoch the next batch gets
	committed uint64        // last committed epoch (committer only)

	wake     chan struct{} // wakes the committer
	finished chan struct{} // closed to make the committer do a last pass and exit
}

func newGroup(r *Runner) *group {
	g := &group{r: r, wake: make(chan struct{}, 1), finished: make(chan struct{})}
	if len(r.procs) > 0 {
		g.pend = make([][]event.Event, len(r.procs))
		g.spare = make([][]event.Event, len(r.procs))
		g.sinkLens = make([]int, len(r.sinks))
	}
	return g
}

// start sets the first epoch after what the processors' state committed.
func (g *group) start() {
	var last uint64
	for _, p := range g.stateful {
		last = max(last, p.node.State.Committed())
	}
	g.committed = last
	g.nextEpoch.Store(last + 1)
}

func (g *group) wakeUp() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// finish makes the committer persist what is durable and exit.
func (g *group) finish() { close(g.finished) }

// commitLoop persists durable checkpoints and then tells the sources.
func (g *group) commitLoop(ctx context.Context) {
	for {
		select {
		case <-g.wake:
			g.commitOnce(ctx)
		case <-g.finished:
			g.commitOnce(ctx)
			return
		}
	}
}

func (g *group) commitOnce(ctx context.Context) {
	if len(g.stateful) > 0 {
		g.commitCut(ctx)
		return
	}
	for _, s := range g.sources {
		s.mu.Lock()
		cp, dirty, newest := s.mu.durable, s.mu.dirty, s.mu.newest
		s.mu.dirty = false
		s.mu.Unlock()
		if !dirty {
			continue
		}
		if err := g.r.p.Store.SetCheckpoint(s.node.Name, cp); err != nil {
			g.r.fatal(err)
			return
		}
		g.committedTo(ctx, s, cp, newest)
	}
}

// committedTo tells a source its checkpoint is durable.
func (g *group) committedTo(ctx context.Context, s *sourceRun, cp []byte, newest int64) {
	if o := g.r.obs.commit; o != nil {
		o.ObserveCommit(s.node.Name, newest, time.Now())
	}
	if err := s.node.Source.Committed(ctx, cp); err != nil {
		// The checkpoint is persisted; the source will be told again with
		// the next one. Not fatal: upstream merely holds resources longer.
		g.r.log.Warn("source could not release upstream position", "source", s.node.Name, "err", err)
	}
}

// commitCut commits the newest consistent cut of a stateful group.
func (g *group) commitCut(ctx context.Context) {
	type view struct {
		s        *sourceRun
		rel      []released
		newest   int64
		boundary uint64 // every batch of this source below it is released
	}
	views := make([]view, len(g.sources))
	limit := ^uint64(0)
	for i, s := range g.sources {
		s.mu.Lock()
		v := view{s: s, rel: append([]released(nil), s.mu.released...), newest: s.mu.newest}
		if len(s.mu.window) > 0 {
			v.boundary = s.mu.window[0].epoch
		} else {
			v.boundary = g.nextEpoch.Load()
		}
		s.mu.dirty = false
		s.mu.Unlock()
		views[i] = v
		limit = min(limit, v.boundary)
	}
	if limit == 0 {
		return
	}
	// Candidate cuts: the released epochs below the limit, newest first.
	var cands []uint64
	for _, v := range views {
		for _, r := range v.rel {
			if r.epoch < limit && r.epoch > g.committed {
				cands = append(cands, r.epoch)
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i] > cands[j] })
	var cut uint64
	var cps map[string][]byte
	for _, m := range cands {
		ok := true
		next := map[string][]byte{}
		for _, v := range views {
			// The source's last released batch at or before m.
			var last *released
			for i := range v.rel {
				if v.rel[i].epoch <= m {
					last = &v.rel[i]
				}
			}
			if last == nil {
				continue // nothing new: its last committed cut was clean
			}
			if last.cp == nil {
				ok = false // inside a transaction at m
				break
			}
			next[v.s.node.Name] = last.cp
		}
		if ok {
			cut, cps = m, next
			break
		}
	}
	if cut == 0 {
		return
	}
	procs := make([]string, len(g.stateful))
	for i, p := range g.stateful {
		procs[i] = p.node.Name
	}
	c := store.Commit{Checkpoints: cps, Processors: procs, Epoch: cut}
	if err := g.r.p.Store.(Committer).Commit(c); err != nil {
		g.r.fatal(err)
		return
	}
	g.committed = cut
	for _, v := range views {
		v.s.mu.Lock()
		rel := v.s.mu.released
		i := 0
		for i < len(rel) && rel[i].epoch <= cut {
			i++
		}
		v.s.mu.released = append(rel[:0], rel[i:]...)
		v.s.mu.Unlock()
		if cp, ok := cps[v.s.node.Name]; ok {
			v.s.mu.Lock()
			v.s.mu.durable = cp
			v.s.mu.Unlock()
			g.committedTo(ctx, v.s, cp, v.newest)
		}
	}
}
