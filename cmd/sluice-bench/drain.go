package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const (
	drainSluiceSlot = "bench_drain_sluice"
	drainRecvSlot   = "bench_drain_recv"
)

// drain measures how fast a backlog of row changes leaves the server:
// pg_recvlogical (pgoutput bytes to /dev/null) against sluice (decoded,
// encoded as Debezium JSON, written and fsynced), each from its own slot
// created at the same point before the changes.
func (b *bench) drain() error {
	const sec = "Change drain"
	for _, s := range []string{drainSluiceSlot, drainRecvSlot} {
		if err := dropSlot(b.ctx, b.conn, s); err != nil {
			return err
		}
	}
	defer func() {
		for _, s := range []string{drainSluiceSlot, drainRecvSlot} {
			if err := dropSlot(context.Background(), b.conn, s); err != nil {
				b.rep.problem("drop slot %s: %v", s, err)
			}
		}
	}()
	// Back to back with nothing written in between: both slots start at the
	// same point (the publication already exists since setup).
	var lsn1, lsn2 string
	for _, s := range []struct {
		slot string
		lsn  *string
	}{{drainSluiceSlot, &lsn1}, {drainRecvSlot, &lsn2}} {
		lsn, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, s.slot)
		if err != nil {
			return fmt.Errorf("create slot %s: %w", s.slot, err)
		}
		*s.lsn = lsn
	}

	fmt.Fprintf(os.Stderr, "sluice-bench: %d updates in transactions of %d …\n", b.p.Updates, b.p.TxRows)
	d, err := b.runUpdates()
	if err != nil {
		return err
	}
	b.rep.add(sec, "drain.updates.rows_per_s", "updates committed (setup, for context)", float64(b.p.Updates)/d.Seconds(), "rows/s")
	endpos, err := queryString(b.ctx, b.conn, `SELECT pg_current_wal_lsn()::text`)
	if err != nil {
		return err
	}
	walBytes, err := queryString(b.ctx, b.conn, `SELECT (pg_current_wal_lsn() - $1::pg_lsn)::bigint::text`, lsn2)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: slots at %s / %s, end %s (%s bytes of WAL)\n", lsn1, lsn2, endpos, walBytes)

	// pg_recvlogical: from process start until it exits at endpos.
	if err := b.checkpoint(); err != nil {
		return err
	}
	logPath := filepath.Join(b.work, "pg_recvlogical.log")
	c, err := b.procs.start(b.recvlogical, nil, logPath, nil,
		"-d", b.dsn, "--slot", drainRecvSlot, "--start",
		"-o", "proto_version=1", "-o", "publication_names="+b.publication,
		"--endpos="+endpos, "-f", os.DevNull)
	if err != nil {
		return err
	}
	c.name = "pg_recvlogical"
	if err := c.wait(b.ctx, b.deadline(b.p.Updates, 5_000)); err != nil {
		return fmt.Errorf("pg_recvlogical: %w: %s", err, tailFile(logPath, 1000))
	}
	rd := c.exited.Sub(c.started)
	recvRate := float64(b.p.Updates) / rd.Seconds()
	b.rep.add(sec, "drain.recvlogical.changes_per_s", "pg_recvlogical changes/s", recvRate, "changes/s")
	b.rep.add(sec, "drain.recvlogical.seconds", "pg_recvlogical time", rd.Seconds(), "s")
	b.rep.add(sec, "drain.recvlogical.cpu_s", "pg_recvlogical CPU time (user+sys)", c.cpu().Seconds(), "s")
	b.rep.add(sec, "drain.recvlogical.rss_mb", "pg_recvlogical peak RSS", float64(c.maxRSS())/1e6, "MB")
	fmt.Fprintf(os.Stderr, "sluice-bench: pg_recvlogical: %.0f changes/s (%s)\n", recvRate, rd.Round(time.Millisecond))

	if b.sluiceBin == "" {
		return nil
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	args, err := b.profileArgs("drain")
	if err != nil {
		return err
	}
	r, err := b.startSluice("drain", "never", drainSluiceSlot, args...)
	if err != nil {
		return err
	}
	defer b.remove(r)
	seen, err := waitLines(b.ctx, r.out, int64(b.p.Updates), pollPeriod, b.deadline(b.p.Updates, 1_000), r.c)
	if err != nil {
		r.c.kill()
		return r.failed(err)
	}
	sd := seen.Sub(r.c.started)
	if err := r.stop(); err != nil {
		return err
	}
	b.checkLines(r.out, int64(b.p.Updates))
	rate := float64(b.p.Updates) / sd.Seconds()
	ratio := rate / recvRate
	rss := float64(r.c.maxRSS())
	b.rep.add(sec, "drain.sluice.changes_per_s", "sluice changes/s", rate, "changes/s")
	b.rep.add(sec, "drain.sluice.seconds", "sluice time (start to last line)", sd.Seconds(), "s")
	b.rep.addTarget(sec, "drain.ratio", "sluice / pg_recvlogical", ratio, "×", "≥ 1.50×", ratio >= 1.5) // issue 15: keep ≥ 1.5×
	b.rep.add(sec, "drain.sluice.cpu_s", "sluice CPU time (user+sys)", r.c.cpu().Seconds(), "s")
	b.rep.add(sec, "drain.sluice.cpu_us_per_row", "sluice CPU (user+sys) per change", float64(r.c.cpu().Microseconds())/float64(b.p.Updates), "µs")
	b.rep.addTarget(sec, "drain.sluice.rss_mb", "sluice peak RSS", rss/1e6, "MB", "≤ 100 MB", rss <= memTarget)
	b.addAnon(sec, "drain.sluice.rss_mb", "sluice peak RssAnon (private memory)", r.c.anonPeak())
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice drain: %.0f changes/s (%s), %.2f× pg_recvlogical\n", rate, sd.Round(time.Millisecond), ratio)
	return nil
}

// runUpdates commits b.p.Updates row updates, b.p.TxRows per statement (one
// transaction each), walking the ids and wrapping around the table.
func (b *bench) runUpdates() (time.Duration, error) {
	t0 := time.Now()
	remaining, cur := b.p.Updates, 1
	for remaining > 0 {
		n := min(b.p.TxRows, remaining, b.p.Rows-cur+1)
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Minute)
		tag, err := b.conn.Exec(ctx, `UPDATE product SET quantity = quantity + 1 WHERE id BETWEEN $1 AND $2`, cur, cur+n-1)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("update ids %d..%d: %w", cur, cur+n-1, err)
		}
		if int(tag.RowsAffected()) != n {
			return 0, fmt.Errorf("update ids %d..%d changed %d rows, want %d", cur, cur+n-1, tag.RowsAffected(), n)
		}
		remaining -= n
		cur += n
		if cur > b.p.Rows {
			cur = 1
		}
	}
	return time.Since(t0), nil
}
