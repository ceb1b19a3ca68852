// Package supervisor is sluice's long-lived runtime: one Supervisor holds
// several pipelines, each with a lifecycle state, and starts, stops,
// pauses, resumes and restarts one while the others keep running. The CLI
// (`sluice run a.yaml b.yaml`) and the HTTP control plane drive the same
// object; a pipeline that fails is marked FAILED with its error and the
// others go on.
//
// States (Kafka Connect's names, so its REST shapes map onto them):
//
//	RUNNING     the pipeline runs
//	PAUSED      its sources wait at their next batch; what was in flight
//	            drains into the sinks and is committed
//	STOPPED     stopped by a request, or every source finished (checkpoint saved)
//	FAILED      a component failed; Error says why (the checkpoint is what
//	            was durable)
//	RESTARTING  being stopped to start again
//
// Concurrency: mu guards the pipelines and their states; each pipeline runs
// in a goroutine of its own that reports its end through finish.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/topology"
)

// State is a pipeline's lifecycle state.
type State string

// Lifecycle states.
const (
	Running    State = "RUNNING"
	Paused     State = "PAUSED"
	Stopped    State = "STOPPED"
	Failed     State = "FAILED"
	Restarting State = "RESTARTING"
)

// Status is one pipeline's state.
type Status struct {
	Name     string
	State    State
	Error    string // why it FAILED
	Since    time.Time
	Restarts int
	// Graph is the pipeline as loaded (read only).
	Graph *topology.Graph
}

// Options configure a Supervisor.
type Options struct {
	Registry component.Registry
	Logger   *slog.Logger
	// Observe, when set, is called once per start of a pipeline with the
	// built pipeline and returns the engine observer for it (metrics).
	Observe func(p *app.Pipeline) any
	// Started, when set, is called after a pipeline is built and before it
	// runs (progress bars, gauges); Ended after it ended.
	Started func(p *app.Pipeline)
	Ended   func(p *app.Pipeline)
	// Removed, when set, is called with the name of a pipeline Remove
	// has forgotten (after its run ended): its metrics go with it.
	Removed func(name string)
}

// Supervisor holds pipelines.
type Supervisor struct {
	opt Options

	mu      sync.Mutex
	pipes   map[string]*managed
	changed chan struct{} // closed and replaced at every state change
	closing bool          // Shutdown has begun: nothing starts any more

	restarts sync.WaitGroup // RestartAsync's goroutines; Shutdown waits for them
}

type managed struct {
	graph    *topology.Graph
	state    State
	err      error
	since    time.Time
	restarts int
	paused   bool // wanted paused at the next start too

	built  *app.Pipeline
	cancel context.CancelFunc
	done   chan struct{} // closed when the run ended
	ending State         // the state a requested stop ends in
}

// New returns an empty Supervisor.
func New(opt Options) *Supervisor {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Supervisor{opt: opt, pipes: map[string]*managed{}, changed: make(chan struct{})}
}

// Registry is the registry pipelines are built from (for tools that build
// a pipeline's component outside a run, such as an incremental snapshot
// request).
func (s *Supervisor) Registry() component.Registry { return s.opt.Registry }

// ErrUnknown is returned for a pipeline name the supervisor does not hold.
var ErrUnknown = errors.New("no such pipeline")

// ErrExists is returned by Add for a name already held.
var ErrExists = errors.New("a pipeline of that name exists")

// Add starts g as a new pipeline. It fails when a pipeline of the same
// name exists or shares g's state directory.
func (s *Supervisor) Add(g *topology.Graph) error { return s.AddState(g, Running) }

// AddState adds g as a new pipeline in state st: Running starts it, Paused
// starts it with its sources held, Stopped holds it without building it
// (Start, Resume or Restart start it later). It fails as Add does, and
// for any other state.
func (s *Supervisor) AddState(g *topology.Graph, st State) error {
	if st != Running && st != Paused && st != Stopped {
		return fmt.Errorf("pipeline %s: cannot be added %s (hint: RUNNING, PAUSED or STOPPED)", g.Name, st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make([]*topology.Graph, 0, len(s.pipes)+1)
	for _, m := range s.pipes {
		held = append(held, m.graph)
	}
	if err := CheckDistinct(append(held, g)); err != nil {
		return err
	}
	m := &managed{graph: g, paused: st == Paused}
	s.pipes[g.Name] = m
	if st == Stopped {
		s.setLocked(m, Stopped, nil)
		return nil
	}
	s.startLocked(g.Name, m)
	return nil
}

// Start starts a STOPPED or FAILED pipeline from its checkpoint (PAUSED
// when it was paused before it stopped); a running, paused or restarting
// one stays as it is.
func (s *Supervisor) Start(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.pipes[name]
	if !ok {
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	if m.state == Stopped || m.state == Failed {
		s.startLocked(name, m)
	}
	return nil
}

// RestartAsync marks a pipeline RESTARTING at once, whatever its state, and
// restarts it in the background as Restart does; the state shows the
// outcome. For an HTTP API, where a drain must not hold the request.
func (s *Supervisor) RestartAsync(name string) error {
	s.mu.Lock()
	m, ok := s.pipes[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	if s.closing {
		s.mu.Unlock()
		return fmt.Errorf("pipeline %s: %w", name, ErrShuttingDown)
	}
	wasRunning := m.state == Running || m.state == Paused || m.state == Restarting
	s.setLocked(m, Restarting, nil)
	s.restarts.Add(1) // under mu before closing: never concurrent with Shutdown's Wait
	s.mu.Unlock()
	go func() {
		defer s.restarts.Done()
		ctx := context.Background()
		if wasRunning {
			if err := s.stopRun(ctx, name, Restarting); err != nil {
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pipes[name] != m || m.state != Restarting {
			return // removed, or stopped by a later request
		}
		m.restarts++
		s.startLocked(name, m)
	}()
	return nil
}

// CheckDistinct checks that pipelines can run side by side: distinct
// names and state directories. The last graph is the one named in errors.
func CheckDistinct(gs []*topology.Graph) error {
	for i, g := range gs {
		for _, h := range gs[:i] {
			if h.Name == g.Name {
				return fmt.Errorf("pipeline %s: %w (hint: set name: in one of the files)", g.Name, ErrExists)
			}
			if filepath.Clean(h.StateDir) == filepath.Clean(g.StateDir) {
				return fmt.Errorf("pipelines %s and %s use the same state_dir %s (hint: set state_dir: in each pipeline file, e.g. .sluice/%s)", h.Name, g.Name, g.StateDir, g.Name)
			}
		}
	}
	return nil
}

// startLocked builds and starts m. s.mu is held. Once Shutdown has begun
// it starts nothing: the pipeline is STOPPED.
func (s *Supervisor) startLocked(name string, m *managed) {
	if s.closing {
		s.setLocked(m, Stopped, nil)
		return
	}
	log := s.opt.Logger.With("pipeline", name)
	m.err, m.built = nil, nil
	if m.graph.Cluster.Coordination.Type != topology.CoordinationNone {
		s.startCoordinatedLocked(name, m, log)
		return
	}
	p, err := app.Build(m.graph, s.opt.Registry, log, nil)
	if err != nil {
		s.setLocked(m, Failed, err)
		log.Error("pipeline failed", "err", err)
		return
	}
	if s.opt.Observe != nil {
		p.Runner.Observe(s.opt.Observe(p))
	}
	m.built = p
	if m.paused {
		p.Runner.Pause()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done, m.ending = cancel, make(chan struct{}), ""
	if m.paused {
		s.setLocked(m, Paused, nil)
	} else {
		s.setLocked(m, Running, nil)
	}
	if s.opt.Started != nil {
		s.opt.Started(p)
	}
	go func() {
		err := p.Run(ctx)
		cancel()
		if s.opt.Ended != nil {
			s.opt.Ended(p)
		}
		s.finish(name, m, err)
	}()
}

// startCoordinatedLocked starts a pipeline shared by several nodes
// (coordination:): app.RunCoordinated waits for its stream partition and
// builds a new run at each acquisition; m.built is each run while it runs
// (nil while the node waits: Pause then only marks the pipeline, and the
// next run starts paused). s.mu is held.
func (s *Supervisor) startCoordinatedLocked(name string, m *managed, log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done, m.ending = cancel, make(chan struct{}), ""
	if m.paused {
		s.setLocked(m, Paused, nil)
	} else {
		s.setLocked(m, Running, nil)
	}
	h := app.Hooks{
		Observe: s.opt.Observe,
		Started: func(p *app.Pipeline) {
			s.mu.Lock()
			m.built = p
			if m.paused {
				p.Runner.Pause()
			}
			s.mu.Unlock()
			if s.opt.Started != nil {
				s.opt.Started(p)
			}
		},
		Ended: func(p *app.Pipeline) {
			if s.opt.Ended != nil {
				s.opt.Ended(p)
			}
			s.mu.Lock()
			if m.built == p {
				m.built = nil
			}
			s.mu.Unlock()
		},
	}
	go func() {
		err := app.RunCoordinated(ctx, m.graph, s.opt.Registry, log, h)
		cancel()
		s.finish(name, m, err)
	}()
}

// finish records the end of m's run.
func (s *Supervisor) finish(name string, m *managed, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.setLocked(m, Failed, err)
		s.opt.Logger.Error("pipeline failed", "pipeline", name, "err", err)
	case m.ending != "":
		s.setLocked(m, m.ending, nil)
	default:
		s.setLocked(m, Stopped, nil) // every source finished
	}
	close(m.done)
}

func (s *Supervisor) setLocked(m *managed, st State, err error) {
	m.state, m.err, m.since = st, err, time.Now()
	close(s.changed)
	s.changed = make(chan struct{})
}

// stopRun asks m's run to drain and stop, ending in state end, and waits.
func (s *Supervisor) stopRun(ctx context.Context, name string, end State) error {
	s.mu.Lock()
	m, ok := s.pipes[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	done, running := s.askStopLocked(m, end)
	s.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipeline %s: stop: %w", name, ctx.Err())
	}
}

// askStopLocked asks m's run, if there is one, to drain and stop, ending
// in state end; done closes when it has. s.mu is held.
func (s *Supervisor) askStopLocked(m *managed, end State) (done chan struct{}, running bool) {
	done = m.done
	running = done != nil && (m.state == Running || m.state == Paused || m.state == Restarting)
	if m.state == Restarting && (done == nil || isClosed(done)) {
		// A RestartAsync of a pipeline that was not running has not
		// started it yet: stopping it is cancelling that start.
		s.setLocked(m, end, nil)
		running = false
	}
	if running {
		// A stop asked for while a restart drains the run wins: the
		// restart then finds the pipeline STOPPED and starts nothing.
		if end != Restarting || m.ending == "" || m.ending == Restarting {
			m.ending = end
		}
		if m.built != nil {
			m.built.Runner.Resume() // a paused run must reach its drain
		}
		m.cancel()
	}
	return done, running
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Stop drains a pipeline and stops it (STOPPED); a stopped or failed
// pipeline stays as it is.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	return s.stopRun(ctx, name, Stopped)
}

// Pause holds a running pipeline's sources (PAUSED).
func (s *Supervisor) Pause(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.pipes[name]
	if !ok {
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	m.paused = true
	if m.state == Running && m.built != nil {
		m.built.Runner.Pause()
		s.setLocked(m, Paused, nil)
	}
	return nil
}

// Resume lets a paused pipeline go on (RUNNING).
func (s *Supervisor) Resume(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.pipes[name]
	if !ok {
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	m.paused = false
	if m.state == Paused && m.built != nil {
		m.built.Runner.Resume()
		s.setLocked(m, Running, nil)
	}
	return nil
}

// Restart stops a pipeline (whatever its state) and starts it again from
// its checkpoint. A pipeline paused before stays paused.
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	s.mu.Lock()
	m, ok := s.pipes[name]
	wasRunning := ok && (m.state == Running || m.state == Paused)
	if wasRunning {
		s.setLocked(m, Restarting, nil)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	if err := s.stopRun(ctx, name, Restarting); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipes[name] != m {
		return fmt.Errorf("pipeline %s: removed while restarting", name)
	}
	if wasRunning && m.state != Restarting {
		return fmt.Errorf("pipeline %s: %s while restarting", name, m.state) // a stop won
	}
	m.restarts++
	s.startLocked(name, m)
	return nil
}

// Remove stops a pipeline and forgets it.
func (s *Supervisor) Remove(ctx context.Context, name string) error {
	if err := s.Stop(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.pipes, name)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opt.Removed != nil {
		s.opt.Removed(name)
	}
	return nil
}

// ErrRunning is returned by SetCheckpoints for a pipeline that runs.
var ErrRunning = errors.New("the pipeline is running")

// running tells whether m's run is under way (its store open).
func running(m *managed) bool { return m.done != nil && !isClosed(m.done) }

// Checkpoints returns a pipeline's stored checkpoints by source: read from
// its open store while it runs, else from its state directory (none when
// it never ran).
func (s *Supervisor) Checkpoints(ctx context.Context, name string) (map[string][]byte, error) {
	s.mu.Lock()
	m, ok := s.pipes[name]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	if running(m) && m.built != nil {
		built, done := m.built, m.done
		s.mu.Unlock()
		cps, err := built.Checkpoints()
		if err == nil {
			return cps, nil
		}
		// The run ended between the check and the read (its store is
		// closed): read the directory once the run let go of it.
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if running(m) {
		return nil, fmt.Errorf("pipeline %s: started again while its checkpoints were read; try again", name)
	}
	return readCheckpoints(m.graph.StateDir, nil)
}

// SetCheckpoints changes the stored checkpoints of a pipeline that does not
// run (ErrRunning otherwise): each source in cps gets its checkpoint, or
// loses it when the value is nil (the source starts afresh: a snapshot).
// The pipeline cannot start while they are written.
func (s *Supervisor) SetCheckpoints(name string, cps map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.pipes[name]
	if !ok {
		return fmt.Errorf("pipeline %s: %w", name, ErrUnknown)
	}
	if running(m) {
		return fmt.Errorf("pipeline %s: %w", name, ErrRunning)
	}
	_, err := readCheckpoints(m.graph.StateDir, cps)
	return err
}

// readCheckpoints opens the store of a state directory that no run holds,
// applies set (nil values delete), and returns the checkpoints.
func readCheckpoints(dir string, set map[string][]byte) (map[string][]byte, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) && len(set) == 0 {
		return map[string][]byte{}, nil
	}
	db, err := store.Open(dir, store.Options{LockTimeout: 5 * time.Second, MemTableSize: 1 << 20, CacheSize: 8 << 20})
	if err != nil {
		return nil, err
	}
	for src, cp := range set {
		if cp == nil {
			err = db.DeleteCheckpoint(src)
		} else {
			err = db.SetCheckpoint(src, cp)
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	cps, err := db.Checkpoints()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return cps, err
}

// Status returns one pipeline's status.
func (s *Supervisor) Status(name string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.pipes[name]
	if !ok {
		return Status{}, false
	}
	return statusOf(name, m), true
}

// Statuses returns every pipeline's status, by name.
func (s *Supervisor) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.pipes))
	for name, m := range s.pipes {
		out = append(out, statusOf(name, m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func statusOf(name string, m *managed) Status {
	st := Status{Name: name, State: m.state, Since: m.since, Restarts: m.restarts, Graph: m.graph}
	if m.err != nil {
		st.Error = m.err.Error()
	}
	return st
}

// Wait blocks until no pipeline is running, paused or restarting (every one
// STOPPED or FAILED), or ctx ends.
func (s *Supervisor) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		active := false
		for _, m := range s.pipes {
			if m.state == Running || m.state == Paused || m.state == Restarting {
				active = true
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if !active {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrShuttingDown is returned by RestartAsync once Shutdown has begun.
var ErrShuttingDown = errors.New("the supervisor is shutting down")

// Shutdown stops every pipeline (each drains within its own deadline).
// When it returns nothing runs, and nothing will start: a restart under
// way has ended, and later starts leave their pipeline STOPPED.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	var names []string
	for name := range s.pipes {
		names = append(names, name)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Stop(ctx, name) }()
	}
	wg.Wait()
	// A RestartAsync under way finds its pipeline STOPPED, or starts
	// nothing (closing): once it has returned, nothing runs.
	s.restarts.Wait()
	return errors.Join(errs...)
}
