package format

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

var smallTable = &event.Schema{
	Stream: "pg.public.t", Source: "pg", Connector: "postgresql", Database: "db", Namespace: "public", Table: "t",
	Columns: []event.Column{
		{Name: "id", Type: event.TypeInt32, Key: true},
		{Name: "v", Type: event.TypeString, Optional: true},
	},
	KeyIdx: []int{0},
}

func smallEvent(op event.Op) *event.Event {
	e := &event.Event{Op: op, Schema: smallTable, TsMs: 2000,
		Source: event.Source{TsUs: 1000000, LSN: 500, HasLSN: true, TxID: 7, HasTxID: true}}
	row := []event.Value{event.Int(1), event.String("x")}
	switch op {
	case event.OpDelete:
		e.Before = row
	case event.OpUpdate:
		e.Before, e.After = []event.Value{event.Int(1), event.String("old")}, row
	case event.OpTruncate:
	default:
		e.After = row
	}
	return e
}

func TestRow(t *testing.T) {
	for _, c := range []struct {
		opts UnwrapOptions
		op   event.Op
		want string // "" = no output
	}{
		{UnwrapOptions{}, event.OpCreate, `{"id":1,"v":"x"}`},
		{UnwrapOptions{}, event.OpUpdate, `{"id":1,"v":"x"}`},
		{UnwrapOptions{}, event.OpDelete, ""},
		{UnwrapOptions{}, event.OpTruncate, ""},
		{UnwrapOptions{DeleteHandling: "tombstone"}, event.OpDelete, `null`},
		{UnwrapOptions{DeleteHandling: "none"}, event.OpDelete, `null`},
		{UnwrapOptions{DeleteHandling: "tombstone"}, event.OpTruncate, ""},
		{UnwrapOptions{DeleteHandling: "rewrite"}, event.OpDelete, `{"id":1,"v":"x","__deleted":"true"}`},
		{UnwrapOptions{DeleteHandling: "rewrite"}, event.OpRead, `{"id":1,"v":"x","__deleted":"false"}`},
		{UnwrapOptions{DeleteHandling: "rewrite", AddFields: []string{"op", "source.ts_ms"}}, event.OpDelete,
			`{"id":1,"v":"x","__deleted":"true","__op":"d","__source_ts_ms":1000}`},
		{UnwrapOptions{AddFields: []string{"op", "table", "schema", "db", "lsn", "txId", "ts_ms", "source.ts_ms"}}, event.OpCreate,
			`{"id":1,"v":"x","__op":"c","__table":"t","__schema":"public","__db":"db","__lsn":500,"__txId":7,"__ts_ms":2000,"__source_ts_ms":1000}`},
		{UnwrapOptions{AddFields: []string{"ts_ms:processed", " source.lsn ", "id", "snapshot", "xmin"}}, event.OpCreate,
			`{"id":1,"v":"x","__processed":2000,"__source_lsn":500,"__id":null,"__snapshot":"false","__xmin":null}`},
	} {
		enc, err := newRow(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := enc.AppendValue([]byte("prefix:"), smallEvent(c.op))
		if err != nil {
			t.Errorf("%+v %c: %v", c.opts, c.op, err)
			continue
		}
		if !ok {
			if c.want != "" {
				t.Errorf("%+v %c: no output, want %s", c.opts, c.op, c.want)
			}
			if string(got) != "prefix:" {
				t.Errorf("%+v %c: dst changed to %q", c.opts, c.op, got)
			}
			continue
		}
		if string(got) != "prefix:"+c.want {
			t.Errorf("%+v %c:\n got %s\nwant %s", c.opts, c.op, got, c.want)
		}
	}
}

func TestRowOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opts UnwrapOptions
		want string
	}{
		{UnwrapOptions{DeleteHandling: "keep"}, `unwrap.delete_handling: unknown mode "keep" (use drop, rewrite or tombstone)`},
		{UnwrapOptions{AddFields: []string{"lsn", "bogus"}}, `unwrap.add_fields: unknown field "bogus"`},
		{UnwrapOptions{AddFields: []string{"after.id"}}, `unwrap.add_fields: unknown field "after.id"`},
		{UnwrapOptions{AddFields: []string{"op", "op"}}, `adds "__op" twice`},
		{UnwrapOptions{AddFields: []string{"op:"}}, `bad new field name`},
	} {
		_, err := newRow(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.opts, err, c.want)
		}
	}
	if _, err := New(Options{Format: "avro"}); err == nil || !strings.Contains(err.Error(), `unknown format "avro"`) {
		t.Errorf("err = %v", err)
	}
}

func TestRowRewriteNeedsBefore(t *testing.T) {
	enc, _ := newRow(UnwrapOptions{DeleteHandling: "rewrite"})
	e := smallEvent(event.OpDelete)
	e.Before = nil
	if _, ok, err := enc.AppendValue(nil, e); err == nil || ok {
		t.Errorf("ok=%v err=%v, want an error", ok, err)
	}
}

func TestErrorsLeaveDst(t *testing.T) {
	e := smallEvent(event.OpCreate)
	e.After = []event.Value{event.Int(1), event.Int(2)} // int in a text column
	for _, o := range []Options{{Format: Debezium}, {Format: DebeziumSchema}, {Format: Row}} {
		enc, _ := New(o)
		got, ok, err := enc.AppendValue([]byte("keep"), e)
		if err == nil || ok || string(got) != "keep" {
			t.Errorf("%s: %q %v %v", o.Format, got, ok, err)
		}
		if !strings.Contains(err.Error(), `column "v"`) || !strings.Contains(err.Error(), "pg.public.t") {
			t.Errorf("%s: error %q should name the column and the stream", o.Format, err)
		}
	}
	e.After = []event.Value{event.Int(1)} // short image
	enc, _ := New(Options{Format: Debezium})
	if _, _, err := enc.AppendValue(nil, e); err == nil {
		t.Error("short image: want an error")
	}
	if _, _, err := enc.AppendValue(nil, &event.Event{Op: event.OpCreate}); err == nil {
		t.Error("no schema: want an error")
	}
	e = smallEvent(event.OpCreate)
	e.Op = 'x'
	if _, _, err := enc.AppendValue(nil, e); err == nil {
		t.Error("unknown op: want an error")
	}
}

func TestKeys(t *testing.T) {
	keyless := *smallTable
	keyless.KeyIdx = nil
	composite := *smallTable
	composite.KeyIdx = []int{1, 0}
	for _, c := range []struct {
		s          *event.Schema
		op         event.Op
		want, full string
	}{
		{smallTable, event.OpCreate, `{"id":1}`, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"pg.public.t.Key"},"payload":{"id":1}}`},
		{smallTable, event.OpDelete, `{"id":1}`, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"pg.public.t.Key"},"payload":{"id":1}}`},
		{smallTable, event.OpTruncate, `null`, `null`},
		{&keyless, event.OpCreate, `null`, `null`},
		{&composite, event.OpCreate, `{"v":"x","id":1}`, `{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"v"},{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"pg.public.t.Key"},"payload":{"v":"x","id":1}}`},
	} {
		e := smallEvent(c.op)
		e.Schema = c.s
		if got := string(newDebezium(false).AppendKey(nil, e)); got != c.want {
			t.Errorf("%c key = %s, want %s", c.op, got, c.want)
		}
		row, _ := newRow(UnwrapOptions{})
		if got := string(row.AppendKey(nil, e)); got != c.want {
			t.Errorf("row %c key = %s, want %s", c.op, got, c.want)
		}
		if got := string(newDebezium(true).AppendKey(nil, e)); got != c.full {
			t.Errorf("%c key with schema = %s, want %s", c.op, got, c.full)
		}
	}
}

func TestGenericSource(t *testing.T) {
	s := *smallTable
	s.Connector = "generator"
	e := smallEvent(event.OpCreate)
	e.Schema = &s
	got, _, err := newDebezium(false).AppendValue(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"before":null,"after":{"id":1,"v":"x"},"source":{"version":"` + DebeziumVersion + `","connector":"generator","name":"pg","ts_ms":1000,"snapshot":"false","db":"db","sequence":null,"ts_us":1000000,"ts_ns":1000000000,"schema":"public","table":"t"},"transaction":null,"op":"c","ts_ms":2000,"ts_us":2000000,"ts_ns":2000000000}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	full, _, _ := newDebezium(true).AppendValue(nil, e)
	checkJSON(t, "generator with schema", full)
	if !strings.Contains(string(full), `"name":"io.debezium.connector.generator.Source"`) {
		t.Errorf("schema: %s", full)
	}
}

func TestSchemaCache(t *testing.T) {
	enc := newDebezium(true).(*debeziumEncoder)
	for i := 0; i < 3; i++ {
		for _, s := range []*event.Schema{smallTable, product} {
			e := smallEvent(event.OpCreate)
			if s == product {
				e = productEvent()
			}
			if _, _, err := enc.AppendValue(nil, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(enc.tables) != 2 {
		t.Errorf("%d cached codecs, want 2", len(enc.tables))
	}
}
