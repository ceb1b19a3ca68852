package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	latencySlot       = "bench_lat"
	tailPeriod        = time.Millisecond // the tailer's resolution
	latencyTarget     = 10 * time.Millisecond
	latencyHighTarget = 25 * time.Millisecond // issue 15's p99 at 10,000 commits/s
)

// markers records, per sequence number, when the loader's commit returned
// and when the tailer read the marker's line. Index 0 is the warm-up.
type markers struct {
	committed []time.Time // written by the loader worker that owns the seq
	sent      []time.Time // likewise: when the statement was sent
	mu        struct {
		sync.Mutex
		seen []time.Time // written by the tailer goroutine
	}
}

func (m *markers) seenAt(seq int) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.seen[seq]
}

// unseen counts committed markers that the tailer has not read yet; call
// it after the loader has finished.
func (m *markers) unseen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for seq := 1; seq < len(m.committed); seq++ {
		if !m.committed[seq].IsZero() && m.mu.seen[seq].IsZero() {
			n++
		}
	}
	return n
}

// onLine is the tailer's line handler: it finds the marker lat:<seq> that
// the loader wrote into description.
func (m *markers) onLine(line []byte, seen time.Time) {
	i := bytes.LastIndex(line, []byte("lat:"))
	if i < 0 {
		return
	}
	j := i + 4
	for j < len(line) && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	seq, err := strconv.Atoi(string(line[i+4 : j]))
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil && seq >= 0 && seq < len(m.mu.seen) && m.mu.seen[seq].IsZero() {
		m.mu.seen[seq] = seen
	}
}

// latency measures commit-to-file latency while sluice streams: at
// -latency-rate commits a second, then at -latency-rate-high (issue 15: p99
// ≤ 25 ms at 10,000/s) from -latency-high-conns connections.
func (b *bench) latency() error {
	if b.sluiceBin == "" {
		return nil
	}
	if err := b.latencyRun("Latency", "latency", b.p.LatencyRate, b.latencyConn, latencyTarget); err != nil {
		return err
	}
	if b.p.LatencyRateHigh == 0 {
		return nil
	}
	return b.latencyRun(fmt.Sprintf("Latency at %s commits/s", thousands(int64(b.p.LatencyRateHigh))), "latency.high",
		b.p.LatencyRateHigh, b.latencyHighConns, latencyHighTarget)
}

// latencyRun is one latency measurement at rate commits a second from conns
// connections, reported under keys key.*.
func (b *bench) latencyRun(sec, key string, rate, conns int, target time.Duration) error {
	b.loadRate, b.loadConns = rate, conns
	defer func() { b.loadRate, b.loadConns = 0, 0 }()
	total := int(math.Round(b.p.LatencySeconds * float64(rate)))
	m := &markers{committed: make([]time.Time, total+1), sent: make([]time.Time, total+1)}
	m.mu.seen = make([]time.Time, total+1)

	if err := dropSlot(b.ctx, b.conn, latencySlot); err != nil {
		return err
	}
	defer dropSlot(context.Background(), b.conn, latencySlot)
	if _, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, latencySlot); err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	args, err := b.profileArgs(key)
	if err != nil {
		return err
	}
	r, err := b.startSluice("latency", "never", latencySlot, args...)
	if err != nil {
		return err
	}
	defer b.remove(r)
	defer r.c.kill()

	// The tailer follows the output file until stopTail is closed.
	stopTail, tailDone := make(chan struct{}), make(chan error, 1)
	go func() {
		fl := newFollower(r.out, m.onLine)
		defer fl.close()
		t := time.NewTicker(tailPeriod)
		defer t.Stop()
		for {
			if err := fl.poll(); err != nil {
				tailDone <- err
				return
			}
			select {
			case <-stopTail:
				tailDone <- fl.poll()
				return
			case <-t.C:
			}
		}
	}()
	defer func() {
		select {
		case <-stopTail:
		default:
			close(stopTail)
			<-tailDone
		}
	}()

	if err := waitSlotActive(b.ctx, b.conn, latencySlot, time.Minute, r.c); err != nil {
		return r.failed(err)
	}
	// Warm-up: one marker through the whole path before measuring.
	wctx, wcancel := context.WithTimeout(b.ctx, 30*time.Second)
	_, err = b.conn.Exec(wctx, `UPDATE product SET description = 'lat:0' WHERE id = 1`)
	wcancel()
	if err != nil {
		return err
	}
	end := time.Now().Add(time.Minute)
	for m.seenAt(0).IsZero() {
		if time.Now().After(end) || r.c.exitedEarly() || b.ctx.Err() != nil {
			return r.failed(fmt.Errorf("the warm-up change did not reach %s within a minute", r.out))
		}
		time.Sleep(5 * time.Millisecond)
	}

	fmt.Fprintf(os.Stderr, "sluice-bench: loading %d single-row commits at %d/s from %d connections …\n", total, rate, conns)
	t0 := time.Now()
	if err := b.load(m, total); err != nil {
		return err
	}
	loadTime := time.Since(t0)
	// Give the last markers time to arrive.
	end = time.Now().Add(10 * time.Second)
	for m.unseen() > 0 && time.Now().Before(end) && !r.c.exitedEarly() {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopTail)
	if err := <-tailDone; err != nil {
		return err
	}
	if err := r.stop(); err != nil {
		return err
	}

	var lat, commit []time.Duration
	missing := 0
	for seq := 1; seq <= total; seq++ {
		c, s := m.committed[seq], m.seenAt(seq)
		if c.IsZero() {
			continue
		}
		commit = append(commit, c.Sub(m.sent[seq]))
		if s.IsZero() {
			missing++
			continue
		}
		lat = append(lat, s.Sub(c))
	}
	if len(lat) == 0 {
		return r.failed(fmt.Errorf("no marker reached the output file"))
	}
	if missing > 0 {
		b.rep.problem("latency: %d of %d committed markers never appeared in the output", missing, len(commit))
	}
	slices.Sort(lat)
	slices.Sort(commit)
	p99 := pct(lat, 0.99)
	rss := float64(r.c.maxRSS())
	b.rep.add(sec, key+".samples", "samples (markers seen)", float64(len(lat)), "samples")
	b.rep.add(sec, key+".load.commits_per_s", "loader commits/s achieved", float64(len(commit))/loadTime.Seconds(), "commits/s")
	b.rep.add(sec, key+".commit.p50_ms", "commit round trip p50 (context)", ms(pct(commit, 0.5)), "ms")
	b.rep.add(sec, key+".commit.p99_ms", "commit round trip p99 (context)", ms(pct(commit, 0.99)), "ms")
	b.rep.add(sec, key+".p50_ms", "commit → line in file p50", ms(pct(lat, 0.5)), "ms")
	b.rep.add(sec, key+".p90_ms", "commit → line in file p90", ms(pct(lat, 0.9)), "ms")
	b.rep.addTarget(sec, key+".p99_ms", "commit → line in file p99", ms(p99), "ms", fmt.Sprintf("≤ %d ms", target.Milliseconds()), p99 <= target)
	b.rep.add(sec, key+".max_ms", "commit → line in file max", ms(lat[len(lat)-1]), "ms")
	b.rep.add(sec, key+".sluice.cpu_s", "sluice CPU time (user+sys)", r.c.cpu().Seconds(), "s")
	b.rep.addTarget(sec, key+".sluice.rss_mb", "sluice peak RSS", rss/1e6, "MB", "≤ 100 MB", rss <= memTarget)
	b.addAnon(sec, key+".sluice.rss_mb", "sluice peak RssAnon (private memory)", r.c.anonPeak())
	fmt.Fprintf(os.Stderr, "sluice-bench: latency p50 %.2f ms, p99 %.2f ms over %d samples\n", ms(pct(lat, 0.5)), ms(p99), len(lat))
	return nil
}

// load commits total single-row updates at b.loadRate (default
// -latency-rate) a second from b.loadConns (default -latency-conns)
// connections; seq i is due at t0 + (i-1)/rate. A late
// commit delays later ones only when every connection is busy.
func (b *bench) load(m *markers, total int) error {
	return b.loadWith(m, total, func(ctx context.Context, conn *pgx.Conn, seq int) error {
		id := (seq-1)%b.p.Rows + 1
		_, err := conn.Exec(ctx, `UPDATE product SET description = $1 WHERE id = $2`, "lat:"+strconv.Itoa(seq), id)
		return err
	})
}

// loadWith is load with the statement: exec commits seq's change on conn.
func (b *bench) loadWith(m *markers, total int, exec func(ctx context.Context, conn *pgx.Conn, seq int) error) error {
	rate, nconn := b.p.LatencyRate, b.latencyConn
	if b.loadRate > 0 {
		rate, nconn = b.loadRate, b.loadConns
	}
	jobs := make(chan int)
	errs := make(chan error, nconn)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	conns := make([]*pgx.Conn, 0, nconn)
	for range nconn {
		conn, err := connect(ctx, b.dsn)
		if err != nil {
			for _, c := range conns {
				c.Close(context.Background())
			}
			return err
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		wg.Go(func() {
			defer conn.Close(context.Background())
			for seq := range jobs {
				m.sent[seq] = time.Now()
				qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
				err := exec(qctx, conn, seq)
				qcancel()
				if err != nil {
					errs <- fmt.Errorf("loader: %w", err)
					cancel()
					return
				}
				m.committed[seq] = time.Now()
			}
		})
	}
	interval := time.Duration(float64(time.Second) / float64(rate))
	t0 := time.Now()
send:
	for seq := 1; seq <= total; seq++ {
		if wait := time.Until(t0.Add(time.Duration(seq-1) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case jobs <- seq:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return b.ctx.Err()
	}
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
