package sqlsink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, pg, my string }{
		{"id", `"id"`, "`id`"},
		{`x"; DROP TABLE y; --`, `"x""; DROP TABLE y; --"`, "`x\"; DROP TABLE y; --`"},
		{"x`; DROP TABLE y; --", "\"x`; DROP TABLE y; --\"", "`x``; DROP TABLE y; --`"},
		{"Mixed Case", `"Mixed Case"`, "`Mixed Case`"},
	} {
		if g := QuotePG(tc.in); g != tc.pg {
			t.Errorf("QuotePG(%q) = %s, want %s", tc.in, g, tc.pg)
		}
		if g := QuoteMySQL(tc.in); g != tc.my {
			t.Errorf("QuoteMySQL(%q) = %s, want %s", tc.in, g, tc.my)
		}
	}
	for _, bad := range []string{"", "a\x00b", strings.Repeat("x", 64)} {
		if CheckIdent(bad, 63, "postgres") == nil {
			t.Errorf("CheckIdent(%q) accepted", bad)
		}
	}
	if err := CheckIdent(strings.Repeat("é", 64), 64, "mysql"); err != nil {
		t.Errorf("64 characters rejected for MySQL: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for _, dsn := range []string{"postgres://u:s3cret@h/db", "u:s3cret@tcp(h:3306)/db", "host=h password=s3cret user=u"} {
		if g := Redact("failed: "+dsn, dsn); strings.Contains(g, "s3cret") {
			t.Errorf("Redact left the password: %s", g)
		}
	}
}

func TestTypeMapping(t *testing.T) {
	for _, tc := range []struct {
		col    event.Column
		key    bool
		pg, my string
	}{
		{event.Column{Type: event.TypeDecimal, Precision: 10, Scale: 2}, false, "numeric(10,2)", "DECIMAL(10,2)"},
		{event.Column{Type: event.TypeDecimal, Scale: -1}, false, "numeric", "DECIMAL(65,30)"},
		{event.Column{Type: event.TypeDecimal, Precision: 80, Scale: 4}, false, "numeric(80,4)", "DECIMAL(65,30)"},
		{event.Column{Type: event.TypeDecimal, Precision: 5, Scale: -2}, false, "numeric(5,-2)", "DECIMAL(7,0)"},
		{event.Column{Type: event.TypeString}, true, "text", "VARCHAR(255)"},
		{event.Column{Type: event.TypeString}, false, "text", "LONGTEXT"},
		{event.Column{Type: event.TypeString, TypeName: "varchar", Length: 100}, true, "character varying(100)", "VARCHAR(100)"},
		{event.Column{Type: event.TypeString, TypeName: "varchar", Length: 5000}, false, "character varying(5000)", "LONGTEXT"},
		{event.Column{Type: event.TypeString, TypeName: "varchar", Length: 5000}, true, "character varying(5000)", "VARCHAR(255)"},
		{event.Column{Type: event.TypeBytes}, true, "bytea", "VARBINARY(255)"},
		{event.Column{Type: event.TypeJSON, TypeName: "json"}, false, "json", "JSON"},
		{event.Column{Type: event.TypeTimestampTZ, Precision: 3}, false, "timestamp(3) with time zone", "DATETIME(3)"},
		{event.Column{Type: event.TypeTimestampTZ}, false, "timestamp with time zone", "DATETIME(6)"},
		{event.Column{Type: event.TypeArray, Elem: &event.Column{Type: event.TypeDecimal, Precision: 6, Scale: 2}}, false, "numeric(6,2)[]", "JSON"},
		{event.Column{Type: event.TypeEnum}, true, "text", "VARCHAR(255)"},
		{event.Column{Type: event.TypeUUID}, true, "uuid", "CHAR(36)"},
		{event.Column{Type: event.TypeBool}, false, "boolean", "TINYINT(1)"},
	} {
		if g := PGType(&tc.col); g != tc.pg {
			t.Errorf("PGType(%v key=%v) = %s, want %s", tc.col.Type, tc.key, g, tc.pg)
		}
		if g := MySQLType(&tc.col, tc.key); g != tc.my {
			t.Errorf("MySQLType(%v key=%v) = %s, want %s", tc.col.Type, tc.key, g, tc.my)
		}
	}
}

// planString renders steps compactly: "upsert t [1:a 2:b] (ev 0,1)".
func planString(steps []Step) string {
	var out []string
	for _, st := range steps {
		var rows []string
		for _, r := range st.Rows {
			var vals []string
			for _, v := range r.Vals {
				vals = append(vals, v.Text())
			}
			s := strings.Join(vals, ":")
			if r.Where != nil {
				s += " where " + r.Where[0].Text()
			}
			if r.Deleted {
				s += " deleted"
			}
			rows = append(rows, fmt.Sprintf("%s%v", s, r.Events))
		}
		out = append(out, fmt.Sprintf("%s %s [%s]", st.Action, st.Table, strings.Join(rows, " ")))
	}
	return strings.Join(out, "; ")
}

func TestPlan(t *testing.T) {
	sc := &event.Schema{Stream: "s.public.t", Table: "t", KeyIdx: []int{0},
		Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "v", Type: event.TypeString}}}
	row := func(id int64, v string) []event.Value {
		if v == "?" {
			return []event.Value{event.Int(id), event.Unchanged}
		}
		return []event.Value{event.Int(id), event.String(v)}
	}
	c := func(id int64, v string) event.Event { return event.Event{Op: 'c', Schema: sc, After: row(id, v)} }
	r := func(id int64, v string) event.Event { return event.Event{Op: 'r', Schema: sc, After: row(id, v)} }
	u := func(id int64, v string) event.Event { return event.Event{Op: 'u', Schema: sc, After: row(id, v)} }
	mv := func(from, to int64, v string) event.Event {
		return event.Event{Op: 'u', Schema: sc, Before: row(from, ""), After: row(to, v)}
	}
	d := func(id int64) event.Event { return event.Event{Op: 'd', Schema: sc, Before: row(id, "")} }
	tr := event.Event{Op: 't', Schema: sc}
	keys := func(s *event.Schema) []int { return s.KeyIdx }
	for _, tc := range []struct {
		name   string
		mode   string
		del    string
		events []event.Event
		want   string
	}{
		{"later wins", ModeUpsert, DeleteHard, []event.Event{c(1, "a"), u(1, "b"), c(2, "x"), u(1, "c")},
			"upsert t [1:c[0 1 3] 2:x[2]]"},
		{"insert then delete", ModeUpsert, DeleteHard, []event.Event{c(1, "a"), d(1)},
			"delete t [1:[0 1]]"},
		{"delete then re-insert", ModeUpsert, DeleteHard, []event.Event{d(1), c(1, "a")},
			"delete t [1:[0]]; upsert t [1:a[1]]"},
		{"delete then re-insert, insert mode", ModeInsert, DeleteHard, []event.Event{d(1), c(1, "a"), u(1, "b")},
			"delete t [1:[0]]; insert t [1:b[1 2]]"},
		{"insert mode: update of a stored row", ModeInsert, DeleteHard, []event.Event{u(1, "a"), r(2, "b")},
			"upsert t [2:b[1]]; update t [1:a[0]]"},
		{"unchanged merged from the batch", ModeUpsert, DeleteHard, []event.Event{c(1, "a"), u(1, "?")},
			"upsert t [1:a[0 1]]"},
		{"unchanged left to the stored row", ModeUpsert, DeleteHard, []event.Event{u(1, "?"), u(2, "b")},
			"upsert t [2:b[1]]; update t [1:<unchanged>[0]]"},
		{"update mode", ModeUpdate, DeleteHard, []event.Event{c(1, "a")}, "update t [1:a[0]]"},
		{"soft delete known row", ModeUpsert, DeleteSoft, []event.Event{c(1, "a"), d(1)}, "upsert t [1:a deleted[0 1]]"},
		{"soft delete stored row", ModeUpsert, DeleteSoft, []event.Event{d(1), c(2, "b")}, "upsert t [2:b[1]]; soft-delete t [1: deleted[0]]"},
		{"soft delete then re-insert", ModeUpsert, DeleteSoft, []event.Event{d(1), c(1, "b")}, "upsert t [1:b[0 1]]"},
		{"delete none", ModeUpsert, DeleteNone, []event.Event{d(1)}, ""},
		{"truncate is a barrier", ModeUpsert, DeleteHard, []event.Event{c(1, "a"), tr, c(1, "b")},
			"upsert t [1:a[0]]; truncate t [[1]]; upsert t [1:b[2]]"},
		{"key change", ModeUpsert, DeleteHard, []event.Event{c(1, "a"), mv(1, 2, "b")},
			"delete t [1:[0 1]]; upsert t [2:b[1]]"},
		{"key change keeping unchanged", ModeUpsert, DeleteHard, []event.Event{c(3, "x"), mv(1, 2, "?"), c(4, "y")},
			"upsert t [3:x[0]]; update t [2:<unchanged> where 1[1]]; upsert t [4:y[2]]"},
		{"key change, insert mode", ModeInsert, DeleteHard, []event.Event{mv(1, 2, "b")},
			"delete t [1:[0]]; insert t [2:b[0]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tables := make([]string, len(tc.events))
			for i := range tables {
				tables[i] = "t"
			}
			steps, errs := Plan(tc.events, tables, nil, PlanOptions{Mode: tc.mode, DeleteMode: tc.del, Truncate: true, Keys: keys})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			// Deletes carry the before image, whose value is "".
			if g := planString(steps); g != tc.want {
				t.Errorf("plan:\n got  %s\n want %s", g, tc.want)
			}
		})
	}
}

func TestPlanSkipAndKeyless(t *testing.T) {
	keyless := &event.Schema{Stream: "s.public.l", Columns: []event.Column{{Name: "v", Type: event.TypeString}}}
	evs := []event.Event{
		{Op: 'c', Schema: keyless, After: []event.Value{event.String("a")}},
		{Op: 'c', Schema: keyless, After: []event.Value{event.String("a")}},
		{Op: 'd', Schema: keyless, Before: []event.Value{event.String("a")}},
		{Op: 'c', Schema: keyless, After: []event.Value{event.String("b")}},
	}
	steps, errs := Plan(evs, []string{"l", "l", "l", "l"}, []bool{false, false, false, true},
		PlanOptions{Mode: ModeUpsert, DeleteMode: DeleteHard, Keys: func(s *event.Schema) []int { return nil }})
	if len(errs) != 1 || errs[0].Index != 2 {
		t.Fatalf("errors %v, want one for event 2", errs)
	}
	if g, want := planString(steps), "insert l [a[0] a[1]]"; g != want {
		t.Errorf("plan %s, want %s", g, want)
	}
}
