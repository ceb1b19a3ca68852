package svctest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestProxyHold sends 1,000 bytes through a proxy held after 300: the
// client gets exactly 300, the proxy says it holds, and Release lets the
// other 700 through on the same connection.
func TestProxyHold(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := bytes.Repeat([]byte("0123456789"), 100)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(want[:500])
		c.Write(want[500:])
		io.Copy(io.Discard, c) // until the client closes
	}()
	p := NewProxy(t, ln.Addr().String())
	p.HoldAfter(300)
	if p.Held() {
		t.Fatal("Held before anything was sent")
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make([]byte, 1000)
	if _, err := io.ReadFull(c, got[:300]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !p.Held() {
		if time.Now().After(deadline) {
			t.Fatal("the proxy does not say it holds the reply")
		}
		time.Sleep(time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(got[300:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the hold: %d bytes, %v", n, err)
	}
	p.Release()
	if p.Held() {
		t.Fatal("Held after Release")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got[300:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}
