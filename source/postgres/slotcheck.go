package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// checkPosition compares a stored checkpoint with the slot it resumes
// from, before anything streams, and applies on_slot_lost to a slot that
// cannot deliver what the checkpoint needs:
//
//   - the slot is gone (dropped, or a failover to a server that never had
//     it): the changes since the checkpoint are lost;
//   - the server invalidated it (max_slot_wal_keep_size, wal_status lost):
//     its WAL is gone;
//   - the checkpoint's position is after the server's current WAL position:
//     the server is not the one the checkpoint came from (a failover to a
//     standby that lagged, a restored backup), and changes it writes at
//     LSNs below the checkpoint's would be skipped.
//
// A slot whose confirmed_flush_lsn is after the checkpoint's position
// makes the server skip the changes in between (the slot was advanced or
// re-created, or the state is an older copy). That is only logged: the
// operator may have advanced the slot on purpose, the way on that
// publication.go's advice for undecodable changes gives.
//
// A checkpoint after confirmed_flush_lsn is normal (the last durable
// position was not yet reported to the server when sluice stopped); the
// server then starts at the checkpoint's.
func (s *Source) checkPosition(ctx context.Context, meta *pgx.Conn, slot *SlotInfo, cp *checkpoint) error {
	at, _ := cp.streamLSN()
	what := "checkpoint's stream position"
	if cp.Phase == phaseSnapshot || at == 0 {
		at, _ = cp.consistentLSN()
		what = "checkpoint's consistent point (its snapshot is not finished)"
	}
	if slot == nil {
		return s.slotLost(fmt.Sprintf("replication slot %q no longer exists (dropped, or the server failed over to one without it), "+
			"so the changes after the %s %s are lost", s.slot, what, at))
	}
	if slot.invalidated() {
		return s.slotLost(fmt.Sprintf("replication slot %q was invalidated by the server (wal_status %s%s): the WAL after its restart position was removed "+
			"(max_slot_wal_keep_size), so the changes after the %s %s are lost", s.slot, orUnknown(slot.WALStatus), reasonSuffix(slot.InvalidationReason), what, at))
	}
	if at != 0 && slot.ConfirmedLSN > at {
		// Not a failure: advancing the slot is the documented way to go
		// on past changes that cannot be decoded (publication.go's
		// advice), and the operator who did it chose to skip them.
		s.log.Warn(fmt.Sprintf("replication slot %q has confirmed position %s, after the %s %s: the server skips the changes in between "+
			"(the slot was advanced or created again, or the pipeline's state is an older copy); if that was not deliberate, stop the pipeline, "+
			"drop the slot (sluice slots drop %s) and remove the pipeline's state to snapshot again", s.slot, slot.ConfirmedLSN, what, at, s.slot),
			"slot", s.slot)
	}
	if at != 0 && slot.CurrentLSN != 0 && at > slot.CurrentLSN {
		return s.slotLost(fmt.Sprintf("the %s %s is after the server's current WAL position %s, so the server is not the one the checkpoint came from "+
			"(a failover to a standby that was behind, or a restored backup): changes it writes below %s would be skipped (replication slot %q)",
			what, at, slot.CurrentLSN, at, s.slot))
	}
	return nil
}

// createSlot creates the source's logical slot on the replication
// connection, exporting a snapshot or not, as a failover slot when
// slot_failover asks for one and the server has them (see slotCommand).
func (s *Source) createSlot(ctx context.Context, repl *pgconn.PgConn, si serverInfo, export bool) (pglogrepl.CreateReplicationSlotResult, error) {
	cmd, failover := slotCommand(s.slot, export, si.version, s.cfg.SlotFailover)
	if s.cfg.SlotFailover && !failover {
		s.log.Warn("slot_failover needs PostgreSQL 17 or later; creating an ordinary slot, which a failover loses", "slot", s.slot, "server_version_num", si.version)
	}
	res, err := pglogrepl.ParseCreateReplicationSlot(repl.Exec(ctx, cmd))
	if err != nil {
		return res, fmt.Errorf("create replication slot %q: %w", s.slot, err)
	}
	if failover {
		s.log.Info("created a failover slot: standbys with sync_replication_slots keep it, so it survives a failover", "slot", s.slot)
	}
	return res, nil
}

// slotCommand is the CREATE_REPLICATION_SLOT command for slot: with
// failover wanted on PostgreSQL 17+ (server_version_num 170000), the
// option syntax with FAILOVER (PostgreSQL 15 introduced the option list,
// 17 the option); otherwise the classic form every supported version
// accepts. It reports whether the slot is a failover slot.
func slotCommand(slot string, export bool, version int, wantFailover bool) (string, bool) {
	if wantFailover && version >= 170000 {
		snap := "'nothing'"
		if export {
			snap = "'export'"
		}
		return fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT %s, FAILOVER)", slot, snap), true
	}
	action := "NOEXPORT_SNAPSHOT"
	if export {
		action = "EXPORT_SNAPSHOT"
	}
	return fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", slot, action), false
}
