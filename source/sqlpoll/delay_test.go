package sqlpoll

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestTimestampDelay: with a delay of an hour, a row stamped a minute ago
// is held back while an older one is read; the same checkpoint under a
// delay of a second then reads the held row. In both timestamp modes.
func TestTimestampDelay(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			d.usersTable(t)
			d.exec(t, "INSERT INTO users (id, name, updated_at) VALUES (1, 'old', "+d.nowMinus(7200)+"), (2, 'recent', "+d.nowMinus(60)+")")
			for _, mode := range []string{ModeTimestamp, ModeTimestampIncrementing} {
				cfg := d.config(mode)
				cfg.TimestampColumns = []string{"updated_at"}
				if mode == ModeTimestampIncrementing {
					cfg.IncrementingColumn = "id"
				}
				cfg.TimestampDelay = 3600e9
				evs, cp := pollOnce(t, started(t, cfg, nil))
				if got := names(evs); !slices.Equal(got, []string{"old"}) {
					t.Fatalf("%s: delay 1h read %q, want [old]", mode, got)
				}
				cfg.TimestampDelay = 1e9
				evs, _ = pollOnce(t, started(t, cfg, cp))
				if got := names(evs); !slices.Equal(got, []string{"recent"}) {
					t.Fatalf("%s: delay 1s read %q, want [recent]", mode, got)
				}
			}
		})
	}
}

// names returns the name column of each event.
func names(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.After[e.Schema.ColumnIndex("name")].Text()
	}
	return out
}

// TestQueryMode polls a custom query with its own WHERE, in incrementing
// mode: rows it filters out are not emitted, the stream is named after
// query_name, and the key is the incrementing column of the query's output.
func TestQueryMode(t *testing.T) {
	for _, driver := range allDrivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newTestDB(t, driver)
			seedUsers(t, d)
			cfg := d.config(ModeIncrementing)
			cfg.Tables = nil
			cfg.Query = "SELECT id AS user_id, upper(name) AS shout FROM users WHERE name <> 'cy' -- no cy\n;"
			cfg.QueryName = "shouting"
			cfg.IncrementingColumn = "user_id"
			s := started(t, cfg, nil)
			evs, cp := pollOnce(t, s)
			if got := summary(evs); !slices.Equal(got, []string{"c 1 ANN @id 1", "c 2 BOB @id 2", "c 4 DEE @id 4", "c 5 EVE @id 5"}) {
				t.Fatalf("got %q", got)
			}
			if st := evs[0].Schema.Stream; st != "src."+d.ns+".shouting" {
				t.Fatalf("stream %q", st)
			}
			if string(cp) != `{"v":1,"mode":"incrementing","tables":{"shouting":{"id":{"int":"5"}}}}` {
				t.Fatalf("checkpoint %s", cp)
			}
			d.exec(t, "INSERT INTO users (id, name) VALUES (6, 'cy'), (7, 'gus')")
			evs, _ = pollOnce(t, s)
			if got := summary(evs); !slices.Equal(got, []string{"c 7 GUS @id 7"}) {
				t.Fatalf("after insert: %q", got)
			}
		})
	}
}
