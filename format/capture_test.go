package format

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// capture273 is a message Debezium 2.7.3.Final wrote through JsonConverter
// with schemas enabled (kafka-console-consumer output of a PostgreSQL
// connector, table "id serial primary key, name text"), with the
// sub-millisecond digits of its ts_us/ts_ns zeroed when it was recorded;
// everything else is byte for byte. capture273Us keeps them.
const capture273 = `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"default":0,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":true,"name":"postgres_server.connect_test_db.public.source_table.Value","field":"before"},{"type":"struct","fields":[{"type":"int32","optional":false,"default":0,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":true,"name":"postgres_server.connect_test_db.public.source_table.Value","field":"after"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"},{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"postgres_server.connect_test_db.public.source_table.Envelope","version":2},"payload":{"before":null,"after":{"id":8,"name":"test1"},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"postgres_server.connect_test_db","ts_ms":1756284839282,"snapshot":"false","db":"connect_test_db","sequence":"[\"26863880\",\"26863936\"]","ts_us":1756284839282000,"ts_ns":1756284839282000000,"schema":"public","table":"source_table","txId":780,"lsn":26863936,"xmin":null},"transaction":null,"op":"c","ts_ms":1756284839610,"ts_us":1756284839610000,"ts_ns":1756284839610000000}}`

// capture271Key is the key Debezium 2.7.1.Final wrote with schemas enabled
// for a table "id int primary key, name text, age int".
const capture271Key = `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"pg.public.persons.Key"},"payload":{"id":1}}`

// capture271Snapshot is the snapshot row of that table (2.7.1.Final, with
// the version and sub-millisecond digits adjusted as above).
const capture271Snapshot = `{"before":null,"after":{"id":1,"name":"John","age":30},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"pg","ts_ms":1764099880079,"snapshot":"last","db":"testdb","sequence":"[null,\"23043592\"]","ts_us":1764099880079000,"ts_ns":1764099880079000000,"schema":"public","table":"persons","txId":490,"lsn":23043592,"xmin":null},"transaction":null,"op":"r","ts_ms":1764099880139,"ts_us":1764099880139000,"ts_ns":1764099880139000000}`

// capture273Us is an insert Debezium 2.7.3.Final's embedded engine wrote
// through JsonConverter (schemas.enable=false) for a table "id int primary
// key": source.ts_us and ts_ns carry the microseconds of PostgreSQL's commit
// time. The envelope's ts_us/ts_ns are the processing time, which sluice
// keeps in milliseconds: their sub-millisecond digits are zeroed here.
const capture273Us = `{"before":null,"after":{"id":1},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"exp","ts_ms":1796521959607,"snapshot":"false","db":"a_dbz_exp","sequence":"[\"30982192\",\"30982192\"]","ts_us":1796521959607470,"ts_ns":1796521959607470000,"schema":"public","table":"stop","txId":753,"lsn":30982192,"xmin":null},"transaction":null,"op":"c","ts_ms":1796521960224,"ts_us":1796521960224000,"ts_ns":1796521960224000000}`

func TestCapture273Microseconds(t *testing.T) {
	s := &event.Schema{
		Stream: "exp.public.stop", Source: "exp", Connector: "postgresql", Database: "a_dbz_exp", Namespace: "public", Table: "stop",
		Columns: []event.Column{{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true}},
		KeyIdx:  []int{0},
	}
	e := &event.Event{Op: event.OpCreate, Schema: s, After: []event.Value{event.Int(1)},
		Source: event.Source{TsUs: 1796521959607470, TxID: 753, HasTxID: true, LSN: 30982192, LastCommitLSN: 30982192, HasLSN: true},
		TsMs:   1796521960224}
	got, _, err := newDebezium(false).AppendValue(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != capture273Us {
		t.Errorf("got\n%s\nwant\n%s\nfirst difference at %d", got, capture273Us, firstDiff(string(got), capture273Us))
	}
	// The row format's add_fields see the same times.
	r, err := newRow(UnwrapOptions{AddFields: []string{"source.ts_ms", "source.ts_us", "source.ts_ns"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = r.AppendValue(nil, e)
	if want := `{"id":1,"__source_ts_ms":1796521959607,"__source_ts_us":1796521959607470,"__source_ts_ns":1796521959607470000}`; err != nil || string(got) != want {
		t.Errorf("row: got %s, %v; want %s", got, err, want)
	}
}

func TestCapture273(t *testing.T) {
	s := &event.Schema{
		Stream: "postgres_server.connect_test_db.public.source_table", Source: "postgres_server.connect_test_db",
		Connector: "postgresql", Database: "connect_test_db", Namespace: "public", Table: "source_table",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true, Default: event.Int(0), HasDefault: true},
			{Name: "name", Type: event.TypeString, TypeName: "text", Optional: true},
		},
		KeyIdx: []int{0},
	}
	e := &event.Event{Op: event.OpCreate, Schema: s, After: []event.Value{event.Int(8), event.String("test1")},
		Source: event.Source{TsUs: 1756284839282000, TxID: 780, HasTxID: true, LSN: 26863936, LastCommitLSN: 26863880, HasLSN: true},
		TsMs:   1756284839610}
	got, ok, err := newDebezium(true).AppendValue(nil, e)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if string(got) != capture273 {
		t.Errorf("got\n%s\nwant\n%s\nfirst difference at %d", got, capture273, firstDiff(string(got), capture273))
	}
}

func TestCapture271(t *testing.T) {
	s := &event.Schema{
		Stream: "pg.public.persons", Source: "pg", Connector: "postgresql", Database: "testdb", Namespace: "public", Table: "persons",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "name", Type: event.TypeString, Optional: true},
			{Name: "age", Type: event.TypeInt32, Optional: true},
		},
		KeyIdx: []int{0},
	}
	e := &event.Event{Op: event.OpRead, Schema: s, After: []event.Value{event.Int(1), event.String("John"), event.Int(30)},
		Source: event.Source{TsUs: 1764099880079000, Snapshot: event.SnapshotLast, TxID: 490, HasTxID: true, LSN: 23043592, HasLSN: true},
		TsMs:   1764099880139}
	got, _, err := newDebezium(false).AppendValue(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != capture271Snapshot {
		t.Errorf("got\n%s\nwant\n%s\nfirst difference at %d", got, capture271Snapshot, firstDiff(string(got), capture271Snapshot))
	}
	if k := string(newDebezium(true).AppendKey(nil, e)); k != capture271Key {
		t.Errorf("key got\n%s\nwant\n%s", k, capture271Key)
	}
	if k := string(newDebezium(false).AppendKey(nil, e)); k != `{"id":1}` {
		t.Errorf("schemaless key = %s", k)
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
