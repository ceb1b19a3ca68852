package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
)

// Policies for max_retained_wal (on_max_retained_wal).
const (
	OnMaxRetainedStop       = "stop"
	OnMaxRetainedResnapshot = "drop_and_resnapshot"
)

// Policies for a lost slot or a checkpoint the slot does not match
// (on_slot_lost).
const (
	OnLostFail       = "fail"
	OnLostResnapshot = "resnapshot"
)

// SlotInfo is one row of pg_replication_slots with the WAL it holds back,
// measured against the server's current WAL position (the replayed one on
// a standby).
type SlotInfo struct {
	Name     string
	Plugin   string // "" for a physical slot
	Type     string // logical or physical
	Database string
	Active   bool
	// ActivePID is the walsender holding the slot; 0 when inactive.
	ActivePID int32
	// WALStatus is reserved, extended, unreserved or lost (PostgreSQL 13+;
	// "" before).
	WALStatus string
	// RestartLSN is 0 when the slot is invalidated; ConfirmedLSN is 0 for
	// a physical slot.
	RestartLSN, ConfirmedLSN, CurrentLSN pglogrepl.LSN
	// Retained is CurrentLSN − RestartLSN, ConfirmedLag CurrentLSN −
	// ConfirmedLSN; nil when the position is null. SafeWALSize is the WAL
	// that can still be written before the slot is lost (null without
	// max_slot_wal_keep_size).
	Retained, ConfirmedLag, SafeWALSize *int64
	// Failover is PostgreSQL 17's failover flag (false before).
	Failover bool
	// InvalidationReason is PostgreSQL 17's reason (wal_removed, rows_removed,
	// wal_level_insufficient); "" when valid or unknown.
	InvalidationReason string
}

// invalidated reports whether the server gave up the slot's WAL: its
// changes since the restart position are gone.
func (si *SlotInfo) invalidated() bool {
	return si.WALStatus == "lost" || si.RestartLSN == 0 || si.InvalidationReason != ""
}

// slotsQuery reads pg_replication_slots as JSON, so one query works on
// every version whatever its columns (wal_status and safe_wal_size are
// 13+, failover and invalidation_reason 17+).
const slotsQuery = `SELECT to_jsonb(s)::text, w.lsn::text
	FROM pg_replication_slots s,
	     (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) w`

// slotRow is pg_replication_slots' JSON form.
type slotRow struct {
	Name               string  `json:"slot_name"`
	Plugin             *string `json:"plugin"`
	Type               string  `json:"slot_type"`
	Database           *string `json:"database"`
	Active             bool    `json:"active"`
	ActivePID          *int32  `json:"active_pid"`
	RestartLSN         *string `json:"restart_lsn"`
	ConfirmedLSN       *string `json:"confirmed_flush_lsn"`
	WALStatus          *string `json:"wal_status"`
	SafeWALSize        *int64  `json:"safe_wal_size"`
	Failover           *bool   `json:"failover"`
	InvalidationReason *string `json:"invalidation_reason"`
}

// querySlots reads the slot named name, or every slot when name is "".
func querySlots(ctx context.Context, conn *pgx.Conn, name string) ([]SlotInfo, error) {
	q, args := slotsQuery+` ORDER BY s.slot_name`, []any(nil)
	if name != "" {
		q, args = slotsQuery+` WHERE s.slot_name = $1`, []any{name}
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read pg_replication_slots: %w", err)
	}
	var out []SlotInfo
	var js string
	var cur *string
	_, err = pgx.ForEachRow(rows, []any{&js, &cur}, func() error {
		si, err := parseSlotRow(js, cur)
		if err != nil {
			return err
		}
		out = append(out, si)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pg_replication_slots: %w", err)
	}
	return out, nil
}

func parseSlotRow(js string, cur *string) (SlotInfo, error) {
	var r slotRow
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		return SlotInfo{}, err
	}
	si := SlotInfo{Name: r.Name, Type: r.Type, Active: r.Active, SafeWALSize: r.SafeWALSize}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	si.Plugin, si.Database, si.WALStatus, si.InvalidationReason = str(r.Plugin), str(r.Database), str(r.WALStatus), str(r.InvalidationReason)
	if r.ActivePID != nil {
		si.ActivePID = *r.ActivePID
	}
	if r.Failover != nil {
		si.Failover = *r.Failover
	}
	lsn := func(p *string) (pglogrepl.LSN, error) {
		if p == nil || *p == "" {
			return 0, nil
		}
		return pglogrepl.ParseLSN(*p)
	}
	var err error
	if si.RestartLSN, err = lsn(r.RestartLSN); err != nil {
		return si, err
	}
	if si.ConfirmedLSN, err = lsn(r.ConfirmedLSN); err != nil {
		return si, err
	}
	if si.CurrentLSN, err = lsn(cur); err != nil {
		return si, err
	}
	diff := func(l pglogrepl.LSN) *int64 {
		if l == 0 || si.CurrentLSN == 0 {
			return nil
		}
		d := max(int64(si.CurrentLSN)-int64(l), 0)
		return &d
	}
	si.Retained, si.ConfirmedLag = diff(si.RestartLSN), diff(si.ConfirmedLSN)
	return si, nil
}

// ListSlots connects with dsn and returns every replication slot of the
// server. Errors never quote the DSN.
func ListSlots(ctx context.Context, dsn string) ([]SlotInfo, error) {
	conn, err := adminConnect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return querySlots(ctx, conn, "")
}

// ErrSlotActive is returned by DropSlot for a slot a walsender holds.
var ErrSlotActive = errors.New("replication slot is active")

// DropSlot drops the replication slot name unless a walsender holds it
// (a running pipeline: ErrSlotActive, naming the process).
func DropSlot(ctx context.Context, dsn, name string) error {
	conn, err := adminConnect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	slots, err := querySlots(ctx, conn, name)
	if err != nil {
		return err
	}
	if len(slots) == 0 {
		return fmt.Errorf("replication slot %q does not exist", name)
	}
	if slots[0].Active {
		return fmt.Errorf("%w: %q is in use by process %d (a running pipeline streams from it); stop that pipeline first", ErrSlotActive, name, slots[0].ActivePID)
	}
	// pg_drop_replication_slot itself refuses an active slot (55006), so a
	// pipeline starting between the look and the drop is safe.
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, name); err != nil {
		if slotActive(err) {
			return fmt.Errorf("%w: %q became active (a pipeline started streaming from it); stop that pipeline first", ErrSlotActive, name)
		}
		return fmt.Errorf("drop replication slot %q: %w", name, err)
	}
	return nil
}

func adminConnect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("the DSN is not a valid PostgreSQL connection string")
	}
	cfg.RuntimeParams["application_name"] = "sluice slots"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// guard is the slot guardian's memory between two looks at the slot
// (guardian.go's check): it warns once per crossing of warn_retained_wal
// and acts on max_retained_wal.
type guard struct {
	mu sync.Mutex
	// last is the newest measurement, for status and gauges.
	last   *SlotInfo
	at     time.Time
	warned bool // unconfirmed WAL is past warn_retained_wal and it was logged
	// held: the WAL kept before the confirmed position (a transaction
	// running then) is past warn_retained_wal and it was logged.
	held bool
	// over is the unconfirmed WAL at the previous look when it was past
	// max_retained_wal; -1 when it was not.
	over int64
	// walWarned is the wal_status last warned about (unreserved, lost).
	walWarned string
}

// verdict is what the guardian decided about one look at the slot.
type verdict struct {
	warn, recovered bool   // unconfirmed WAL crossed warn_retained_wal upward / back below
	held            bool   // WAL kept before the confirmed position crossed it upward
	walStatus       string // a new worrying wal_status to warn about
	act             bool   // max_retained_wal: apply on_max_retained_wal
}

// decide is the guardian's decision for one measurement, a pure function
// of the previous state (g.mu held).
//
// Both thresholds measure the WAL the slot keeps because sluice has not
// confirmed it (ConfirmedLag: current − confirmed_flush_lsn), the part a
// slow or failing sink causes and the policies can act on. The rest of
// the retained WAL, between restart_lsn and confirmed_flush_lsn, is kept
// by the server for transactions that were running when the position was
// confirmed: a fresh slot's creation point (the walsender moves restart_lsn
// up at its first confirmation), or a long-running transaction anywhere on
// the server. Stopping the pipeline frees none of it, and a new slot waits
// for the same transaction; it only gets its own warning (held), once per
// upward crossing of warn_retained_wal.
//
// Past max_retained_wal it acts only when the slot was past it at the
// previous look too and has not shrunk since: a pipeline started on a slot
// that stopped consumers left far behind gets to catch up (its
// confirmations free WAL), but one that keeps falling behind is stopped.
func (g *guard) decide(si *SlotInfo, warnAt, maxAt int64) verdict {
	var v verdict
	if si.WALStatus == "unreserved" || si.WALStatus == "lost" {
		if g.walWarned != si.WALStatus {
			v.walStatus = si.WALStatus
			g.walWarned = si.WALStatus
		}
	} else {
		g.walWarned = ""
	}
	if si.Retained != nil && si.ConfirmedLag != nil {
		held := *si.Retained - *si.ConfirmedLag
		switch {
		case warnAt > 0 && held >= warnAt && !g.held:
			g.held, v.held = true, true
		case held < warnAt:
			g.held = false
		}
	}
	if si.ConfirmedLag == nil {
		return v
	}
	r := *si.ConfirmedLag
	switch {
	case warnAt > 0 && r >= warnAt && !g.warned:
		g.warned, v.warn = true, true
	case warnAt > 0 && r < warnAt && g.warned:
		g.warned, v.recovered = false, true
	}
	if maxAt > 0 && r >= maxAt {
		if g.over >= 0 && r >= g.over {
			v.act = true
		}
		g.over = r
	} else {
		g.over = -1
	}
	return v
}

// errResnapshot asks run to drop the slot and start over with a new slot
// and a full snapshot (on_max_retained_wal: drop_and_resnapshot,
// on_slot_lost: resnapshot).
type errResnapshot struct{ reason string }

func (e *errResnapshot) Error() string { return "re-snapshot: " + e.reason }

// checkSlot is one look of the guardian while streaming (sideLoop, every
// slot_check_interval): measure, remember for status and gauges, log, and
// return an error that ends the stream when a policy says so.
func (s *Source) checkSlot(ctx context.Context, conn *pgx.Conn) error {
	slots, err := querySlots(ctx, conn, s.slot)
	if err != nil {
		return err
	}
	now := time.Now()
	g := &s.guard
	if len(slots) == 0 {
		g.mu.Lock()
		g.last, g.at = nil, now
		g.mu.Unlock()
		return s.slotLost(s.droppedWhileStreaming())
	}
	si := slots[0]
	g.mu.Lock()
	g.last, g.at = &si, now
	v := g.decide(&si, s.cfg.WarnRetainedWAL, s.cfg.MaxRetainedWAL)
	g.mu.Unlock()
	s.publishGauges(&si, now)

	if v.walStatus != "" {
		s.log.Warn("replication slot is about to lose WAL or has lost it (wal_status); raise max_slot_wal_keep_size or let sluice catch up",
			"slot", s.slot, "wal_status", v.walStatus, "safe_wal_size", fmtBytesPtr(si.SafeWALSize))
	}
	if v.warn {
		s.log.Warn("replication slot retains much WAL: sluice is not confirming changes fast enough (a slow or failing sink?) and the server keeps the WAL until it does",
			"slot", s.slot, "unconfirmed_wal", fmtBytes(*si.ConfirmedLag), "retained_wal", fmtBytesPtr(si.Retained), "warn_retained_wal", fmtBytes(s.cfg.WarnRetainedWAL),
			"wal_status", si.WALStatus, "safe_wal_size", fmtBytesPtr(si.SafeWALSize))
	}
	if v.recovered {
		s.log.Info("replication slot's unconfirmed WAL is back below warn_retained_wal", "slot", s.slot, "unconfirmed_wal", fmtBytes(*si.ConfirmedLag))
	}
	if v.held {
		s.log.Warn("replication slot keeps much WAL from before the position sluice confirmed: the server holds it for a transaction that was running then "+
			"(look for long-running transactions in pg_stat_activity); sluice is not behind, so max_retained_wal does not apply to it",
			"slot", s.slot, "held_wal", fmtBytes(*si.Retained-*si.ConfirmedLag), "retained_wal", fmtBytes(*si.Retained), "warn_retained_wal", fmtBytes(s.cfg.WarnRetainedWAL))
	}
	if si.invalidated() {
		return s.slotLost(s.invalidatedWhileStreaming(&si))
	}
	if v.act {
		if s.cfg.OnMaxRetainedWAL == OnMaxRetainedResnapshot {
			s.log.Warn("replication slot retains more than max_retained_wal: dropping it and snapshotting again (on_max_retained_wal: drop_and_resnapshot)",
				"slot", s.slot, "unconfirmed_wal", fmtBytes(*si.ConfirmedLag), "max_retained_wal", fmtBytes(s.cfg.MaxRetainedWAL))
			return &errResnapshot{reason: fmt.Sprintf("slot %q retains %s of WAL sluice has not confirmed, more than max_retained_wal (%s)", s.slot, fmtBytes(*si.ConfirmedLag), fmtBytes(s.cfg.MaxRetainedWAL))}
		}
		return component.Permanent(fmt.Errorf("stopped: replication slot %q retains %s of WAL sluice has not confirmed, more than max_retained_wal (%s), and is not catching up: "+
			"the sinks do not confirm changes as fast as the database writes them. The slot keeps its position, so nothing is lost, but the server keeps "+
			"that WAL until sluice confirms it: fix the slow or failing sink and start the pipeline again so it catches up, raise max_retained_wal, "+
			"or set on_max_retained_wal: drop_and_resnapshot to drop the slot and snapshot again",
			s.slot, fmtBytes(*si.ConfirmedLag), fmtBytes(s.cfg.MaxRetainedWAL)))
	}
	return nil
}

func (s *Source) droppedWhileStreaming() string {
	return fmt.Sprintf("replication slot %q was dropped while streaming, so changes were lost", s.slot)
}

func (s *Source) invalidatedWhileStreaming(si *SlotInfo) string {
	return fmt.Sprintf("replication slot %q was invalidated by the server while streaming (wal_status %s%s): "+
		"the WAL it needed was removed (max_slot_wal_keep_size), so changes were lost", s.slot, orUnknown(si.WALStatus), reasonSuffix(si.InvalidationReason))
}

// explainStreamError looks at the slot after the stream failed for good:
// the server refuses a dropped or invalidated slot with errors that do not
// say so plainly ("cannot read from logical replication slot", SQLSTATE
// 55000; "replication slot ... does not exist", 42704), often before the
// guardian's next look. Then on_slot_lost applies, with the same message
// as the guardian's; otherwise err is returned as it is.
func (s *Source) explainStreamError(ctx context.Context, meta *pgx.Conn, err error) error {
	if ctx.Err() != nil || component.IsPermanent(err) {
		return err
	}
	var rs *errResnapshot
	if errors.As(err, &rs) {
		return err
	}
	conn := meta
	if conn == nil || conn.IsClosed() {
		c, cerr := s.connect(ctx)
		if cerr != nil {
			return err
		}
		conn = c
	}
	slots, qerr := querySlots(ctx, conn, s.slot)
	switch {
	case qerr != nil:
		return err
	case len(slots) == 0:
		return s.slotLost(s.droppedWhileStreaming())
	case slots[0].invalidated():
		return s.slotLost(s.invalidatedWhileStreaming(&slots[0]))
	}
	return err
}

// slotLost applies on_slot_lost to a slot found gone or invalidated.
func (s *Source) slotLost(what string) error {
	if s.cfg.OnSlotLost == OnLostResnapshot {
		s.log.Warn(what+"; creating a new slot and snapshotting again (on_slot_lost: resnapshot)", "slot", s.slot)
		return &errResnapshot{reason: what}
	}
	return component.Permanent(errors.New(what + ". " + s.lostAdvice()))
}

// lostAdvice is the two ways out of a lost position.
func (s *Source) lostAdvice() string {
	return fmt.Sprintf("Either set on_slot_lost: resnapshot on the source to create a new slot and snapshot every table again, "+
		"or stop the pipeline, drop the slot if it still exists (sluice slots drop %s) and remove the pipeline's state (its state_dir) to start over the same way", s.slot)
}

// Slots implements component.SlotReporter: the guardian's (or the
// metrics') last measurement of the slot.
func (s *Source) Slots() []component.Slot {
	g := &s.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.at.IsZero() {
		return nil
	}
	sl := component.Slot{Source: s.env.Name, Name: s.slot, MeasuredAt: g.at.UTC()}
	if g.last == nil {
		sl.Warning = "the slot does not exist"
		return []component.Slot{sl}
	}
	si := g.last
	sl.Active, sl.WALStatus = si.Active, si.WALStatus
	sl.RetainedWALBytes, sl.ConfirmedLagBytes, sl.SafeWALSizeBytes = si.Retained, si.ConfirmedLag, si.SafeWALSize
	switch {
	case si.invalidated():
		sl.Warning = "the slot was invalidated: the WAL it needed was removed"
	case si.WALStatus == "unreserved":
		sl.Warning = "the slot's WAL is about to be removed (wal_status unreserved)"
	case g.warned:
		sl.Warning = fmt.Sprintf("WAL sluice has not confirmed is past warn_retained_wal (%s)", fmtBytes(s.cfg.WarnRetainedWAL))
	case g.held:
		sl.Warning = fmt.Sprintf("WAL held before the confirmed position (a long-running transaction?) is past warn_retained_wal (%s)", fmtBytes(s.cfg.WarnRetainedWAL))
	}
	return []component.Slot{sl}
}

var _ component.SlotReporter = (*Source)(nil)

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ", reason " + r
}

// fmtBytes writes n in binary units with one decimal: 1.5 GiB.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}

func fmtBytesPtr(n *int64) string {
	if n == nil {
		return "unknown"
	}
	return fmtBytes(*n)
}

// SlotName is the replication slot the source uses (slot, or its default
// sluice_<pipeline>_<source>).
func (s *Source) SlotName() string { return s.slot }

// DSN is the source's connection string (a secret: never print it).
func (s *Source) DSN() string { return s.cfg.DSN }
