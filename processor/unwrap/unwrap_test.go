package unwrap

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

var testSchema = &event.Schema{
	Stream: "shop.public.customers", Source: "shop", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "customers", Version: 1,
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, TypeName: "int4", Key: true},
		{Name: "name", Type: event.TypeString, TypeName: "text", Optional: true},
	},
	KeyIdx: []int{0},
}

func testEvents() []event.Event {
	src := event.Source{TsUs: 1_700_000_000_123_456, TxID: 77, HasTxID: true, LSN: 4242, HasLSN: true}
	row := func(id int64, name string) []event.Value { return []event.Value{event.Int(id), event.String(name)} }
	return []event.Event{
		{Schema: testSchema, Op: event.OpRead, After: row(1, "ann"), Source: event.Source{TsUs: 1_700_000_000_000_000, Snapshot: event.SnapshotTrue}, TsMs: 1_700_000_001_000},
		{Schema: testSchema, Op: event.OpCreate, After: row(2, "bob"), Source: src, TsMs: 1_700_000_002_000},
		{Schema: testSchema, Op: event.OpUpdate, Before: row(2, "bob"), After: row(2, "bobby"), Source: src, TsMs: 1_700_000_003_000},
		{Schema: testSchema, Op: event.OpDelete, Before: row(2, "bobby"), Source: src, TsMs: 1_700_000_004_000},
		{Schema: testSchema, Op: event.OpTruncate, Source: src, TsMs: 1_700_000_005_000},
	}
}

// rows renders the processor's output as ExtractNewRecordState's records
// through JsonConverter without schemas: the row format (a delete is a
// null value), one line per event, prefixed by the op sluice's sinks see.
func rows(t *testing.T, cfg *Config) string {
	t.Helper()
	u, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := u.Process(context.Background(), testEvents(), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := format.New(format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: format.DeleteTombstone}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range out {
		v, ok, err := enc.AppendValue(nil, &out[i])
		if err != nil || !ok {
			t.Fatalf("encode %v: %v %v", out[i].String(), ok, err)
		}
		b.WriteString(out[i].Op.String() + " " + string(v) + "\n")
	}
	return b.String()
}

func TestUnwrapModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"drop", Config{DeleteHandling: Drop, AddFieldsPrefix: "__"},
			"r {\"id\":1,\"name\":\"ann\"}\nc {\"id\":2,\"name\":\"bob\"}\nu {\"id\":2,\"name\":\"bobby\"}\n"},
		{"tombstone", Config{DeleteHandling: Tombstone, AddFieldsPrefix: "__"},
			"r {\"id\":1,\"name\":\"ann\"}\nc {\"id\":2,\"name\":\"bob\"}\nu {\"id\":2,\"name\":\"bobby\"}\nd null\n"},
		{"rewrite", Config{DeleteHandling: Rewrite, AddFieldsPrefix: "__"},
			"r {\"id\":1,\"name\":\"ann\",\"__deleted\":\"false\"}\nc {\"id\":2,\"name\":\"bob\",\"__deleted\":\"false\"}\nu {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"false\"}\nu {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"true\"}\n"},
		{"rewrite_with_tombstone", Config{DeleteHandling: RewriteWithTombstone, AddFieldsPrefix: "__"},
			"r {\"id\":1,\"name\":\"ann\",\"__deleted\":\"false\"}\nc {\"id\":2,\"name\":\"bob\",\"__deleted\":\"false\"}\nu {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"false\"}\nu {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"true\"}\nd null\n"},
		{"add_fields", Config{DeleteHandling: Rewrite, AddFieldsPrefix: "__", AddFields: []string{"op", "table", "source.ts_ms", "lsn", "txId", "ts_ms", "db:database", "snapshot", "id"}},
			"r {\"id\":1,\"name\":\"ann\",\"__deleted\":\"false\",\"__op\":\"r\",\"__table\":\"customers\",\"__source_ts_ms\":1700000000000,\"__lsn\":null,\"__txId\":null,\"__ts_ms\":1700000001000,\"__database\":\"shop\",\"__snapshot\":\"true\",\"__id\":null}\n" +
				"c {\"id\":2,\"name\":\"bob\",\"__deleted\":\"false\",\"__op\":\"c\",\"__table\":\"customers\",\"__source_ts_ms\":1700000000123,\"__lsn\":4242,\"__txId\":77,\"__ts_ms\":1700000002000,\"__database\":\"shop\",\"__snapshot\":\"false\",\"__id\":null}\n" +
				"u {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"false\",\"__op\":\"u\",\"__table\":\"customers\",\"__source_ts_ms\":1700000000123,\"__lsn\":4242,\"__txId\":77,\"__ts_ms\":1700000003000,\"__database\":\"shop\",\"__snapshot\":\"false\",\"__id\":null}\n" +
				"u {\"id\":2,\"name\":\"bobby\",\"__deleted\":\"true\",\"__op\":\"d\",\"__table\":\"customers\",\"__source_ts_ms\":1700000000123,\"__lsn\":4242,\"__txId\":77,\"__ts_ms\":1700000004000,\"__database\":\"shop\",\"__snapshot\":\"false\",\"__id\":null}\n"},
		{"prefix", Config{DeleteHandling: Drop, AddFieldsPrefix: "_", AddFields: []string{"op"}},
			"r {\"id\":1,\"name\":\"ann\",\"_op\":\"r\"}\nc {\"id\":2,\"name\":\"bob\",\"_op\":\"c\"}\nu {\"id\":2,\"name\":\"bobby\",\"_op\":\"u\"}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if got := rows(t, &cfg); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestUnwrapConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{DeleteHandling: "none"}, `delete_handling: "none" is not a mode`},
		{Config{DeleteHandling: Drop, AddFields: []string{"op", "op"}}, `add_fields: "op" adds the column op twice`},
		{Config{DeleteHandling: Drop, AddFields: []string{"after.x"}}, `add_fields: "after.x" is not a field of the envelope, source or transaction`},
	} {
		errs := tc.cfg.Validate()
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, errs, tc.want)
		}
	}
}
