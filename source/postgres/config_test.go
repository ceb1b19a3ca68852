package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
)

func TestConfigDefaults(t *testing.T) {
	c, ok := Factory.Config().(*Config)
	if !ok {
		t.Fatalf("Factory.Config() is %T", Factory.Config())
	}
	if c.Snapshot != "initial" || !c.CreatePublication || c.DropSlotOnStop || c.SnapshotChunkRows != 50000 ||
		c.SnapshotWorkers != 2 || c.BatchSize != 2048 || c.HeartbeatInterval != 10*time.Second || c.StatusInterval != time.Second ||
		c.SlotCheckInterval != 10*time.Second || c.WarnRetainedWAL != 1<<30 || c.MaxRetainedWAL != 0 ||
		c.OnMaxRetainedWAL != "stop" || c.OnSlotLost != "fail" || c.SlotFailover {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	const secret = "postgres://u:s3cr3t@host:bad/db"
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		fields []string
	}{
		{"ok", func(*Config) {}, nil},
		{"missing", func(c *Config) { c.DSN, c.Tables = "", nil }, []string{"dsn", "tables"}},
		{"bad dsn", func(c *Config) { c.DSN = secret }, []string{"dsn"}},
		{"bad table", func(c *Config) { c.Tables = []string{"orders", "public.[x"} }, []string{"tables[0]", "tables[1]"}},
		{"bad slot", func(c *Config) { c.Slot = "Bad-Slot" }, []string{"slot"}},
		{"bad publication", func(c *Config) { c.Publication = "1pub; drop" }, []string{"publication"}},
		{"bad numbers", func(c *Config) {
			c.Snapshot, c.SnapshotChunkRows, c.SnapshotWorkers, c.BatchSize = "always", 0, 0, -1
			c.HeartbeatInterval, c.StatusInterval = -time.Second, 0
		}, []string{"snapshot", "snapshot_chunk_rows", "snapshot_workers", "batch_size", "heartbeat_interval", "status_interval"}},
		{"bad guardian", func(c *Config) {
			c.SlotCheckInterval, c.WarnRetainedWAL, c.OnMaxRetainedWAL, c.OnSlotLost = -1, -1, "drop", "skip"
		}, []string{"slot_check_interval", "warn_retained_wal", "on_max_retained_wal", "on_slot_lost"}},
		{"max without guardian", func(c *Config) { c.MaxRetainedWAL, c.SlotCheckInterval = 1<<20, 0 }, []string{"max_retained_wal"}},
		{"negative max", func(c *Config) { c.MaxRetainedWAL = -1 }, []string{"max_retained_wal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DSN = "postgres://u@localhost/db"
			c.Tables = []string{"public.*"}
			tc.mod(c)
			errs := c.Validate()
			var got []string
			for _, err := range errs {
				var fe *component.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%v is not a *component.FieldError", err)
				}
				if fe.Hint == "" {
					t.Errorf("%s: no hint", fe.Field)
				}
				if strings.Contains(fe.Error(), "s3cr3t") {
					t.Errorf("error leaks the password: %v", fe)
				}
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields %v, want %v (%v)", got, tc.fields, errs)
			}
		})
	}
}

func TestDefaultName(t *testing.T) {
	if got := defaultName("My-Pipeline", "pg.main"); got != "sluice_my_pipeline_pg_main" {
		t.Fatalf("got %q", got)
	}
	if got := defaultName(strings.Repeat("x", 80), "pg"); len(got) != 63 || !slotRe.Match(got) {
		t.Fatalf("long name %q", got)
	}
}
