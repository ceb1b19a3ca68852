package search

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTPTransport builds the HTTP transport both engines' clients use:
// TLS from insecure and ca_file, bounded dial and header timeouts, and
// an idle connection kept for each of a Write's lanes (DefaultLanes).
func HTTPTransport(c *Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = max(4, DefaultLanes)
	tr.ResponseHeaderTimeout = c.RequestTimeout
	tls := &tls.Config{InsecureSkipVerify: c.Insecure} //nolint:gosec // the user asked for it
	if c.CAFile != "" {
		pem, err := c.TLSFiles()
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", c.CAFile)
		}
		tls.RootCAs = pool
	}
	tr.TLSClientConfig = tls
	return tr, nil
}

// ReadResponse reads and closes an HTTP response body.
func ReadResponse(status int, body io.ReadCloser) (Response, error) {
	if body == nil {
		return Response{Status: status}, nil
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return Response{}, fmt.Errorf("reading response: %w", err)
	}
	return Response{Status: status, Body: b}, nil
}
