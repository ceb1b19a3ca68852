package mysql

import (
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

type nopLogger struct{}

func (nopLogger) Print(...any) {}

// TestOutageMariaDB cuts MariaDB away from a running pipeline for
// $SLUICE_OUTAGE (5m in CI, 15s otherwise); every change arrives exactly
// once (sqltest.Outage).
func TestOutageMariaDB(t *testing.T) {
	dsn := newDatabase(t)
	mc, _ := mysql.ParseDSN(dsn)
	proxy := svctest.NewProxy(t, mc.Addr)
	mc.Addr = proxy.Addr()
	_ = mysql.SetLogger(nopLogger{})
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	cfg.Mode = sqlsink.ModeInsert
	sink := newSink(t, mc.FormatDSN(), cfg)

	db, err := sql.Open("mysql", dsn) // direct, not through the proxy
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func() map[int64]string {
		out := map[int64]string{}
		r, err := db.Query("SELECT id, v FROM orders")
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
		db.QueryRow("SELECT hi FROM sluice_positions").Scan(&hi)
		return hi
	}
	sqltest.Outage(t, sink, proxy, rows, position)
}
