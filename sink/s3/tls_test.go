package s3

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
)

// TestTLS: an HTTPS endpoint whose certificate is from a CA of its own
// (scripts/s3.sh with SLUICE_S3_TLS, the certificate valid for localhost
// only): with ca_file the sink connects and uploads; with another CA, or
// by a host name the certificate does not hold, Connect fails at once
// with a permanent error that says what to fix.
func TestTLS(t *testing.T) {
	svctest.Need(t, svctest.S3)
	ca := testpki.NewCA(t, "sluice test CA")
	ca.ServerFor(t, "server", "localhost")
	endpoint := svctest.StartPrivate(t, "scripts/s3.sh", "SLUICE_S3_ENDPOINT", "SLUICE_S3_TLS="+ca.Dir, "SLUICE_S3_PORT=")
	if !strings.HasPrefix(endpoint, "https://localhost:") {
		t.Fatalf("endpoint %s", endpoint)
	}
	cfg := *DefaultConfig()
	cfg.Endpoint, cfg.PathStyle, cfg.Region, cfg.Bucket = endpoint, true, "us-east-1", "tls"
	cfg.AccessKeyID, cfg.SecretAccessKey = "sluice", "sluice-secret-key"
	cfg.CAFile = ca.CAFile()
	ctx := context.Background()
	c, err := newClient(cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	connect := func(cfg Config) error {
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("config: %v", errs)
		}
		s, err := New(cfg, component.Env{Name: "s3", Path: "sinks.s3", StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		return s.Connect(ctx)
	}
	if err := connect(cfg); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	body := []byte("hello")
	if err := c.put(ctx, "k/o.json", object{name: "o", r: bytes.NewReader(body), size: int64(len(body))}, "application/json"); err != nil {
		t.Fatalf("put: %v", err)
	}
	srv := &server{cfg: cfg, api: c.api}
	if keys := srv.keys(t); !slices.Equal(keys, []string{"k/o.json"}) {
		t.Fatalf("keys %q", keys)
	}

	other := testpki.NewCA(t, "another CA")
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		suffix string
	}{
		{"wrong CA", func(c *Config) { c.CAFile = other.CAFile() },
			"tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set ca_file to the PEM file of the CA that signed it"},
		{"no CA", func(c *Config) { c.CAFile = "" },
			"tls: failed to verify certificate: x509: certificate signed by unknown authority; " +
				"the server's certificate is not signed by a CA this client trusts: set ca_file to the PEM file of the CA that signed it"},
		{"wrong host name", func(c *Config) { c.Endpoint = strings.Replace(c.Endpoint, "localhost", "127.0.0.1", 1) },
			"tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
				"the server's certificate does not hold the host name connected to: use a host name in endpoint that it holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := cfg
			tc.mod(&bad)
			start := time.Now()
			err := connect(bad)
			if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "s3 sink: connect: HEAD bucket tls: ") || !strings.HasSuffix(err.Error(), tc.suffix) {
				t.Fatalf("Connect = %v (permanent %v)\nwant a permanent error … %s", err, component.IsPermanent(err), tc.suffix)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed after %s, want at once", d)
			}
			if strings.Contains(err.Error(), cfg.SecretAccessKey) {
				t.Errorf("the error holds the secret: %v", err)
			}
		})
	}
}
