package mongodb

import (
	"context"
	"encoding/binary"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/mongotest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// ferret is a database of its own on the test FerretDB.
type ferret struct {
	uri    string
	db     string
	client *mongo.Client
}

func newFerret(t *testing.T) *ferret {
	t.Helper()
	m := mongotest.New(t, "t")
	return &ferret{uri: m.URI, db: m.Name, client: m.Client}
}

func (f *ferret) insert(t *testing.T, coll string, docs ...any) {
	t.Helper()
	ctx := context.Background()
	for len(docs) > 0 {
		n := min(len(docs), 1000)
		if _, err := f.client.Database(f.db).Collection(coll).InsertMany(ctx, docs[:n]); err != nil {
			t.Fatalf("insert into %s: %v", coll, err)
		}
		docs = docs[n:]
	}
}

// config exports the named collections of f's database, without streams.
func (f *ferret) config(colls ...string) *Config {
	cfg := DefaultConfig()
	cfg.URI = f.uri
	for _, c := range colls {
		cfg.Collections = append(cfg.Collections, Collection{Name: f.db + "." + c, Export: true})
	}
	return cfg
}

func newSource(t *testing.T, cfg *Config) *Source {
	t.Helper()
	s, err := New(cfg, component.Env{Name: "mongo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runExport runs a source without streams to its end.
func runExport(t *testing.T, cfg *Config, cp []byte, out component.Emitter) error {
	t.Helper()
	s := newSource(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return s.Run(ctx, cp, out)
}

func oid(i int) bson.ObjectID {
	o := bson.ObjectID{0x65, 0xa0}
	binary.BigEndian.PutUint32(o[8:], uint32(i))
	return o
}

// TestExportTypes exports one document of every BSON type that FerretDB
// stores and checks the schema and every value exactly (the types FerretDB
// lacks are covered by testdata/changestream/all_types.json).
func TestExportTypes(t *testing.T) {
	f := newFerret(t)
	uuid := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x11, 0xde, 0x9b, 0xcf, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54}
	f.insert(t, "types",
		bson.D{
			{Key: "_id", Value: oid(1)},
			{Key: "string", Value: "héllo \"q\""},
			{Key: "int", Value: int32(-2147483648)},
			{Key: "long", Value: int64(9223372036854775807)},
			{Key: "double", Value: 1.5},
			{Key: "double_int", Value: 3.0},
			{Key: "bool", Value: true},
			{Key: "date", Value: bson.DateTime(1700000000123)},
			{Key: "date_old", Value: bson.DateTime(-62135596800000)},
			{Key: "uuid", Value: bson.Binary{Subtype: 4, Data: uuid}},
			{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{0, 1, 2, 0xff}}},
			{Key: "bin_user", Value: bson.Binary{Subtype: 0x80, Data: []byte{1, 2}}},
			{Key: "object", Value: bson.D{{Key: "a", Value: int32(1)}, {Key: "b", Value: bson.D{{Key: "c", Value: "x"}, {Key: "d", Value: 2.5}}}}},
			{Key: "array", Value: bson.A{int32(1), "two", int64(3), bson.DateTime(0)}},
			{Key: "null", Value: nil},
			{Key: "timestamp", Value: bson.Timestamp{T: 1700001536, I: 7}},
			{Key: "regex", Value: bson.Regex{Pattern: "^a.*b$", Options: "im"}},
		},
		bson.D{{Key: "_id", Value: oid(2)}, {Key: "string", Value: "second"}},
	)
	out := sourcetest.NewEmitter()
	if err := runExport(t, f.config("types"), nil, out); err != nil {
		t.Fatal(err)
	}
	evs := out.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	var b strings.Builder
	dumpBatches(&b, []sourcetest.Emitted{{N: len(evs), Events: evs}})
	want := `batch 1: 2 events, checkpoint 
  schema mongo.DB.types v1 (connector mongodb, database DB, namespace "", table types, key [0]):
    _id string/objectId key
    string string/string optional
    int int32/int optional
    long int64/long optional
    double float64/double optional
    double_int float64/double optional
    bool bool/bool optional
    date timestamptz/date optional
    date_old timestamptz/date optional
    uuid uuid/uuid optional
    bin bytes/binData optional
    bin_user bytes/binData:80 optional
    object json/object optional
    array json/array optional
    null string/null optional
    timestamp json/timestamp optional
    regex json/regex optional
  r mongo.DB.types v1 position "export DB.types _id {\"$oid\":\"65a000000000000000000001\"}"
    source: snapshot=true lsn=0 has_lsn=false row=0
    before: nil
    after:
      _id = string "65a000000000000000000001"
      string = string "héllo \"q\""
      int = int -2147483648
      long = int 9223372036854775807
      double = float 1.5
      double_int = float 3
      bool = bool true
      date = int 1700000000123000
      date_old = int -62135596800000000
      uuid = string "12345678-9abc-11de-9bcf-fedcba987654"
      bin = bytes 000102ff
      bin_user = bytes 0102
      object = string "{\"a\":1,\"b\":{\"c\":\"x\",\"d\":2.5}}"
      array = string "[1,\"two\",3,{\"$date\":\"1970-01-01T00:00:00Z\"}]"
      null = null
      timestamp = string "{\"$timestamp\":{\"t\":1700001536,\"i\":7}}"
      regex = string "{\"$regularExpression\":{\"pattern\":\"^a.*b$\",\"options\":\"im\"}}"
  schema mongo.DB.types v2 (connector mongodb, database DB, namespace "", table types, key [0]):
    _id string/objectId key
    string string/string optional
  r mongo.DB.types v2 position "export DB.types _id {\"$oid\":\"65a000000000000000000002\"}"
    source: snapshot=last lsn=0 has_lsn=false row=0
    before: nil
    after:
      _id = string "65a000000000000000000002"
      string = string "second"
`
	if got := strings.ReplaceAll(b.String(), f.db, "DB"); got != want {
		t.Errorf("export differs:\n%s\nwant:\n%s", got, want)
	}
	if cp := string(out.Checkpoint()); cp != `{"v":1,"phase":"done"}` {
		t.Errorf("final checkpoint %s", cp)
	}
}

// idsOf returns the _id texts of events, and how often each appears.
func idsOf(evs []event.Event) map[string]int {
	m := map[string]int{}
	for i := range evs {
		m[evs[i].After[0].Text()]++
	}
	return m
}

func seqDocs(n int) []any {
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: oid(i)}, {Key: "n", Value: int32(i)}, {Key: "pad", Value: strings.Repeat("x", i%50)}}
	}
	return docs
}

// TestExportParallelRanges exports 20,000 documents in 2,500-document
// ranges with 4 workers: every document lands exactly once, only the very
// last row is marked last, and every checkpoint on the way parses.
func TestExportParallelRanges(t *testing.T) {
	f := newFerret(t)
	const n = 20000
	f.insert(t, "big", seqDocs(n)...)
	cfg := f.config("big")
	cfg.Export.PartitionSize = 2500
	cfg.Export.Workers = 4
	cfg.BatchSize = 300
	out := sourcetest.NewEmitter()
	start := time.Now()
	if err := runExport(t, cfg, nil, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("exported %d documents in %s", n, time.Since(start).Round(time.Millisecond))
	ids := idsOf(out.Events())
	if len(ids) != n {
		t.Fatalf("%d distinct documents, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("document %s exported %d times", id, c)
		}
	}
	ranges, lasts := 0, 0
	for i, b := range out.Batches() {
		cp, err := parseCheckpoint(b.Checkpoint)
		if err != nil || cp == nil {
			t.Fatalf("batch %d: checkpoint %s: %v", i, b.Checkpoint, err)
		}
		if p := cp.Export[f.db+".big"]; p != nil && p.Bounds != nil {
			bounds, _ := p.bounds()
			ranges = len(bounds) + 1
		}
		for _, e := range b.Events {
			if e.Source.Snapshot == event.SnapshotLast {
				lasts++
			}
		}
	}
	if ranges != n/2500 {
		t.Errorf("%d ranges, want %d", ranges, n/2500)
	}
	if lasts != 1 || out.Events()[n-1].Source.Snapshot != event.SnapshotLast {
		t.Errorf("%d rows marked last; want only the very last one", lasts)
	}
}

// stopAfter is an Emitter that stops the run after n batches with rows,
// like a crash: the last checkpoint it returns is what would be durable.
type stopAfter struct {
	*sourcetest.Emitter
	n      int
	cancel context.CancelFunc
}

func (s *stopAfter) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.Emitter.Emit(ctx, evs, cp); err != nil {
		return err
	}
	if len(evs) > 0 {
		s.n--
		if s.n == 0 {
			s.cancel()
		}
	}
	return nil
}

// exportUntil runs an export and stops it after n batches with rows.
func exportUntil(t *testing.T, cfg *Config, n int) *stopAfter {
	t.Helper()
	s := newSource(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &stopAfter{Emitter: sourcetest.NewEmitter(), n: n, cancel: cancel}
	if err := s.Run(ctx, nil, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportResume stops an export of 20,000 documents after 7 batches and
// restarts it from the last checkpoint: the two runs together export every
// document exactly once, and the finished ranges are not read again.
func TestExportResume(t *testing.T) {
	f := newFerret(t)
	const n = 20000
	f.insert(t, "big", seqDocs(n)...)
	cfg := f.config("big")
	cfg.Export.PartitionSize = 3000
	cfg.Export.Workers = 3
	cfg.BatchSize = 400
	first := exportUntil(t, cfg, 7)
	cp := first.Checkpoint()
	parsed, err := parseCheckpoint(cp)
	if err != nil || parsed.Phase != phaseExport {
		t.Fatalf("checkpoint after the stop: %s (%v), want the export phase", cp, err)
	}
	p := parsed.Export[f.db+".big"]
	if p == nil || p.Done || len(p.Last) == 0 {
		t.Fatalf("checkpoint after the stop has no unfinished ranges with progress: %s", cp)
	}
	t.Logf("stopped at %s", cp)
	second := sourcetest.NewEmitter()
	if err := runExport(t, cfg, cp, second); err != nil {
		t.Fatal(err)
	}
	a, b := idsOf(first.Events()), idsOf(second.Events())
	// Only batches up to the checkpoint count as done: the first run's
	// events are exactly those (the stop came right after an emit).
	for id := range a {
		if b[id] > 0 {
			t.Fatalf("document %s exported by both runs", id)
		}
	}
	if len(a)+len(b) != n {
		t.Fatalf("first run %d + second run %d documents, want %d", len(a), len(b), n)
	}
	if len(b) >= n {
		t.Fatalf("the second run exported everything again")
	}
	if got := string(second.Checkpoint()); got != `{"v":1,"phase":"done"}` {
		t.Errorf("final checkpoint %s", got)
	}
}

// TestExportMixedIDs exports a collection whose _ids mix BSON types: it is
// read as one range in MongoDB's type order, and a stop in the middle
// resumes with the later types.
func TestExportMixedIDs(t *testing.T) {
	f := newFerret(t)
	var docs []any
	ids := []any{nil, int32(3), int64(1), 2.5, "a", "b", bson.D{{Key: "k", Value: int32(1)}}, bson.Binary{Data: []byte{1}},
		oid(1), oid(2), false, true, bson.DateTime(5), bson.DateTime(6)}
	for i, id := range ids {
		docs = append(docs, bson.D{{Key: "_id", Value: id}, {Key: "i", Value: int32(i)}})
	}
	f.insert(t, "mixed", docs...)
	cfg := f.config("mixed")
	cfg.Export.PartitionSize = 2
	cfg.BatchSize = 2
	whole := sourcetest.NewEmitter()
	if err := runExport(t, cfg, nil, whole); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range whole.Events() {
		order = append(order, e.After[1].Text())
	}
	if got := strings.Join(order, ","); got != "0,2,3,1,4,5,6,7,8,9,10,11,12,13" {
		t.Errorf("export order by i: %s, want MongoDB's _id order", got)
	}
	for stop := 1; stop < 7; stop++ {
		first := exportUntil(t, cfg, stop)
		cp := first.Checkpoint()
		if p, _ := parseCheckpoint(cp); p == nil || p.Export[f.db+".mixed"] == nil || !p.Export[f.db+".mixed"].Mixed {
			t.Fatalf("stop after %d: checkpoint %s does not mark the collection mixed", stop, cp)
		}
		second := sourcetest.NewEmitter()
		if err := runExport(t, cfg, cp, second); err != nil {
			t.Fatal(err)
		}
		a, b := idsOf(first.Events()), idsOf(second.Events())
		if len(a)+len(b) != len(ids) {
			t.Fatalf("stop after %d batches: %d + %d documents, want %d (checkpoint %s)", stop, len(a), len(b), len(ids), cp)
		}
		for id := range a {
			if b[id] > 0 {
				t.Fatalf("stop after %d: %s exported twice", stop, id)
			}
		}
	}
}

// TestExportGlobAndEmpty exports db.* (two collections, one empty) and a
// missing collection.
func TestExportGlobAndEmpty(t *testing.T) {
	f := newFerret(t)
	f.insert(t, "a", bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "_id", Value: int32(2)}})
	f.insert(t, "b", bson.D{{Key: "_id", Value: "x"}})
	if err := f.client.Database(f.db).CreateCollection(context.Background(), "empty"); err != nil {
		t.Fatal(err)
	}
	cfg := f.config("*", "missing")
	out := sourcetest.NewEmitter()
	if err := runExport(t, cfg, nil, out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range out.Events() {
		got = append(got, e.Schema.Table+":"+e.After[0].Text())
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "a:1 a:2 b:x" {
		t.Errorf("exported %v", got)
	}
}

// TestNoChangeStreams asks FerretDB, which has no change streams, for a
// stream: the source stops with an error that says so and how to export
// only, before reading anything.
func TestNoChangeStreams(t *testing.T) {
	f := newFerret(t)
	f.insert(t, "c", bson.D{{Key: "_id", Value: int32(1)}})
	cfg := f.config("c")
	cfg.Collections[0].Stream = true
	out := sourcetest.NewEmitter()
	err := runExport(t, cfg, nil, out)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"does not support change streams", "stream: false", "export only"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if !component.IsPermanent(err) {
		t.Errorf("error is not permanent: %v", err)
	}
	if n := len(out.Batches()); n != 0 {
		t.Errorf("emitted %d batches before failing", n)
	}
	// The watch itself (what the probe guards) fails with the same clear
	// error, not the driver's.
	if errs := cfg.Validate(); errs != nil {
		t.Fatal(errs)
	}
	srv := driverServer{f.client}
	_, err = srv.watch(context.Background(), newWatchSpec(cfg), nil)
	if err == nil || !strings.Contains(err.Error(), "does not support change streams") || !strings.Contains(err.Error(), "stream: false") {
		t.Errorf("watch on FerretDB: %v", err)
	}
}
