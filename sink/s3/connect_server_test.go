package s3

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestConnect: HEAD on the bucket: up, unreachable (a plain error, retried
// at start), and a missing bucket (Permanent).
func TestConnect(t *testing.T) {
	srv := newServer(t)
	u, err := url.Parse(srv.cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, u.Host)
	connect := func(mod func(*Config)) error {
		cfg := srv.cfg
		mod(&cfg)
		s, err := New(cfg, component.Env{Name: "s3", StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		return s.Connect(context.Background())
	}
	via := func(c *Config) { c.Endpoint = "http://" + proxy.Addr() }
	if err := connect(via); err != nil {
		t.Fatalf("up: %v", err)
	}
	old := sdkAttempts
	sdkAttempts = 1
	defer func() { sdkAttempts = old }()
	proxy.Cut()
	if err := connect(via); err == nil || component.IsPermanent(err) || !strings.HasPrefix(err.Error(), "s3 sink: connect: HEAD bucket ") {
		t.Fatalf("unreachable: %v (permanent %v)", err, component.IsPermanent(err))
	}
	if err := connect(func(c *Config) { c.Bucket = "sluice-no-such-bucket" }); err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), "the bucket does not exist") {
		t.Fatalf("missing bucket: %v (permanent %v)", err, component.IsPermanent(err))
	}
}
