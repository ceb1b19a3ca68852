package kafkautil

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	refused := cl.Ping(ctx)
	cancel()
	cl.Close()

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused (real)", refused, true},
		{"leader not available", fmt.Errorf("describe: %w", kerr.LeaderNotAvailable), true},
		{"coordinator loading", kerr.CoordinatorLoadInProgress, true},
		{"not enough replicas", kerr.NotEnoughReplicas, true},
		{"sasl authentication failed", fmt.Errorf("ping: %w", kerr.SaslAuthenticationFailed), false},
		{"cluster authorization failed", kerr.ClusterAuthorizationFailed, false},
		{"topic authorization failed", kerr.TopicAuthorizationFailed, false},
		{"client closed", kgo.ErrClientClosed, false},
		{"unknown authority", fmt.Errorf("dial: %w", x509.UnknownAuthorityError{}), false},
		{"dns", &net.DNSError{Err: "no such host", Name: "kafka", IsNotFound: true}, true},
		{"anything else", errors.New("broker closed the connection immediately after a dial"), true},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
