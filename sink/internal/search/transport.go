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
//
// Bodies are written to the connection in 64 KiB writes (the default 4 KiB
// made some 80 write calls of a 330 KiB bulk body), and responses are not
// asked for gzip: with filter_path a bulk response is a few bytes
// ({"errors":false}), which the server compressed and the client
// decompressed for every request (compress/flate in sluice's profile, a
// Deflater per response in the cluster). Request bodies are not gzipped
// either: on the same machine or a LAN that costs more CPU on both sides
// (measured: 2.2 µs per operation at gzip.BestSpeed for sluice alone,
// about 60 % of its whole CPU per row in the snapshot to OpenSearch) than
// it saves in transfer.
func HTTPTransport(c *Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = max(4, DefaultLanes)
	tr.WriteBufferSize = 64 << 10
	tr.DisableCompression = true
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
