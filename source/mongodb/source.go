package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/progress"
	"github.com/sluice-dev/sluice/internal/transient"
)

var (
	_ component.Source           = (*Source)(nil)
	_ component.ProgressReporter = (*Source)(nil)
)

// Source is a MongoDB export + change-stream source. Create it with New
// (or Factory).
type Source struct {
	cfg  Config
	env  component.Env
	log  *slog.Logger
	prog progress.Tracker
	reg  *registry

	// dial connects; tests replace it with recorded streams (client nil:
	// no export).
	dial func(ctx context.Context) (server, *mongo.Client, error)
	// ownServer, when set, wraps the server of PlanChunks and ReadChunk
	// (tests: recorded change streams over a real export).
	ownServer func(server) server

	skippedUpdates atomic.Int64 // updates whose document was gone (update_lookup)

	// mu guards the client (opened by Run, closed by Close) and the
	// durable position (written by Committed, read for logs).
	mu struct {
		sync.Mutex
		client  *mongo.Client
		durable string
	}
}

// New builds a source from a validated configuration.
func New(cfg *Config, env component.Env) (*Source, error) {
	c := *cfg
	c.Collections = append([]Collection(nil), cfg.Collections...)
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("mongodb source %q: %w", env.Name, errors.Join(errs...))
	}
	s := &Source{cfg: c, env: env, log: env.Logger, reg: newRegistry(env.Name)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.dial = s.connect
	return s, nil
}

// connect opens the driver's client and checks that the server answers.
func (s *Source) connect(ctx context.Context) (server, *mongo.Client, error) {
	client, err := mongo.Connect(s.cfg.clientOptions())
	if err != nil {
		return nil, nil, component.Permanent(fmt.Errorf("connect: %w", err))
	}
	s.mu.Lock()
	s.mu.client = client
	s.mu.Unlock()
	// The server may be down or still starting up: wait for it as
	// engine.start_retry says. The client keeps looking for the server
	// between pings; each ping waits up to 10s for it.
	_, err = component.Connect(ctx, s.env, "connect", startTransient, func(ctx context.Context) (struct{}, error) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := client.Ping(pctx, nil); err != nil {
			return struct{}{}, fmt.Errorf("connect: the server does not answer: %w", err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return driverServer{client}, client, nil
}

// startTransient reports whether an error of the connect step may pass by
// itself: the server is unreachable or not ready (no server selected in
// time, network errors), not a failed authentication or TLS setup.
func startTransient(err error) bool {
	var ae *auth.Error
	if errors.As(err, &ae) || transient.TLS(err) {
		return false
	}
	return retryable(err)
}

// Progress implements component.ProgressReporter.
func (s *Source) Progress() component.Progress { return s.prog.Report() }

// Run exports (unless the checkpoint says it is done) and then streams
// changes until ctx is cancelled. Without streamed collections it returns
// once the export is done.
func (s *Source) Run(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	err := s.run(ctx, cpBytes, s.prog.Counting(out))
	if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
		return nil
	}
	if err != nil {
		if a, ok := s.refused(err); ok {
			return a
		}
		return fmt.Errorf("mongodb source %q: %w", s.env.Name, err)
	}
	return nil
}

// refused returns the component.AuthError for err when it is the server
// refusing the credentials (AuthenticationFailed, code 18).
func (s *Source) refused(err error) (error, bool) {
	var ce mongo.CommandError
	if !errors.As(err, &ce) || ce.Code != 18 {
		return nil, false
	}
	o := s.cfg.clientOptions()
	a := component.AuthError{Component: fmt.Sprintf("mongodb source %q", s.env.Name), Server: strings.Join(o.Hosts, ","),
		Reason: ce.Name + ": " + ce.Message, Keys: s.env.Key("uri")}
	authSource := "admin"
	if o.Auth != nil {
		a.User = o.Auth.Username
		if o.Auth.AuthSource != "" {
			authSource = o.Auth.AuthSource
		}
	}
	if s.cfg.URI == "" {
		a.Keys = s.env.Key("authentication.username") + " and " + s.env.Key("authentication.password")
	}
	a.Hint = fmt.Sprintf("that the user is defined in the authentication database %q (auth_source, or authSource in the uri)", authSource)
	return component.AuthFailed(a), true
}

func (s *Source) run(ctx context.Context, cpBytes []byte, out component.Emitter) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil {
		return component.Permanent(err)
	}
	srv, client, err := s.dial(ctx)
	if err != nil {
		return err
	}
	streamed := s.cfg.streamed()
	if streamed {
		if err := srv.probeStreams(ctx); err != nil {
			return err
		}
	}
	if streamed {
		s.checkOplogWindow(ctx, client, cp)
	}
	if cp != nil && cp.Phase == phaseDone && streamed {
		return component.Permanent(errors.New("the checkpoint is of an export without change streams, so there is no position to stream from; delete the pipeline's state to export again and stream from there"))
	}
	exportedNow := false
	for {
		if cp == nil || cp.Phase == phaseExport {
			if cp != nil && streamed {
				if err := s.checkStart(ctx, srv, cp); err != nil {
					if !errors.Is(err, ErrHistoryLost) || s.cfg.OnHistoryLost != LostReexport {
						return s.lost(err)
					}
					s.log.Warn("the export's start point is no longer in the oplog; exporting again (on_history_lost: reexport)", "err", err)
					cp = nil
				}
			}
			if cp == nil {
				if cp, err = s.begin(ctx, srv, out); err != nil {
					return err
				}
			}
			if cp, err = s.export(ctx, srv, client, cp, out); err != nil {
				return err
			}
			exportedNow = true
		}
		if !streamed {
			s.log.Info("export done; no collection is streamed")
			return nil
		}
		start := string(cp.Token)
		err = s.stream(ctx, srv, cp, out)
		if !errors.Is(err, ErrHistoryLost) {
			return err
		}
		if s.cfg.OnHistoryLost != LostReexport {
			return s.lost(err)
		}
		if exportedNow && string(cp.Token) == start && cp.ClusterTime == 0 {
			return component.Permanent(fmt.Errorf("%w; the export took longer than the oplog window, so exporting again would end the same way: make the oplog larger (replSetResizeOplog) or the export faster (export.workers)", err))
		}
		s.log.Warn("change stream history lost; exporting again (on_history_lost: reexport)", "err", err)
		cp = nil
	}
}

// lost wraps a history-lost error with what to do.
func (s *Source) lost(err error) error {
	if errors.Is(err, ErrHistoryLost) {
		return component.Permanent(fmt.Errorf("%w. Changes since then are gone: set on_history_lost: reexport to export the collections again and stream from there, or delete the pipeline's state to start over; make the oplog cover the longest time sluice may be stopped (replSetResizeOplog)", err))
	}
	return err
}

// begin takes the change stream's start point (when any collection is
// streamed) and checkpoints it before any export row: changes from then
// on are streamed after the export.
func (s *Source) begin(ctx context.Context, srv server, out component.Emitter) (*checkpoint, error) {
	cp := &checkpoint{Version: 1, Phase: phaseExport, Export: map[string]*collProgress{}}
	if s.cfg.streamed() {
		tok, err := s.startToken(ctx, srv)
		if err != nil {
			return nil, err
		}
		if cp.Token, err = tokenJSON(tok); err != nil {
			return nil, component.Permanent(err)
		}
		s.log.Info("change stream start point", "resume_token", tokenText(tok))
	}
	if err := out.Emit(ctx, nil, cp.marshal()); err != nil {
		return nil, err
	}
	return cp, nil
}

// startToken opens the change stream and takes its resume token: the
// postBatchResumeToken of the opening aggregate, or after an initial
// TryNext. A change arriving before any token would be lost to a token
// taken after it, so the stream is then opened again.
func (s *Source) startToken(ctx context.Context, srv server) (bson.Raw, error) {
	w := newWatchSpec(&s.cfg)
	for range 3 {
		cs, err := srv.watch(ctx, w, nil)
		if err != nil {
			if noChangeStreams(err) {
				return nil, component.Permanent(fmt.Errorf("%w (%v). %s", ErrNoChangeStreams, err, noStreamsHint))
			}
			return nil, fmt.Errorf("open the change stream: %w", err)
		}
		tok := cs.ResumeToken()
		if len(tok) == 0 {
			if cs.TryNext(ctx) {
				cs.Close(context.Background()) //nolint:errcheck // reopened below
				continue
			}
			if err := cs.Err(); err != nil {
				cs.Close(context.Background()) //nolint:errcheck // failing anyway
				return nil, fmt.Errorf("open the change stream: %w", err)
			}
			tok = cs.ResumeToken()
		}
		tok = append(bson.Raw(nil), tok...)
		cs.Close(context.Background()) //nolint:errcheck // the token is all we need
		if len(tok) == 0 {
			return nil, component.Permanent(errors.New("the server gave the change stream no resume token to start from (MongoDB 4.0.7 or newer is needed)"))
		}
		return tok, nil
	}
	return nil, errors.New("open the change stream: changes kept arriving before the server gave a start point; try again")
}

// checkStart makes sure a resumed export's start point is still in the
// oplog before spending time on the rest of the export.
func (s *Source) checkStart(ctx context.Context, srv server, cp *checkpoint) error {
	tok, err := cp.token()
	if err != nil {
		return component.Permanent(err)
	}
	if tok == nil {
		return component.Permanent(errors.New("the checkpoint of an unfinished export has no change stream start point; delete the pipeline's state to export again"))
	}
	cs, err := srv.watch(ctx, newWatchSpec(&s.cfg), tok)
	if err != nil {
		if historyLost(err) {
			return fmt.Errorf("%w: the oplog no longer holds the export's start point (resume token %s; the server said: %v)", ErrHistoryLost, tokenText(tok), err)
		}
		return fmt.Errorf("open the change stream at the export's start point: %w", err)
	}
	return cs.Close(ctx)
}

// Committed records the durable checkpoint. MongoDB keeps its oplog by size
// and time, not by reader progress, so there is nothing to confirm
// upstream; the semantics (everything before it may be forgotten) hold.
func (s *Source) Committed(ctx context.Context, cpBytes []byte) error {
	cp, err := parseCheckpoint(cpBytes)
	if err != nil || cp == nil {
		return err
	}
	s.mu.Lock()
	s.mu.durable = cp.Phase + " " + string(cp.Token)
	s.mu.Unlock()
	return nil
}

// Close disconnects the client.
func (s *Source) Close() error {
	s.mu.Lock()
	c := s.mu.client
	s.mu.client = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Disconnect(ctx)
}
