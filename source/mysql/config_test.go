package mysql

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.DSN, ok.Tables = "u:p@tcp(h:3306)/db", []string{"shop.*", "shop.orders"}
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	if ok.ServerID < 1<<30 || ok.ServerID >= 1<<31 {
		t.Errorf("default server_id %d outside [2^30, 2^31)", ok.ServerID)
	}
	for _, c := range []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.DSN = "" }, "dsn"},
		{func(c *Config) { c.DSN = "not a dsn" }, "dsn"},
		{func(c *Config) { c.DSN = "u:p@unix(/tmp/s)/db" }, "dsn"},
		{func(c *Config) { c.Host = "h" }, "host"},
		{func(c *Config) { c.Tables = nil }, "tables"},
		{func(c *Config) { c.Tables = []string{"orders"} }, "tables[0]"},
		{func(c *Config) { c.Tables = []string{"s*.orders"} }, "tables[0]"},
		{func(c *Config) { c.Tables = []string{"shop.or`ders"} }, "tables[0]"},
		{func(c *Config) { c.Snapshot = "always" }, "snapshot"},
		{func(c *Config) { c.OnBinlogLost = "skip" }, "on_binlog_lost"},
		{func(c *Config) { c.ServerID = 0 }, "server_id"},
		{func(c *Config) { c.BatchSize = 0 }, "batch_size"},
		{func(c *Config) { c.SnapshotChunkRows = -1 }, "snapshot_chunk_rows"},
		{func(c *Config) { c.HeartbeatInterval = -1 }, "heartbeat_interval"},
	} {
		cfg := *ok
		cfg.Tables = append([]string(nil), ok.Tables...)
		c.mod(&cfg)
		errs := cfg.Validate()
		if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), c.field+":") {
			t.Errorf("%s: errors %v", c.field, errs)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), ":p@") {
				t.Errorf("error quotes the password: %v", e)
			}
		}
	}
	hp := DefaultConfig()
	hp.Host, hp.User, hp.Password, hp.Tables = "db.example", "u", "secret", []string{"a.b"}
	dc, err := hp.driverConfig()
	if err != nil || dc.Addr != "db.example:3306" || dc.Passwd != "secret" || dc.Params["time_zone"] != "'+00:00'" {
		t.Fatalf("host/port config: %+v %v", dc, err)
	}
}
