package sqltest

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestOutageWithSlowSink: Outage holds whatever the sink's pace. Its sink
// here takes longer per Write than the source needs to fill the in-flight
// window, so the window is full nearly all the time, as a real server's
// may be on a loaded machine. Outage used to cut at a moment chosen by a
// row count, usually with the window full: the source was then blocked for
// the whole outage and the test failed with "the source emitted nothing
// during the outage" (TestOutageMariaDB did, under load).
func TestOutageWithSlowSink(t *testing.T) {
	t.Setenv("SLUICE_OUTAGE", "500ms")
	defer func(n int) { outageTotal = n }(outageTotal)
	outageTotal = 1200
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // the sink's "server": answers each byte with a byte
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	proxy := svctest.NewProxy(t, ln.Addr().String())
	// Each Write takes 200ms, ten times what the source needs to fill the
	// window; reading the rows takes 50ms, so the cut lands well after the
	// Write that made them visible: with the window full again.
	s := &slowSink{addr: proxy.Addr(), write: 200 * time.Millisecond, read: 50 * time.Millisecond, rows: map[int64]string{}}
	Outage(t, s, proxy, s.snapshot, s.position)
}

// slowSink applies events to a map in mode insert (an existing key is an
// error) after a delay and a round trip to its server.
type slowSink struct {
	addr        string
	write, read time.Duration

	mu   sync.Mutex
	rows map[int64]string
	hi   uint64
}

func (s *slowSink) Write(ctx context.Context, evs []event.Event) error {
	time.Sleep(s.write) // a slow server, not a wait for a condition
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	b := []byte{1}
	if _, err := c.Write(b); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		if seq := e.Seq(); seq.Lo <= s.hi {
			continue // a replay
		}
		id, v := e.After[0].AsInt(), e.After[1].Str
		switch _, ok := s.rows[id]; {
		case e.Op == event.OpCreate && ok:
			return component.Permanent(fmt.Errorf("duplicate key %d", id))
		case e.Op == event.OpCreate, ok:
			s.rows[id] = v
		}
		s.hi = e.Seq().Lo
	}
	return nil
}

func (s *slowSink) Close(context.Context) error { return nil }

// snapshot returns the rows as they were when it was called, slowly: a
// SELECT of every row on a loaded server, during which the source fills
// the window again.
func (s *slowSink) snapshot() map[int64]string {
	s.mu.Lock()
	out := make(map[int64]string, len(s.rows))
	for k, v := range s.rows {
		out[k] = v
	}
	s.mu.Unlock()
	time.Sleep(s.read) // a slow query, not a wait for a condition
	return out
}

func (s *slowSink) position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hi
}
