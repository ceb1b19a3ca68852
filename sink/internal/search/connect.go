package search

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/transient"
)

// Pinger is a Client that can ask the cluster who it is (GET /), which is
// the sink's connect step.
type Pinger interface {
	Info(ctx context.Context) (Response, error)
}

var _ component.Connector = (*Sink)(nil)

// Connect implements component.Connector with GET / when the client is a
// Pinger. No response, 429 or a 5xx is a plain error (the engine retries at
// start); 401 (the credentials are refused) or a TLS setup that does not
// verify is Permanent. Any other answer means the cluster is up: a user
// allowed to write indices only may get 403 for GET /, which needs the
// monitor privilege, and what the sink may do is found by its writes.
func (s *Sink) Connect(ctx context.Context) error {
	p, ok := s.client.(Pinger)
	if !ok {
		return nil
	}
	r, err := p.Info(ctx)
	return connectError(s.product, r, err, s.refused)
}

// connectError sorts the answer to GET /; refused makes the error of a
// 401 (Sink.refused: the user, the hosts and the keys to fix).
func connectError(product string, r Response, err error, refused func(Response) error) error {
	fix, tlsErr := transient.TLSFix(err, "ca_file", "use a host name in hosts that it holds, or insecure: true for a test cluster",
		"hosts, ca_file and insecure")
	switch {
	case err != nil && tlsErr:
		return component.Permanent(fmt.Errorf("%s sink: connect: %w; %s", product, err, fix))
	case err != nil:
		return fmt.Errorf("%s sink: connect: the cluster does not answer: %w", product, err)
	case r.Status == http.StatusUnauthorized:
		return refused(r)
	case r.Status == http.StatusTooManyRequests || r.Status >= 500:
		return fmt.Errorf("%s sink: connect: the cluster is not ready (HTTP %d): %s", product, r.Status, snippet(r.Body))
	}
	return nil
}

// snippet is the start of a response body, for messages.
func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
