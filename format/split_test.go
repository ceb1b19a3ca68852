package format

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

func splitSchema() *event.Schema {
	return &event.Schema{
		Stream: "pg.public.t", Source: "pg", Connector: "postgresql", Database: "db", Namespace: "public", Table: "t",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "name", Type: event.TypeString, Optional: true},
		},
		KeyIdx: []int{0},
	}
}

func splitEvent(s *event.Schema, op event.Op, before, after []event.Value) *event.Event {
	return &event.Event{Op: op, Schema: s, Before: before, After: after, TsMs: 1700000000999,
		Source: event.Source{TsUs: 1700000000123456, TxID: 7, HasTxID: true, LSN: 500, LastCommitLSN: 400, HasLSN: true}}
}

const splitSrc = `"source":{"version":"2.7.3.Final","connector":"postgresql","name":"pg","ts_ms":1700000000123,"snapshot":"false","db":"db","sequence":"[\"400\",\"500\"]","ts_us":1700000000123456,"ts_ns":1700000000123456000,"schema":"public","table":"t","txId":7,"lsn":500,"xmin":null},"transaction":null,`
const splitTs = `"ts_ms":1700000000999,"ts_us":1700000000999000,"ts_ns":1700000000999000000}`

// TestKeyChangeLines: an update that changes the key is written, in every
// format, as Debezium's PostgreSQL connector writes it: a delete of the old
// key, then a create of the new key (checked against Debezium 2.7.3 by
// cmd/sluice's TestDebeziumDifferential). An update that keeps its key,
// even with a whole old image, and one of a keyless table stay updates.
func TestKeyChangeLines(t *testing.T) {
	s := splitSchema()
	old := []event.Value{event.Int(1), event.String("a")}
	moved := []event.Value{event.Int(2), event.String("a")}
	renamed := []event.Value{event.Int(1), event.String("b")}
	keyless := splitSchema()
	keyless.KeyIdx, keyless.Columns[0].Key = nil, false
	cases := []struct {
		name string
		opts Options
		e    *event.Event
		want []string
	}{
		{"debezium key change", Options{Format: Debezium}, splitEvent(s, event.OpUpdate, old, moved), []string{
			`{"before":{"id":1,"name":"a"},"after":null,` + splitSrc + `"op":"d",` + splitTs,
			`{"before":null,"after":{"id":2,"name":"a"},` + splitSrc + `"op":"c",` + splitTs,
		}},
		{"row key change, rewrite", Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "rewrite", AddFields: []string{"op"}}},
			splitEvent(s, event.OpUpdate, old, moved), []string{
				`{"id":1,"name":"a","__deleted":"true","__op":"d"}`,
				`{"id":2,"name":"a","__deleted":"false","__op":"c"}`,
			}},
		{"row key change, drop", Options{Format: Row}, splitEvent(s, event.OpUpdate, old, moved), []string{
			`{"id":2,"name":"a"}`,
		}},
		{"same key with old image", Options{Format: Debezium}, splitEvent(s, event.OpUpdate, old, renamed), []string{
			`{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},` + splitSrc + `"op":"u",` + splitTs,
		}},
		{"keyless table", Options{Format: Row}, splitEvent(keyless, event.OpUpdate, old, moved), []string{
			`{"id":2,"name":"a"}`,
		}},
	}
	for _, tc := range cases {
		enc, err := New(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendLines(enc, nil, tc.e)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := strings.Join(tc.want, "\n") + "\n"; string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
		// LineEncoder, which the file and stdout sinks use, writes the same.
		l, err := NewLineEncoder(tc.opts, 1)
		if err != nil {
			t.Fatal(err)
		}
		var lines []byte
		if err := l.Encode([]event.Event{*tc.e}, func(b []byte) error { lines = append(lines, b...); return nil }); err != nil {
			t.Fatal(err)
		}
		if string(lines) != string(got) {
			t.Errorf("%s: LineEncoder wrote\n%s\nAppendLines\n%s", tc.name, lines, got)
		}
	}
}

// TestSkippedOperations: like Debezium 2.x (skipped.operations=t), the
// formats write no truncate events unless told; skipped_operations chooses.
func TestSkippedOperations(t *testing.T) {
	s := splitSchema()
	evs := []*event.Event{
		splitEvent(s, event.OpCreate, nil, []event.Value{event.Int(1), event.Null}),
		splitEvent(s, event.OpUpdate, nil, []event.Value{event.Int(1), event.Null}),
		splitEvent(s, event.OpDelete, []event.Value{event.Int(1), event.Null}, nil),
		splitEvent(s, event.OpTruncate, nil, nil),
	}
	for _, tc := range []struct {
		format string
		skip   *string
		want   string // the ops written
	}{
		{Debezium, nil, "cud"},
		{DebeziumSchema, nil, "cud"},
		{Debezium, new("none"), "cudt"},
		{Debezium, new(" c , t"), "ud"},
		{Debezium, new("c,u,d,t"), ""},
		{Row, nil, "cu"},         // drop: deletes write nothing; truncates never
		{Row, new("none"), "cu"}, // ExtractNewRecordState drops truncates
		{Row, new("u"), "c"},
	} {
		enc, err := New(Options{Format: tc.format, SkippedOperations: tc.skip})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range evs {
			if _, ok, err := enc.AppendValue(nil, e); err != nil {
				t.Fatal(err)
			} else if ok {
				got += e.Op.String()
			}
		}
		if got != tc.want {
			t.Errorf("%s skipped_operations %v: wrote %q, want %q", tc.format, tc.skip, got, tc.want)
		}
	}
	var dflt, none Options
	none.SkippedOperations = new("none")
	if !dflt.Skipped(event.OpTruncate) || dflt.Skipped(event.OpDelete) || none.Skipped(event.OpTruncate) {
		t.Errorf("Skipped: default t %v d %v, none t %v", dflt.Skipped(event.OpTruncate), dflt.Skipped(event.OpDelete), none.Skipped(event.OpTruncate))
	}
	_, err := New(Options{Format: Debezium, SkippedOperations: new("t,x")})
	if want := `skipped_operations: unknown operation "x" in "t,x" (use a comma-separated list of c, u, d, t, or none)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
