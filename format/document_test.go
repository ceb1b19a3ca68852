package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestDocumentGolden encodes the fixture rows as search documents and
// compares with testdata/document.golden (-update rewrites it).
func TestDocumentGolden(t *testing.T) {
	var out bytes.Buffer
	rows := []struct {
		name string
		s    *event.Schema
		img  []event.Value
	}{
		{"typical row", allTypes, typicalRow(1)},
		{"all NULL", allTypes, nullRow(2)},
		{"edge values, unchanged TOAST left out", allTypes, edgeRow(3)},
		{"seed 001 product", product, productEvent().After},
	}
	for _, r := range rows {
		fmt.Fprintf(&out, "# %s\n", r.name)
		doc, err := AppendDocument(nil, r.s, r.img, nil)
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			continue
		}
		checkJSON(t, r.name, doc)
		fmt.Fprintf(&out, "%s\n", doc)
	}
	path := filepath.Join("testdata", "document.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDocumentGolden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("%s differs:\n got:\n%s\nwant:\n%s", path, out.Bytes(), want)
	}
}

// TestDocumentValues pins each type's document form.
func TestDocumentValues(t *testing.T) {
	col := func(typ event.Type) *event.Column { return &event.Column{Name: "c", Type: typ} }
	for _, tc := range []struct {
		c    *event.Column
		v    event.Value
		want string
	}{
		{col(event.TypeInt64), event.Int(-9223372036854775808), `-9223372036854775808`},
		{col(event.TypeBool), event.Bool(true), `true`},
		{col(event.TypeFloat64), event.Float(0.1), `0.1`},
		{col(event.TypeFloat64), event.Float(1e21), `1e+21`},
		{col(event.TypeFloat64), event.Float(1e-7), `1e-7`},
		{col(event.TypeFloat64), event.Float(100000000), `100000000.0`},
		{col(event.TypeFloat64), event.Float(15), `15.0`},
		{col(event.TypeFloat64), event.Float(-0.0), `0.0`},
		{col(event.TypeFloat64), event.Float(math.Inf(1)), `"Infinity"`},
		{col(event.TypeFloat64), event.Float(math.NaN()), `"NaN"`},
		{col(event.TypeFloat32), event.Float(float64(float32(3.14))), `3.14`},
		{col(event.TypeDecimal), event.Decimal("12345678901234567890.123456789"), `12345678901234567890.123456789`},
		{col(event.TypeDecimal), event.Decimal("-0.0010"), `-0.0010`},
		{col(event.TypeDecimal), event.Decimal("+7"), `7`},
		{col(event.TypeDecimal), event.Decimal(".5"), `5e-1`},
		{col(event.TypeDecimal), event.Decimal("007.50"), `750e-2`},
		{col(event.TypeDecimal), event.Decimal("NaN"), `"NaN"`},
		{col(event.TypeDecimal), event.Decimal("-Infinity"), `"-Infinity"`},
		{col(event.TypeMoney), event.Decimal("-12.34"), `-12.34`},
		{col(event.TypeDate), event.Int(19723), `"2024-01-01"`},
		{col(event.TypeDate), event.Int(-1), `"1969-12-31"`},
		{col(event.TypeDate), event.String("infinity"), `"infinity"`},
		{col(event.TypeTime), event.Int(45296789123), `"12:34:56.789123"`},
		{col(event.TypeTime), event.Int(3600_000_000), `"01:00:00"`},
		{col(event.TypeTimeTZ), event.String("10:15:30.500000+00"), `"10:15:30.5Z"`},
		{col(event.TypeTimestamp), event.Int(1704067200123456), `"2024-01-01T00:00:00.123456"`},
		{col(event.TypeTimestampTZ), event.Int(1704067200000000), `"2024-01-01T00:00:00Z"`},
		{col(event.TypeTimestampTZ), event.Int(-1), `"1969-12-31T23:59:59.999999Z"`},
		{col(event.TypeTimestampTZ), event.String("-infinity"), `"-infinity"`},
		{col(event.TypeInterval), event.Interval(93784000005, "P1DT2H3M4.000005S"), `"P1DT2H3M4.000005S"`},
		{col(event.TypeInterval), event.Interval(-1500000, ""), `"PT-1.5S"`},
		{col(event.TypeBytes), event.Bytes([]byte{0xde, 0xad, 0xbe, 0xef}), `"3q2+7w=="`},
		{col(event.TypeJSON), event.String("{\"a\": [1, \"x y\"],\n \"b\": null}"), `{"a":[1,"x y"],"b":null}`},
		{col(event.TypeUUID), event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{col(event.TypeString), event.String("a\"b\n"), `"a\"b\n"`},
		{&event.Column{Name: "a", Type: event.TypeArray, Elem: &event.Column{Type: event.TypeDate}},
			event.Array([]event.Value{event.Int(0), event.Null}), `["1970-01-01",null]`},
		{&event.Column{Name: "a", Type: event.TypeArray, Elem: &event.Column{Type: event.TypeInt32}},
			event.Array([]event.Value{event.Array([]event.Value{event.Int(1), event.Int(2)}), event.Array([]event.Value{event.Int(3), event.Int(4)})}), `[[1,2],[3,4]]`},
	} {
		got, err := AppendDocumentValue(nil, tc.c, tc.v)
		if err != nil {
			t.Errorf("%s %s: %v", tc.c.Type, tc.v.Text(), err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s %q: got %s, want %s", tc.c.Type, tc.v.Text(), got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s %q: invalid JSON %s", tc.c.Type, tc.v.Text(), got)
		}
	}
}

func TestDocumentErrorsAndUnchanged(t *testing.T) {
	s := &event.Schema{Stream: "pg.public.t", Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32}, {Name: "doc", Type: event.TypeJSON}, {Name: "big", Type: event.TypeString},
	}}
	_, err := AppendDocument([]byte("x"), s, []event.Value{event.Int(1), event.String("{nope"), event.Null}, nil)
	if err == nil || err.Error() != `format: pg.public.t: column "doc": not valid JSON` {
		t.Fatalf("invalid JSON: %v", err)
	}
	img := []event.Value{event.Int(1), event.Null, event.Unchanged}
	got, err := AppendDocument([]byte("x"), s, img, nil)
	if err != nil || string(got) != `x{"id":1,"doc":null}` {
		t.Fatalf("left out: %s %v", got, err)
	}
	got, err = AppendDocument(nil, s, img, func(i int) []byte { return []byte(`"stored"`) })
	if err != nil || string(got) != `{"id":1,"doc":null,"big":"stored"}` {
		t.Fatalf("filled: %s %v", got, err)
	}
	if !HasUnchanged(img) || HasUnchanged(img[:2]) {
		t.Fatal("HasUnchanged")
	}
	if _, err := AppendDocument(nil, s, img[:2], nil); err == nil {
		t.Fatal("short image accepted")
	}
}

// FuzzDocument: never panic; output is valid JSON or dst is unchanged.
func FuzzDocument(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03id\x03\x00\x00\x00\x01\x02v\x08\x01\x00\x00\x01c\x03\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(bytes.Repeat([]byte{7, 1, 'a', 19, 1, 5, 2, 0, 9, 3, 5, 'x'}, 20))
	f.Add([]byte("\x02id\x0b\x00\x00\x00\x01\x06\x05{\"a\":"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		s := &event.Schema{Stream: "fuzz"}
		ncol := int(r.byte() % 8)
		for i := 0; i < ncol; i++ {
			s.Columns = append(s.Columns, r.column(0))
		}
		img := make([]event.Value, ncol)
		for i := range img {
			img[i] = r.value(0)
		}
		out, err := AppendDocument([]byte("x"), s, img, nil)
		if err != nil {
			if string(out) != "x" {
				t.Fatalf("error %v changed dst to %q", err, out)
			}
			return
		}
		if !json.Valid(out[1:]) {
			t.Fatalf("invalid JSON %q", out[1:])
		}
	})
}

// TestMongoDocuments pins the search documents of MongoDB events: nested
// values as natural JSON, and _id left out under OmitKeyID.
func TestMongoDocuments(t *testing.T) {
	var out bytes.Buffer
	for _, ne := range mongoEvents() {
		img := ne.e.After
		if img == nil {
			img = ne.e.Before
		}
		for _, omit := range []bool{false, true} {
			doc, err := AppendDocumentWith(nil, ne.e.Schema, img, nil, DocumentOptions{OmitKeyID: omit})
			fmt.Fprintf(&out, "# %s (omit _id %v)\n", ne.name, omit)
			if err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
				continue
			}
			checkJSON(t, ne.name, doc)
			fmt.Fprintf(&out, "%s\n", doc)
		}
	}
	path := filepath.Join("testdata", "document_mongo.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestMongoDocuments -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("%s differs:\n got:\n%s\nwant:\n%s", path, out.Bytes(), want)
	}
}

func TestOmitKeyIDKeepsNonKeyID(t *testing.T) {
	s := &event.Schema{Stream: "pg.public.t", Columns: []event.Column{{Name: "id", Type: event.TypeInt32, Key: true}, {Name: "_id", Type: event.TypeString}}}
	doc, err := AppendDocumentWith(nil, s, []event.Value{event.Int(1), event.String("x")}, nil, DocumentOptions{OmitKeyID: true})
	if err != nil || string(doc) != `{"id":1,"_id":"x"}` {
		t.Fatalf("doc %s, err %v", doc, err)
	}
}
