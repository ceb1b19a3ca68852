package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
)

var _ component.Gauger = (*Source)(nil)

// Gauge names (see package metrics), labelled pipeline and source.
const (
	gaugeFilesBehind = "sluice_mysql_binlog_files_behind"
	gaugeAtRisk      = "sluice_mysql_binlog_position_at_risk"
)

// gaugeTTL is how long a measurement is reused; gaugeTimeout bounds one.
var (
	gaugeTTL     = 5 * time.Second
	gaugeTimeout = 2 * time.Second
)

// binlogRetention is the server's binary logs and how long it keeps them.
type binlogRetention struct {
	files  []string      // SHOW BINARY LOGS, oldest first; the last is being written
	expire time.Duration // binlog_expire_logs_seconds (expire_logs_days); 0: never purged by age
}

// risk says how many binary logs the server has written after file (-1
// when file is gone) and whether file is at risk: the server purges logs
// by age, file is the oldest it keeps, and it is not the one being written
// (the next purge takes it). MySQL and MariaDB keep a log while a dump
// thread reads it, but not for a stopped sluice, nor for a durable
// position behind the one being read.
func (r binlogRetention) risk(file string) (behind int, atRisk bool) {
	for i, f := range r.files {
		if f == file {
			behind = len(r.files) - 1 - i
			return behind, r.expire > 0 && i == 0 && behind > 0
		}
	}
	return -1, false
}

// queryRetention reads SHOW BINARY LOGS and the expiry setting:
// binlog_expire_logs_seconds (MySQL 8, MariaDB 10.6+), else
// expire_logs_days.
func queryRetention(ctx context.Context, db *sql.DB) (binlogRetention, error) {
	var r binlogRetention
	rows, err := db.QueryContext(ctx, `SHOW BINARY LOGS`)
	if err != nil {
		return r, fmt.Errorf("list binary logs: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return r, fmt.Errorf("list binary logs: %w", err)
		}
		r.files = append(r.files, string(vals[0]))
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("list binary logs: %w", err)
	}
	var secs sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT @@binlog_expire_logs_seconds`).Scan(&secs); err == nil && secs.Int64 > 0 {
		r.expire = time.Duration(secs.Int64) * time.Second
		return r, nil
	}
	var days sql.NullFloat64
	if err := db.QueryRowContext(ctx, `SELECT @@expire_logs_days`).Scan(&days); err == nil && days.Float64 > 0 {
		r.expire = time.Duration(days.Float64 * float64(24*time.Hour))
	}
	return r, nil
}

// retentionWarning is the warning for a position in file, or "".
func retentionWarning(r binlogRetention, file, what string) string {
	behind, atRisk := r.risk(file)
	if !atRisk {
		return ""
	}
	return fmt.Sprintf("the %s's binlog file %s is the oldest the server keeps (%d newer) and the server purges binary logs after %s "+
		"(binlog_expire_logs_seconds / expire_logs_days): once it is purged the position is lost and on_binlog_lost applies; "+
		"keep sluice running and its sinks healthy, or raise binlog_expire_logs_seconds", what, file, behind, r.expire)
}

// checkRetention warns at start when the checkpoint's binlog file is the
// next the server purges. A failed look is only logged: the stream finds
// a purged file anyway.
func (s *Source) checkRetention(ctx context.Context, db *sql.DB, file string) {
	s.binlog.mu.Lock()
	s.binlog.file = file
	s.binlog.mu.Unlock()
	r, err := queryRetention(ctx, db)
	if err != nil {
		s.log.Warn("could not check binlog retention", "err", err)
		return
	}
	if w := retentionWarning(r, file, "checkpoint"); w != "" {
		s.log.Warn(w, "file", file)
	}
}

// binlogWatch is the Gauger's state: the start position's file (until a
// durable checkpoint names a newer one) and the last measurement.
type binlogWatch struct {
	mu     sync.Mutex
	file   string
	at     time.Time
	gauges []component.Gauge
	warned bool // the durable position was at risk at the last scrape (logged once)
}

// Gauges implements component.Gauger: how many binary logs the server
// wrote after the durable position's, and 1 when that file is the next the
// server purges by age; measured at scrape time on Run's pool, at most once
// per gaugeTTL. None before Run connected and after Close.
func (s *Source) Gauges() []component.Gauge {
	s.mu.Lock()
	db, durable := s.mu.db, s.mu.durable
	s.mu.Unlock()
	b := &s.binlog
	b.mu.Lock()
	defer b.mu.Unlock()
	if db == nil {
		return nil
	}
	if !b.at.IsZero() && time.Since(b.at) < gaugeTTL {
		return b.gauges
	}
	b.at = time.Now()
	file := b.file
	if f, _, ok := strings.Cut(durable, ":"); ok && f != "" {
		file = f
	}
	if file == "" {
		b.gauges = nil
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
	defer cancel()
	r, err := queryRetention(ctx, db)
	if err != nil {
		b.gauges = nil
		return nil
	}
	behind, atRisk := r.risk(file)
	if w := retentionWarning(r, file, "durable checkpoint"); w != "" && !b.warned {
		s.log.Warn(w, "file", file)
	}
	b.warned = atRisk
	risk := 0.0
	if atRisk {
		risk = 1
	}
	b.gauges = []component.Gauge{
		{Name: gaugeFilesBehind, Value: float64(behind),
			Help: "Binary logs the server wrote after the one holding the source's durable position (-1: that file was purged)."},
		{Name: gaugeAtRisk, Value: risk,
			Help: "1 when the durable position's binary log is the oldest the server keeps and the server purges logs by age (binlog_expire_logs_seconds)."},
	}
	return b.gauges
}
