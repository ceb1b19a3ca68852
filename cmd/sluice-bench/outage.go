package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The outage part of the scale phase (issue 15: peak RSS ≤ 100 MB "whatever
// the backlog", 153–183 MB measured while catching up after a 60 s sink
// outage). sluice streams product (snapshot: never) into a PostgreSQL table
// sink whose server it reaches through proxy, a TCP relay in this process.
// The sink's table starts equal to product (COPY TO → COPY FROM); once one
// change has gone through, the relay goes down (open connections are cut,
// new ones closed at once) for -outage-seconds while -updates updates
// commit, then comes back; sluice's engine retries the failed write with
// backoff and catches up. Reported: the changes piled up, the time from
// the relay's return until the sink's sum(quantity) equals product's (the
// retry backoff included), that rate, and the peak RSS at the end of the
// outage and over the whole run.

const (
	outageSlot = "bench_outage"
	outageDB   = "bench_outage"
)

// proxy relays TCP connections to target until it is set down.
type proxy struct {
	ln     net.Listener
	target string
	mu     struct {
		sync.Mutex
		down  bool
		conns map[net.Conn]struct{}
	}
	wg sync.WaitGroup
}

// startProxy listens on a free loopback port and relays to target.
func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target}
	p.mu.conns = map[net.Conn]struct{}{}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Go(func() { p.relay(c) })
	}
}

// track registers c unless the proxy is down; it reports whether it did.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.down {
		return false
	}
	p.mu.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) relay(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	t, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	if !p.track(t) {
		t.Close()
		return
	}
	defer p.untrack(t)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(t, c)
	go cp(c, t)
	<-done // either side ends: both go (the deferred untracks close them)
}

// setDown cuts every open connection and refuses new ones while down.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.down = down
	if down {
		for c := range p.mu.conns {
			c.Close()
		}
	}
}

// close stops listening and cuts every connection.
func (p *proxy) close() {
	p.ln.Close()
	p.setDown(true)
	p.wg.Wait()
}

// sumQuantity is sum(quantity) of product on conn.
func sumQuantity(ctx context.Context, conn *pgx.Conn) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var s int64
	err := conn.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0) FROM product`).Scan(&s)
	return s, err
}

// outage runs the outage part (see the comment at the top).
func (b *bench) outage() error {
	const sec = "Scaling: catch-up after a sink outage"
	u, err := url.Parse(b.dsn)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("the outage part needs a URL-style DSN with a host (postgres://…): %q", b.dsn)
	}
	if err := execAll(b.ctx, b.conn, time.Minute, "DROP DATABASE IF EXISTS "+outageDB+" WITH (FORCE)", "CREATE DATABASE "+outageDB); err != nil {
		return err
	}
	defer execAll(context.Background(), b.conn, time.Minute, "DROP DATABASE IF EXISTS "+outageDB+" WITH (FORCE)")
	direct := *u
	direct.Path = "/" + outageDB
	tconn, err := connect(b.ctx, direct.String())
	if err != nil {
		return err
	}
	defer tconn.Close(context.Background())
	ddl := strings.Replace(createTableSQL, "id serial PRIMARY KEY", "id int PRIMARY KEY", 1)
	if err := execAll(b.ctx, tconn, time.Minute, ddl); err != nil {
		return err
	}
	// The sink's table starts equal to product.
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 5_000))
	pr, pw := io.Pipe()
	copyErr := make(chan error, 1)
	src, err := connect(b.ctx, b.dsn)
	if err != nil {
		cancel()
		return err
	}
	go func() {
		_, err := src.PgConn().CopyTo(ctx, pw, "COPY product TO STDOUT")
		pw.CloseWithError(err)
		copyErr <- err
	}()
	_, err = tconn.PgConn().CopyFrom(ctx, pr, "COPY product FROM STDIN")
	pr.CloseWithError(errors.New("COPY FROM ended"))
	if cerr := <-copyErr; err == nil {
		err = cerr
	}
	src.Close(context.Background())
	cancel()
	if err != nil {
		return fmt.Errorf("copy product into the sink's database: %w", err)
	}

	px, err := startProxy(u.Host)
	if err != nil {
		return err
	}
	defer px.close()
	via := *u
	via.Host = px.addr()
	via.Path = "/" + outageDB
	if err := dropSlot(b.ctx, b.conn, outageSlot); err != nil {
		return err
	}
	defer dropSlot(context.Background(), b.conn, outageSlot)
	if _, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, outageSlot); err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	sink := fmt.Sprintf(`  table:
    type: postgres
    inputs: [src]
    dsn: %s
    table: product
`, strconv.Quote(via.String()))
	args, err := b.profileArgs("outage")
	if err != nil {
		return err
	}
	r, err := b.startSluiceInto("outage", "never", outageSlot, func(*sluiceRun) string { return sink }, args...)
	if err != nil {
		return err
	}
	defer b.remove(r)
	defer r.c.kill()
	if err := waitSlotActive(b.ctx, b.conn, outageSlot, time.Minute, r.c); err != nil {
		return r.failed(err)
	}
	// equal waits until the sink's table has caught up with product.
	equal := func(d time.Duration) (time.Time, error) {
		want, err := sumQuantity(b.ctx, b.conn)
		if err != nil {
			return time.Time{}, err
		}
		end := time.Now().Add(d)
		for {
			got, err := sumQuantity(b.ctx, tconn)
			if err != nil {
				return time.Time{}, err
			}
			if got == want {
				return time.Now(), nil
			}
			if r.c.exitedEarly() {
				return time.Time{}, r.failed(fmt.Errorf("sluice %w (status %v) with sum(quantity) %d in the sink, want %d", errExited, r.c.err, got, want))
			}
			if time.Now().After(end) || b.ctx.Err() != nil {
				return time.Time{}, r.failed(fmt.Errorf("the sink's sum(quantity) is %d after %s, want %d", got, d, want))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// One change through the whole path first.
	if err := execAll(b.ctx, b.conn, time.Minute, `UPDATE product SET quantity = quantity + 1 WHERE id = 1`); err != nil {
		return err
	}
	if _, err := equal(time.Minute); err != nil {
		return err
	}

	outage := time.Duration(b.outageSeconds * float64(time.Second))
	fmt.Fprintf(os.Stderr, "sluice-bench: sink down for %s while %d updates commit …\n", outage, b.p.Updates)
	px.setDown(true)
	down := time.Now()
	if _, err := b.runUpdates(); err != nil {
		px.setDown(false)
		return err
	}
	if wait := time.Until(down.Add(outage)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-b.ctx.Done():
			return b.ctx.Err()
		}
	}
	hwmDown, anonDown := r.c.hwm(), r.c.anonPeak()
	px.setDown(false)
	up := time.Now()
	fmt.Fprintf(os.Stderr, "sluice-bench: sink back after %s; catching up …\n", up.Sub(down).Round(time.Second))
	caught, err := equal(b.deadline(b.p.Updates, 500))
	if err != nil {
		return err
	}
	hwm := r.c.hwm()
	if err := r.stop(); err != nil {
		return err
	}
	if h := r.c.maxRSS(); h > hwm {
		hwm = h
	}
	catchUp := caught.Sub(up)
	b.rep.add(sec, "outage.changes", "changes committed while the sink was down", float64(b.p.Updates), "rows")
	b.rep.add(sec, "outage.seconds", "sink down for", up.Sub(down).Seconds(), "s")
	b.rep.add(sec, "outage.catchup_s", "sink back → sink table equal to the source (retry backoff included)", catchUp.Seconds(), "s")
	b.rep.add(sec, "outage.catchup_per_s", "catch-up rate", float64(b.p.Updates)/catchUp.Seconds(), "changes/s")
	b.rep.addTarget(sec, "outage.rss_down_mb", "peak RSS at the end of the outage", mb(hwmDown), "MB", "≤ 100 MB", float64(hwmDown) <= memTarget)
	b.addAnon(sec, "outage.rss_down_mb", "peak RssAnon (private memory) at the end of the outage", anonDown)
	b.rep.addTarget(sec, "outage.rss_mb", "peak RSS over the run (catch-up included)", mb(hwm), "MB", "≤ 100 MB", float64(hwm) <= memTarget)
	b.addAnon(sec, "outage.rss_mb", "peak RssAnon (private memory) over the run (catch-up included)", r.c.anonPeak())
	b.rep.add(sec, "outage.cpu_us_per_change", "CPU (user+sys) per change, whole run", float64(r.c.cpu().Microseconds())/float64(b.p.Updates), "µs")
	fmt.Fprintf(os.Stderr, "sluice-bench: caught up in %s, peak RSS %.0f MB (%.0f MB at the end of the outage)\n", catchUp.Round(time.Millisecond), mb(hwm), mb(hwmDown))
	return nil
}
