package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	snapSlot   = "bench_snap"
	memTarget  = 100e6 // peak RSS target, bytes
	pollPeriod = 5 * time.Millisecond
)

// countingWriter counts what psql writes and throws it away.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// copyOut runs psql's COPY product TO STDOUT into out and returns how long
// the process took from start to exit. An *os.File out is handed to psql
// directly; any other writer is fed through a pipe.
func (b *bench) copyOut(out io.Writer, name string) (time.Duration, error) {
	logPath := filepath.Join(b.work, "psql.log")
	c, err := b.procs.start(b.psql, out, logPath, nil, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.dsn, "-c", "COPY product TO STDOUT")
	if err != nil {
		return 0, err
	}
	c.name = name
	if err := c.wait(b.ctx, b.deadline(b.p.Rows, 20_000)); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", name, err, tailFile(logPath, 1000))
	}
	return c.exited.Sub(c.started), nil
}

// deadline is a generous limit for work on n items at a pessimistic rate.
func (b *bench) deadline(n, perSecond int) time.Duration {
	return time.Minute + time.Duration(n/perSecond)*time.Second
}

// snapshot compares psql COPY with sluice's initial snapshot. COPY runs
// before and after sluice and the faster run is the baseline, so that a
// burst of load from other work on the machine does not flatter sluice.
func (b *bench) snapshot() error {
	const sec = "Snapshot"
	// The first COPY measures the bytes and warms the caches for both.
	var cw countingWriter
	if _, err := b.copyOut(&cw, "psql COPY (counting)"); err != nil {
		return err
	}
	b.table.CopyBytes = cw.n.Load()
	b.rep.Table.CopyBytes = b.table.CopyBytes
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	rows, copyMB := float64(b.p.Rows), mb(b.table.CopyBytes)
	var copyTimes []time.Duration
	timeCopy := func() error {
		if err := b.checkpoint(); err != nil {
			return err
		}
		d, err := b.copyOut(devnull, "psql COPY")
		if err != nil {
			return err
		}
		copyTimes = append(copyTimes, d)
		fmt.Fprintf(os.Stderr, "sluice-bench: psql COPY: %.0f rows/s (%s)\n", rows/d.Seconds(), d.Round(time.Millisecond))
		return nil
	}
	addCopy := func() {
		d := slices.Min(copyTimes)
		var runs []float64
		for _, t := range copyTimes {
			runs = append(runs, rows/t.Seconds())
		}
		b.rep.addRuns(sec, "snapshot.copy.rows_per_s", fmt.Sprintf("psql COPY rows/s (best of %d)", len(copyTimes)), runs, rows/d.Seconds(), "rows/s")
		b.rep.add(sec, "snapshot.copy.mb_per_s", "psql COPY MB/s", copyMB/d.Seconds(), "MB/s")
		b.rep.add(sec, "snapshot.copy.seconds", "psql COPY time", d.Seconds(), "s")
	}
	if err := timeCopy(); err != nil {
		return err
	}
	if b.sluiceBin == "" {
		addCopy()
		return nil
	}

	defer dropSlot(context.Background(), b.conn, snapSlot)
	args, err := b.profileArgs("snapshot")
	if err != nil {
		return err
	}
	r, d, err := b.timedSnapshot("snapshot", fileSink, args...)
	if err != nil {
		return err
	}
	defer b.remove(r)
	b.checkLines(r.out, int64(b.p.Rows))
	rate := rows / d.Seconds()
	rss := float64(r.c.maxRSS())
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice snapshot: %.0f rows/s (%s)\n", rate, d.Round(time.Millisecond))
	st, err := os.Stat(r.out)
	if err != nil {
		return err
	}
	outBytes := st.Size()
	b.remove(r) // free the disk before the second COPY
	// The second physical limit: the file sink must make its output
	// durable, and psql writes to /dev/null. The same number of bytes,
	// written in 1 MiB pieces and fsynced once at the end (the disk's best
	// case; sluice fsyncs once per Write), twice.
	var diskTimes []time.Duration
	for range 2 {
		dt, err := durableWrite(b.work, outBytes)
		if err != nil {
			return err
		}
		diskTimes = append(diskTimes, dt)
		fmt.Fprintf(os.Stderr, "sluice-bench: durable write of %.0f MB: %s\n", mb(outBytes), dt.Round(time.Millisecond))
	}
	// The pipeline's own pace: the same snapshot with the file sink's
	// fsync off (the bytes still go through the page cache), so the
	// report shows how much of sluice's time the durable writes take.
	paced, err := b.snapshotWithoutFsync(rows)
	if err != nil {
		return err
	}
	// The same snapshot through a filter and a map (fsync on), the usual
	// shape of a pipeline that reshapes rows: what the processors cost.
	pr, err := b.snapshotThroughProcessors(rows)
	if err != nil {
		return err
	}
	if err := timeCopy(); err != nil {
		return err
	}
	addCopy()
	ratio := rate / (rows / slices.Min(copyTimes).Seconds())
	disk := slices.Min(diskTimes)
	b.rep.add(sec, "snapshot.disk.mb_per_s", fmt.Sprintf("durable write of sluice's %.0f MB (one fsync at the end, best of 2)", mb(outBytes)), mb(outBytes)/disk.Seconds(), "MB/s")
	b.rep.add(sec, "snapshot.disk.seconds", "durable write time", disk.Seconds(), "s")
	limit := max(disk, slices.Min(copyTimes))
	b.rep.add(sec, "snapshot.ratio_limit", "sluice / the slower of psql COPY and the durable write", rate/(rows/limit.Seconds()), "×")
	b.rep.add(sec, "snapshot.sluice.rows_per_s", "sluice rows/s", rate, "rows/s")
	b.rep.add(sec, "snapshot.sluice.mb_per_s", "sluice MB/s", copyMB/d.Seconds(), "MB/s")
	b.rep.add(sec, "snapshot.sluice.seconds", "sluice time (start to last line)", d.Seconds(), "s")
	b.rep.addTarget(sec, "snapshot.ratio", "sluice / psql COPY", ratio, "×", "≥ 0.80×", ratio >= 0.8)
	b.rep.add(sec, "snapshot.nofsync.rows_per_s", "sluice rows/s with the file sink's fsync off (the pipeline's own pace)", paced, "rows/s")
	b.rep.add(sec, "snapshot.nofsync.ratio", "sluice with fsync off / psql COPY", paced/(rows/slices.Min(copyTimes).Seconds()), "×")
	b.rep.add(sec, "snapshot.procs.rows_per_s", "sluice rows/s through a filter and a map (fsync on)", pr.rate, "rows/s")
	b.rep.add(sec, "snapshot.procs.ratio", "sluice through a filter and a map / without them", pr.rate/rate, "×")
	b.rep.add(sec, "snapshot.procs.cpu_us_per_row", "sluice CPU (user+sys) per row through a filter and a map", pr.cpuPerRow, "µs")
	b.rep.addTarget(sec, "snapshot.procs.rss_mb", "sluice peak RSS through a filter and a map", pr.rss/1e6, "MB", "≤ 100 MB", pr.rss <= memTarget)
	b.addAnon(sec, "snapshot.procs.rss_mb", "sluice peak RssAnon through a filter and a map", pr.anon)
	b.rep.add(sec, "snapshot.sluice.cpu_s", "sluice CPU time (user+sys)", r.c.cpu().Seconds(), "s")
	b.rep.add(sec, "snapshot.sluice.cpu_us_per_row", "sluice CPU (user+sys) per row", float64(r.c.cpu().Microseconds())/rows, "µs")
	b.rep.addTarget(sec, "snapshot.sluice.rss_mb", "sluice peak RSS", rss/1e6, "MB", "≤ 100 MB", rss <= memTarget)
	b.addAnon(sec, "snapshot.sluice.rss_mb", "sluice peak RssAnon (private memory)", r.c.anonPeak())
	return nil
}

// timedSnapshot runs a snapshot of the product table on a fresh slot into
// sinks and stops sluice once every row is in r.out; d is the time from
// sluice's start to the last line. The caller removes r.
func (b *bench) timedSnapshot(name string, sinks func(*sluiceRun) string, args ...string) (r *sluiceRun, d time.Duration, err error) {
	if err := dropSlot(b.ctx, b.conn, snapSlot); err != nil {
		return nil, 0, err
	}
	if err := b.checkpoint(); err != nil {
		return nil, 0, err
	}
	r, err = b.startSluiceInto(name, "initial", snapSlot, sinks, args...)
	if err != nil {
		return nil, 0, err
	}
	seen, err := waitLines(b.ctx, r.out, int64(b.p.Rows), pollPeriod, b.deadline(b.p.Rows, 2_000), r.c)
	if err != nil {
		r.c.kill()
		err = r.failed(err) // with the log's tail, before the log goes
		b.remove(r)
		return nil, 0, err
	}
	if err := r.stop(); err != nil {
		b.remove(r)
		return nil, 0, err
	}
	return r, seen.Sub(r.c.started), nil
}

// snapshotWithoutFsync runs the snapshot again into a file sink with fsync
// off and returns its rate.
func (b *bench) snapshotWithoutFsync(rows float64) (float64, error) {
	r, d, err := b.timedSnapshot("snapshot-nofsync", func(r *sluiceRun) string {
		return fileSink(r) + "    fsync: false\n"
	})
	if err != nil {
		return 0, err
	}
	b.remove(r)
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice snapshot, fsync off: %.0f rows/s (%s)\n", rows/d.Seconds(), d.Round(time.Millisecond))
	return rows / d.Seconds(), nil
}

// procsYAML is the snapshot's pipeline with a filter that keeps every
// row and a map that adds one column and drops another, between the
// source and the file sink.
const procsYAML = `processors:
  keep:
    type: filter
    inputs: [src]
    condition: quantity >= 0 && price >= 0
  shape:
    type: map
    inputs: [keep]
    set:
      label: upper(color) + ' ' + name
    drop: [internalId]
`

// procsRun is what snapshotThroughProcessors measured.
type procsRun struct {
	rate, cpuPerRow, rss float64
	anon                 int64 // peak RssAnon
}

// snapshotThroughProcessors runs the snapshot again through a filter and
// a map (procsYAML) into a file sink with fsync on.
func (b *bench) snapshotThroughProcessors(rows float64) (procsRun, error) {
	args, err := b.profileArgs("snapshot-processors")
	if err != nil {
		return procsRun{}, err
	}
	r, d, err := b.timedSnapshot("snapshot-processors", func(r *sluiceRun) string {
		return strings.Replace(fileSink(r), "inputs: [src]", "inputs: [shape]", 1) + procsYAML
	}, args...)
	if err != nil {
		return procsRun{}, err
	}
	b.remove(r)
	pr := procsRun{rate: rows / d.Seconds(), cpuPerRow: float64(r.c.cpu().Microseconds()) / rows, rss: float64(r.c.maxRSS()), anon: r.c.anonPeak()}
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice snapshot through a filter and a map: %.0f rows/s (%s), %.2f µs of CPU a row\n", pr.rate, d.Round(time.Millisecond), pr.cpuPerRow)
	return pr, nil
}

// durableWrite writes n bytes into a new file in dir, in 1 MiB pieces,
// fsyncs it once and returns how long that took; the file is removed.
// Earlier dirty pages are flushed first, so they are not charged here.
func durableWrite(dir string, n int64) (time.Duration, error) {
	syscall.Sync()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	name := filepath.Join(dir, "durable-write.tmp")
	defer os.Remove(name)
	start := time.Now()
	f, err := os.Create(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return 0, err
		}
		left -= k
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), f.Close()
}
