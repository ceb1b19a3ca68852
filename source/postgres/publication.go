package postgres

// The publication names the tables the slot streams. A slot decodes each
// change with the catalog as it was when the change was made, publications
// included, so two operator actions lose changes for good:
//
//   - ALTER PUBLICATION ... DROP TABLE: the changes to that table committed
//     while it is out of the publication are never sent, and adding it back
//     later does not bring them back.
//   - DROP PUBLICATION: a change made after the drop cannot be decoded at
//     all (the walsender fails with `publication "…" does not exist`), and a
//     publication created again is invisible to every change made before
//     its creation, so the slot cannot stream past them.
//
//   - ALTER PUBLICATION ... SET (publish = ...) without a kind of change
//     (insert, update, delete, truncate): such changes are never sent.
//
// None is ever accepted silently. At start, a table the checkpoint
// captured that is no longer in the publication stops the source (tables
// added to the configuration later, never captured, are still added); while
// streaming, the publication is looked up every status_interval and a
// captured table missing from it, a kind of change it no longer publishes,
// or the publication gone, stops the source with the checkpoint intact. A
// publication that leaves kinds of change out from the start is logged at
// WARN. Each error says what is lost and how to go on.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-dev/sluice/component"
)

// pubState is the publication as the server describes it at one moment.
type pubState struct {
	exists    bool
	allTables bool
	// publishes is the kinds of change it publishes (publish = ...), as
	// pubKind bits.
	publishes pubKind
	// listed holds the tables the publication lists, partitions mapped to
	// their root (a publication without publish_via_partition_root lists
	// the partitions of a captured partitioned table).
	listed map[uint32]bool
	// present holds the oids asked about that still exist.
	present map[uint32]bool
	// lsn is the server's WAL position when it was looked up.
	lsn pglogrepl.LSN
}

// pubKind is a set of kinds of change a publication publishes.
type pubKind uint8

const (
	pubInsert pubKind = 1 << iota
	pubUpdate
	pubDelete
	pubTruncate
	pubAll = pubInsert | pubUpdate | pubDelete | pubTruncate
)

// String names the kinds: "updates, deletes".
func (k pubKind) String() string {
	var names []string
	for i, n := range []string{"inserts", "updates", "deletes", "truncates"} {
		if k&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// lookupPublication describes the publication and which of oids still
// exist, in two statements, in this order. The server reads what a
// publication lists (pg_publication_tables) with its catalog snapshot,
// which can be newer than the statement's snapshot that reads
// pg_publication and pg_class: in one statement, a table or the
// publication dropped while it runs looks still there but no longer
// listed, which is a removal, an error that stops the source. The second
// statement's snapshot sees every commit the first one's catalog reads
// saw, so a table or publication it finds still there was there when the
// listing was read, and was really left out of it.
func (s *Source) lookupPublication(ctx context.Context, conn *pgx.Conn, oids []uint32) (pubState, error) {
	st := pubState{listed: map[uint32]bool{}, present: map[uint32]bool{}}
	asked := make([]int64, len(oids))
	for i, o := range oids {
		asked[i] = int64(o)
	}
	var lsn *string
	var all *bool
	var kinds []bool
	var listed, present []int64
	err := conn.QueryRow(ctx, `SELECT
		(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
		ARRAY(SELECT DISTINCT COALESCE(pg_partition_root(c.oid), c.oid)::oid::int8
			FROM pg_publication_tables pt
			JOIN pg_namespace n ON n.nspname = pt.schemaname
			JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
			WHERE pt.pubname = $1)`,
		s.publication).Scan(&lsn, &listed)
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT
		(SELECT puballtables FROM pg_publication WHERE pubname = $1),
		(SELECT ARRAY[pubinsert, pubupdate, pubdelete, pubtruncate] FROM pg_publication WHERE pubname = $1),
		ARRAY(SELECT oid::int8 FROM pg_class WHERE oid::int8 = ANY($2::int8[]))`,
			s.publication, asked).Scan(&all, &kinds, &present)
	}
	if err != nil {
		return st, fmt.Errorf("look up publication %q: %w", s.publication, err)
	}
	if lsn != nil {
		if st.lsn, err = pglogrepl.ParseLSN(*lsn); err != nil {
			return st, fmt.Errorf("look up publication %q: WAL position: %w", s.publication, err)
		}
	}
	st.exists = all != nil
	st.allTables = all != nil && *all
	for i, on := range kinds {
		if on {
			st.publishes |= 1 << i
		}
	}
	for _, o := range listed {
		st.listed[uint32(o)] = true
	}
	for _, o := range present {
		st.present[uint32(o)] = true
	}
	return st, nil
}

// capturedSet is the set of tables a checkpoint says were captured; nil
// when the checkpoint predates that record (and, mid-snapshot, holds no
// table list either).
func capturedSet(cp *checkpoint) map[string]bool {
	if cp == nil {
		return nil
	}
	names := cp.Captured
	if names == nil && cp.Tables != nil {
		for name := range cp.Tables {
			names = append(names, name)
		}
	}
	if names == nil {
		return nil
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// ensurePublication creates the publication or adds missing tables to it.
// With a checkpoint, a table it captured that the publication no longer
// lists is an error, never added back silently: its changes since its
// removal are lost. It records the server's WAL position in s.pubSeen.
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn, refs []tableRef, version int, cp *checkpoint) (created bool, err error) {
	st, err := s.lookupPublication(ctx, conn, nil)
	if err != nil {
		return false, err
	}
	s.pubSeen, s.pubKinds = st.lsn, st.publishes
	if st.exists && st.publishes != pubAll {
		s.log.Warn("the publication does not publish every kind of change: those it leaves out are not captured",
			"publication", s.publication, "not_published", (pubAll &^ st.publishes).String())
	}
	quoted := func(rs []tableRef) string {
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.quoted()
		}
		return strings.Join(names, ", ")
	}
	pub := pgx.Identifier{s.publication}.Sanitize()
	if !st.exists {
		if !s.cfg.CreatePublication {
			msg := fmt.Sprintf("publication %q does not exist and create_publication is false; "+
				"create it (CREATE PUBLICATION %s FOR TABLE ...) or set create_publication: true", s.publication, pub)
			if cp != nil {
				msg += "; it was dropped after the checkpoint was taken: if any change was made since, the slot cannot stream past it (a publication created later is invisible to changes made before its creation)"
			}
			return false, component.Permanent(errors.New(msg))
		}
		if cp != nil {
			s.log.Warn("publication does not exist although the checkpoint streamed through it; creating it again. "+
				"If any change was made since it was dropped, streaming fails at that change (a slot decodes each change with the catalog as it was then)",
				"publication", s.publication, "slot", s.slot)
		}
		sql := "CREATE PUBLICATION " + pub + " FOR TABLE " + quoted(refs)
		if version >= 130000 {
			sql += " WITH (publish_via_partition_root = true)"
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return false, fmt.Errorf("create publication %q: %w", s.publication, err)
		}
		s.log.Info("created publication", "publication", s.publication, "tables", len(refs))
		s.pubKinds = pubAll
		return true, nil
	}
	if st.allTables {
		return false, nil
	}
	captured := capturedSet(cp)
	var missing, removed []tableRef
	for _, r := range refs {
		switch {
		case st.listed[r.oid]:
		case captured[r.String()]:
			removed = append(removed, r)
		default:
			missing = append(missing, r)
		}
	}
	if len(removed) > 0 {
		names := sortedNames(removed)
		return false, component.Permanent(fmt.Errorf("%s %s captured (the checkpoint, at LSN %s, records %s) but no longer in publication %q: "+
			"removed from it while sluice was stopped, or before the stream reached the removal. %s",
			plural(len(names), "table", "tables"), strings.Join(names, ", "), cpPosition(cp), plural(len(names), "it", "them"),
			s.publication, s.removedAdvice(names)))
	}
	if len(missing) == 0 {
		return false, nil
	}
	if cp != nil && captured == nil {
		s.log.Warn("the checkpoint does not record which tables were captured (it was written by an older sluice): tables missing from the publication are added as new ones; "+
			"if one of them was captured before and removed from the publication, its changes since the removal are lost",
			"publication", s.publication, "tables", sortedNames(missing))
	}
	if !s.cfg.CreatePublication {
		return false, component.Permanent(fmt.Errorf("publication %q lacks tables %s and create_publication is false; add them (ALTER PUBLICATION %s ADD TABLE ...)",
			s.publication, strings.Join(sortedNames(missing), ", "), pub))
	}
	if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" ADD TABLE "+quoted(missing)); err != nil {
		return false, fmt.Errorf("add tables to publication %q: %w", s.publication, err)
	}
	s.log.Info("added tables to publication", "publication", s.publication, "tables", sortedNames(missing))
	return false, nil
}

// removedAdvice says what removing tables from the publication cost and
// how to go on.
func (s *Source) removedAdvice(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		sch, tbl, _ := strings.Cut(n, ".")
		quoted[i] = pgx.Identifier{sch, tbl}.Sanitize()
	}
	return fmt.Sprintf("Changes to %s committed while %s out of the publication are not streamed, now or later: "+
		"the slot decodes each change with the publication as it was when the change was made. "+
		"To go on, either add %s back (ALTER PUBLICATION %s ADD TABLE %s;) and start sluice again, accepting that those changes are lost, "+
		"then read %s again with an incremental snapshot (sluice snapshot PIPELINE.yaml %s); "+
		"or remove %s from tables",
		plural(len(names), "it", "them"), plural(len(names), "it was", "they were"), plural(len(names), "it", "them"),
		pgx.Identifier{s.publication}.Sanitize(), strings.Join(quoted, ", "), plural(len(names), "the table", "the tables"),
		strings.Join(names, " "), plural(len(names), "it", "them"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cpPosition is the checkpoint's stream position for messages.
func cpPosition(cp *checkpoint) string {
	if cp.LSN != "" {
		return cp.LSN
	}
	return cp.ConsistentPoint
}

// pubWatch follows the publication while streaming. It is owned by the
// goroutine that runs the checks.
type pubWatch struct {
	src  *Source
	refs []tableRef // captured tables not dropped (a dropped one leaves)
	// seen is the server's WAL position at the last lookup that found the
	// publication with every captured table.
	seen pglogrepl.LSN
}

// check looks the publication up once. A captured table removed from it,
// or the publication gone, is a permanent error; a dropped table is logged
// and no longer watched (its changes up to the drop are streamed).
func (w *pubWatch) check(ctx context.Context, conn *pgx.Conn) error {
	s := w.src
	oids := make([]uint32, len(w.refs))
	for i, r := range w.refs {
		oids[i] = r.oid
	}
	st, err := s.lookupPublication(ctx, conn, oids)
	if err != nil {
		return err
	}
	if !st.exists {
		return component.Permanent(fmt.Errorf("publication %q was dropped while streaming (it existed at WAL position %s, no longer at %s). %s",
			s.publication, w.seen, st.lsn, s.pubGoneAdvice()))
	}
	if lost := s.pubKinds &^ st.publishes; lost != 0 {
		return component.Permanent(fmt.Errorf("publication %q stopped publishing %s while streaming (it did at WAL position %s, no longer at %s): "+
			"such changes committed since are not streamed, now or later: the slot decodes each change with the publication as it was when the change was made. "+
			"The source stopped; its checkpoint is intact. To go on, either publish them again (ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate');) "+
			"and start sluice again, accepting that those changes are lost, then read the captured tables again with a separate pipeline that has its own slot and snapshot: initial; "+
			"or, if they are meant to be left out, start sluice again as it is",
			s.publication, lost, w.seen, st.lsn, pgx.Identifier{s.publication}.Sanitize()))
	}
	if st.allTables {
		w.seen = st.lsn
		s.pubChecks.Add(1)
		return nil
	}
	var removed []tableRef
	w.refs = slices.DeleteFunc(w.refs, func(r tableRef) bool {
		switch {
		case st.listed[r.oid]:
			return false
		case !st.present[r.oid]:
			s.log.Warn("a captured table was dropped; its changes up to the drop are streamed", "table", r.String())
			return true
		}
		removed = append(removed, r)
		return false
	})
	if len(removed) > 0 {
		names := sortedNames(removed)
		return component.Permanent(fmt.Errorf("%s %s removed from publication %q while streaming (listed at WAL position %s, no longer at %s). %s. "+
			"The source stopped; its checkpoint is intact",
			plural(len(names), "table", "tables"), strings.Join(names, ", ")+plural(len(names), " was", " were"),
			s.publication, w.seen, st.lsn, s.removedAdvice(names)))
	}
	w.seen = st.lsn
	s.pubChecks.Add(1)
	return nil
}

// pubGoneAdvice explains a publication dropped while changes to stream
// remain, and names the ways out.
func (s *Source) pubGoneAdvice() string {
	return fmt.Sprintf("A slot decodes each change with the catalog as it was when the change was made: a change made after the drop cannot be decoded, "+
		"and a publication created again is invisible to every change made before its creation, so slot %q cannot stream past them. "+
		"To start over with nothing lost: stop sluice, run SELECT pg_drop_replication_slot('%s'); remove the pipeline's state (its state_dir) and start sluice: "+
		"it creates the slot (and the publication) and reads every table again. "+
		"To go on instead, losing every change not streamed yet: create the publication if it is missing, run SELECT pg_replication_slot_advance('%s', pg_current_wal_lsn()); and start sluice",
		s.slot, s.slot, s.slot)
}

// associatedLSN finds the position in a walsender error's context
// ("... in the change callback, associated LSN 0/1A2B3C8").
var associatedLSN = regexp.MustCompile(`associated LSN ([0-9A-F]+/[0-9A-F]+)`)

// replicationError explains the walsender's errors that need the user; the
// others pass unchanged.
func (s *Source) replicationError(err *pgconn.PgError, from pglogrepl.LSN) error {
	if err.Code == "42704" && err.Message == fmt.Sprintf("publication %q does not exist", s.publication) {
		at := ""
		if m := associatedLSN.FindStringSubmatch(err.Where); m != nil {
			at = " at LSN " + m[1]
		}
		return component.Permanent(fmt.Errorf("publication %q does not exist for a change%s that slot %q has to stream (streaming from %s): "+
			"the publication was dropped while changes were pending. %s (the server said: %w)",
			s.publication, at, s.slot, from, s.pubGoneAdvice(), err))
	}
	return err
}

// sideLoop runs, on one regular connection of its own, what streaming
// needs besides the replication connection: at once and then every
// status_interval it checks the publication (fail gets the permanent
// error, and the loop ends), and with heartbeats, whenever no transaction
// was emitted for heartbeat_interval, it writes a heartbeat message, whose
// LSN comes back through the stream and is checkpointed like a commit, so
// an idle slot still advances.
func (s *Source) sideLoop(ctx context.Context, d *streamDecoder, w *pubWatch, heartbeats bool, fail func(error)) {
	t := time.NewTicker(s.cfg.StatusInterval)
	defer t.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	beat := time.Now()   // the first heartbeat after an interval, as after an emitted transaction
	var looked time.Time // the slot guardian's last look (guardian.go)
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if conn == nil || conn.IsClosed() {
			cfg, err := s.connConfig()
			if err != nil {
				fail(err)
				return
			}
			if conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
				conn = nil
				if ctx.Err() == nil {
					s.log.Warn("publication check and heartbeats: connect failed", "err", err)
				}
				continue
			}
		}
		if err := w.check(ctx, conn); err != nil {
			if component.IsPermanent(err) {
				fail(err)
				return
			}
			if ctx.Err() == nil {
				s.log.Warn("publication check failed", "publication", s.publication, "err", err)
			}
			continue
		}
		if s.cfg.SlotCheckInterval > 0 && time.Since(looked) >= s.cfg.SlotCheckInterval {
			looked = time.Now()
			if err := s.checkSlot(ctx, conn); err != nil {
				var rs *errResnapshot
				if component.IsPermanent(err) || errors.As(err, &rs) {
					fail(err)
					return
				}
				if ctx.Err() == nil {
					s.log.Warn("slot guardian: could not look at the replication slot", "slot", s.slot, "err", err)
				}
			}
		}
		if !heartbeats || time.Since(time.Unix(0, d.activity.Load())) < s.cfg.HeartbeatInterval ||
			time.Since(beat) < s.cfg.HeartbeatInterval {
			continue
		}
		beat = time.Now()
		if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(false, '"+heartbeatPrefix+"', '')"); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat failed", "err", err)
		}
	}
}
