package mongodb

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/sluice-dev/sluice/event"
)

// ErrStreamEnded means the change stream reached an event sluice does not
// carry as rows and that ends a collection's history: drop, rename,
// dropDatabase, invalidate. The checkpoint stays before it.
var ErrStreamEnded = errors.New("change stream ended")

// change is the part of a change event (MongoDB's documented format) that
// sluice uses. Slices point into the raw event.
type change struct {
	op        string
	token     []byte // _id: the resume token document
	data      string // the token's _data, when it is a string
	ct        uint64 // clusterTime as seconds<<32 | increment; 0 when absent
	wallMs    int64  // wallTime (MongoDB 6.0+)
	hasWall   bool
	db, coll  string // ns
	toDB      string // rename: to
	toColl    string
	docKey    []byte // documentKey
	full      []byte // fullDocument; nil when absent or null
	pre       []byte // fullDocumentBeforeChange; nil when absent or null
	txn       int64  // txnNumber
	hasTxn    bool
	hasDocKey bool
}

// parseChange reads a change event. It validates the whole event first, so
// recorded or damaged input gives an error, never a panic.
func parseChange(raw []byte) (change, error) {
	var ch change
	if err := bsoncore.Document(raw).Validate(); err != nil {
		return ch, fmt.Errorf("change event is not a BSON document: %w", err)
	}
	elems, err := bsoncore.Document(raw).Elements()
	if err != nil {
		return ch, fmt.Errorf("change event: %w", err)
	}
	for _, el := range elems {
		v := el.Value()
		switch el.Key() {
		case "_id":
			doc, ok := v.DocumentOK()
			if !ok {
				return ch, errors.New("change event: _id (the resume token) is not a document")
			}
			ch.token = doc
			if d, ok := doc.Lookup("_data").StringValueOK(); ok {
				ch.data = d
			}
		case "operationType":
			s, ok := v.StringValueOK()
			if !ok {
				return ch, errors.New("change event: operationType is not a string")
			}
			ch.op = s
		case "clusterTime":
			t, i, ok := v.TimestampOK()
			if !ok {
				return ch, errors.New("change event: clusterTime is not a timestamp")
			}
			ch.ct = uint64(t)<<32 | uint64(i)
		case "wallTime":
			if ms, ok := v.DateTimeOK(); ok {
				ch.wallMs, ch.hasWall = ms, true
			}
		case "ns":
			ch.db, ch.coll, err = namespace(v, "ns")
		case "to":
			ch.toDB, ch.toColl, err = namespace(v, "to")
		case "documentKey":
			doc, ok := v.DocumentOK()
			if !ok {
				return ch, errors.New("change event: documentKey is not a document")
			}
			ch.docKey, ch.hasDocKey = doc, true
		case "fullDocument":
			ch.full, err = optDocument(v, "fullDocument")
		case "fullDocumentBeforeChange":
			ch.pre, err = optDocument(v, "fullDocumentBeforeChange")
		case "txnNumber":
			n, ok := v.AsInt64OK()
			if !ok {
				return ch, errors.New("change event: txnNumber is not a number")
			}
			ch.txn, ch.hasTxn = n, true
		}
		if err != nil {
			return ch, err
		}
	}
	if ch.token == nil {
		return ch, errors.New("change event has no _id (resume token)")
	}
	if ch.op == "" {
		return ch, errors.New("change event has no operationType")
	}
	return ch, nil
}

func namespace(v bsoncore.Value, field string) (db, coll string, err error) {
	doc, ok := v.DocumentOK()
	if !ok {
		return "", "", fmt.Errorf("change event: %s is not a document", field)
	}
	db, _ = doc.Lookup("db").StringValueOK()
	coll, _ = doc.Lookup("coll").StringValueOK()
	return db, coll, nil
}

func optDocument(v bsoncore.Value, field string) ([]byte, error) {
	switch v.Type {
	case bsoncore.TypeNull, bsoncore.TypeUndefined:
		return nil, nil
	case bsoncore.TypeEmbeddedDocument:
		return v.Data, nil
	}
	return nil, fmt.Errorf("change event: %s is a %s, not a document", field, v.Type)
}

// position is the event's Position: the resume token's _data, or the whole
// token as canonical Extended JSON when _data is not a string (MongoDB 3.6).
func (ch *change) position() string {
	if ch.data != "" {
		return ch.data
	}
	b, err := bson.MarshalExtJSON(bson.Raw(ch.token), true, false)
	if err != nil {
		return "(resume token)"
	}
	return string(b)
}

// where names a change for messages.
func (ch *change) where() string {
	return fmt.Sprintf("%s on %s.%s at %s", ch.op, ch.db, ch.coll, ch.position())
}

// lookupFunc reads a document by _id (the element's type and value bytes);
// nil, nil when it does not exist.
type lookupFunc func(ctx context.Context, db, coll string, idType byte, idVal []byte) (bson.Raw, error)

// decoder turns change events into sluice events. The stream loop owns it.
type decoder struct {
	reg      *registry
	conv     *converter
	fullDoc  string     // Config.FullDocument
	lookup   lookupFunc // used for when_available updates without a post-image
	captured *matcher   // the configured collections

	// The ordinal of the last change among the changes sharing its cluster
	// time (a multi-document transaction's changes share it).
	lastCT uint64
	ord    int32

	skippedUpdates int64 // updates whose document was deleted before the lookup
}

// outcome of decoding one change.
type outcome uint8

const (
	emitted    outcome = iota // ev is a row event
	notOurs                   // a namespace not captured (a glob's other collections)
	noDocument                // an update whose document is gone: its delete follows
	notRows                   // an event without row changes (expanded DDL events)
)

// decode converts one change. now is the processing time (Event.TsMs).
// Drops, renames, dropDatabase and invalidate return an error wrapping
// ErrStreamEnded.
func (d *decoder) decode(ctx context.Context, ch *change, now int64) (_ event.Event, _ outcome, err error) {
	// A change that fails is read again (after a reconnect, or never when
	// the source stops): it must get the same ordinal then.
	prevCT, prevOrd := d.lastCT, d.ord
	defer func() {
		if err != nil {
			d.lastCT, d.ord = prevCT, prevOrd
		}
	}()
	if ch.ct != 0 {
		if ch.ct == d.lastCT {
			d.ord++
		} else {
			d.lastCT, d.ord = ch.ct, 0
		}
	}
	var ev event.Event
	switch ch.op {
	case "insert", "update", "replace", "delete":
	case "drop":
		if !d.captured.coll(ch.db, ch.coll) {
			return ev, notOurs, nil
		}
		return ev, 0, fmt.Errorf("%w: collection %s.%s was dropped (change %s). sluice does not carry drops as row events, and what the sinks hold of it stays there; the checkpoint is kept before the drop. To go on, remove %s.%s from collections, or delete the pipeline's state to export again",
			ErrStreamEnded, ch.db, ch.coll, ch.position(), ch.db, ch.coll)
	case "rename":
		if !d.captured.coll(ch.db, ch.coll) && !d.captured.coll(ch.toDB, ch.toColl) {
			return ev, notOurs, nil
		}
		return ev, 0, fmt.Errorf("%w: collection %s.%s was renamed to %s.%s (change %s). sluice does not carry renames as row events; the checkpoint is kept before the rename. To go on, list the collections as they are now and delete the pipeline's state to export again",
			ErrStreamEnded, ch.db, ch.coll, ch.toDB, ch.toColl, ch.position())
	case "dropDatabase":
		if !d.captured.db(ch.db) {
			return ev, notOurs, nil
		}
		return ev, 0, fmt.Errorf("%w: database %s was dropped (change %s). sluice does not carry drops as row events; the checkpoint is kept before the drop. To go on, remove %s's collections from collections, or delete the pipeline's state to export again",
			ErrStreamEnded, ch.db, ch.position(), ch.db)
	case "invalidate":
		return ev, 0, fmt.Errorf("%w: the change stream was invalidated (change %s): its collection was dropped or renamed, or its database dropped. The checkpoint is kept before it. To go on, fix collections to match the server and delete the pipeline's state to export again",
			ErrStreamEnded, ch.position())
	case "create", "createIndexes", "dropIndexes", "modify", "shardCollection", "reshardCollection",
		"refineCollectionShardKey", "createSearchIndex", "updateSearchIndex", "dropSearchIndex":
		return ev, notRows, nil // only with showExpandedEvents, which sluice does not ask for
	default:
		return ev, 0, fmt.Errorf("change %s: operationType %q is not supported", ch.position(), ch.op)
	}
	if !d.captured.coll(ch.db, ch.coll) {
		return ev, notOurs, nil
	}
	if ch.ct == 0 {
		return ev, 0, fmt.Errorf("change %s has no clusterTime", ch.where())
	}
	if !ch.hasDocKey {
		return ev, 0, fmt.Errorf("change %s has no documentKey", ch.where())
	}
	cs := d.reg.collection(ch.db, ch.coll)
	ev.TsMs = now
	ev.Position = ch.position()
	ev.Source = event.Source{
		TsUs:      event.UsFromMs(int64(ch.ct>>32) * 1000),
		LSN:       ch.ct,
		CommitLSN: ch.ct,
		HasLSN:    true,
		Row:       d.ord,
		TxID:      ch.txn,
		HasTxID:   ch.hasTxn,
	}
	if ch.hasWall {
		ev.Source.TsUs = event.UsFromMs(ch.wallMs)
	}
	switch ch.op {
	case "insert":
		if ch.full == nil {
			return ev, 0, fmt.Errorf("change %s has no fullDocument", ch.where())
		}
		ev.Op = event.OpCreate
		ev.Schema, ev.After, err = d.conv.document(cs, ch.full)
	case "update", "replace":
		full := ch.full
		if full == nil {
			switch d.fullDoc {
			case Required:
				return ev, 0, fmt.Errorf("change %s has no post-image although full_document is required", ch.where())
			case WhenAvailable:
				// No post-image recorded (or it expired): read the document as
				// update_lookup would.
				if full, err = d.lookupDoc(ctx, ch); err != nil {
					return ev, 0, err
				}
			}
		}
		if full == nil {
			// update_lookup found no document: it was deleted after this
			// update, and its delete follows in the stream.
			d.skippedUpdates++
			return ev, noDocument, nil
		}
		ev.Op = event.OpUpdate
		if ev.Schema, ev.After, err = d.conv.document(cs, full); err == nil && ch.pre != nil {
			ev.Before, err = d.conv.project(ev.Schema, ch.pre)
		}
	case "delete":
		ev.Op = event.OpDelete
		if ch.pre != nil {
			ev.Schema, ev.Before, err = d.conv.document(cs, ch.pre)
		} else {
			ev.Schema, ev.Before, err = d.conv.idOnly(cs, ch.docKey)
		}
	}
	if err != nil {
		return ev, 0, fmt.Errorf("change %s: %w", ch.where(), err)
	}
	return ev, emitted, nil
}

// lookupDoc reads the document of an update that has no post-image.
func (d *decoder) lookupDoc(ctx context.Context, ch *change) ([]byte, error) {
	if d.lookup == nil {
		return nil, nil
	}
	id, err := bsoncore.Document(ch.docKey).LookupErr("_id")
	if err != nil {
		return nil, fmt.Errorf("change %s: documentKey has no _id", ch.where())
	}
	doc, err := d.lookup(ctx, ch.db, ch.coll, byte(id.Type), id.Data)
	if err != nil {
		return nil, fmt.Errorf("change %s: read the document (no post-image): %w", ch.where(), err)
	}
	return doc, nil
}
