package postgres

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

func harness() sqltest.Harness {
	return sqltest.Harness{Server: "postgres", Open: openDB}
}

func openDB(t *testing.T) *sqltest.DB {
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("SLUICE_PG_DSN is not a URL")
	}
	return &sqltest.DB{
		Sink: func(t *testing.T, cfg sqlsink.Config) component.Sink {
			cfg.DSN = dsn
			c := Config{Config: cfg, Schema: "public"}
			if errs := c.Validate(); len(errs) > 0 {
				t.Fatalf("config: %v", errs)
			}
			s, err := New(c, component.Env{Name: "sink1", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			return s
		},
		Rows: func(t *testing.T, table string, cols ...string) []string {
			sel := make([]string, len(cols))
			for i, c := range cols {
				sel[i] = "coalesce(" + sqlsink.QuotePG(c) + "::text, 'NULL')"
			}
			q := "SELECT concat_ws('|', " + strings.Join(sel, ", ") + ") FROM public." + sqlsink.QuotePG(table) + " ORDER BY " + sqlsink.QuotePG(cols[0]) + ", 1"
			rows, err := conn.Query(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return out
		},
		Exec: func(t *testing.T, q string) {
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		Exists: func(t *testing.T, table string) bool {
			var ok bool
			if err := conn.QueryRow(context.Background(), "SELECT to_regclass('public.' || quote_ident($1)) IS NOT NULL", table).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			return ok
		},
		Addr: u.Host,
		New: func(t *testing.T, cfg sqlsink.Config, p sinktest.Params) (component.Sink, error) {
			v := *u
			if p.Via != "" {
				v.Host = p.Via
			}
			if p.Secret != "" {
				v.User = url.UserPassword(v.User.Username(), p.Secret)
			}
			cfg.DSN = v.String()
			c := Config{Config: cfg, Schema: "public"}
			if errs := c.Validate(); len(errs) > 0 {
				return nil, errors.Join(errs...)
			}
			return New(c, component.Env{Name: p.Name, Logger: p.Logger, Epoch: p.Epoch})
		},
	}
}

func TestSuite(t *testing.T) { sqltest.Run(t, harness()) }

// TestConformance runs the sink suite (internal/sinktest) in modes upsert
// and insert.
func TestConformance(t *testing.T) { sqltest.Conformance(t, harness()) }
