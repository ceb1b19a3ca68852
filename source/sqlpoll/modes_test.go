package sqlpoll

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// seedUsers inserts five rows; rows 2, 3 and 4 share a timestamp, more of
// them than one page (batch_max_rows is 2) holds.
func seedUsers(t *testing.T, d *testDB) {
	d.usersTable(t)
	d.exec(t, `INSERT INTO users (id, name, updated_at) VALUES
		(1, 'ann', '2024-01-01 10:00:00'), (2, 'bob', '2024-01-01 10:00:01'),
		(3, 'cy', '2024-01-01 10:00:01'), (4, 'dee', '2024-01-01 10:00:01'),
		(5, 'eve', '2024-01-01 10:00:02')`)
}

// TestModes runs every mode against every database: the first poll reads
// every row exactly once (rows sharing a timestamp across page boundaries
// included), an idle poll reads nothing, a later insert is read, and a
// source restarted from the last checkpoint reads neither old rows again
// nor misses new ones.
func TestModes(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			seedUsers(t, d)
			ts := func(sec int) string { return d.wmTS(fmt.Sprintf("2024-01-01 10:00:%02d", sec)) }
			type step struct {
				insert string   // values of a row inserted before the poll
				want   []string // summary of the poll's events
			}
			first := func(pos func(id, sec int) string) []string {
				names := []string{"", "ann", "bob", "cy", "dee", "eve"}
				secs := []int{0, 0, 1, 1, 1, 2}
				var out []string
				for id := 1; id <= 5; id++ {
					out = append(out, fmt.Sprintf("c %d %s @%s", id, names[id], pos(id, secs[id])))
				}
				return out
			}
			cases := []struct {
				mode    string
				cfg     func(c *Config)
				first   []string
				later   string // a row inserted after the first poll
				laterEv string
				laterCP string // checkpoint after it
			}{{
				mode:    ModeIncrementing,
				cfg:     func(c *Config) { c.IncrementingColumn = "id" },
				first:   first(func(id, _ int) string { return fmt.Sprintf("id %d", id) }),
				later:   "(6, 'fay', '2024-01-01 09:00:00')", // an older timestamp does not matter
				laterEv: "c 6 fay @id 6",
				laterCP: `{"v":1,"mode":"incrementing","tables":{"users":{"id":{"int":"6"}}}}`,
			}, {
				mode:    ModeTimestampIncrementing,
				cfg:     func(c *Config) { c.IncrementingColumn = "id"; c.TimestampColumn = "updated_at" },
				first:   first(func(id, sec int) string { return fmt.Sprintf("ts %s,id %d", ts(sec), id) }),
				later:   "(6, 'fay', '2024-01-01 10:00:02')", // same timestamp as the last row, higher id
				laterEv: "c 6 fay @ts " + ts(2) + ",id 6",
			}, {
				mode:    ModeTimestamp,
				cfg:     func(c *Config) { c.TimestampColumns = []string{"updated_at"}; c.KeyColumns = []string{"id"} },
				first:   first(func(_, sec int) string { return "ts " + ts(sec) }),
				later:   "(6, 'fay', '2024-01-01 10:00:03')",
				laterEv: "c 6 fay @ts " + ts(3),
			}}
			for _, tc := range cases {
				t.Run(strings.ReplaceAll(tc.mode, "+", "_"), func(t *testing.T) {
					cfg := d.config(tc.mode)
					tc.cfg(&cfg)
					s := started(t, cfg, nil)
					evs, cp := pollOnce(t, s)
					if got := summary(evs); !slices.Equal(got, tc.first) {
						t.Fatalf("first poll:\n got %q\nwant %q", got, tc.first)
					}
					sch := evs[0].Schema
					if sch.Stream != "src."+d.ns+".users" || sch.Connector != "sql_poll" || sch.Table != "users" ||
						!slices.Equal(sch.KeyIdx, []int{0}) || !sch.Columns[0].Key ||
						sch.Columns[0].Optional || sch.Columns[1].Optional || !sch.Columns[2].Optional {
						t.Fatalf("schema %+v", sch)
					}
					if evs, _ := pollOnce(t, s); len(evs) != 0 {
						t.Fatalf("idle poll read %q", summary(evs))
					}
					d.exec(t, "INSERT INTO users (id, name, updated_at) VALUES "+tc.later)
					evs, cp2 := pollOnce(t, s)
					if got := summary(evs); !slices.Equal(got, []string{tc.laterEv}) {
						t.Fatalf("after insert: got %q want %q", got, tc.laterEv)
					}
					if tc.laterCP != "" && string(cp2) != tc.laterCP {
						t.Fatalf("checkpoint %s, want %s", cp2, tc.laterCP)
					}
					// Restart from the checkpoint before the insert: only the
					// new row again; from the one after it: nothing.
					if evs, _ := pollOnce(t, started(t, cfg, cp)); !slices.Equal(summary(evs), []string{tc.laterEv}) {
						t.Fatalf("resumed from the first checkpoint: %q", summary(evs))
					}
					if evs, _ := pollOnce(t, started(t, cfg, cp2)); len(evs) != 0 {
						t.Fatalf("resumed from the last checkpoint: %q", summary(evs))
					}
					d.exec(t, "DELETE FROM users WHERE id = 6")
				})
			}
		})
	}
}

// TestBulk reads the whole table on every poll as snapshot rows.
func TestBulk(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			seedUsers(t, d)
			cfg := d.config(ModeBulk)
			cfg.KeyColumns = []string{"id"}
			s := started(t, cfg, nil)
			want := []string{"r 1 ann @bulk row 1", "r 2 bob @bulk row 2", "r 3 cy @bulk row 3", "r 4 dee @bulk row 4", "r 5 eve @bulk row 5"}
			for poll := range 2 {
				evs, cp := pollOnce(t, s)
				if got := summary(evs); !slices.Equal(got, want) {
					t.Fatalf("poll %d: %q", poll, got)
				}
				if evs[0].Source.Snapshot != event.SnapshotTrue {
					t.Fatalf("snapshot mark %v", evs[0].Source.Snapshot)
				}
				if string(cp) != `{"v":1,"mode":"bulk"}` {
					t.Fatalf("checkpoint %s", cp)
				}
			}
			// Without key_columns: one streamed query, in no particular order.
			cfg.KeyColumns = nil
			evs, _ := pollOnce(t, started(t, cfg, nil))
			got := names(evs)
			slices.Sort(got)
			if !slices.Equal(got, []string{"ann", "bob", "cy", "dee", "eve"}) || len(evs[0].Schema.KeyIdx) != 0 {
				t.Fatalf("without key columns: %q", got)
			}
		})
	}
}

// TestSeveralTables: each table has its own watermark in the one checkpoint
// and its own stream; a restart resumes each.
func TestSeveralTables(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	d.exec(t, "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT)", "CREATE TABLE b (id INTEGER PRIMARY KEY, name TEXT)",
		"INSERT INTO a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')", "INSERT INTO b VALUES (10, 'b10')")
	cfg := d.config(ModeIncrementing)
	cfg.Tables = []string{"a", "main.b"}
	cfg.IncrementingColumn = "id"
	evs, cp := pollOnce(t, started(t, cfg, nil))
	var got []string
	for _, e := range evs {
		got = append(got, e.Schema.Stream+" "+e.After[1].Text())
	}
	if want := []string{"src.main.a a1", "src.main.a a2", "src.main.a a3", "src.main.b b10"}; !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if string(cp) != `{"v":1,"mode":"incrementing","tables":{"a":{"id":{"int":"3"}},"main.b":{"id":{"int":"10"}}}}` {
		t.Fatalf("checkpoint %s", cp)
	}
	d.exec(t, "INSERT INTO a VALUES (4, 'a4')", "INSERT INTO b VALUES (11, 'b11')")
	evs, _ = pollOnce(t, started(t, cfg, cp))
	if got := names(evs); !slices.Equal(got, []string{"a4", "b11"}) {
		t.Fatalf("resumed: %q", got)
	}
}
