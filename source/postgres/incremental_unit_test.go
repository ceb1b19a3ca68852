package postgres

import (
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/component"
)

// TestSignalFor: a snapshot request becomes Debezium's signal data.
func TestSignalFor(t *testing.T) {
	for _, tc := range []struct {
		req        component.SnapshotRequest
		typ, data  string
		errMessage string
	}{
		{component.SnapshotRequest{Tables: []string{"public.a"}}, "execute-snapshot", `{"data-collections":["public.a"],"type":"incremental"}`, ""},
		{component.SnapshotRequest{Tables: []string{"public.a", "public.b"}, Conditions: []component.SnapshotCondition{{Table: "public.b", Filter: "(x, y) IN ((1, 'a'))"}}},
			"execute-snapshot", `{"data-collections":["public.a","public.b"],"type":"incremental","additional-conditions":[{"data-collection":"public.b","filter":"(x, y) IN ((1, 'a'))"}]}`, ""},
		{component.SnapshotRequest{Stop: true}, "stop-snapshot", `{"data-collections":[],"type":"incremental"}`, ""},
		{component.SnapshotRequest{}, "", "", "name at least one table to snapshot"},
		{component.SnapshotRequest{Tables: []string{"public.a"}, Conditions: []component.SnapshotCondition{{Table: "public.c", Filter: "1=1"}}}, "", "",
			"condition for table public.c, which is not among the tables to snapshot [public.a]"},
	} {
		sig, err := signalFor(tc.req)
		if tc.errMessage != "" {
			if err == nil || err.Error() != tc.errMessage {
				t.Errorf("%+v: error %v, want %s", tc.req, err, tc.errMessage)
			}
			continue
		}
		if err != nil || sig.Type != tc.typ || string(sig.Data) != tc.data {
			t.Errorf("%+v: %s %s %v, want %s %s", tc.req, sig.Type, sig.Data, err, tc.typ, tc.data)
		}
	}
}

// TestApplySignal: which signals queue which tables, as Debezium reads
// them (data-collections as names or regular expressions; stop-snapshot
// without data-collections stops all); what sluice does not do is ignored.
func TestApplySignal(t *testing.T) {
	d := &streamDecoder{src: &Source{log: slog.New(slog.DiscardHandler)}, si: serverInfo{version: 150000},
		cp: checkpoint{Captured: []string{"public.a", "public.b", "s.orders"}}}
	queued := func() []string {
		var out []string
		if d.cp.Incr != nil {
			for _, t := range d.cp.Incr.Tables {
				out = append(out, t.Table+"|"+t.Filter)
			}
		}
		return out
	}
	for _, tc := range []struct {
		typ, data string
		want      []string
	}{
		{"execute-snapshot", `{"data-collections": ["public\\..*"], "type": "incremental"}`, []string{"public.a|", "public.b|"}},
		{"execute-snapshot", `{"data-collections": ["public.a"], "type": "INCREMENTAL"}`, []string{"public.a|", "public.b|"}}, // queued already
		{"execute-snapshot", `{"data-collections": ["\"s\".\"orders\""], "additional-conditions": [{"data-collection": "s.orders", "filter": "id IN (1,5,9)"}]}`,
			[]string{"public.a|", "public.b|", "s.orders|id IN (1,5,9)"}},
		{"execute-snapshot", `{"data-collections": ["public.a"], "type": "blocking"}`, []string{"public.a|", "public.b|", "s.orders|id IN (1,5,9)"}},
		{"execute-snapshot", `{"data-collections": ["nope.x"]}`, []string{"public.a|", "public.b|", "s.orders|id IN (1,5,9)"}},
		{"execute-snapshot", `not json`, []string{"public.a|", "public.b|", "s.orders|id IN (1,5,9)"}},
		{"pause-snapshot", `{}`, []string{"public.a|", "public.b|", "s.orders|id IN (1,5,9)"}},
		{"stop-snapshot", `{"data-collections": ["public.b"], "type": "incremental"}`, []string{"public.a|", "s.orders|id IN (1,5,9)"}},
		{"stop-snapshot", `{"type": "incremental"}`, nil},
	} {
		d.applySignal(Signal{ID: "x", Type: tc.typ, Data: json.RawMessage(tc.data)})
		if got := queued(); !slices.Equal(got, tc.want) {
			t.Errorf("after %s %s: queued %q, want %q", tc.typ, tc.data, got, tc.want)
		}
	}
}
