package postgres

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The replication connection's socket is read through readConn (issue 15,
// docs/performance.md, the drain's fifth pass):
//
//   - The walsender sends each change as soon as it is decoded (it flushes
//     after every message), so a reader that keeps up gets one or two
//     changes per read: 0.56 read system calls and 0.32 goroutine parks a
//     change in the drain, a third of its CPU, and more the faster the
//     reader is than the server (the drain's CPU per change swung 2.5–5.1
//     µs between identical runs). Inside a large transaction, whose commit
//     cannot come before the rest of its rows, the socket's low-water mark
//     (SO_RCVLOWAT, Linux, TCP) is raised to coalesceBytes, so a read
//     wakes once that much has arrived, or after coalesceWait with what
//     there is. The walsender never waits for the reader: the kernel keeps
//     the receive buffer at least twice the mark. (Sleeping before a read
//     instead lets the socket fill and stall the walsender's decoding: the
//     drain was slower.) Between transactions and in small ones the mark
//     is 1 byte, so no commit waits.
//   - pgconn reads at most 8 KiB at a time; a reader that fell behind (a
//     busy sink or CPU) catches up with reads of up to readBufSize.
//   - Debezium's ts_ms is the connector's processing time: the decoder
//     reads the clock once per network read (reads changes), not once per
//     change.
const (
	readBufSize   = 64 << 10
	coalesceBytes = 16 << 10
	coalesceWait  = time.Millisecond
	// A transaction is large once it has sent coalesceAfterRows rows, or
	// from its Begin when its WAL spans coalesceAfterWAL bytes or more
	// (first record to commit): pgoutput sends a transaction in one burst
	// after its commit.
	coalesceAfterRows = 256
	coalesceAfterWAL  = 256 << 10
)

// lowWater sets a socket's receive low-water mark (SO_RCVLOWAT).
type lowWater interface {
	setLowWater(n int) error
}

// readConn reads a net.Conn through a buffer of readBufSize. pgconn never
// reads one connection from two goroutines at once; the read deadline is
// set from others too (cancellation), hence mu.
type readConn struct {
	net.Conn
	buf  []byte
	r, w int
	err  error // of the read that filled buf, returned once buf is drained
	// reads counts network reads, for the decoder's clock.
	reads atomic.Uint64
	// coalesce is set by the decoder inside a large transaction.
	coalesce atomic.Bool
	// lw is nil when the socket has no low-water mark (not TCP, not
	// Linux, or setting it failed); raised: the mark is coalesceBytes.
	lw     lowWater
	raised bool
	now    func() time.Time

	mu       sync.Mutex
	deadline time.Time // the caller's read deadline
}

func newReadConn(c net.Conn) *readConn {
	return &readConn{Conn: c, buf: make([]byte, readBufSize), lw: lowWaterOf(c), now: time.Now}
}

func (c *readConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.r == c.w {
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		n, err := c.fill()
		c.reads.Add(1)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
		c.err = err
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// fill reads the network into buf, coalescing small arrivals inside a
// large transaction.
func (c *readConn) fill() (int, error) {
	if c.lw == nil {
		return c.Conn.Read(c.buf)
	}
	if !c.coalesce.Load() {
		if c.raised {
			c.setMark(1)
		}
		return c.Conn.Read(c.buf)
	}
	if !c.raised && !c.setMark(coalesceBytes) {
		return c.Conn.Read(c.buf)
	}
	c.mu.Lock()
	dl := c.now().Add(coalesceWait)
	ours := c.deadline.IsZero() || dl.Before(c.deadline)
	if ours {
		_ = c.Conn.SetReadDeadline(dl)
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(c.buf)
	if !ours {
		return n, err // the caller's deadline: its timeout is the caller's
	}
	c.mu.Lock()
	_ = c.Conn.SetReadDeadline(c.deadline)
	c.mu.Unlock()
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return n, err
	}
	// Less than the mark arrived in coalesceWait: take what there is (the
	// caller's deadline, restored above, still applies).
	c.setMark(1)
	return c.Conn.Read(c.buf)
}

// setMark sets the low-water mark; after a failure the socket is read
// without one from then on.
func (c *readConn) setMark(n int) bool {
	if err := c.lw.setLowWater(n); err != nil {
		c.lw, c.raised = nil, false
		return false
	}
	c.raised = n > 1
	return true
}

// SetReadDeadline records the caller's deadline, which fill restores after
// its own.
func (c *readConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline is SetReadDeadline and the write deadline.
func (c *readConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// NetConn returns the wrapped connection, as tls.Conn's does.
func (c *readConn) NetConn() net.Conn { return c.Conn }

// bufferedReads makes the connections of cfg readConns.
func bufferedReads(cfg *pgconn.Config) {
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newReadConn(c), nil
	}
}

// readConnOf finds the readConn under a connection's net.Conn (under TLS,
// if any); nil for a connection not made with bufferedReads.
func readConnOf(c net.Conn) *readConn {
	for c != nil {
		if rc, ok := c.(*readConn); ok {
			return rc
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}
