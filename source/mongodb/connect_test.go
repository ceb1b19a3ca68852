package mongodb

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/auth"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// TestStartTransient: what the connect step waits for (a server that is
// down or not ready) and what stops the source at once.
func TestStartTransient(t *testing.T) {
	ping := func(err error) error { return fmt.Errorf("connect: the server does not answer: %w", err) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"no server selected", ping(topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}), true},
		{"network error", ping(mongo.CommandError{Code: 6, Labels: []string{"NetworkError"}}), true},
		{"not primary yet", ping(mongo.CommandError{Code: 10107, Name: "NotWritablePrimary", Labels: []string{"RetryableError"}}), true},
		{"connection handshake failed auth", ping(topology.ConnectionError{Wrapped: &auth.Error{}}), false},
		{"authentication failed", ping(mongo.CommandError{Code: 18, Name: "AuthenticationFailed"}), false},
		{"unauthorized", ping(mongo.CommandError{Code: 13, Name: "Unauthorized"}), false},
		{"tls", ping(topology.ConnectionError{Wrapped: x509.UnknownAuthorityError{}}), false},
		{"client error", ping(errors.New("pool cleared")), true},
	}
	for _, c := range cases {
		if got := startTransient(c.err); got != c.want {
			t.Errorf("%s: startTransient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
