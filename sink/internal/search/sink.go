package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// docOptions leave MongoDB's _id out of document bodies: OpenSearch and
// Elasticsearch reserve _id as metadata ("Field [_id] is a metadata field
// and cannot be added inside a document"), and it is the document id already
// (document_id defaults to ${key}).
var docOptions = format.DocumentOptions{OmitKeyID: true}

// Response is an HTTP response of the cluster: status and whole body.
type Response struct {
	Status int
	Body   []byte
}

// Client is one engine's official Go client reduced to the four calls the
// sink makes. An error means no response arrived (connection refused or
// reset, timeout): the sink fails the Write and the engine retries it.
type Client interface {
	// Bulk POSTs an NDJSON body to /_bulk with filter_path.
	Bulk(ctx context.Context, body []byte, filterPath string) (Response, error)
	// MGet POSTs {"docs":[...]} to /_mget (realtime).
	MGet(ctx context.Context, body []byte) (Response, error)
	// CreateIndex PUTs /<index> with body.
	CreateIndex(ctx context.Context, index string, body []byte) (Response, error)
	// DeleteIndex DELETEs /<index>.
	DeleteIndex(ctx context.Context, index string) (Response, error)
	// Close releases idle connections.
	Close() error
}

// Options are what the engine packages pass besides the Config.
type Options struct {
	Product string // "opensearch", "elasticsearch": names the sink in messages
	Logger  *slog.Logger
	// ItemAttempts is how often a Write sends operations rejected with
	// back-pressure (429, es_rejected_execution, 5xx) before it gives up
	// with a plain error (default 5); RetryBase is the first pause
	// (default 100ms), doubled each time.
	ItemAttempts int
	RetryBase    time.Duration
	// Env names the sink's keys in messages; APIKey says the credentials
	// are an API key (api_key) rather than username and password.
	Env    component.Env
	APIKey bool
	// Lanes is how many bulk requests a Write keeps in flight at once
	// (default DefaultLanes); LaneBytes is the encoded size a lane must
	// have at least (default DefaultLaneBytes), so that a small Write goes
	// in one request. See "Ordering and concurrency" in the package doc.
	Lanes     int
	LaneBytes int
}

// DefaultLanes and DefaultLaneBytes are Options.Lanes and
// Options.LaneBytes when unset.
const (
	DefaultLanes     = 4
	DefaultLaneBytes = 1 << 20
)

// Sink writes events to a search cluster through a Client. Write is called
// from one goroutine; nothing in Sink is shared with another.
type Sink struct {
	cfg     *compiled
	client  Client
	log     *slog.Logger
	product string
	opt     Options

	defaultID, defaultVersion bool
	constIndex                string

	knownMu sync.Mutex        // lanes create indices concurrently
	known   map[string]bool   // indices known to exist (created, or found existing)
	names   map[string]string // interned rendered index names

	body    []byte // a multi-get body
	items   []item
	scratch []byte
	lanes   []*lane // reused across Writes
	nl      int     // lanes in use for the current range
	marks   []int   // the lanes' buffer lengths before the event being planned
	// perEvent estimates the encoded bytes of one event (from the last
	// range), to choose the number of lanes before encoding.
	perEvent int

	vtype string // version_type of the event being planned
}

// lane is one in-order sequence of bulk requests of a Write: the items of
// the documents that hash to it, encoded straight into its buffer and sent
// one request after another, each request's body a slice of the buffer.
// Each lane has its own buffers and results, so lanes share nothing while
// they run but s.items' disjoint elements.
type lane struct {
	buf       []byte // the lane's items, in event order (merges appended last)
	idx       []int  // s.items indices, in event order
	body      []byte // a body gathered from buf when its items are not contiguous
	rec       component.RecordErrors
	conflicts int // version conflicts (replays) counted in this Write
}

var _ component.Sink = (*Sink)(nil)

// New builds a sink. cfg must have passed Validate.
func New(cfg Config, client Client, opt Options) (*Sink, error) {
	c, errs := cfg.compile()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.ItemAttempts <= 0 {
		opt.ItemAttempts = 5
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = 100 * time.Millisecond
	}
	if opt.Lanes <= 0 {
		opt.Lanes = DefaultLanes
	}
	if opt.LaneBytes <= 0 {
		opt.LaneBytes = DefaultLaneBytes
	}
	s := &Sink{
		cfg: c, client: client, log: opt.Logger, product: opt.Product, opt: opt,
		defaultID:      c.id.String() == "${key}",
		defaultVersion: c.version != nil && c.version.String() == "${version}",
		known:          map[string]bool{},
		names:          map[string]string{},
	}
	for range opt.Lanes {
		s.lanes = append(s.lanes, &lane{})
	}
	if c.index.Constant() {
		s.constIndex, _ = c.index.RenderString(nil)
		s.constIndex = strings.ToLower(s.constIndex)
	}
	return s, nil
}

// Write implements component.Sink: the operations of each document are
// written in event order, in bulk requests of at most max_request_bytes, in
// up to Options.Lanes lanes at once (documents partitioned by id); Write
// returns nil only when every request of every lane succeeded. A truncate
// is applied after everything before it is written.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	var rec component.RecordErrors
	conflicts := 0
	start := 0
	for i := range events {
		if events[i].Op != event.OpTruncate {
			continue
		}
		if err := s.writeRange(ctx, events, start, i, &rec, &conflicts); err != nil {
			return err
		}
		if err := s.truncate(ctx, &events[i]); err != nil {
			return err
		}
		start = i + 1
	}
	if err := s.writeRange(ctx, events, start, len(events), &rec, &conflicts); err != nil {
		return err
	}
	if conflicts > 0 {
		s.log.Debug("version conflicts ignored: a newer version is stored (replayed events)", "count", conflicts)
	}
	if len(rec) > 0 {
		sort.SliceStable(rec, func(a, b int) bool { return rec[a].Index < rec[b].Index })
		return rec
	}
	return nil
}

// Close implements component.Sink.
func (s *Sink) Close(context.Context) error { return s.client.Close() }

// writeRange writes events[lo:hi], none of them a truncate.
func (s *Sink) writeRange(ctx context.Context, events []event.Event, lo, hi int, rec *component.RecordErrors, conflicts *int) error {
	if lo >= hi {
		return nil
	}
	// One lane per Options.LaneBytes of body, at most Options.Lanes,
	// decided before encoding so that items are encoded straight into
	// their lane's buffer.
	est := s.perEvent
	if est == 0 {
		est = 256
	}
	s.nl = min(len(s.lanes), max(1, (hi-lo)*est/s.opt.LaneBytes))
	lanes := s.lanes[:s.nl]
	for _, ln := range lanes {
		ln.buf, ln.idx, ln.rec, ln.conflicts = ln.buf[:0], ln.idx[:0], ln.rec[:0], 0
	}
	s.items = s.items[:0]
	merges := 0
	for i := lo; i < hi; i++ {
		n, err := s.plan(i, &events[i])
		if err != nil {
			*rec = append(*rec, component.RecordError{Index: i, Err: err})
			continue
		}
		merges += n
	}
	total := 0
	for _, ln := range lanes {
		total += len(ln.buf)
	}
	s.perEvent = max(1, total/(hi-lo))
	if len(s.items) == 0 {
		return nil
	}
	if err := s.ensureIndices(ctx); err != nil {
		return err
	}
	if merges > 0 {
		if err := s.encodeMerges(ctx, events, rec); err != nil {
			return err
		}
	}
	for k := range s.items {
		if it := &s.items[k]; it.start >= 0 { // else a merge that failed to encode (a record error)
			lanes[it.lane].idx = append(lanes[it.lane].idx, k)
		}
	}
	var first error
	if s.nl == 1 {
		first = s.sendLane(ctx, lanes[0])
	} else {
		// A lane that fails stops the others, and the Write returns its
		// error (not the cancellation it caused in the others): the engine
		// retries the Write whole, and what the other lanes wrote is
		// written again, as after any failed Write.
		lctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var once sync.Once
		for _, ln := range lanes {
			wg.Go(func() {
				if err := s.sendLane(lctx, ln); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			})
		}
		wg.Wait()
		cancel()
	}
	for _, ln := range lanes {
		*rec = append(*rec, ln.rec...)
		*conflicts += ln.conflicts
	}
	return first
}

// contiguous reports whether the items s.items[k] for k in idx lie one
// after another in their lane's buffer, in that order.
func (s *Sink) contiguous(idx []int) bool {
	for j := 1; j < len(idx); j++ {
		if s.items[idx[j]].start != s.items[idx[j-1]].end {
			return false
		}
	}
	return true
}

// sendLane sends a lane's items in requests of at most maxBytes, in order,
// each after the previous one succeeded.
func (s *Sink) sendLane(ctx context.Context, ln *lane) error {
	lo, size := 0, 0
	for n, k := range ln.idx {
		it := &s.items[k]
		sz := it.end - it.start
		if n > lo && size+sz > s.cfg.maxBytes {
			if err := s.send(ctx, ln, ln.idx[lo:n]); err != nil {
				return err
			}
			lo, size = n, 0
		}
		size += sz
	}
	return s.send(ctx, ln, ln.idx[lo:])
}

// plan renders one event's bulk items into their lanes' buffers. It
// returns 1 when the event's index item must be completed by encodeMerges
// (unchanged TOAST columns under external versioning). On error nothing is
// added.
func (s *Sink) plan(i int, e *event.Event) (int, error) {
	mark := len(s.items)
	s.marks = s.marks[:0]
	for _, ln := range s.lanes[:s.nl] {
		s.marks = append(s.marks, len(ln.buf))
	}
	fail := func(err error) (int, error) {
		s.items = s.items[:mark]
		for l, m := range s.marks {
			s.lanes[l].buf = s.lanes[l].buf[:m]
		}
		return 0, fmt.Errorf("%s: %w", e, err)
	}
	var img []event.Value
	switch e.Op {
	case event.OpRead, event.OpCreate, event.OpUpdate:
		if img = e.After; img == nil {
			return fail(errors.New("event has no after image"))
		}
	case event.OpDelete:
		if e.Before == nil {
			return fail(errors.New("delete has no before image to find the document by"))
		}
	default:
		return fail(fmt.Errorf("unknown operation %q", byte(e.Op)))
	}
	index, id, routing, err := s.target(e)
	if err != nil {
		return fail(err)
	}
	version, err := s.version(e)
	if err != nil {
		return fail(err)
	}
	s.vtype = s.cfg.versionType
	if s.vtype == VersionExternal && s.defaultVersion && e.Source.Snapshot != event.SnapshotFalse {
		// Snapshot rows all have version 1, and a snapshot read later
		// (after a crash, at a newer snapshot) must replace one read
		// earlier; changes (versions > 1) stay protected.
		s.vtype = VersionExternalGTE
	}
	if e.Op == event.OpDelete {
		s.addItem(i, actDelete, index, id, routing, version)
		return 0, nil
	}
	// An update that moved the row to another document deletes the old
	// one after indexing the new one, so that a merge reads the old
	// document's state before its delete.
	var moved *docRef
	if e.Op == event.OpUpdate && e.Before != nil && keyChanged(e) {
		old := *e
		old.After = nil
		oi, oid, or, err := s.target(&old)
		if err != nil {
			return fail(fmt.Errorf("old key: %w", err))
		}
		if oi != index || oid != id {
			moved = &docRef{oi, oid, or}
		}
	}
	merge := 0
	switch {
	case !format.HasUnchanged(img):
		it := s.addItem(i, actIndex, index, id, routing, version)
		ln := s.lanes[it.lane]
		if ln.buf, err = format.AppendDocumentWith(ln.buf, e.Schema, img, nil, docOptions); err != nil {
			return fail(err)
		}
		ln.buf = append(ln.buf, '\n')
		it.end = len(ln.buf)
	case s.cfg.versionType == "" && moved == nil:
		// No versions: a partial update leaves the stored columns alone.
		it := s.addItem(i, actUpdate, index, id, routing, 0)
		ln := s.lanes[it.lane]
		ln.buf = append(ln.buf, `{"doc":`...)
		if ln.buf, err = format.AppendDocumentWith(ln.buf, e.Schema, img, nil, docOptions); err != nil {
			return fail(err)
		}
		ln.buf = append(ln.buf, ",\"doc_as_upsert\":true}\n"...)
		it.end = len(ln.buf)
	default:
		// External versions cannot go with partial updates, and a moved
		// row's unchanged columns are stored under its old key: the
		// stored document is merged in encodeMerges and indexed whole.
		src := docRef{index, id, routing}
		if moved != nil {
			src = *moved
		}
		s.items = append(s.items, item{ev: i, act: actIndex, start: -1, index: index, id: id, routing: routing, version: version, src: src})
		it := &s.items[len(s.items)-1]
		it.lane = it.laneOf(s.nl)
		merge = 1
	}
	if moved != nil {
		s.addItem(i, actDelete, moved.index, moved.id, moved.routing, version)
	}
	return merge, nil
}

// addItem appends an item and its action line (to its lane's buffer); for
// index and update items the caller appends the document line and sets
// end.
func (s *Sink) addItem(ev int, act byte, index, id, routing string, version int64) *item {
	s.items = append(s.items, item{ev: ev, act: act, index: index, id: id, routing: routing, version: version})
	it := &s.items[len(s.items)-1]
	it.lane = it.laneOf(s.nl)
	ln := s.lanes[it.lane]
	it.start = len(ln.buf)
	ln.buf = appendAction(ln.buf, act, index, id, routing, version, s.vtype)
	it.docStart, it.end = len(ln.buf), len(ln.buf)
	return it
}

// keyChanged reports whether an update moved the row to another key.
func keyChanged(e *event.Event) bool {
	for _, c := range e.Schema.KeyIdx {
		b, a := e.Before[c], e.After[c]
		if b.Kind == event.KindNull || b.Kind == event.KindUnchanged {
			continue // the before image does not carry the key
		}
		if !b.Equal(a) {
			return true
		}
	}
	return false
}

// maxIDBytes is the servers' limit on a document id.
const maxIDBytes = 512

// target renders an event's index, document id and routing.
func (s *Sink) target(e *event.Event) (index, id, routing string, err error) {
	if index, err = s.indexName(e); err != nil {
		return
	}
	if s.defaultID {
		s.scratch, err = tmpl.AppendKey(s.scratch[:0], e)
	} else {
		s.scratch, err = s.cfg.id.Render(s.scratch[:0], e)
	}
	if err != nil {
		return "", "", "", fmt.Errorf("document_id: %w", err)
	}
	if len(s.scratch) == 0 || len(s.scratch) > maxIDBytes {
		return "", "", "", fmt.Errorf("document_id: rendered id is %d bytes; ids must be 1 to %d bytes", len(s.scratch), maxIDBytes)
	}
	id = string(s.scratch)
	if s.cfg.routing != nil {
		if routing, err = s.cfg.routing.RenderString(e); err != nil {
			return "", "", "", fmt.Errorf("routing: %w", err)
		}
	}
	return index, id, routing, nil
}

// indexName renders, lower-cases, checks and interns an index name.
func (s *Sink) indexName(e *event.Event) (string, error) {
	if s.constIndex != "" {
		return s.constIndex, nil
	}
	b, err := s.cfg.index.Render(s.scratch[:0], e)
	s.scratch = b
	if err != nil {
		return "", fmt.Errorf("index: %w", err)
	}
	if n, ok := s.names[string(b)]; ok {
		return n, nil
	}
	name := strings.ToLower(string(b))
	if err := checkIndexName(name); err != nil {
		return "", fmt.Errorf("index: %w", err)
	}
	if len(s.names) > 10000 {
		clear(s.names) // bound memory for templates over columns
	}
	s.names[string(b)] = name
	return name, nil
}

// version returns the event's external version (0 when versioning is off).
func (s *Sink) version(e *event.Event) (int64, error) {
	if s.cfg.versionType == "" {
		return 0, nil
	}
	if s.defaultVersion {
		v, ok := e.Version()
		if !ok {
			return 0, fmt.Errorf("document_version: %s has no version (its source gives no order per key); set document_version_type: none", e.Schema.Stream)
		}
		return v, nil
	}
	b, err := s.cfg.version.Render(s.scratch[:0], e)
	s.scratch = b
	if err != nil {
		return 0, fmt.Errorf("document_version: %w", err)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("document_version: %q is not a non-negative 64-bit integer", b)
	}
	return v, nil
}

// refused is the error of a request the cluster answered with 401: the
// credentials are wrong or missing.
func (s *Sink) refused(resp Response) error {
	a := component.AuthError{Component: s.product + " sink", User: s.cfg.username, Server: s.cfg.hosts,
		Reason: "status 401: " + responseError(resp.Body),
		Keys:   s.opt.Env.Key("username") + " and " + s.opt.Env.Key("password")}
	if s.opt.APIKey {
		a.User, a.Keys, a.Secret = "", s.opt.Env.Key("api_key"), "the API key"
	}
	return component.AuthFailed(a)
}

// ensureIndices creates the indices of the current items that are not
// known to exist, when a mapping or settings are configured.
func (s *Sink) ensureIndices(ctx context.Context) error {
	if s.cfg.createBody == nil {
		return nil
	}
	for k := range s.items {
		if err := s.ensureIndex(ctx, s.items[k].index); err != nil {
			return err
		}
	}
	return nil
}

// ensureIndex creates index if it is not known to exist. Lanes call it
// concurrently: two may both create an index, and one then finds it exists.
func (s *Sink) ensureIndex(ctx context.Context, index string) error {
	if s.cfg.createBody == nil {
		return nil
	}
	s.knownMu.Lock()
	known := s.known[index]
	s.knownMu.Unlock()
	if known {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	resp, err := s.client.CreateIndex(ctx, index, s.cfg.createBody)
	if err != nil {
		return fmt.Errorf("%s: create index %q: %w", s.product, index, err)
	}
	switch {
	case resp.Status == 200:
		s.log.Info("created index", "index", index)
	case resp.Status == 400 && strings.Contains(string(resp.Body), "resource_already_exists_exception"):
	case resp.Status == 401:
		return s.refused(resp)
	case resp.Status == 429 || resp.Status >= 500:
		return fmt.Errorf("%s: create index %q: status %d: %s", s.product, index, resp.Status, responseError(resp.Body))
	default:
		return component.Permanent(fmt.Errorf("%s: create index %q: status %d: %s (check mapping and index_settings)",
			s.product, index, resp.Status, responseError(resp.Body)))
	}
	s.knownMu.Lock()
	s.known[index] = true
	s.knownMu.Unlock()
	return nil
}

// forget drops index from the indices known to exist.
func (s *Sink) forget(index string) {
	s.knownMu.Lock()
	delete(s.known, index)
	s.knownMu.Unlock()
}

// send writes the items s.items[k] for k in idx (of lane ln) in one bulk
// request, sending again those the cluster pushed back on, a few times.
func (s *Sink) send(ctx context.Context, ln *lane, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	pending := append([]int(nil), idx...)
	pause := s.opt.RetryBase
	for attempt := 1; ; attempt++ {
		// The body is the slice of the lane's buffer that holds the
		// pending items when they lie one after another (the common case:
		// a first attempt without merges); else they are gathered.
		var body []byte
		if s.contiguous(pending) {
			body = ln.buf[s.items[pending[0]].start:s.items[pending[len(pending)-1]].end]
		} else {
			ln.body = ln.body[:0]
			for _, k := range pending {
				it := &s.items[k]
				ln.body = append(ln.body, ln.buf[it.start:it.end]...)
			}
			body = ln.body
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
		resp, err := s.client.Bulk(rctx, body, bulkFilterPath)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: bulk request: %w", s.product, err)
		}
		var retry []int
		switch {
		case resp.Status == 200:
		case resp.Status == 413:
			if len(pending) > 1 {
				h := len(pending) / 2
				if err := s.send(ctx, ln, pending[:h]); err != nil {
					return err
				}
				return s.send(ctx, ln, pending[h:])
			}
			it := &s.items[pending[0]]
			ln.rec = append(ln.rec, component.RecordError{Index: it.ev, Err: fmt.Errorf("index %q, document %q: %d-byte operation is larger than the server accepts (http.max_content_length)",
				it.index, it.id, it.end-it.start)})
			return nil
		case resp.Status == 429 || resp.Status >= 500:
			retry = pending
		case resp.Status == 401:
			return s.refused(resp)
		case resp.Status == 400:
			return component.Permanent(fmt.Errorf("%s: bulk request rejected (status 400): %s", s.product, responseError(resp.Body)))
		default:
			return fmt.Errorf("%s: bulk request: status %d: %s", s.product, resp.Status, responseError(resp.Body))
		}
		firstRetry := -1
		var why string
		if retry == nil {
			r, err := parseBulk(resp.Body, len(pending))
			if err != nil {
				return fmt.Errorf("%s: %w", s.product, err)
			}
			for n, w := range r.Items {
				k := pending[n]
				it := &s.items[k]
				bi := w.item()
				if bi == nil {
					return fmt.Errorf("%s: bulk response item %d has no action", s.product, n)
				}
				switch classify(it.act, bi) {
				case itemConflict:
					ln.conflicts++
				case itemRetry:
					retry = append(retry, k)
					if firstRetry < 0 {
						firstRetry, why = n, fmt.Sprintf("status %d: %s", bi.Status, bi.Error)
					}
				case itemNoIndex:
					if s.cfg.createBody == nil {
						return component.Permanent(fmt.Errorf("%s: index %q does not exist and the cluster does not create it (set mapping or index_settings so that sluice creates it, or allow action.auto_create_index)", s.product, it.index))
					}
					s.forget(it.index)
					if err := s.ensureIndex(ctx, it.index); err != nil {
						return err
					}
					retry = append(retry, k)
					if firstRetry < 0 {
						firstRetry, why = n, "index was missing"
					}
				case itemRejected:
					ln.rec = append(ln.rec, component.RecordError{Index: it.ev, Err: fmt.Errorf("index %q, document %q: %s", it.index, it.id, bi.Error)})
					it.start = -1 // never send again
				}
			}
			if s.cfg.versionType == "" && firstRetry >= 0 {
				// Without versions, order per document is kept by sending
				// everything after the first pushed-back operation again.
				retry = retry[:0]
				for _, k := range pending[firstRetry:] {
					if s.items[k].start >= 0 {
						retry = append(retry, k)
					}
				}
			}
		} else {
			why = fmt.Sprintf("status %d: %s", resp.Status, responseError(resp.Body))
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt >= s.opt.ItemAttempts {
			return fmt.Errorf("%s: %d of %d bulk operations still pushed back after %d attempts (%s)", s.product, len(retry), len(pending), attempt, why)
		}
		s.log.Debug("bulk operations pushed back; sending them again", "count", len(retry), "reason", why)
		d := pause/2 + time.Duration(rand.Int64N(int64(pause/2)+1))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		pause = min(pause*2, 5*time.Second)
		pending = retry
	}
}

// truncate applies on_truncate to a truncate event; everything before it
// is written.
func (s *Sink) truncate(ctx context.Context, e *event.Event) error {
	switch s.cfg.onTruncate {
	case TruncateIgnore:
		s.log.Warn("table truncated; its documents are kept (on_truncate: ignore)", "stream", e.Schema.Stream, "position", e.Where())
		return nil
	case TruncateFail:
		return component.Permanent(fmt.Errorf("%s: %s: table truncated (on_truncate: fail)", s.product, e))
	}
	index, err := s.indexName(e)
	if err != nil {
		return component.Permanent(fmt.Errorf("%s: %s: on_truncate delete_index: %w (the index template needs row values; set on_truncate: ignore or fail)", s.product, e, err))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	resp, err := s.client.DeleteIndex(ctx, index)
	if err != nil {
		return fmt.Errorf("%s: delete index %q: %w", s.product, index, err)
	}
	switch {
	case resp.Status == 200 || resp.Status == 404:
		s.forget(index)
		s.log.Info("table truncated; deleted its index", "stream", e.Schema.Stream, "index", index)
		return nil
	case resp.Status == 401:
		return s.refused(resp)
	case resp.Status == 429 || resp.Status >= 500:
		return fmt.Errorf("%s: delete index %q: status %d: %s", s.product, index, resp.Status, responseError(resp.Body))
	}
	return component.Permanent(fmt.Errorf("%s: delete index %q: status %d: %s", s.product, index, resp.Status, responseError(resp.Body)))
}

// encodeMerges completes the index items of events with unchanged TOAST
// columns: each unchanged column takes the value the source document
// (the item's own, or the old key's when the update moved the row) holds
// just before the event — as built from the earlier items of the same
// Write, or else as stored in the cluster (a realtime multi-get) — and the
// whole document is indexed with the event's version. A document that is
// not stored (deleted later, in a replay) is indexed without those
// columns; the replay's later events decide its fate.
func (s *Sink) encodeMerges(ctx context.Context, events []event.Event, rec *component.RecordErrors) error {
	// The source documents of the merges, and those of them that must be
	// read from the cluster: no earlier item of the Write sets their whole
	// content (an index or a delete; a merge may fail, a partial update
	// needs the stored document beneath it).
	watch := map[string]bool{}
	whole := map[string]bool{}
	var fetch []docRef
	for k := range s.items {
		it := &s.items[k]
		if it.start < 0 {
			if key := it.src.key(); !watch[key] {
				watch[key] = true
				if !whole[key] {
					fetch = append(fetch, it.src)
				}
			}
			continue
		}
		if it.act != actUpdate {
			whole[it.ref().key()] = true
		}
	}
	stored, err := s.mget(ctx, fetch)
	if err != nil {
		return err
	}
	// state is each watched document as the items so far leave it: nil
	// when deleted; absent when untouched (then as stored).
	state := map[string]map[string]json.RawMessage{}
	current := func(key string) map[string]json.RawMessage {
		if d, ok := state[key]; ok {
			return d
		}
		return stored[key]
	}
	reread := func(b []byte) (map[string]json.RawMessage, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: re-reading a document of this batch: %w", s.product, err)
		}
		return m, nil
	}
	for k := range s.items {
		it := &s.items[k]
		key := it.ref().key()
		if it.start >= 0 {
			if !watch[key] {
				continue
			}
			switch it.act {
			case actDelete:
				state[key] = nil
			case actIndex:
				d, err := reread(s.lanes[it.lane].buf[it.docStart : it.end-1])
				if err != nil {
					return err
				}
				state[key] = d
			case actUpdate: // {"doc":{...},"doc_as_upsert":true}: merged into what is stored
				var u struct {
					Doc map[string]json.RawMessage `json:"doc"`
				}
				if err := json.Unmarshal(s.lanes[it.lane].buf[it.docStart:it.end-1], &u); err != nil {
					return fmt.Errorf("%s: re-reading a document of this batch: %w", s.product, err)
				}
				d := maps.Clone(current(key))
				if d == nil {
					d = u.Doc
				} else {
					maps.Copy(d, u.Doc)
				}
				state[key] = d
			}
			continue
		}
		base := current(it.src.key())
		e := &events[it.ev]
		ln := s.lanes[it.lane]
		start := len(ln.buf)
		ln.buf = appendAction(ln.buf, actIndex, it.index, it.id, it.routing, it.version, s.cfg.versionType)
		docStart := len(ln.buf)
		cols := e.Schema.Columns
		ln.buf, err = format.AppendDocumentWith(ln.buf, e.Schema, e.After, func(c int) []byte {
			if v, ok := base[cols[c].Name]; ok {
				return v
			}
			return nil
		}, docOptions)
		if err != nil {
			// Not sent: the document stays as it was.
			ln.buf = ln.buf[:start]
			*rec = append(*rec, component.RecordError{Index: it.ev, Err: fmt.Errorf("%s: %w", e, err)})
			continue
		}
		ln.buf = append(ln.buf, '\n')
		it.start, it.docStart, it.end = start, docStart, len(ln.buf)
		if watch[key] {
			d, err := reread(ln.buf[docStart : it.end-1])
			if err != nil {
				return err
			}
			state[key] = d
		}
	}
	return nil
}

// mget fetches the stored sources of docs, by docRef.key; a document
// that does not exist has no entry.
func (s *Sink) mget(ctx context.Context, docs []docRef) (map[string]map[string]json.RawMessage, error) {
	out := map[string]map[string]json.RawMessage{}
	if len(docs) == 0 {
		return out, nil
	}
	body := append(s.body[:0], `{"docs":[`...)
	for n, d := range docs {
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"_index":`...)
		body = format.AppendJSONString(body, d.index)
		body = append(body, `,"_id":`...)
		body = format.AppendJSONString(body, d.id)
		if d.routing != "" {
			body = append(body, `,"routing":`...)
			body = format.AppendJSONString(body, d.routing)
		}
		body = append(body, '}')
	}
	body = append(body, "]}"...)
	s.body = body
	rctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	resp, err := s.client.MGet(rctx, body)
	if err != nil {
		return nil, fmt.Errorf("%s: fetching stored documents for unchanged TOAST columns: %w", s.product, err)
	}
	if resp.Status == 401 {
		return nil, s.refused(resp)
	}
	if resp.Status != 200 {
		return nil, fmt.Errorf("%s: fetching stored documents for unchanged TOAST columns: status %d: %s", s.product, resp.Status, responseError(resp.Body))
	}
	var r struct {
		Docs []struct {
			Found  bool            `json:"found"`
			Source json.RawMessage `json:"_source"`
			Error  *itemError      `json:"error"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(resp.Body, &r); err != nil || len(r.Docs) != len(docs) {
		return nil, fmt.Errorf("%s: bad multi-get response (%d docs for %d ids): %v", s.product, len(r.Docs), len(docs), err)
	}
	for n, d := range r.Docs {
		if d.Error != nil && d.Error.Type != "index_not_found_exception" {
			return nil, fmt.Errorf("%s: fetching stored document %q: %s", s.product, docs[n].id, d.Error)
		}
		if !d.Found || len(d.Source) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(d.Source, &m); err != nil {
			return nil, fmt.Errorf("%s: stored document %q: %w", s.product, docs[n].id, err)
		}
		out[docs[n].key()] = m
	}
	return out, nil
}
