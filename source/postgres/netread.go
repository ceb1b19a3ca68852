package postgres

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// The replication connection's socket is read through readConn (issue 15,
// docs/performance.md, the drain's fifth pass):
//
//   - pgconn reads at most 8 KiB at a time; a reader that fell behind the
//     server (a busy sink, a busy CPU) catches up with reads of up to
//     readBufSize instead, a system call for up to about 270 changes
//     rather than 35. A reader that keeps up gets what the server sent
//     since its last read either way: the walsender flushes after every
//     message, and any wait for more to arrive would let the socket fill
//     and stall the walsender's decoding (measured: a 1 ms wait inside
//     large transactions cut the reads from 558,000 to 9,000 a million
//     changes, and the drain's speed by a third).
//   - Debezium's ts_ms is the connector's processing time: the decoder
//     reads the clock once per network read (reads changes), not once per
//     change.
const readBufSize = 64 << 10

// readConn reads a net.Conn through a buffer of readBufSize. pgconn never
// reads one connection from two goroutines at once; reads is atomic for
// the decoder, which compares it between messages.
type readConn struct {
	net.Conn
	buf   []byte
	r, w  int
	err   error         // of the read that filled buf, returned once buf is drained
	reads atomic.Uint64 // network reads so far
}

func newReadConn(c net.Conn) *readConn {
	return &readConn{Conn: c, buf: make([]byte, readBufSize)}
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
		n, err := c.Conn.Read(c.buf)
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
