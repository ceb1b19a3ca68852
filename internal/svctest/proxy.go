package svctest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a local address to a target. Cut
// drops every connection and refuses new ones until Restore, which is how
// tests take a service away from a sink without disturbing other tests that
// share the server. HoldAfter stops the server's replies at a chosen byte
// until Release, the connections left open, which is how a crash test
// makes sure a client is killed in the middle of what it reads.
type Proxy struct {
	target string
	ln     net.Listener

	mu struct {
		sync.Mutex
		cut   bool
		conns map[net.Conn]struct{}
		// hold is set by HoldAfter: budget bytes of the server's replies
		// may still reach the clients; held says that a reply waits.
		hold   bool
		budget int64
		held   bool
	}
	released *sync.Cond // on mu: a hold ended
	wg       sync.WaitGroup
}

// NewProxy starts a proxy to target ("host:port") on a free port of
// 127.0.0.1; it is closed at cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{target: target, ln: ln}
	p.mu.conns = map[net.Conn]struct{}{}
	p.released = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every open connection and refuses new ones; it ends a hold.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = true
	for c := range p.mu.conns {
		c.Close()
	}
	p.releaseLocked()
}

// HoldAfter lets n more bytes of the server's replies through, counted
// over every connection, and holds back what follows them until Release
// (or Cut): the connections stay open, and the clients wait for the rest.
func (p *Proxy) HoldAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.hold, p.mu.budget, p.mu.held = true, max(n, 0), false
	p.released.Broadcast() // a reply held by an earlier hold may go on
}

// Held reports whether the hold set by the last HoldAfter holds a reply
// back: its n bytes went through and more came.
func (p *Proxy) Held() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.held
}

// Release ends a hold: what it held back goes on to the clients.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked()
}

func (p *Proxy) releaseLocked() {
	p.mu.hold, p.mu.held = false, false
	p.released.Broadcast()
}

// allow returns how many of n bytes of a reply may go on now, waiting
// while a hold has none left.
func (p *Proxy) allow(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mu.hold && p.mu.budget == 0 {
		p.mu.held = true
		p.released.Wait()
	}
	if !p.mu.hold {
		return n
	}
	k := int(min(int64(n), p.mu.budget))
	p.mu.budget -= int64(k)
	return k
}

// reply copies the server's replies to the client, through the hold.
func (p *Proxy) reply(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			k := p.allow(len(b))
			if _, werr := client.Write(b[:k]); werr != nil {
				return
			}
			b = b[k:]
		}
		if err != nil {
			return
		}
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.mu.cut = false
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.cut {
		return false
	}
	p.mu.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(in)
	}
}

func (p *Proxy) serve(in net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	defer in.Close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(out) {
		out.Close()
		return
	}
	defer p.untrack(out)
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); out.Close(); done <- struct{}{} }()
	go func() { p.reply(in, out); in.Close(); done <- struct{}{} }()
	<-done
	<-done
}
