package incrsnap

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
)

func TestRead(t *testing.T) {
	captured := []string{"public.a", "public.b", "inv.c"}
	for _, c := range []struct {
		name, typ, data string
		want            Action
		ok              bool
		log             string
	}{
		{"execute", "execute-snapshot", `{"data-collections": ["public.a", "inv\\..*"], "type": "incremental"}`,
			Action{Tables: []string{"public.a", "inv.c"}, Filters: map[string]string{}}, true, ""},
		{"conditions", "execute-snapshot", `{"data-collections": ["public.a"], "additional-conditions": [{"data-collection": "public.a", "filter": "id IN (1,5,9)"}]}`,
			Action{Tables: []string{"public.a"}, Filters: map[string]string{"public.a": "id IN (1,5,9)"}}, true, ""},
		{"stop all", "stop-snapshot", `{"data-collections": [], "type": "incremental"}`, Action{Stop: true, All: true}, true, ""},
		{"stop one", "stop-snapshot", `{"data-collections": ["public.b"]}`, Action{Stop: true, Tables: []string{"public.b"}}, true, ""},
		{"log", "log", `{"message": "hi"}`, Action{}, false, `msg=signal data="{\"message\": \"hi\"}"`},
		{"unknown type", "pause-snapshot", `{}`, Action{}, false, "signal type not supported"},
		{"blocking", "execute-snapshot", `{"data-collections": ["public.a"], "type": "blocking"}`, Action{}, false, "only incremental snapshots are supported"},
		{"not json", "execute-snapshot", `{`, Action{}, false, "signal data is not JSON"},
		{"no table", "execute-snapshot", `{"data-collections": ["public.zz"]}`, Action{}, false, "execute-snapshot names no captured table"},
		{"bad condition", "execute-snapshot", `{"data-collections": ["public.a"], "additional-conditions": [{"data-collection": "public.zz", "filter": "x"}]}`, Action{}, false, "additional-conditions names no captured table"},
		{"bad pattern", "execute-snapshot", `{"data-collections": ["("]}`, Action{}, false, "is neither a captured table nor a regular expression"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			a, ok := Read(log, c.typ, []byte(c.data), func(p []string) ([]string, error) {
				return Match(log, captured, p, func(s string) string { return strings.ReplaceAll(s, `"`, "") })
			})
			if ok != c.ok || !reflect.DeepEqual(a, c.want) {
				t.Fatalf("Read = %+v, %v; want %+v, %v (log %s)", a, ok, c.want, c.ok, buf.String())
			}
			if !strings.Contains(buf.String(), c.log) {
				t.Fatalf("log %q does not hold %q", buf.String(), c.log)
			}
		})
	}
}

func TestStateQueue(t *testing.T) {
	var s *State
	if s.Active() || s.Clone() != nil {
		t.Fatal("a nil state is active or clones to non-nil")
	}
	s = &State{}
	if !s.Add("a", "") || s.Add("a", "") || !s.Add("a", "id > 3") || !s.Add("b", "") {
		t.Fatal("Add: a table with the same filter was queued twice, or a new one refused")
	}
	s.Tables[0].LastKey = []string{"7"}
	c := s.Clone()
	c.Tables[0].LastKey[0] = "8"
	if s.Tables[0].LastKey[0] != "7" {
		t.Fatal("Clone shares the last key")
	}
	s.Remove([]string{"a"}, false)
	if len(s.Tables) != 1 || s.Tables[0].Table != "b" {
		t.Fatalf("Remove(a) left %+v", s.Tables)
	}
	s.Remove(nil, true)
	if s.Active() {
		t.Fatal("Remove(all) left tables")
	}
}

func TestEncode(t *testing.T) {
	typ, data, err := Encode(component.SnapshotRequest{Tables: []string{"public.a"}, Conditions: []component.SnapshotCondition{{Table: "public.a", Filter: "id IN (1,5,9)"}}})
	want := `{"data-collections":["public.a"],"type":"incremental","additional-conditions":[{"data-collection":"public.a","filter":"id IN (1,5,9)"}]}`
	if err != nil || typ != "execute-snapshot" || string(data) != want {
		t.Fatalf("Encode = %s %s %v; want execute-snapshot %s", typ, data, err, want)
	}
	typ, data, err = Encode(component.SnapshotRequest{Stop: true})
	if err != nil || typ != "stop-snapshot" || string(data) != `{"data-collections":[],"type":"incremental"}` {
		t.Fatalf("Encode(stop) = %s %s %v", typ, data, err)
	}
	if _, _, err := Encode(component.SnapshotRequest{}); err == nil || err.Error() != "name at least one table to snapshot" {
		t.Fatalf("Encode(no table) = %v", err)
	}
	if _, _, err := Encode(component.SnapshotRequest{Tables: []string{"a"}, Conditions: []component.SnapshotCondition{{Table: "b", Filter: "x"}}}); err == nil || !strings.Contains(err.Error(), "condition for table b, which is not among the tables to snapshot [a]") {
		t.Fatalf("Encode(stray condition) = %v", err)
	}
}
