package postgres

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// TestConnect: the connect step against the server: up, unreachable (a
// plain error, retried at start), an unknown database (Permanent).
func TestConnect(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("SLUICE_PG_DSN is not a URL")
	}
	proxy := svctest.NewProxy(t, u.Host)
	sink := func(t *testing.T, dsn string) component.Connector {
		cfg := sqlsink.Defaults()
		cfg.DSN = dsn
		s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	ctx := context.Background()
	via := *u
	via.Host = proxy.Addr()
	s := sink(t, via.String())
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	proxy.Cut()
	if err := sink(t, via.String()).Connect(ctx); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "postgres sink: connect: ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
	proxy.Restore()
	unknown := *u
	unknown.Path = "/sluice_no_such_database"
	if err := sink(t, unknown.String()).Connect(ctx); err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), "3D000") {
		t.Fatalf("unknown database: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
