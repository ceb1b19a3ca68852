package format

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// FuzzDecode: the decoder never panics on any key and value, and what it
// accepts and the encoder writes again, it accepts again (with the same
// operation and columns). Crashers found are kept under testdata/fuzz.
func FuzzDecodeConnect(f *testing.F) {
	files, _ := filepath.Glob("testdata/connect/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(nil), b)
	}
	for _, fm := range []string{Debezium, DebeziumSchema} {
		enc := encoder(f, fm)
		for _, ne := range allTypesEvents() {
			v, _, _ := enc.AppendValue(nil, ne.e)
			f.Add(enc.AppendKey(nil, ne.e), v)
		}
		// The MongoDB connector's envelope (decoded by mongodecode.go).
		for _, ne := range mongoEvents() {
			v, _, _ := enc.AppendValue(nil, ne.e)
			f.Add(enc.AppendKey(nil, ne.e), v)
		}
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		dec := NewDecoder()
		e, err := dec.Decode("topic", key, value)
		if err != nil {
			return
		}
		for _, fm := range []string{Debezium, DebeziumSchema} {
			enc := encoder(t, fm)
			v, ok, err := enc.AppendValue(nil, &e)
			if err != nil || !ok {
				continue
			}
			k := enc.AppendKey(nil, &e)
			e2, err := NewDecoder().Decode("topic", k, v)
			if err != nil {
				t.Fatalf("%s: re-encoded event does not decode: %v\n%s", fm, err, v)
			}
			// (The stream may change: a message without source.name is
			// named after its topic, and the re-encoded one has a name.)
			if e2.Op != e.Op || e.Op != event.OpTruncate && len(e2.Schema.Columns) != len(e.Schema.Columns) {
				t.Fatalf("%s: op/columns changed: %c %d -> %c %d", fm, e.Op, len(e.Schema.Columns), e2.Op, len(e2.Schema.Columns))
			}
		}
	})
}
