package postgres

import (
	"context"
	"log/slog"
	"net/url"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestOutagePostgres cuts PostgreSQL away from a running pipeline for
// $SLUICE_OUTAGE (5m in CI, 15s otherwise); every change arrives exactly
// once (sqltest.Outage).
func TestOutagePostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("SLUICE_PG_DSN is not a URL")
	}
	proxy := svctest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	cfg.Mode = sqlsink.ModeInsert
	cfg.DSN = u.String()
	sink, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "sink1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	conn := pgtest.Connect(t, dsn) // direct, not through the proxy
	ctx := context.Background()
	rows := func() map[int64]string {
		out := map[int64]string{}
		r, err := conn.Query(ctx, "SELECT id, v FROM orders")
		if err != nil {
			return out
		}
		defer r.Close()
		for r.Next() {
			var id int64
			var v string
			r.Scan(&id, &v)
			out[id] = v
		}
		return out
	}
	position := func() uint64 {
		var hi uint64
		conn.QueryRow(ctx, "SELECT hi::bigint FROM sluice_positions").Scan(&hi)
		return hi
	}
	sqltest.Outage(t, sink, proxy, rows, position)
}
