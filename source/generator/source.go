// Package generator is a source of realistic fake rows, so that a pipeline
// runs end to end with no external service: the product table of the
// Debezium tutorial (seed 001, "Incredible Iron Pants" at 0.61) and the users
// table of the JDBC pipeline (seed 003), inserted, updated and deleted at a
// steady rate.
//
// A pipeline file:
//
//	sources:
//	  shop:
//	    type: generator
//	    tables: [product, users]
//	    rate: 100
//	    seed: 7
//	    operations: {insert: 6, update: 3, delete: 1}
//
// Invariants:
//   - The output is a function of the configuration: the same seed, tables
//     and operations give the same rows in the same order, on every machine
//     and after any number of restarts. Only the wall-clock fields
//     (Source.TsUs, TsMs) differ between runs.
//   - Event n (1-based) has TxID n and Position "gen <n>"; the checkpoint
//     after it records n, so a restart continues with event n+1 and repeats
//     only events that were emitted but not yet committed.
//   - Updates and deletes act on rows that exist at that point of the
//     sequence; an update's Before is exactly the row's last After, a
//     delete's Before its last image. Ids are never reused.
//
// The checkpoint is JSON, for example
//
//	{"v":1,"seed":7,"events":1234,"next_id":{"product":1001,"users":1000}}
//
// Resuming an insert-only mix is O(1). A mix with updates or deletes
// replays the control draws of the first n events, generating no rows, to
// rebuild which rows are live (about ten million events per second on one
// core), and keeps about 12 bytes per inserted id in memory.
package generator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/component"
)

// Source is the generator source. Build it with Factory.
type Source struct {
	cfg    Config
	name   string
	logger *slog.Logger

	// Test hooks; Run reads them, nothing writes them after newSource.
	now       func() time.Time
	newTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
}

var _ component.Source = (*Source)(nil)

func newSource(cfg Config, env component.Env) *Source {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{
		cfg:    cfg,
		name:   env.Name,
		logger: logger,
		now:    time.Now,
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
}

// checkpoint is the persisted position. NextID guards against reusing ids
// when the configuration changed between runs; with an unchanged
// configuration it is implied by Events.
type checkpoint struct {
	V      int              `json:"v"`
	Seed   int64            `json:"seed"`
	Events uint64           `json:"events"`
	NextID map[string]int64 `json:"next_id"`
}

const checkpointVersion = 1

func (g *state) appendCheckpoint(dst []byte, seed int64) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, checkpointVersion, 10)
	dst = append(dst, `,"seed":`...)
	dst = strconv.AppendInt(dst, seed, 10)
	dst = append(dst, `,"events":`...)
	dst = strconv.AppendUint(dst, g.n, 10)
	dst = append(dst, `,"next_id":{`...)
	for i := range g.tables {
		if i > 0 {
			dst = append(dst, ',')
		}
		// Table names are built-in identifiers: no escaping needed.
		dst = append(dst, '"')
		dst = append(dst, g.tables[i].shape.name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendInt(dst, g.tables[i].nextID, 10)
	}
	return append(dst, "}}"...)
}

// Run generates events until ctx is cancelled, continuing after checkpoint.
// Once count events exist the source is finished and Run returns nil (the
// engine stops a pipeline whose sources have all finished). It returns nil
// too when Emit reports that the pipeline is stopping.
func (s *Source) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	g := newState(&s.cfg, s.name)
	if cp != nil {
		var c checkpoint
		if err := json.Unmarshal(cp, &c); err != nil {
			return fmt.Errorf("generator: bad checkpoint %q: %w", cp, err)
		}
		if c.V != checkpointVersion {
			return fmt.Errorf("generator: checkpoint version %d, want %d", c.V, checkpointVersion)
		}
		if c.Seed != s.cfg.Seed {
			s.logger.Warn("generator: the seed changed since the checkpoint; rows continue from the new seed's sequence",
				"checkpoint_seed", c.Seed, "seed", s.cfg.Seed)
		}
		start := time.Now()
		if err := g.resume(ctx, c); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.logger.Info("generator: resuming", "events", c.Events, "took", time.Since(start))
	}
	e := emitter{src: s, g: g, out: out}
	var err error
	if s.cfg.Rate == 0 {
		err = e.flood(ctx)
	} else {
		err = e.paced(ctx)
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
			return nil
		}
		return err
	}
	return nil // count reached: finished
}

// Committed does nothing: the generator has no upstream to release.
func (s *Source) Committed(context.Context, []byte) error { return nil }

// Close does nothing.
func (s *Source) Close() error { return nil }

// emitter runs on Run's goroutine and owns g and b.
type emitter struct {
	src *Source
	g   *state
	b   builder
	out component.Emitter
}

// remaining returns how many events may still be generated, at most limit.
func (e *emitter) remaining(limit int) int {
	c := e.src.cfg.Count
	if c == 0 {
		return limit
	}
	if left := uint64(c) - min(e.g.n, uint64(c)); left < uint64(limit) {
		return int(left)
	}
	return limit
}

// emit generates and emits k > 0 events with the checkpoint after them.
func (e *emitter) emit(ctx context.Context, k int) error {
	evs, err := e.g.batch(&e.b, k, e.src.now().UnixMilli())
	if err != nil {
		return err
	}
	cp := e.g.appendCheckpoint(make([]byte, 0, 64+24*len(e.g.tables)), e.src.cfg.Seed)
	if err := e.out.Emit(ctx, evs, cp); err != nil {
		return fmt.Errorf("generator: emit: %w", err)
	}
	return nil
}

// flood emits full batches as fast as Emit accepts them, until count.
func (e *emitter) flood(ctx context.Context) error {
	for ctx.Err() == nil {
		k := e.remaining(e.src.cfg.BatchSize)
		if k == 0 {
			return nil
		}
		if err := e.emit(ctx, k); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// minTick bounds the ticker's frequency: above 100 events per second a tick
// carries several events.
const minTick = 10 * time.Millisecond

// paced emits at cfg.Rate with a token bucket filled on every tick by the
// rate times the time since the previous tick. The bucket holds at most two
// ticks' worth, so after Emit blocked for long the source does not burst to
// catch up. The first tick's worth is emitted at once.
func (e *emitter) paced(ctx context.Context) error {
	rate := e.src.cfg.Rate
	interval := max(time.Duration(float64(time.Second)/rate), minTick)
	perTick := rate * interval.Seconds()
	ticks, stop := e.src.newTicker(interval)
	defer stop()
	last := e.src.now()
	tokens := max(perTick, 1)
	for {
		// A little slack so that a tick arriving a hair early still earns
		// its whole event; the debt is paid from the next tick.
		for tokens >= 1-1e-6 {
			k := e.remaining(min(int(tokens+1e-6), e.src.cfg.BatchSize))
			if k == 0 {
				break
			}
			if err := e.emit(ctx, k); err != nil {
				return err
			}
			tokens -= float64(k)
		}
		if e.remaining(1) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case t := <-ticks:
			tokens = min(tokens+rate*t.Sub(last).Seconds(), 2*max(perTick, 1))
			last = t
		}
	}
}
