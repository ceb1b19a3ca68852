package mongodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/progress"
)

// exportColl is one collection being exported. Its ranges' progress is
// written by the emitter (Run's goroutine) only.
type exportColl struct {
	name   string // db.coll
	db     string
	coll   string
	c      *mongo.Collection
	cs     *collSchemas
	prog   *collProgress // the checkpoint's entry
	mixed  bool
	ranges []*idRange
}

// idRange is [lo, hi) of a collection's _ids; a zero bound is open.
type idRange struct {
	ec     *exportColl
	idx    int
	lo, hi bson.RawValue
	after  bson.RawValue // resume after this _id (a restarted export)
	done   bool
	last   json.RawMessage // last emitted _id, canonical Extended JSON
}

// exportBatch is a batch of one range's rows and the progress it makes
// once emitted.
type exportBatch struct {
	r      *idRange
	events []event.Event
	last   json.RawMessage // the last row's _id
	done   bool            // the range's last batch
	extra  []*exportBatch  // empty batches (finished ranges) that ride on this one
}

// export reads every collection to export that cp does not mark done and
// returns the checkpoint to stream from (phase stream, or done when
// nothing is streamed).
func (s *Source) export(ctx context.Context, srv server, client *mongo.Client, cp *checkpoint, out component.Emitter) (*checkpoint, error) {
	names, err := s.exportNames(ctx, srv)
	if err != nil {
		return nil, err
	}
	if cp.Export == nil {
		cp.Export = map[string]*collProgress{}
	}
	var todo []*exportColl
	for _, n := range names {
		if p := cp.Export[n.db+"."+n.coll]; p != nil && p.Done {
			continue
		}
		todo = append(todo, n)
	}
	if len(todo) > 0 && client == nil {
		return nil, component.Permanent(errors.New("export needs a MongoDB client"))
	}
	start := time.Now()
	var total int64
	for _, ec := range todo {
		ec.c = client.Database(ec.db).Collection(ec.coll, options.Collection().SetReadConcern(readconcern.Majority()))
		ec.cs = s.reg.collection(ec.db, ec.coll)
		if n, err := ec.c.EstimatedDocumentCount(ctx); err == nil {
			total += n
		}
	}
	s.prog.Enter(&progress.Snapshot, total)
	if len(todo) > 0 {
		s.log.Info("export started", "collections", len(todo), "estimated_documents", total, "workers", s.cfg.Export.Workers)
	}
	for _, ec := range todo {
		p := cp.Export[ec.name]
		if p == nil {
			p = &collProgress{}
			cp.Export[ec.name] = p
		}
		ec.prog = p
		if err := s.plan(ctx, ec); err != nil {
			return nil, err
		}
	}
	ex := &exporter{s: s, out: out, cp: cp, colls: todo}
	rows, err := ex.run(ctx)
	if err != nil {
		return nil, err
	}
	if len(todo) > 0 {
		s.log.Info("export done", "collections", len(todo), "documents", rows, "took", time.Since(start).Round(time.Millisecond))
	}
	return cp, nil
}

// exportNames resolves the collections to export: exact names as given,
// globs against the server's collections.
func (s *Source) exportNames(ctx context.Context, srv server) ([]*exportColl, error) {
	var out []*exportColl
	seen := map[string]bool{}
	add := func(db, coll string) {
		if n := db + "." + coll; !seen[n] {
			seen[n] = true
			out = append(out, &exportColl{name: n, db: db, coll: coll})
		}
	}
	listed := map[string][]string{}
	for _, c := range s.cfg.Collections {
		if !c.Export {
			continue
		}
		if !isGlob(c.coll) {
			add(c.db, c.coll)
			continue
		}
		names, ok := listed[c.db]
		if !ok {
			var err error
			if names, err = srv.collections(ctx, c.db); err != nil {
				return nil, err
			}
			listed[c.db] = names
		}
		n := 0
		for _, name := range names {
			if ok, _ := path.Match(c.coll, name); ok {
				add(c.db, name)
				n++
			}
		}
		if n == 0 {
			s.log.Warn("no collection matches; nothing to export for it", "collection", c.Name)
		}
	}
	return out, nil
}

// plan cuts a collection into _id ranges of export.partition_size
// documents, or restores the ranges of a resumed export.
func (s *Source) plan(ctx context.Context, ec *exportColl) error {
	p := ec.prog
	if p.Bounds != nil || p.Mixed || p.DoneRanges != "" || len(p.Last) > 0 {
		return s.restorePlan(ec)
	}
	minID, ok, err := edgeID(ctx, ec.c, 1)
	if err != nil {
		return fmt.Errorf("export of %s: %w", ec.name, err)
	}
	if !ok {
		ec.ranges = []*idRange{{ec: ec}}
		s.log.Info("collection is empty (or missing)", "collection", ec.name)
		return nil
	}
	maxID, _, err := edgeID(ctx, ec.c, -1)
	if err != nil {
		return fmt.Errorf("export of %s: %w", ec.name, err)
	}
	if bracket(byte(minID.Type)) != bracket(byte(maxID.Type)) {
		// $gte/$lt only match _ids of the bound's own type bracket: ranges
		// would miss the others. Read the collection as one range, sorted.
		ec.mixed, p.Mixed = true, true
		ec.ranges = []*idRange{{ec: ec}}
		s.log.Warn("the collection's _ids have mixed BSON types; it is read as one range, without parallelism", "collection", ec.name,
			"min_id_type", typeAliases[byte(minID.Type)], "max_id_type", typeAliases[byte(maxID.Type)])
		return nil
	}
	var bounds []bson.RawValue
	conv := newConverter()
	raw := []byte{'['}
	prev := bson.RawValue{}
	for {
		filter := bson.D{}
		if prev.Type != 0 {
			filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: prev}}}}
		}
		o := options.FindOne().SetSort(bson.D{{Key: "_id", Value: 1}}).SetSkip(int64(s.cfg.Export.PartitionSize)).SetProjection(bson.D{{Key: "_id", Value: 1}})
		doc, err := ec.c.FindOne(ctx, filter, o).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return fmt.Errorf("export of %s: find range boundaries: %w", ec.name, err)
		}
		id, err := doc.LookupErr("_id")
		if err != nil {
			return fmt.Errorf("export of %s: range boundary without _id", ec.name)
		}
		id = bson.RawValue{Type: id.Type, Value: append([]byte(nil), id.Value...)}
		bounds = append(bounds, id)
		text, err := conv.extJSON(byte(id.Type), id.Value, true)
		if err != nil {
			return fmt.Errorf("export of %s: range boundary: %w", ec.name, err)
		}
		if len(raw) > 1 {
			raw = append(raw, ',')
		}
		raw = append(raw, text...)
		prev = id
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	raw = append(raw, ']')
	if len(bounds) > 0 {
		p.Bounds = raw
	}
	ec.ranges = makeRanges(ec, bounds)
	s.log.Info("collection planned", "collection", ec.name, "ranges", len(ec.ranges))
	return nil
}

// restorePlan rebuilds a resumed export's ranges from its checkpoint.
func (s *Source) restorePlan(ec *exportColl) error {
	p := ec.prog
	bounds, err := p.bounds()
	if err != nil {
		return component.Permanent(fmt.Errorf("checkpoint: export of %s: %w", ec.name, err))
	}
	ec.mixed = p.Mixed
	ec.ranges = makeRanges(ec, bounds)
	done, err := parseRanges(p.DoneRanges, len(ec.ranges))
	if err != nil {
		return component.Permanent(fmt.Errorf("checkpoint: export of %s: %w", ec.name, err))
	}
	left := 0
	for i, r := range ec.ranges {
		r.done = done[i]
		if last := p.Last[strconv.Itoa(i)]; last != nil && !r.done {
			if r.after, err = parseExtValue(last); err != nil {
				return component.Permanent(fmt.Errorf("checkpoint: export of %s: %w", ec.name, err))
			}
			r.last = last
		}
		if !r.done {
			left++
		}
	}
	s.log.Info("resuming the export", "collection", ec.name, "ranges", len(ec.ranges), "unfinished", left)
	return nil
}

func makeRanges(ec *exportColl, bounds []bson.RawValue) []*idRange {
	rs := make([]*idRange, len(bounds)+1)
	for i := range rs {
		r := &idRange{ec: ec, idx: i}
		if i > 0 {
			r.lo = bounds[i-1]
		}
		if i < len(bounds) {
			r.hi = bounds[i]
		}
		rs[i] = r
	}
	return rs
}

// edgeID returns the smallest (dir 1) or largest (dir -1) _id.
func edgeID(ctx context.Context, c *mongo.Collection, dir int) (bson.RawValue, bool, error) {
	o := options.FindOne().SetSort(bson.D{{Key: "_id", Value: dir}}).SetProjection(bson.D{{Key: "_id", Value: 1}})
	doc, err := c.FindOne(ctx, bson.D{}, o).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return bson.RawValue{}, false, nil
	}
	if err != nil {
		return bson.RawValue{}, false, fmt.Errorf("find the %s _id: %w", map[int]string{1: "smallest", -1: "largest"}[dir], err)
	}
	id, err := doc.LookupErr("_id")
	if err != nil {
		return bson.RawValue{}, false, errors.New("a document without _id")
	}
	return id, true, nil
}

// bracket is a BSON type's place in MongoDB's comparison order; types of
// one bracket (the numbers; string and symbol) compare with each other,
// and comparison operators match only their own bracket.
func bracket(t byte) int {
	switch t {
	case tMinKey:
		return -1
	case tUndefined:
		return 0
	case tNull:
		return 5
	case tDouble, tInt32, tInt64, tDecimal:
		return 10
	case tString, tSymbol:
		return 15
	case tDocument:
		return 20
	case tArray:
		return 25
	case tBinary:
		return 30
	case tObjectID:
		return 35
	case tBool:
		return 40
	case tDate:
		return 45
	case tTimestamp:
		return 47
	case tRegex:
		return 50
	case tDBPointer:
		return 55
	case tJavaScript:
		return 60
	case tCodeScope:
		return 65
	case tMaxKey:
		return 127
	}
	return 200
}

// laterTypes are the $type aliases of the brackets after t's, for resuming
// a mixed-type collection after an _id of type t. MongoDB knows every
// alias; servers that store only the common types (FerretDB) reject the
// others, so common lists only those.
func laterTypes(t byte, common bool) bson.A {
	var a bson.A
	b := bracket(t)
	for _, u := range []byte{tMinKey, tUndefined, tNull, tDouble, tString, tSymbol, tDocument,
		tBinary, tObjectID, tBool, tDate, tTimestamp, tRegex, tDBPointer, tJavaScript, tCodeScope, tMaxKey} {
		if bracket(u) <= b || (common && !commonType(u)) {
			continue
		}
		if u == tDouble {
			a = append(a, "number") // int, long, double, decimal
			continue
		}
		a = append(a, typeAliases[u])
	}
	return a
}

// commonType: the types every MongoDB-compatible server stores.
func commonType(t byte) bool {
	switch t {
	case tNull, tDouble, tString, tDocument, tBinary, tObjectID, tBool, tDate, tTimestamp, tRegex:
		return true
	}
	return false
}

// singleValued brackets hold one _id at most (null, undefined, the keys):
// nothing of theirs comes after their _id.
func singleValued(t byte) bool {
	return t == tNull || t == tUndefined || t == tMinKey || t == tMaxKey
}

// filter selects the range's documents not yet emitted. common limits a
// mixed collection's type list to the common types (see laterTypes).
func (r *idRange) filter(common bool) bson.D {
	if r.ec.mixed && r.after.Type != 0 {
		later := bson.D{{Key: "_id", Value: bson.D{{Key: "$type", Value: laterTypes(byte(r.after.Type), common)}}}}
		if singleValued(byte(r.after.Type)) {
			return later
		}
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: r.after}}}},
			later,
		}}}
	}
	var cond bson.D
	switch {
	case r.after.Type != 0:
		cond = append(cond, bson.E{Key: "$gt", Value: r.after})
	case r.lo.Type != 0:
		cond = append(cond, bson.E{Key: "$gte", Value: r.lo})
	}
	if r.hi.Type != 0 {
		cond = append(cond, bson.E{Key: "$lt", Value: r.hi})
	}
	if cond == nil {
		return bson.D{}
	}
	return bson.D{{Key: "_id", Value: cond}}
}

// badQuery recognises BadValue (2) and NotImplemented (238).
func badQuery(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(2) || se.HasErrorCode(238))
}

// exporter reads ranges with export.workers goroutines; Run's goroutine
// emits their batches, holding the newest back so that the export's very
// last row is marked last and its batch carries the stream checkpoint.
type exporter struct {
	s       *Source
	out     component.Emitter
	cp      *checkpoint
	colls   []*exportColl
	pending *exportBatch
	rows    int64
}

func (ex *exporter) run(ctx context.Context) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	workers := ex.s.cfg.Export.Workers
	tasks := make(chan *idRange)
	batches := make(chan *exportBatch, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := newConverter()
			for r := range tasks {
				if err := ex.read(wctx, conv, r, batches); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	go func() {
		defer close(tasks)
		for _, ec := range ex.colls {
			for _, r := range ec.ranges {
				if r.done {
					continue
				}
				select {
				case tasks <- r:
				case <-wctx.Done():
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(batches) }()
	for b := range batches {
		if wctx.Err() != nil {
			continue // draining after a failure
		}
		if err := ex.push(wctx, b); err != nil {
			fail(err)
		}
	}
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return ex.rows, ex.finish(ctx)
}

// read reads one range in _id order and sends its batches; the last one
// is marked done (and may be empty).
func (ex *exporter) read(ctx context.Context, conv *converter, r *idRange, batches chan<- *exportBatch) error {
	ec := r.ec
	bs := ex.s.cfg.BatchSize
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(int32(min(bs, 1<<20)))
	cur, err := ec.c.Find(ctx, r.filter(false), o)
	if err != nil && ec.mixed && r.after.Type != 0 && badQuery(err) {
		// A server without MongoDB's rarer types (FerretDB) rejects their
		// $type aliases; it cannot hold such _ids either.
		cur, err = ec.c.Find(ctx, r.filter(true), o)
	}
	if err != nil {
		return fmt.Errorf("export of %s, range %d: %w", ec.name, r.idx, err)
	}
	defer cur.Close(context.Background()) //nolint:errcheck // read-only cursor
	send := func(b *exportBatch) error {
		select {
		case batches <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	prefix := "export " + ec.name + " _id "
	var batch []event.Event
	var last json.RawMessage
	now := time.Now().UnixMilli()
	for cur.Next(ctx) {
		sch, vals, err := conv.document(ec.cs, cur.Current)
		if err != nil {
			return component.Permanent(fmt.Errorf("export of %s: document %s: %w", ec.name, ex.idOf(conv, cur.Current), err))
		}
		id := &conv.elems[conv.order[0]]
		if batch == nil {
			batch = make([]event.Event, 0, min(bs, 1024))
			now = time.Now().UnixMilli()
		}
		batch = append(batch, event.Event{
			Op: event.OpRead, Schema: sch, After: vals, TsMs: now,
			Position: prefix + conv.idText(id.t, id.val),
			Source:   event.Source{TsUs: event.UsFromMs(now), Snapshot: event.SnapshotTrue},
		})
		if len(batch) >= bs {
			if last, err = conv.extJSON(id.t, id.val, true); err != nil {
				return component.Permanent(fmt.Errorf("export of %s: _id: %w", ec.name, err))
			}
			if err := send(&exportBatch{r: r, events: batch, last: append(json.RawMessage(nil), last...)}); err != nil {
				return err
			}
			batch = nil
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("export of %s, range %d: %w", ec.name, r.idx, err)
	}
	return send(&exportBatch{r: r, events: batch, done: true})
}

// idOf names a document for an error message: its _id, or "without _id".
func (ex *exporter) idOf(conv *converter, doc bson.Raw) string {
	id, err := doc.LookupErr("_id")
	if err != nil {
		return "without _id"
	}
	return "_id " + conv.idText(byte(id.Type), id.Value)
}

// push emits the held-back batch and holds b. A batch without rows (a
// range's end) rides on the held-back one.
func (ex *exporter) push(ctx context.Context, b *exportBatch) error {
	if len(b.events) == 0 {
		if ex.pending != nil {
			ex.pending.extra = append(ex.pending.extra, b)
		} else {
			ex.apply(b)
		}
		return nil
	}
	if p := ex.pending; p != nil {
		ex.apply(p)
		if err := ex.out.Emit(ctx, p.events, ex.cp.marshal()); err != nil {
			return err
		}
		ex.rows += int64(len(p.events))
	}
	ex.pending = b
	return nil
}

// apply records a batch's progress in the checkpoint.
func (ex *exporter) apply(b *exportBatch) {
	r := b.r
	if b.last != nil {
		r.last = b.last
	}
	if b.done {
		r.done, r.last = true, nil
	}
	for _, e := range b.extra {
		ex.apply(e)
	}
	ec := r.ec
	p := ec.prog
	done := make([]bool, len(ec.ranges))
	all := true
	p.Last = nil
	for i, x := range ec.ranges {
		done[i] = x.done
		all = all && x.done
		if !x.done && x.last != nil {
			if p.Last == nil {
				p.Last = map[string]json.RawMessage{}
			}
			p.Last[strconv.Itoa(i)] = x.last
		}
	}
	if all {
		*p = collProgress{Done: true}
		return
	}
	p.DoneRanges = formatRanges(done)
}

// finish emits the last batch: its last row is the export's last, and its
// checkpoint the stream's start (or done).
func (ex *exporter) finish(ctx context.Context) error {
	var evs []event.Event
	if p := ex.pending; p != nil {
		ex.apply(p)
		evs = p.events
		evs[len(evs)-1].Source.Snapshot = event.SnapshotLast
		ex.rows += int64(len(evs))
	}
	cp := ex.cp
	cp.Export = nil
	cp.Phase = phaseDone
	if len(cp.Token) > 0 {
		cp.Phase = phaseStream
	}
	return ex.out.Emit(ctx, evs, cp.marshal())
}
