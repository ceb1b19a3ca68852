package controlapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/supervisor"
)

// TestNoRoute: what the API has no route for is answered in Connect's
// error shape: 404, and 405 with Allow for a known path with another
// method.
func TestNoRoute(t *testing.T) {
	sup := supervisor.New(supervisor.Options{Registry: registry.Default()})
	h := New(Options{Supervisor: sup}).Handler()
	for _, tc := range []struct{ method, path, want, allow string }{
		{"GET", "/pipelines/a/b/c", `{"error_code":404,"message":"HTTP 404 Not Found"}`, ""},
		{"DELETE", "/pipelines/a/pause", `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`, "PUT"},
		{"GET", "/pipelines/a/status", `{"error_code":404,"message":"Pipeline a not found"}`, ""},
		{"GET", "/pipelines", `[]`, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		b, _ := io.ReadAll(rec.Body)
		if strings.TrimSpace(string(b)) != tc.want || rec.Header().Get("Allow") != tc.allow || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q %q %s", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Allow"), b)
		}
	}
}
