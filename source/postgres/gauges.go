package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
)

var _ component.Gauger = (*Source)(nil)

// Gauge names (see package metrics for how they are exported). Each has
// the label slot besides pipeline and source.
const (
	gaugeRetainedWAL  = "sluice_postgres_slot_retained_wal_bytes"
	gaugeConfirmedLag = "sluice_postgres_slot_confirmed_lag_bytes"
	gaugeSafeWALSize  = "sluice_postgres_slot_safe_wal_size_bytes"
	gaugeActive       = "sluice_postgres_slot_active"
	gaugeWALStatus    = "sluice_postgres_slot_wal_status"
)

// walStatuses are pg_replication_slots.wal_status's values: the gauge
// gaugeWALStatus has a series for each, 1 for the current one.
var walStatuses = []string{"reserved", "extended", "unreserved", "lost"}

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
// never a snapshot connection. While streaming, the slot guardian's looks
// (guardian.go) refresh the same measurement, so scrapes then cost
// nothing.
type slotGauges struct {
	mu      sync.Mutex
	conn    *pgx.Conn // opened at the first measurement, reopened after an error
	closed  bool      // the source is closed: measure nothing, connect nothing
	at      time.Time // when gauges were measured
	gauges  []component.Gauge
	failing bool // the last measurement failed (and was logged)
}

// Gauges implements component.Gauger: the WAL the server retains for the
// slot (from restart_lsn, what a full disk is made of), the WAL written
// since the position sluice confirmed (confirmed_flush_lsn), safe_wal_size,
// whether a walsender holds the slot, and its wal_status, measured at most
// once per gaugeTTL. Before the slot exists, after a failed measurement and
// after Close there are none.
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
	si, err := s.measureSlot(ctx)
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
	g.gauges = s.slotGaugesOf(si)
	if si != nil {
		s.guard.mu.Lock()
		s.guard.last, s.guard.at = si, g.at
		s.guard.mu.Unlock()
	}
	return g.gauges
}

// publishGauges stores a measurement the guardian made, so scrapes within
// gaugeTTL use it.
func (s *Source) publishGauges(si *SlotInfo, at time.Time) {
	g := &s.gauges
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.at, g.gauges, g.failing = at, s.slotGaugesOf(si), false
}

// slotGaugesOf turns a measurement into gauges; none for no slot.
func (s *Source) slotGaugesOf(si *SlotInfo) []component.Gauge {
	if si == nil {
		return nil
	}
	slot := [][2]string{{"slot", s.slot}}
	var gauges []component.Gauge
	// restart_lsn is null once the server has invalidated the slot; the
	// source then fails with its own error.
	if si.Retained != nil {
		gauges = append(gauges, component.Gauge{Name: gaugeRetainedWAL, Value: float64(*si.Retained), Labels: slot,
			Help: "WAL the server retains for the source's replication slot (current WAL position minus restart_lsn)."})
	}
	if si.ConfirmedLag != nil {
		gauges = append(gauges, component.Gauge{Name: gaugeConfirmedLag, Value: float64(*si.ConfirmedLag), Labels: slot,
			Help: "WAL written since the position sluice confirmed to the replication slot (current WAL position minus confirmed_flush_lsn)."})
	}
	if si.SafeWALSize != nil {
		gauges = append(gauges, component.Gauge{Name: gaugeSafeWALSize, Value: float64(*si.SafeWALSize), Labels: slot,
			Help: "WAL that can still be written before the replication slot is invalidated (safe_wal_size; only with max_slot_wal_keep_size)."})
	}
	active := 0.0
	if si.Active {
		active = 1
	}
	gauges = append(gauges, component.Gauge{Name: gaugeActive, Value: active, Labels: slot,
		Help: "1 while a walsender streams from the replication slot."})
	if si.WALStatus != "" {
		for _, st := range walStatuses {
			v := 0.0
			if st == si.WALStatus {
				v = 1
			}
			gauges = append(gauges, component.Gauge{Name: gaugeWALStatus, Value: v, Labels: [][2]string{{"slot", s.slot}, {"wal_status", st}},
				Help: "1 for the replication slot's wal_status (reserved, extended, unreserved, lost), 0 for the others."})
		}
	}
	return gauges
}

// measureSlot looks the slot up on the measuring connection; nil when it
// does not exist. g.mu is held.
func (s *Source) measureSlot(ctx context.Context) (*SlotInfo, error) {
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
	slots, err := querySlots(ctx, g.conn, s.slot)
	if err != nil || len(slots) == 0 {
		return nil, err // no slot yet
	}
	return &slots[0], nil
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
