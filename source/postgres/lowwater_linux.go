//go:build linux

package postgres

import (
	"net"
	"syscall"
)

// tcpLowWater sets SO_RCVLOWAT on a TCP socket: Linux then reports it
// readable (and a read returns) once that many bytes are queued, and
// keeps its receive buffer large enough for twice the mark.
type tcpLowWater struct{ raw syscall.RawConn }

func lowWaterOf(c net.Conn) lowWater {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return tcpLowWater{raw}
}

func (t tcpLowWater) setLowWater(n int) error {
	var serr error
	if err := t.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		return err
	}
	return serr
}
