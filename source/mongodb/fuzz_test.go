package mongodb

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// seedEvents are every recorded change event, as BSON.
func seedEvents(f *testing.F) []bson.Raw {
	names, err := filepath.Glob(filepath.Join("testdata", "changestream", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var out []bson.Raw
	for _, n := range names {
		if strings.HasSuffix(n, "history_lost.json") {
			continue
		}
		out = append(out, loadEvents(f, filepath.Base(n))...)
	}
	return out
}

func fuzzDecoder() *decoder {
	return &decoder{
		reg: newRegistry("fuzz"), conv: newConverter(), fullDoc: WhenAvailable,
		captured: newMatcher([]Collection{{Stream: true, db: "demo", coll: "*"}, {Stream: true, db: "shop", coll: "*"}}),
		lookup:   func(context.Context, string, string, byte, []byte) (bson.Raw, error) { return nil, nil },
	}
}

// FuzzChangeEvent feeds arbitrary bytes as a change event through the
// decoding the stream loop uses. The rule: never panic; an event decodes to
// images as long as its schema.
func FuzzChangeEvent(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add([]byte(ev))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := parseChange(b)
		if err != nil {
			return
		}
		_ = ch.position()
		d := fuzzDecoder()
		ev, oc, err := d.decode(context.Background(), &ch, 1)
		if err != nil || oc != emitted {
			return
		}
		n := len(ev.Schema.Columns)
		if (ev.After != nil && len(ev.After) != n) || (ev.Before != nil && len(ev.Before) != n) || n == 0 || ev.Schema.Columns[0].Name != "_id" {
			t.Fatalf("event %s: images do not fit schema of %d columns", ev.String(), n)
		}
	})
}

// FuzzDocument feeds arbitrary bytes as a document to the converter (the
// export's hot path) and to the pre-image projection.
func FuzzDocument(f *testing.F) {
	for _, ev := range seedEvents(f) {
		for _, k := range []string{"fullDocument", "fullDocumentBeforeChange", "documentKey"} {
			if d, ok := ev.Lookup(k).DocumentOK(); ok {
				f.Add([]byte(d))
			}
		}
	}
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		reg := newRegistry("fuzz")
		cs := reg.collection("db", "c")
		conv := newConverter()
		sch, vals, err := conv.document(cs, b)
		if err != nil {
			return
		}
		if len(vals) != len(sch.Columns) || sch.Columns[0].Name != "_id" || !sch.Columns[0].Key {
			t.Fatalf("%d values for %d columns", len(vals), len(sch.Columns))
		}
		// The same document again hits the cached schema.
		sch2, vals2, err := conv.document(cs, b)
		if err != nil || sch2 != sch {
			t.Fatalf("second conversion: schema %p vs %p, %v", sch2, sch, err)
		}
		for i := range vals {
			if !vals[i].Equal(vals2[i]) && !(vals[i].Kind == vals2[i].Kind && vals[i].Text() == "NaN") {
				t.Fatalf("column %s converts differently twice", sch.Columns[i].Name)
			}
		}
		if _, _, err := conv.idOnly(cs, b); err != nil {
			t.Fatalf("idOnly fails on a document that converts: %v", err)
		}
		if p, err := conv.project(sch, b); err != nil || len(p) != len(vals) {
			t.Fatalf("project onto its own schema: %v", err)
		}
	})
}

// FuzzCheckpoint: checkpoints come back from disk; parsing them and
// restoring the export's ranges never panics.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"v":1,"phase":"stream","token":{"_data":"8265"},"ct":7301444403200000001,"ord":2}`))
	f.Add([]byte(`{"v":1,"phase":"export","token":{"_data":"8265"},"export":{"d.c":{"bounds":[{"$oid":"65a000000000000000000bb8"},{"$numberInt":"5"}],"done_ranges":"0-1","last":{"2":{"$oid":"65a00000000000000000063f"}}},"d.e":{"done":true}}}`))
	f.Add([]byte(`{"v":1,"phase":"export","export":{"d.m":{"mixed":true,"last":{"0":"str"}}}}`))
	f.Add([]byte(`{"v":1,"phase":"done"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := parseCheckpoint(b)
		if err != nil || cp == nil {
			return
		}
		_ = cp.marshal()
		if _, err := cp.token(); err != nil {
			t.Fatalf("a parsed checkpoint's token does not parse: %v", err)
		}
		s := &Source{log: slog.New(slog.DiscardHandler)}
		for name, p := range cp.Export {
			ec := &exportColl{name: name, prog: p}
			if p.Done {
				continue
			}
			if err := s.restorePlan(ec); err != nil {
				t.Fatalf("a parsed checkpoint's export of %s does not restore: %v", name, err)
			}
			for _, r := range ec.ranges {
				_ = r.filter(false)
				_ = r.filter(true)
			}
		}
	})
}

// driverRelaxed is the reference: the driver's relaxed Extended JSON of one
// value, through a wrapper document {"": v}.
func driverRelaxed(t byte, val []byte) ([]byte, error) {
	w := []byte{0, 0, 0, 0, t, 0}
	w = append(w, val...)
	w = append(w, 0)
	binary.LittleEndian.PutUint32(w, uint32(len(w)))
	out, err := bson.MarshalExtJSON(bson.Raw(w), false, false)
	if err != nil {
		return nil, err
	}
	return out[4 : len(out)-1], nil
}

// FuzzRelaxedJSON compares appendRelaxed with bson.MarshalExtJSON(v,
// false, false) on every value of arbitrary valid documents: the contract
// promises the driver's exact text.
func FuzzRelaxedJSON(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add([]byte(ev))
	}
	odd, err := bson.Marshal(bson.D{
		{Key: "ctl\x01\u2028", Value: "a\x00b"[:1] + "\x7f\x1f\t\n\r\b\f\"\\<>&\u2029\xff\xfe"},
		{Key: "re", Value: bson.Regex{Pattern: "a\"b\\", Options: "xsmi"}},
		{Key: "d1", Value: bson.DateTime(253402300800000)}, {Key: "d2", Value: bson.DateTime(-1)}, {Key: "d3", Value: bson.DateTime(1700000000100)},
		{Key: "b2", Value: bson.Binary{Subtype: 2, Data: []byte{3, 0, 0, 0, 1, 2, 3}}},
		{Key: "f", Value: bson.A{1e21, -0.0, 5e-324, 123456789.0, 1e-7, math.MaxFloat64, 100.0}},
		{Key: "e", Value: bson.D{}}, {Key: "ea", Value: bson.A{}},
		{Key: "cws", Value: bson.CodeWithScope{Code: "x", Scope: bson.D{}}},
		{Key: "dbp", Value: bson.DBPointer{DB: `d"b.c\`, Pointer: bson.ObjectID{1}}},
		{Key: "dec", Value: bson.NewDecimal128(0x3040000000000000, 12345)},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(odd)
	f.Fuzz(func(t *testing.T, b []byte) {
		if bsoncore.Document(b).Validate() != nil {
			return
		}
		b = b[:binary.LittleEndian.Uint32(b)] // as documents come from the driver
		mine, err := appendRelaxed(nil, tDocument, b, 0)
		if err != nil {
			return // deeper than maxDepth
		}
		theirs, err := driverRelaxed(tDocument, b)
		if err != nil {
			t.Fatalf("the driver fails where appendRelaxed does not: %v", err)
		}
		if string(mine) != string(theirs) {
			t.Fatalf("relaxed Extended JSON differs:\n mine:   %s\n driver: %s", mine, theirs)
		}
	})
}
