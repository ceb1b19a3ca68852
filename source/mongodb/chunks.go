package mongodb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"

	"github.com/sluice-dev/sluice/component"
)

var _ component.Chunker = (*Source)(nil)

// chunkSpec is one chunk of a shared export (component.Chunker): the
// documents of Collection whose _id is >= Lo and < Hi (canonical Extended
// JSON; absent: unbounded), the export's _id ranges (see the package doc's
// Export). Mixed is a collection whose _ids mix BSON type brackets: one
// chunk, no bounds, sorted by _id. Example:
//
//	{"collection":"demo.orders","lo":{"$oid":"65a0..."},"hi":{"$oid":"65b1..."}}
type chunkSpec struct {
	Collection string          `json:"collection"`
	Lo         json.RawMessage `json:"lo,omitempty"`
	Hi         json.RawMessage `json:"hi,omitempty"`
	Mixed      bool            `json:"mixed,omitempty"`
}

// PlanChunks takes the change stream's start point first (when any
// collection is streamed: the resume token, as a single node's export
// does), then cuts every collection to export into the export's _id ranges
// of export.partition_size documents, one chunk each. The plan's
// checkpoint is phase stream at that token, or phase done when nothing is
// streamed (Run then returns at once and the pipeline ends once every chunk
// is done). MongoDB cannot share a snapshot between connections, so there
// is no Exporter: see ReadChunk for why the result is still right.
func (s *Source) PlanChunks(ctx context.Context) (*component.ChunkPlan, error) {
	exports := false
	for _, c := range s.cfg.Collections {
		exports = exports || c.Export
	}
	if !exports {
		return nil, nil
	}
	client, srv, err := s.connectOwn(ctx)
	if err != nil {
		return nil, err
	}
	defer disconnect(client)
	cp := &checkpoint{Version: 1, Phase: phaseDone}
	if s.cfg.streamed() {
		if err := srv.probeStreams(ctx); err != nil {
			return nil, err
		}
		tok, err := s.startToken(ctx, srv)
		if err != nil {
			return nil, err
		}
		if cp.Token, err = tokenJSON(tok); err != nil {
			return nil, component.Permanent(err)
		}
		cp.Phase = phaseStream
		s.log.Info("change stream start point for the shared export", "resume_token", tokenText(tok))
	}
	names, err := s.exportNames(ctx, srv)
	if err != nil {
		return nil, err
	}
	plan := &component.ChunkPlan{Checkpoint: cp.marshal()}
	conv := newConverter()
	text := func(v bson.RawValue) (json.RawMessage, error) {
		if v.Type == 0 {
			return nil, nil
		}
		b, err := conv.extJSON(byte(v.Type), v.Value, true)
		return append(json.RawMessage(nil), b...), err
	}
	for _, ec := range names {
		ec.c = client.Database(ec.db).Collection(ec.coll, options.Collection().SetReadConcern(readconcern.Majority()))
		ec.prog = &collProgress{}
		if err := s.plan(ctx, ec); err != nil {
			return nil, err
		}
		for _, r := range ec.ranges {
			spec := chunkSpec{Collection: ec.name, Mixed: ec.mixed}
			if spec.Lo, err = text(r.lo); err == nil {
				spec.Hi, err = text(r.hi)
			}
			if err != nil {
				return nil, fmt.Errorf("export of %s: range boundary: %w", ec.name, err)
			}
			b, err := json.Marshal(spec)
			if err != nil {
				return nil, err
			}
			plan.Chunks = append(plan.Chunks, component.Chunk{Name: fmt.Sprintf("%06d", len(plan.Chunks)), Spec: b})
		}
	}
	return plan, nil
}

// ReadChunk reads one chunk's _id range (sorted by _id, majority read
// concern, as the export's workers do) and emits its documents, each with
// source.snapshot "true" (no node knows which document comes last).
//
// Why the last image per key is right: a document's _id never changes, so
// it lies in exactly one chunk's range, and a scan of the _id index returns
// every document that exists throughout the scan exactly once, however it
// is updated meanwhile. Every chunk is read after the plan's start point
// was taken, so the document it reads is that state or a newer one; the
// stream starts at the start point only once every chunk is durably
// written and replays every change after it in order (update_lookup: the
// document as it is at the lookup, or the update skipped when a delete
// follows), so the last event per key is its newest state. A document
// inserted or deleted during the scan may be read or not; its insert or
// delete is in the stream too. Without streams there is no such replay:
// each document is as the chunk read it (as with a single node's export).
func (s *Source) ReadChunk(ctx context.Context, specBytes []byte, out component.Emitter) error {
	var spec chunkSpec
	if err := json.Unmarshal(specBytes, &spec); err != nil {
		return component.Permanent(fmt.Errorf("export chunk %s is not this source's JSON: %w", specBytes, err))
	}
	db, coll, ok := strings.Cut(spec.Collection, ".")
	if !ok {
		return component.Permanent(fmt.Errorf("export chunk %s: collection %q is not db.collection", specBytes, spec.Collection))
	}
	ec := &exportColl{name: spec.Collection, db: db, coll: coll, mixed: spec.Mixed, cs: s.reg.collection(db, coll)}
	r := &idRange{ec: ec}
	var err error
	if spec.Lo != nil {
		if r.lo, err = parseExtValue(spec.Lo); err != nil {
			return component.Permanent(fmt.Errorf("export chunk of %s: lo: %w", spec.Collection, err))
		}
	}
	if spec.Hi != nil {
		if r.hi, err = parseExtValue(spec.Hi); err != nil {
			return component.Permanent(fmt.Errorf("export chunk of %s: hi: %w", spec.Collection, err))
		}
	}
	client, _, err := s.connectOwn(ctx)
	if err != nil {
		return err
	}
	defer disconnect(client)
	ec.c = client.Database(db).Collection(coll, options.Collection().SetReadConcern(readconcern.Majority()))
	ec.ranges = []*idRange{r}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *exportBatch, 1)
	ex := &exporter{s: s}
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(batches)
		readErr = ex.read(rctx, newConverter(), r, batches)
	})
	var emitErr error
	for b := range batches {
		if emitErr != nil || len(b.events) == 0 {
			continue // draining after a failure; a range's empty end
		}
		// The checkpoint is nil: a chunk's progress is its lease, not a
		// position of the source.
		if emitErr = out.Emit(rctx, b.events, nil); emitErr != nil {
			cancel()
		}
	}
	wg.Wait()
	if emitErr != nil {
		return emitErr
	}
	return readErr
}

// connectOwn opens a client the caller disconnects (chunk instances are
// never Closed) and waits for the server as engine.start_retry says.
func (s *Source) connectOwn(ctx context.Context) (*mongo.Client, server, error) {
	client, err := mongo.Connect(s.cfg.clientOptions())
	if err != nil {
		return nil, nil, component.Permanent(fmt.Errorf("connect: %w", err))
	}
	_, err = component.Connect(ctx, s.env, "connect", startTransient, func(ctx context.Context) (struct{}, error) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := client.Ping(pctx, nil); err != nil {
			return struct{}{}, fmt.Errorf("connect: the server does not answer: %w", err)
		}
		return struct{}{}, nil
	})
	if err != nil {
		disconnect(client)
		if a, ok := s.refused(err); ok {
			return nil, nil, a
		}
		return nil, nil, err
	}
	var srv server = driverServer{client}
	if s.ownServer != nil {
		srv = s.ownServer(srv)
	}
	return client, srv, nil
}

func disconnect(c *mongo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Disconnect(ctx) // read-only: nothing is lost
}
