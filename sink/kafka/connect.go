package kafka

import (
	"context"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/kafkautil"
)

var _ component.Connector = (*Sink)(nil)

// Connect implements component.Connector: a metadata request to any
// broker. Brokers that are down or restarting give a plain error (retried
// by the engine at start); failed authentication, missing authorization
// and TLS failures are Permanent.
func (s *Sink) Connect(ctx context.Context) error {
	if err := s.cl.Ping(ctx); err != nil {
		err = s.cfg.Conn.ConnectError(err, "kafka sink", s.env)
		if !kafkautil.Transient(err) {
			return component.Permanent(err)
		}
		return err
	}
	return nil
}
