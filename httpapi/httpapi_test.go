package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/metrics"
)

type statuses []metrics.PipelineStatus

func (s statuses) Pipelines() []metrics.PipelineStatus { return s }

func get(t *testing.T, h http.Handler, method, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

func TestHealthz(t *testing.T) {
	h := Handler(Options{})
	if code, ct, body := get(t, h, "GET", "/healthz"); code != 200 || ct != "text/plain; charset=utf-8" || body != "ok\n" {
		t.Fatalf("GET /healthz: %d %q %q", code, ct, body)
	}
	if code, _, _ := get(t, h, "HEAD", "/healthz"); code != 200 {
		t.Fatalf("HEAD /healthz: %d", code)
	}
	if code, _, _ := get(t, h, "POST", "/healthz"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %d", code)
	}
	if code, _, _ := get(t, h, "GET", "/metrics"); code != 404 {
		t.Fatalf("GET /metrics without metrics: %d", code)
	}
}

func TestReadyz(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status metrics.StatusSource
		code   int
		body   string
	}{
		{"no status source", nil, 200, `{
  "ready": true,
  "pipelines": []
}
`},
		{"running and paused", statuses{{Name: "a", State: metrics.StateRunning, Since: since}, {Name: "b", State: metrics.StatePaused, Since: since}}, 200, `{
  "ready": true,
  "pipelines": [
    {
      "name": "a",
      "state": "RUNNING",
      "ready": true,
      "since": "2026-01-02T03:04:05Z"
    },
    {
      "name": "b",
      "state": "PAUSED",
      "ready": true,
      "since": "2026-01-02T03:04:05Z"
    }
  ]
}
`},
		{"one failed", statuses{{Name: "a", State: metrics.StateRunning, Since: since}, {Name: "b", State: metrics.StateFailed, Error: "sink out: connection refused", Since: since}}, 503, `{
  "ready": false,
  "pipelines": [
    {
      "name": "a",
      "state": "RUNNING",
      "ready": true,
      "since": "2026-01-02T03:04:05Z"
    },
    {
      "name": "b",
      "state": "FAILED",
      "ready": false,
      "error": "sink out: connection refused",
      "since": "2026-01-02T03:04:05Z"
    }
  ]
}
`},
		{"stopped", statuses{{Name: "a", State: metrics.StateStopped}}, 503, `{
  "ready": false,
  "pipelines": [
    {
      "name": "a",
      "state": "STOPPED",
      "ready": false
    }
  ]
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ct, body := get(t, Handler(Options{Status: tc.status}), "GET", "/readyz")
			if code != tc.code || ct != "application/json" || body != tc.body {
				t.Fatalf("GET /readyz: %d %q\n%s\nwant %d\n%s", code, ct, body, tc.code, tc.body)
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	m.Pipeline("shop").ObserveRetry("out", 1, errors.New("x"))
	code, _, body := get(t, Handler(Options{Metrics: m.Handler(slog.New(slog.DiscardHandler))}), "GET", "/metrics")
	if want := `sluice_retries_total{node="out",pipeline="shop"} 1` + "\n"; code != 200 || !strings.Contains(body, want) {
		t.Fatalf("GET /metrics: %d, want a body with %q:\n%s", code, want, body)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "127.0.0.1"} {
		s, err := Listen(addr, nil, Handler(Options{}), log)
		if err == nil {
			s.Shutdown(context.Background())
			t.Fatalf("Listen(%q) without allowRemote succeeded", addr)
		}
		if addr != "127.0.0.1" && !errors.Is(err, ErrNotLoopback) {
			t.Fatalf("Listen(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	if err := checkLoopback("[::1]:9090"); err != nil {
		t.Fatalf("[::1]: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		s, err := Listen(addr, nil, Handler(Options{}), log)
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		s.Shutdown(context.Background())
	}
	// Made insecure explicitly, every interface is fine.
	s, err := Listen("0.0.0.0:0", &Security{Insecure: true}, Handler(Options{}), log)
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
}

func TestListenServeShutdown(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil, Handler(Options{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("served after Shutdown")
	}
}
