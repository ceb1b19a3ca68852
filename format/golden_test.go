package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenFormats are the encoders the golden files cover.
var goldenFormats = []struct {
	file string
	opts Options
}{
	{"debezium", Options{Format: Debezium}},
	// skipped_operations: none keeps the truncate envelope covered.
	{"debezium_schema", Options{Format: DebeziumSchema, SkippedOperations: new("none")}},
	{"row_drop", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "drop"}}},
	{"row_rewrite", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "rewrite",
		AddFields: []string{"op", "table", "schema", "db", "lsn", "txId", "source.ts_ms", "ts_ms"}}}},
	{"row_tombstone", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "tombstone", AddFields: []string{"op", "sequence"}}}},
	{"debezium_nulls_kept", Options{Format: Debezium, ReplaceNullWithDefault: new(false)}},
}

// TestGolden encodes every fixture event with every format and compares
// with testdata/<format>.golden; go test -run TestGolden -update rewrites
// them. Every output must also be valid JSON.
func TestGolden(t *testing.T) {
	for _, f := range goldenFormats {
		t.Run(f.file, func(t *testing.T) {
			enc, err := New(f.opts)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			events := append(allTypesEvents(), namedEvent{"seed 001 product insert", productEvent()})
			events = append(events, mysqlEvents()...)
			events = append(events, mongoEvents()...)
			for _, ne := range events {
				fmt.Fprintf(&out, "# %s\n", ne.name)
				key := enc.AppendKey(nil, ne.e)
				checkJSON(t, ne.name+" key", key)
				fmt.Fprintf(&out, "key: %s\n", key)
				val, ok, err := enc.AppendValue(nil, ne.e)
				switch {
				case err != nil:
					fmt.Fprintf(&out, "error: %v\n", err)
				case !ok:
					fmt.Fprintf(&out, "value: (no output)\n")
				default:
					checkJSON(t, ne.name, val)
					fmt.Fprintf(&out, "value: %s\n", val)
				}
			}
			path := filepath.Join("testdata", f.file+".golden")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				gl, wl := bytes.Split(out.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("%s line %d:\n got %s\nwant %s", path, i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%s: %d lines, want %d", path, len(gl), len(wl))
			}
		})
	}
}

func checkJSON(t *testing.T, what string, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Errorf("%s: invalid JSON: %s", what, b)
	}
}
