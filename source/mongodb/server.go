package mongodb

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"

	"github.com/sluice-dev/sluice/component"
)

// changeStream is what the stream loop reads: the driver's
// *mongo.ChangeStream through driverStream, or recorded change events in
// tests. Its methods keep the driver's meaning.
type changeStream interface {
	// TryNext moves to the next change; false when none is ready (the
	// server waited its maxAwaitTime), on error (Err), or when the stream
	// is closed (Err returns errStreamClosed).
	TryNext(ctx context.Context) bool
	// Current is the change TryNext moved to, valid until the next call.
	Current() bson.Raw
	// ResumeToken is the position after Current, or the server's newest
	// position (postBatchResumeToken) when no change is buffered.
	ResumeToken() bson.Raw
	// Buffered is the number of changes received and not yet returned.
	Buffered() int
	Err() error
	Close(ctx context.Context) error
}

// errStreamClosed: the server closed the change stream's cursor without an
// error (after an invalidate).
var errStreamClosed = errors.New("the server closed the change stream")

// server is what Run needs from MongoDB besides the export: the driver's
// client through driverServer, or recorded streams in tests.
type server interface {
	// probeStreams returns a clear error when the server has no change
	// streams (a standalone server, FerretDB).
	probeStreams(ctx context.Context) error
	// collections lists db's collections (not views, not system.*).
	collections(ctx context.Context, db string) ([]string, error)
	// watch opens a change stream after resumeAfter, or from now when it
	// is nil.
	watch(ctx context.Context, w *watchSpec, resumeAfter bson.Raw) (changeStream, error)
	// lookup reads one document by _id; nil, nil when there is none.
	lookup(ctx context.Context, db, coll string, idType byte, idVal []byte) (bson.Raw, error)
}

// ErrNoChangeStreams means the server cannot open change streams.
var ErrNoChangeStreams = errors.New("the server does not support change streams")

// noStreamsHint is the way out of ErrNoChangeStreams.
const noStreamsHint = "MongoDB has change streams on replica sets and sharded clusters only (a single server can run as a one-member replica set: --replSet rs0 and rs.initiate()); FerretDB has none. Set stream: false on every collection to export only"

// watchSpec is the one change stream the source reads: its scope (a
// collection, a database, or the cluster when db is empty) and the $match
// that keeps the configured collections.
type watchSpec struct {
	db, coll string
	match    bson.D
	fullDoc  options.FullDocument
	preImage options.FullDocument
	batch    int32
}

// newWatchSpec builds the stream for the streamed collections of cfg: a
// collection stream for one collection, a database stream for one
// database, else a cluster stream; the $match passes the collections'
// changes and the events that end their history (drop, rename,
// dropDatabase, invalidate).
func newWatchSpec(cfg *Config) *watchSpec {
	exact := map[string][]string{} // db → collections
	globbed := map[string]bool{}
	var dbs []string
	for _, c := range cfg.Collections {
		if !c.Stream {
			continue
		}
		if _, seen := exact[c.db]; !seen && !globbed[c.db] {
			dbs = append(dbs, c.db)
		}
		if isGlob(c.coll) {
			globbed[c.db] = true
			if exact[c.db] == nil {
				exact[c.db] = []string{}
			}
			continue
		}
		exact[c.db] = append(exact[c.db], c.coll)
	}
	sort.Strings(dbs)
	w := &watchSpec{fullDoc: fullDocOption(cfg.FullDocument), preImage: fullDocOption(cfg.FullDocumentBeforeChange), batch: int32(min(cfg.BatchSize, 1<<20))}
	var or bson.A
	for _, db := range dbs {
		if globbed[db] {
			or = append(or, bson.D{{Key: "ns.db", Value: db}}, bson.D{{Key: "to.db", Value: db}})
			continue
		}
		colls := exact[db]
		sort.Strings(colls)
		or = append(or,
			bson.D{{Key: "ns.db", Value: db}, {Key: "ns.coll", Value: bson.D{{Key: "$in", Value: colls}}}},
			bson.D{{Key: "to.db", Value: db}, {Key: "to.coll", Value: bson.D{{Key: "$in", Value: colls}}}})
	}
	or = append(or,
		bson.D{{Key: "operationType", Value: "dropDatabase"}, {Key: "ns.db", Value: bson.D{{Key: "$in", Value: dbs}}}},
		bson.D{{Key: "operationType", Value: "invalidate"}})
	w.match = bson.D{{Key: "$match", Value: bson.D{{Key: "$or", Value: or}}}}
	if len(dbs) == 1 {
		w.db = dbs[0]
		if !globbed[w.db] && len(exact[w.db]) == 1 {
			w.coll = exact[w.db][0]
		}
	}
	return w
}

func fullDocOption(mode string) options.FullDocument {
	switch mode {
	case UpdateLookup:
		return options.UpdateLookup
	case WhenAvailable:
		return options.WhenAvailable
	case Required:
		return options.Required
	}
	return options.Off
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// matcher tells which namespaces are captured: the streamed collections
// (exact names and globs).
type matcher struct {
	exact map[string]bool // "db.coll"
	globs []Collection
	dbs   map[string]bool
}

func newMatcher(cols []Collection) *matcher {
	m := &matcher{exact: map[string]bool{}, dbs: map[string]bool{}}
	for _, c := range cols {
		if !c.Stream {
			continue
		}
		m.dbs[c.db] = true
		if isGlob(c.coll) {
			m.globs = append(m.globs, c)
		} else {
			m.exact[c.db+"."+c.coll] = true
		}
	}
	return m
}

func (m *matcher) coll(db, coll string) bool {
	if m.exact[db+"."+coll] {
		return true
	}
	if strings.HasPrefix(coll, "system.") {
		return false
	}
	for _, g := range m.globs {
		if g.db == db {
			if ok, _ := path.Match(g.coll, coll); ok {
				return true
			}
		}
	}
	return false
}

func (m *matcher) db(db string) bool { return m.dbs[db] }

// driverServer is server over the driver's client.
type driverServer struct {
	client *mongo.Client
}

var _ server = driverServer{}

// probeStreams asks hello whether the server is a replica set member or a
// mongos: only those have change streams.
func (d driverServer) probeStreams(ctx context.Context) error {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := d.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if hello.SetName == "" && hello.Msg != "isdbgrid" {
		return component.Permanent(fmt.Errorf("%w: it is neither a replica set member nor a mongos (hello reports no setName). %s", ErrNoChangeStreams, noStreamsHint))
	}
	return nil
}

func (d driverServer) collections(ctx context.Context, db string) ([]string, error) {
	names, err := d.client.Database(db).ListCollectionNames(ctx, bson.D{{Key: "type", Value: "collection"}})
	if err != nil {
		return nil, fmt.Errorf("list the collections of %s: %w", db, err)
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, "system.") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (d driverServer) watch(ctx context.Context, w *watchSpec, resumeAfter bson.Raw) (changeStream, error) {
	o := options.ChangeStream().SetFullDocument(w.fullDoc).SetBatchSize(w.batch)
	if w.preImage != options.Off {
		o.SetFullDocumentBeforeChange(w.preImage)
	}
	if resumeAfter != nil {
		o.SetResumeAfter(resumeAfter)
	}
	pipeline := mongo.Pipeline{w.match}
	var cs *mongo.ChangeStream
	var err error
	switch {
	case w.coll != "":
		cs, err = d.client.Database(w.db).Collection(w.coll).Watch(ctx, pipeline, o)
	case w.db != "":
		cs, err = d.client.Database(w.db).Watch(ctx, pipeline, o)
	default:
		cs, err = d.client.Watch(ctx, pipeline, o)
	}
	if err != nil {
		if noChangeStreams(err) {
			return nil, component.Permanent(fmt.Errorf("%w (%v). %s", ErrNoChangeStreams, err, noStreamsHint))
		}
		return nil, err
	}
	return driverStream{cs}, nil
}

// noChangeStreams recognises the errors of servers without change
// streams: NotImplemented (FerretDB), CommandNotSupported, a standalone
// mongod's 40573, an unknown $changeStream stage (40324).
func noChangeStreams(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	return se.HasErrorCode(238) || se.HasErrorCode(115) || se.HasErrorCode(40573) || se.HasErrorCode(40324)
}

func (d driverServer) lookup(ctx context.Context, db, coll string, idType byte, idVal []byte) (bson.Raw, error) {
	c := d.client.Database(db).Collection(coll, options.Collection().SetReadConcern(readconcern.Majority()))
	raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: bson.RawValue{Type: bson.Type(idType), Value: idVal}}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	return raw, err
}

// driverStream adapts *mongo.ChangeStream to changeStream.
type driverStream struct{ cs *mongo.ChangeStream }

func (d driverStream) TryNext(ctx context.Context) bool { return d.cs.TryNext(ctx) }
func (d driverStream) Current() bson.Raw                { return d.cs.Current }
func (d driverStream) ResumeToken() bson.Raw            { return d.cs.ResumeToken() }
func (d driverStream) Buffered() int                    { return d.cs.RemainingBatchLength() }
func (d driverStream) Close(ctx context.Context) error  { return d.cs.Close(ctx) }

func (d driverStream) Err() error {
	if err := d.cs.Err(); err != nil {
		return err
	}
	if d.cs.ID() == 0 {
		return errStreamClosed
	}
	return nil
}

// historyLost recognises a resume point that is no longer in the oplog:
// ChangeStreamHistoryLost (286), or ChangeStreamFatalError (280, "the
// resume token was not found") on older servers.
func historyLost(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	return se.HasErrorCode(286) || se.HasErrorCode(280)
}

// retryable reports whether a stream error may pass on reopening the
// stream: network errors and timeouts, and server errors that the driver
// labels resumable or retryable. Anything else (authentication, missing
// privileges, bad options, pre-images that are not recorded) stops the
// source.
func retryable(err error) bool {
	if err == nil || component.IsPermanent(err) || historyLost(err) || errors.Is(err, ErrHistoryLost) ||
		errors.Is(err, ErrStreamEnded) || errors.Is(err, ErrNoChangeStreams) {
		return false
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, errStreamClosed) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		return se.HasErrorLabel("ResumableChangeStreamError") || se.HasErrorLabel("RetryableError") ||
			se.HasErrorLabel("NetworkError") || se.HasErrorCode(43) /* CursorNotFound */
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return false
	}
	return true // client-side errors: server selection, pool, I/O
}
