package mysql

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestDebeziumEnvelope encodes a snapshot row, an insert, an update and a
// delete of the types table in Debezium's envelope (with and without its
// schema part) and compares them with testdata/debezium*.golden. Times,
// binlog coordinates and the database name are pinned first.
func TestDebeziumEnvelope(t *testing.T) {
	te := newTestEnv(t)
	te.exec(typesTable)
	te.exec(sprintf("INSERT INTO types VALUES "+typesRow, 1))
	out := newEmitter()
	te.start(te.config("types"), nil, out)
	out.waitFor(t, "snapshot", 20*time.Second, count(1))
	te.exec(sprintf("INSERT INTO types VALUES "+typesRow, 3))
	te.exec("UPDATE types SET ti = 1, js = '[]' WHERE id = 3")
	te.exec("DELETE FROM types WHERE id = 3")
	out.waitFor(t, "changes", 20*time.Second, count(4))
	evs := out.snapshotEvents()[:4]

	for _, f := range []string{format.Debezium, format.DebeziumSchema} {
		enc, err := format.New(format.Options{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		schemas := map[*event.Schema]*event.Schema{}
		for i := range evs {
			e := evs[i]
			sch := schemas[e.Schema]
			if sch == nil {
				c := *e.Schema
				c.Database, c.Stream = "inventory", "my.inventory.types"
				sch = &c
				schemas[e.Schema] = sch
			}
			e.Schema = sch
			e.TsMs, e.Source.TsUs = 1700000000123, 1700000000000000
			if e.Op != event.OpRead {
				e.Source.Binlog = &event.Binlog{File: "binlog.000003", Pos: 1234 + uint64(i), GTID: "0-1-42", ServerID: 1, Thread: uint32(i % 2)}
			} else {
				e.Source.Binlog = &event.Binlog{File: "binlog.000003", Pos: 1000}
			}
			k := enc.AppendKey(nil, &e)
			v, ok, err := enc.AppendValue(nil, &e)
			if err != nil || !ok {
				t.Fatalf("%s: encode %s: %v", f, e.String(), err)
			}
			buf.Write(k)
			buf.WriteByte('\n')
			buf.Write(v)
			buf.WriteByte('\n')
		}
		path := filepath.Join("testdata", "debezium.golden")
		if f == format.DebeziumSchema {
			path = filepath.Join("testdata", "debezium_schema.golden")
		}
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from %s:\n%s", f, path, buf.String())
		}
	}
}
