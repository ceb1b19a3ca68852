package format

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func nan() float64     { return math.NaN() }
func negInf() float64  { return math.Inf(-1) }
func negZero() float64 { return math.Copysign(0, -1) }

// TestMongoMatchesDebezium273 encodes the MongoDB fixture events with each
// format and compares them with what Debezium 2.7.3.Final's MongoDB
// connector and ExtractNewDocumentState wrote for the same changes through
// JsonConverter (testdata/debezium273/mongo_*.out, made by MongoCheck.java
// from mongo.docs; see the README there). Processing time ts_ms is the same
// fixed value on both sides.
func TestMongoMatchesDebezium273(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts Options
		row  bool
	}{
		{"mongo_debezium.out", Options{Format: Debezium}, false},
		{"mongo_debezium_schema.out", Options{Format: DebeziumSchema}, false},
		{"mongo_row_drop.out", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: DeleteDrop}}, true},
		{"mongo_row_rewrite.out", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: DeleteRewrite,
			AddFields: []string{"op", "source.ts_ms", "ts_ms", "collection", "ord", "txnNumber", "wallTime", "db", "snapshot"}}}, true},
		{"mongo_row_tombstone.out", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: DeleteTombstone, AddFields: []string{"op", "sequence"}}}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			enc, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, ne := range mongoEvents() {
				fmt.Fprintf(&out, "# %s\n", ne.name)
				val, ok, err := enc.AppendValue(nil, ne.e)
				switch {
				case err != nil:
					fmt.Fprintf(&out, "error: %v\n", err)
					continue
				case !ok:
					fmt.Fprintf(&out, "value: (no output)\n")
					continue
				}
				fmt.Fprintf(&out, "key: %s\nvalue: %s\n", enc.AppendKey(nil, ne.e), val)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "debezium273", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			// sluice does not carry the session id (lsid) of a transaction;
			// Debezium writes it where it writes txnNumber.
			want = bytes.ReplaceAll(want, []byte(`"lsid":"{\"id\": {\"$binary\": \"FA7YEzXgQXSX9OxmzllH2w==\",\"$type\": \"04\"},\"uid\": {\"$binary\": \"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"$type\": \"00\"}}"`), []byte(`"lsid":null`))
			gl, wl := bytes.Split(out.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
			for i := 0; i < len(gl) && i < len(wl); i++ {
				if !bytes.Equal(gl[i], wl[i]) {
					t.Fatalf("line %d:\n got %s\nwant %s\nfirst difference at byte %d", i+1, gl[i], wl[i], firstDiff(string(gl[i]), string(wl[i])))
				}
			}
			if len(gl) != len(wl) {
				t.Fatalf("%d lines, want %d", len(gl), len(wl))
			}
		})
	}
}
