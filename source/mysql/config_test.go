package mysql

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
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

func TestErrorClassification(t *testing.T) {
	lost := classify(fmt.Errorf("dump: %w", &gomysql.MyError{Code: 1236, Message: "Could not find first log file name in binary log index file"}))
	if !errors.Is(lost, ErrBinlogLost) || retryable(lost) {
		t.Errorf("1236 could not find: %v", lost)
	}
	if err := classify(&gomysql.MyError{Code: 1789, Message: "purged"}); !errors.Is(err, ErrBinlogLost) {
		t.Errorf("1789: %v", err)
	}
	if err := classify(&gomysql.MyError{Code: 1236, Message: "event too big"}); !component.IsPermanent(err) {
		t.Errorf("other 1236: %v", err)
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{&gomysql.MyError{Code: 1927, Message: "Connection was killed"}, true},
		{&gomysql.MyError{Code: 1227, Message: "need REPLICATION SLAVE"}, false},
		{&mysql.MySQLError{Number: 1045}, false},
		{&mysql.MySQLError{Number: 2013}, true},
		{component.Permanent(io.EOF), false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("retryable(%v) = %v", c.err, got)
		}
	}
}
