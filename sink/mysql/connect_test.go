package mysql

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// TestConnect: the connect step against the server: up, unreachable (a
// plain error, retried at start), an unknown database and a bad password
// (Permanent).
func TestConnect(t *testing.T) {
	mc, err := mysql.ParseDSN(newDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, mc.Addr)
	sink := func(t *testing.T, c *mysql.Config) component.Connector {
		cfg := sqlsink.Defaults()
		cfg.DSN = c.FormatDSN()
		s, err := New(Config{Config: cfg}, component.Env{Name: "s", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	ctx := context.Background()
	via := mc.Clone()
	via.Addr = proxy.Addr()
	if err := sink(t, via).Connect(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	proxy.Cut()
	if err := sink(t, via).Connect(ctx); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "mysql sink: connect: ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
	unknown := mc.Clone()
	unknown.DBName = "sluice_no_such_database"
	if err := sink(t, unknown).Connect(ctx); err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), "1049") {
		t.Fatalf("unknown database: %v (permanent %v)", err, component.IsPermanent(err))
	}
	bad := mc.Clone()
	bad.User, bad.Passwd = "sluice_no_such_user", "wrong"
	if err := sink(t, bad).Connect(ctx); err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), "1045") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad password: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
