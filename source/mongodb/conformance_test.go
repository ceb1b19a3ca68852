package mongodb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against the export on FerretDB, which has no change streams: an
// export-only source (Caps.Stream false), so the suite runs the snapshot,
// the crash in the middle of the export, back-pressure and the type matrix,
// and skips the stream's subtests (crash mid-stream and mid-transaction,
// reconnect). Each suite row is a document {_id: <long>, v: <string>}
// (Row, Key); a document source has a schema per shape (Caps.Shapes), and
// the type matrix's row of NULLs holds BSON nulls, typed string/"null".
// ChunkRows is export.partition_size (see confRanges), so the export is cut
// into several _id ranges read by 4 workers, and a crash leaves ranges
// finished, half read and not started. Seq: export rows carry the zero Seq
// and Version 1 (the stream's Seqs are tested with recorded change events).
//
// Reconnect is not asked for (the suite's reconnect needs a stream), and
// the export does not claim it: a connection lost while exporting ends Run
// with the error ("export of db.coll, range 1: connection(...) incomplete
// read of message header", about a second after a svctest.Proxy cut),
// which stops the pipeline with its checkpoint intact; the next run resumes
// the unfinished ranges after their last emitted _id, which is what
// crash/mid_snapshot checks.
func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Harness{
		Caps:         sourcetest.Caps{Snapshot: true, Shapes: true, Seq: true},
		Setup:        func(t *testing.T) sourcetest.Target { return newConfTarget(t) },
		Checkpoint:   confMark,
		Row:          confRow,
		Key:          "_id",
		NullType:     event.TypeString,
		NullTypeName: "null",
		Types:        confTypes,
	})
}

// confTarget is a database of its own on the test FerretDB.
type confTarget struct {
	uri    *url.URL
	db     string
	client *mongo.Client
}

func newConfTarget(t *testing.T) *confTarget {
	m := mongotest.New(t, "sct")
	u, err := url.Parse(m.URI)
	if err != nil || u.Host == "" {
		t.Fatalf("SLUICE_MONGODB_URI is not a mongodb:// URL with a host")
	}
	return &confTarget{uri: u, db: m.Name, client: m.Client}
}

func (c *confTarget) Addr() string { return c.uri.Host }

// confSecret is the password in the source's URI. The test server has no
// authentication and takes any PLAIN credentials; the suite checks that no
// log or error of the source shows it.
const confSecret = "sourcetest-Pw-93be"

func (c *confTarget) Secrets() []string { return []string{confSecret} }

func (c *confTarget) coll(table string) *mongo.Collection {
	return c.client.Database(c.db).Collection(table)
}

func confCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

func (c *confTarget) create(t *testing.T, table string) {
	t.Helper()
	ctx, cancel := confCtx()
	defer cancel()
	if err := c.client.Database(c.db).CreateCollection(ctx, table); err != nil {
		t.Fatalf("create collection %s: %v", table, err)
	}
}

func (c *confTarget) CreateTable(t *testing.T, table string) { c.create(t, table) }

// Apply writes the changes in order. FerretDB has no transactions; the
// export-only suite only applies changes before the source starts, so
// nothing can see a transaction half done.
func (c *confTarget) Apply(t *testing.T, table string, changes []sourcetest.Change) {
	t.Helper()
	ctx, cancel := confCtx()
	defer cancel()
	co := c.coll(table)
	var docs []any
	flush := func() {
		if len(docs) > 0 {
			if _, err := co.InsertMany(ctx, docs); err != nil {
				t.Fatalf("insert %d documents: %v", len(docs), err)
			}
			docs = nil
		}
	}
	for _, ch := range changes {
		switch ch.Op {
		case event.OpCreate:
			docs = append(docs, bson.D{{Key: "_id", Value: ch.ID}, {Key: "v", Value: ch.V}})
			continue
		case event.OpUpdate:
			flush()
			res, err := co.UpdateOne(ctx, bson.D{{Key: "_id", Value: ch.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: ch.V}}}})
			if err != nil || res.MatchedCount != 1 {
				t.Fatalf("%s: %v (%v matched)", ch, err, res)
			}
		case event.OpDelete:
			flush()
			res, err := co.DeleteOne(ctx, bson.D{{Key: "_id", Value: ch.ID}})
			if err != nil || res.DeletedCount != 1 {
				t.Fatalf("%s: %v (%v deleted)", ch, err, res)
			}
		default:
			t.Fatalf("%s: no such change", ch)
		}
	}
	flush()
}

// Fill inserts the rows in chunks of 256 documents (at most about 600 KiB
// at a time in the test's heap: the back-pressure subtest measures it after
// Fill returns).
func (c *confTarget) Fill(t *testing.T, table string, first, last int64, pad int) {
	t.Helper()
	ctx, cancel := confCtx()
	defer cancel()
	co := c.coll(table)
	for lo := first; lo <= last; lo += 256 {
		hi := min(lo+255, last)
		docs := make([]any, 0, hi-lo+1)
		for id := lo; id <= hi; id++ {
			docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: sourcetest.FillValue(id, pad)}})
		}
		if _, err := co.InsertMany(ctx, docs); err != nil {
			t.Fatalf("fill %d..%d: %v", lo, hi, err)
		}
	}
}

// confRow reads a suite row from a document {_id: <long>, v: <string>}.
// Any other field, or another type, is an error: the suite writes nothing
// else.
func confRow(sch *event.Schema, img []event.Value) (sourcetest.Row, error) {
	if len(img) != len(sch.Columns) {
		return sourcetest.Row{}, fmt.Errorf("image has %d values for %d columns", len(img), len(sch.Columns))
	}
	var r sourcetest.Row
	hasID := false
	for i, col := range sch.Columns {
		v := img[i]
		switch {
		case col.Name == "_id" && col.TypeName == "long" && v.Kind == event.KindInt:
			r.ID, hasID = v.AsInt(), true
		case col.Name == "v" && col.TypeName == "string" && v.Kind == event.KindString:
			r.V, r.HasV = v.Str, true
		default:
			return sourcetest.Row{}, fmt.Errorf("field %s (%s) = %s is not the suite's: want _id (long) and v (string)", col.Name, col.TypeName, v.Text())
		}
	}
	if !hasID {
		return sourcetest.Row{}, errors.New("the document has no _id of type long")
	}
	return r, nil
}

// confMark reads a checkpoint as (phase, finished ranges, the sum of the
// unfinished ranges' last emitted _ids): export 0, done 1, stream 2; a
// finished collection counts as every range finished. Each range's last
// _id only grows until the range finishes, and finishing one raises the
// count, so the position never goes back.
func confMark(b []byte) ([]int64, error) {
	cp, err := parseCheckpoint(b)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return nil, errors.New("empty checkpoint")
	}
	switch cp.Phase {
	case phaseDone:
		return []int64{1, 0, 0}, nil
	case phaseStream:
		return []int64{2, 0, 0}, nil
	}
	if len(cp.Export) > 1 {
		return nil, fmt.Errorf("%d collections in the export; the suite exports one", len(cp.Export))
	}
	mark := []int64{0, 0, 0}
	for _, p := range cp.Export {
		if p.Done {
			mark[1] = math.MaxInt32
			continue
		}
		bounds, err := p.bounds()
		if err != nil {
			return nil, err
		}
		done, err := parseRanges(p.DoneRanges, len(bounds)+1)
		if err != nil {
			return nil, err
		}
		for _, d := range done {
			if d {
				mark[1]++
			}
		}
		for k, raw := range p.Last {
			v, err := parseExtValue(raw)
			if err != nil {
				return nil, err
			}
			id, ok := v.Int64OK()
			if !ok {
				return nil, fmt.Errorf("range %s: last _id %s is not a long", k, raw)
			}
			mark[2] += id
		}
	}
	return mark, nil
}

// confTypes is the type matrix: one field of every BSON type FerretDB
// stores, as TestExportTypes writes them (decimal128, NaN and MongoDB's
// rarer types are covered by the recorded change events; FerretDB rejects
// ±Infinity too: "infinity values are not allowed"). null holds a BSON
// null in the row of values too.
var confTypes = []sourcetest.TypeCase{
	{Column: "string", Type: event.TypeString, TypeName: "string", Want: event.String("héllo \"q\" 🌍")},
	{Column: "int", Type: event.TypeInt32, TypeName: "int", Want: event.Int(math.MinInt32)},
	{Column: "long", Type: event.TypeInt64, TypeName: "long", Want: event.Int(math.MaxInt64)},
	{Column: "double", Type: event.TypeFloat64, TypeName: "double", Want: event.Float(0.1)},
	{Column: "double_int", Type: event.TypeFloat64, TypeName: "double", Want: event.Float(3)},
	{Column: "bool", Type: event.TypeBool, TypeName: "bool", Want: event.Bool(true)},
	{Column: "date", Type: event.TypeTimestampTZ, TypeName: "date", Want: event.Int(1700000000123000)},
	{Column: "date_old", Type: event.TypeTimestampTZ, TypeName: "date", Want: event.Int(-62135596800000000)},
	{Column: "oid", Type: event.TypeString, TypeName: "objectId", Want: event.String("65a0000000000000000000ff")},
	{Column: "uuid", Type: event.TypeUUID, TypeName: "uuid", Want: event.String("12345678-9abc-11de-9bcf-fedcba987654")},
	{Column: "bin", Type: event.TypeBytes, TypeName: "binData", Want: event.Bytes([]byte{0, 1, 2, 0xff})},
	{Column: "bin_user", Type: event.TypeBytes, TypeName: "binData:80", Want: event.Bytes([]byte{1, 2})},
	{Column: "object", Type: event.TypeJSON, TypeName: "object", Want: event.String(`{"a":1,"b":{"c":"x","d":2.5}}`)},
	{Column: "array", Type: event.TypeJSON, TypeName: "array", Want: event.String(`[1,"two",3,{"$date":"1970-01-01T00:00:00Z"}]`)},
	{Column: "null", Type: event.TypeString, TypeName: "null", Want: event.Null},
	{Column: "timestamp", Type: event.TypeJSON, TypeName: "timestamp", Want: event.String(`{"$timestamp":{"t":1700001536,"i":7}}`)},
	{Column: "regex", Type: event.TypeJSON, TypeName: "regex", Want: event.String(`{"$regularExpression":{"pattern":"^a.*b$","options":"im"}}`)},
}

// confValues are the BSON values of confTypes, in its order.
func confValues() []any {
	uuid := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x11, 0xde, 0x9b, 0xcf, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54}
	oid := bson.ObjectID{0x65, 0xa0}
	oid[11] = 0xff
	return []any{
		"héllo \"q\" 🌍",
		int32(math.MinInt32),
		int64(math.MaxInt64),
		0.1,
		3.0,
		true,
		bson.DateTime(1700000000123),
		bson.DateTime(-62135596800000),
		oid,
		bson.Binary{Subtype: 4, Data: uuid},
		bson.Binary{Subtype: 0, Data: []byte{0, 1, 2, 0xff}},
		bson.Binary{Subtype: 0x80, Data: []byte{1, 2}},
		bson.D{{Key: "a", Value: int32(1)}, {Key: "b", Value: bson.D{{Key: "c", Value: "x"}, {Key: "d", Value: 2.5}}}},
		bson.A{int32(1), "two", int64(3), bson.DateTime(0)},
		nil,
		bson.Timestamp{T: 1700001536, I: 7},
		bson.Regex{Pattern: "^a.*b$", Options: "im"},
	}
}

func (c *confTarget) CreateTypes(t *testing.T, table string) { c.create(t, table) }

// InsertTypes writes every matrix field, each a BSON null in the row of
// NULLs (a document's NULL: the field is there and holds null).
func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	t.Helper()
	doc := bson.D{{Key: "_id", Value: id}}
	for i, v := range confValues() {
		if null {
			v = nil
		}
		doc = append(doc, bson.E{Key: confTypes[i].Column, Value: v})
	}
	ctx, cancel := confCtx()
	defer cancel()
	if _, err := c.coll(table).InsertOne(ctx, doc); err != nil {
		t.Fatalf("insert the types document %d: %v", id, err)
	}
}

// confRanges is the most _id ranges a collection is cut into. FerretDB's
// SQLite backend scans the whole collection for every range query, so the
// back-pressure subtest's 12,288 documents in the suite's 256-row chunks
// (48 ranges) took over a minute; in 4 ranges, 16 s.
const confRanges = 4

// Source exports the collection with 4 workers: export.partition_size is
// the suite's ChunkRows, so the small collections are cut into several
// ranges (a crash leaves some finished, some half read and some not
// started), but the collection into confRanges ranges at most.
func (c *confTarget) Source(t *testing.T, p sourcetest.Params) component.Source {
	t.Helper()
	u := *c.uri
	u.User = url.UserPassword("sluice", confSecret)
	q := u.Query()
	q.Set("authMechanism", "PLAIN")
	u.RawQuery = q.Encode()
	if p.Via != "" {
		u.Host = p.Via
	}
	cfg := DefaultConfig()
	cfg.URI = u.String()
	cfg.Collections = []Collection{{Name: c.db + "." + p.Table, Export: true}}
	cfg.BatchSize = p.BatchSize
	if p.ChunkRows > 0 {
		ctx, cancel := confCtx()
		defer cancel()
		n, err := c.coll(p.Table).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatalf("count the documents of %s: %v", p.Table, err)
		}
		cfg.Export.PartitionSize = max(p.ChunkRows, int((n+confRanges-1)/confRanges))
	}
	src, err := Factory.New(cfg, component.Env{Name: p.Name, Pipeline: "conformance", Logger: p.Logger})
	if err != nil {
		t.Fatal(err)
	}
	return src
}
