package sqlpoll

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// TestConfigErrors checks the exact messages of bad configurations.
func TestConfigErrors(t *testing.T) {
	base := func() *Config {
		c := DefaultConfig()
		c.Driver, c.DSN, c.Mode, c.Tables, c.IncrementingColumn = DriverSQLite, "x.db", ModeIncrementing, []string{"users"}, "id"
		return c
	}
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"ok", func(c *Config) {}, ""},
		{"missing incrementing column", func(c *Config) { c.IncrementingColumn = "" },
			"incrementing_column: is required in mode incrementing (hint: name a strictly increasing column, such as an auto-increment id)"},
		{"unknown mode", func(c *Config) { c.Mode = "incremental" },
			`mode: "incremental" is not a mode (hint: use bulk, incrementing, timestamp or timestamp+incrementing)`},
		{"no mode", func(c *Config) { c.Mode = ""; c.IncrementingColumn = "" },
			"mode: is required (hint: use bulk, incrementing, timestamp or timestamp+incrementing)"},
		{"unknown driver", func(c *Config) { c.Driver = "oracle" },
			`driver: "oracle" is not a driver (hint: use postgres, mysql or sqlite)`},
		{"no timestamp column", func(c *Config) { c.Mode = ModeTimestampIncrementing },
			"timestamp_columns: is required in mode timestamp+incrementing (hint: name the column(s) set on insert and update, e.g. [updated_at, created_at])"},
		{"timestamp column outside its mode", func(c *Config) { c.TimestampColumn = "updated_at" },
			"timestamp_columns: is only used in modes timestamp and timestamp+incrementing (hint: remove it, or change mode)"},
		{"tables and query", func(c *Config) { c.Query = "SELECT 1" },
			"query: cannot be used with tables (hint: poll either tables or one query)"},
		{"neither", func(c *Config) { c.Tables = nil },
			"tables: is required (or query) (hint: list tables as table or schema.table, or give a query)"},
		{"bad table", func(c *Config) { c.Tables = []string{"a.b.c"} },
			`tables[0]: "a.b.c" is not a table name (hint: write table or schema.table with letters, digits, _ and $)`},
		{"bad column", func(c *Config) { c.IncrementingColumn = "id; DROP TABLE x" },
			`incrementing_column: "id; DROP TABLE x" is not a column name (hint: letters, digits, _ and $, starting with a letter or _)`},
		{"batch", func(c *Config) { c.BatchMaxRows = 0 },
			"batch_max_rows: 0 is out of range (hint: use 1 to 1000000; the default is 100)"},
		{"negative delay", func(c *Config) { c.TimestampDelay = -time.Second },
			"timestamp_delay: must not be negative (hint: 0 reads rows up to the database's current time)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(c)
			got := errors.Join(c.Validate()...)
			if tc.want == "" {
				if got != nil {
					t.Fatalf("unexpected %v", got)
				}
				return
			}
			if got == nil || got.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", got, tc.want)
			}
			_, err := Factory.New(c, component.Env{Name: "src"})
			if err == nil || err.Error() != "sql_poll: "+tc.want {
				t.Fatalf("Factory.New: %v", err)
			}
		})
	}
}

// TestStartErrors: names the database does not know stop the source at
// start with an error naming them; so does a checkpoint of another mode.
func TestStartErrors(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	seedUsers(t, d)
	cases := []struct {
		name   string
		change func(c *Config)
		cp     string
		want   string
	}{
		{"missing table", func(c *Config) { c.Tables = []string{"nope"} }, "", "nope: SQL logic error: no such table: nope (1)"},
		{"missing incrementing column", func(c *Config) { c.IncrementingColumn = "nope" }, "",
			`users: incrementing column "nope" is not in the result (columns: id, name, updated_at)`},
		{"missing key column", func(c *Config) { c.KeyColumns = []string{"nope"} }, "",
			`users: key column "nope" is not in the result (columns: id, name, updated_at)`},
		{"checkpoint of another mode", func(c *Config) {}, `{"v":1,"mode":"bulk"}`,
			"checkpoint was written in mode bulk, the source is now in mode incrementing; a watermark of one mode cannot resume the other (remove the pipeline's state to start over)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := d.config(ModeIncrementing)
			cfg.IncrementingColumn = "id"
			tc.change(&cfg)
			s := newSource(cfg, component.Env{Name: "src"})
			defer s.Close()
			var cp []byte
			if tc.cp != "" {
				cp = []byte(tc.cp)
			}
			err := s.Run(context.Background(), cp, sourcetest.NewEmitter())
			if err == nil || err.Error() != "sql_poll: "+tc.want {
				t.Fatalf("got  %v\nwant sql_poll: %s", err, tc.want)
			}
		})
	}
}

// TestRunPolls drives Run itself: rows inserted while it runs arrive
// within a few poll intervals, and cancelling ctx ends Run with nil.
func TestRunPolls(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	seedUsers(t, d)
	cfg := d.config(ModeIncrementing)
	cfg.IncrementingColumn = "id"
	cfg.PollInterval = 10 * time.Millisecond
	s := newSource(cfg, component.Env{Name: "src"})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := sourcetest.NewEmitter()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, c) }()
	var got []string
	wait := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for len(got) < n && time.Now().Before(deadline) {
			evs, _ := c.Take()
			got = append(got, summary(evs)...)
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(5)
	d.exec(t, "INSERT INTO users (id, name) VALUES (6, 'fay')")
	wait(6)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != 6 || got[5] != "c 6 fay @id 6" || !strings.HasPrefix(got[0], "c 1 ann") {
		t.Fatalf("got %q", got)
	}
	if p := s.Progress(); p.Done != 6 || p.Phase != "polling" {
		t.Fatalf("progress %+v", p)
	}
}

// TestNullIncrementingColumn: in timestamp+incrementing mode a row whose id
// is NULL stops the source with an error naming the column, instead of
// being skipped.
func TestNullIncrementingColumn(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	d.exec(t, "CREATE TABLE users (id INTEGER, name TEXT, updated_at DATETIME)",
		"INSERT INTO users VALUES (NULL, 'ann', '2024-01-01 10:00:00')")
	cfg := d.config(ModeTimestampIncrementing)
	cfg.IncrementingColumn = "id"
	cfg.TimestampColumn = "updated_at"
	s := newSource(cfg, component.Env{Name: "src"})
	defer s.Close()
	err := s.Run(context.Background(), nil, sourcetest.NewEmitter())
	want := `sql_poll: users: incrementing column "id" is NULL in a row; it must be NOT NULL (the row cannot be placed after the watermark)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}

// TestRunRetriesQueryErrors: a query that fails while polling (here the
// table is renamed away) is logged and retried; once the table is back,
// rows flow again from the watermark, none lost.
func TestRunRetriesQueryErrors(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	seedUsers(t, d)
	cfg := d.config(ModeIncrementing)
	cfg.IncrementingColumn = "id"
	cfg.PollInterval = 10 * time.Millisecond
	var logs syncBuffer
	s := newSource(cfg, component.Env{Name: "src", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := sourcetest.NewEmitter()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, c) }()
	var got []string
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; got %q", what, got)
			}
			evs, _ := c.Take()
			got = append(got, names(evs)...)
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first rows", func() bool { return len(got) == 5 })
	d.exec(t, "ALTER TABLE users RENAME TO users_away")
	waitFor("a logged failure", func() bool { return strings.Contains(logs.String(), "poll failed; retrying from the last watermark") })
	d.exec(t, "INSERT INTO users_away (id, name) VALUES (6, 'fay')", "ALTER TABLE users_away RENAME TO users")
	waitFor("the row inserted meanwhile", func() bool { return len(got) == 6 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !slices.Equal(got, []string{"ann", "bob", "cy", "dee", "eve", "fay"}) {
		t.Fatalf("got %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
