//go:build !linux

package postgres

import "net"

// lowWaterOf: the low-water mark is used on Linux only, where its effect
// on readiness and on the receive buffer was measured.
func lowWaterOf(net.Conn) lowWater { return nil }
