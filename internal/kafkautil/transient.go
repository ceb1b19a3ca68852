package kafkautil

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/transient"
)

// Transient reports whether a franz-go error met while connecting may pass
// by itself (see component.Connect): a broker that is down, restarting or
// electing leaders, or a network error. Not transient: the errors Kafka
// itself marks not retriable (failed SASL authentication, missing
// authorization, an invalid group or topic), TLS verification failures,
// and a closed client.
//
// A broker that closes the connection at once (kgo.ErrFirstReadEOF) is
// taken as transient: a broker restarting behind a proxy does the same as a
// TLS or SASL mismatch, and the WARN line carries kgo's hint.
func Transient(err error) bool {
	if err == nil || errors.Is(err, kgo.ErrClientClosed) || transient.TLS(err) {
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true
}
