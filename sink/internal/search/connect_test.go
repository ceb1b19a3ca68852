package search

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/sluice-dev/sluice/component"
)

// TestConnectError: the connect step's answers, sorted into what the
// engine retries at start and what stops sluice at once.
func TestConnectError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		name      string
		r         Response
		err       error
		want      string // "" for nil
		permanent bool
	}{
		{"up", Response{Status: 200, Body: []byte(`{"version":{}}`)}, nil, "", false},
		{"refused", Response{}, fmt.Errorf("Get \"http://127.0.0.1:9200/\": %w", refused), `opensearch sink: connect: the cluster does not answer: Get "http://127.0.0.1:9200/": dial tcp: connect: connection refused`, false},
		{"starting", Response{Status: 503, Body: []byte(`{"error":"cluster_block_exception"}`)}, nil, `opensearch sink: connect: the cluster is not ready (HTTP 503): {"error":"cluster_block_exception"}`, false},
		{"busy", Response{Status: 429}, nil, `opensearch sink: connect: the cluster is not ready (HTTP 429): `, false},
		{"bad password", Response{Status: 401, Body: []byte(`{"error":"unauthorized"}`)}, nil, `refused: {"error":"unauthorized"}`, true},
		{"no monitor privilege", Response{Status: 403}, nil, "", false},
		{"root not routed", Response{Status: 405}, nil, "", false},
		{"tls", Response{}, fmt.Errorf("Get: %w", x509.UnknownAuthorityError{}), `opensearch sink: connect: Get: x509: certificate signed by unknown authority; the server's certificate is not signed by a CA this client trusts: set ca_file to the PEM file of the CA that signed it`, true},
		{"tls name", Response{}, fmt.Errorf("Get: %w", x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"es"}}, Host: "db.internal"}),
			`opensearch sink: connect: Get: x509: certificate is valid for es, not db.internal; the server's certificate does not hold the host name connected to: use a host name in hosts that it holds, or insecure: true for a test cluster`, true},
		{"client marked permanent", Response{}, component.Permanent(errors.New("the server is not Elasticsearch")), `opensearch sink: connect: the cluster does not answer: the server is not Elasticsearch`, true},
	}
	for _, c := range cases {
		err := connectError("opensearch", c.r, c.err, func(r Response) error {
			return component.Permanent(fmt.Errorf("refused: %s", r.Body))
		})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want || component.IsPermanent(err) != c.permanent {
			t.Errorf("%s: %q (permanent %v)\nwant %q (permanent %v)", c.name, got, component.IsPermanent(err), c.want, c.permanent)
		}
	}
}
