package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
)

var _ component.Gauger = (*Source)(nil)

// Gauge names (see package metrics for how they are exported).
const (
	gaugeRetainedWAL  = "sluice_postgres_slot_retained_wal_bytes"
	gaugeConfirmedLag = "sluice_postgres_slot_confirmed_lag_bytes"
)

// gaugeTTL is how long a measurement of the slot is reused: scrapes closer
// together than this cost the server nothing. gaugeTimeout bounds one
// measurement, connection included, so a scrape never hangs on a server
// that does not answer.
var (
	gaugeTTL     = 5 * time.Second
	gaugeTimeout = 2 * time.Second
)

// slotGauges measures the WAL the source's replication slot holds back,
// when metrics are scraped, on a small connection of its own: never the
// replication connection, whose protocol state belongs to the stream, and
// never a snapshot connection.
type slotGauges struct {
	mu      sync.Mutex
	conn    *pgx.Conn // opened at the first measurement, reopened after an error
	closed  bool      // the source is closed: measure nothing, connect nothing
	at      time.Time // when gauges were measured
	gauges  []component.Gauge
	failing bool // the last measurement failed (and was logged)
}

// Gauges implements component.Gauger: the WAL the server retains for the
// slot (from restart_lsn, what a full disk is made of) and the WAL written
// since the position sluice confirmed (confirmed_flush_lsn), measured at
// most once per gaugeTTL. Before the slot exists, after a failed
// measurement and after Close there are none.
func (s *Source) Gauges() []component.Gauge {
	g := &s.gauges
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	if !g.at.IsZero() && time.Since(g.at) < gaugeTTL {
		return g.gauges
	}
	g.at = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
	defer cancel()
	gauges, err := s.measureSlot(ctx)
	if err != nil {
		g.gauges = nil
		g.closeConn()
		if !g.failing {
			g.failing = true
			s.log.Warn("could not measure the replication slot's WAL for metrics; trying again at the next scrape", "slot", s.slot, "err", err)
		}
		return nil
	}
	g.failing = false
	g.gauges = gauges
	return gauges
}

// measureSlot queries the slot's positions against the server's current WAL
// position (the replayed one on a standby). g.mu is held.
func (s *Source) measureSlot(ctx context.Context) ([]component.Gauge, error) {
	g := &s.gauges
	if g.conn == nil {
		cfg, err := s.connConfig()
		if err != nil {
			return nil, err
		}
		cfg.RuntimeParams["application_name"] = "sluice metrics"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		g.conn = conn
	}
	var retained, confirmed *float64
	err := g.conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(w.lsn, s.restart_lsn)::float8, pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::float8
		FROM pg_replication_slots s,
		     (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
		WHERE s.slot_name = $1`, s.slot).Scan(&retained, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // no slot yet
	}
	if err != nil {
		return nil, err
	}
	var gauges []component.Gauge
	// restart_lsn is null once the server has invalidated the slot; the
	// source then fails with its own error.
	if retained != nil {
		gauges = append(gauges, component.Gauge{Name: gaugeRetainedWAL, Value: max(*retained, 0),
			Help: "WAL the server retains for the source's replication slot (current WAL position minus restart_lsn)."})
	}
	if confirmed != nil {
		gauges = append(gauges, component.Gauge{Name: gaugeConfirmedLag, Value: max(*confirmed, 0),
			Help: "WAL written since the position sluice confirmed to the replication slot (current WAL position minus confirmed_flush_lsn)."})
	}
	return gauges, nil
}

// close closes the measuring connection for good; Close calls it.
func (g *slotGauges) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.closeConn()
}

// closeConn closes the measuring connection; g.mu is held.
func (g *slotGauges) closeConn() {
	if g.conn != nil {
		_ = pgxCloser{g.conn}.Close()
		g.conn = nil
	}
}
