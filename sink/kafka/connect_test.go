package kafka

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestConnect: a metadata request to the brokers: up, and unreachable (a
// plain error, retried at start).
func TestConnect(t *testing.T) {
	brokers := strings.Split(svctest.Need(t, svctest.Kafka), ",")
	if err := newSink(t, nil).Connect(context.Background()); err != nil {
		t.Fatalf("up: %v", err)
	}
	proxy := svctest.NewProxy(t, brokers[0])
	proxy.Cut()
	s := newSink(t, func(c *Config) { c.Brokers = []string{proxy.Addr()} })
	if err := s.Connect(context.Background()); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "kafka sink: connect to the brokers: ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
