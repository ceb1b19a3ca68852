package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler: the page, its script and its style sheet are served from
// the binary with their types and the security headers; the script and
// the style sheet are the page's only assets, and both are same-origin.
func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(Prefix, Handler())
	mux.Handle("GET /{$}", Redirect())
	for _, tc := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/console/", 200, "text/html; charset=utf-8", `<script src="console.js" defer></script>`},
		{"GET", "/console/console.js", 200, "text/javascript; charset=utf-8", `request("GET", "pipelines")`},
		{"GET", "/console/console.css", 200, "text/css; charset=utf-8", ".state.PAUSED"},
		{"HEAD", "/console/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/console/nothing.js", 404, "text/plain; charset=utf-8", "404 page not found"},
		{"POST", "/console/", 405, "text/plain; charset=utf-8", "method not allowed"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		b, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.ctype || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q with %q; body:\n%.300s", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.ctype, tc.body, b)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", tc.method, tc.path)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/console/" {
		t.Errorf("GET /: %d Location %q, want 302 to /console/", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/console", nil))
	if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console: %d Location %q, want 307 to /console/", rec.Code, rec.Header().Get("Location"))
	}

	// Nothing in the page comes from another origin, and nothing is inline
	// script (the policy would block it anyway).
	page, _ := assets.ReadFile("assets/index.html")
	for _, bad := range []string{"http://", "https://", "<script>", " on", "style="} {
		if strings.Contains(string(page), bad) {
			t.Errorf("index.html holds %q", bad)
		}
	}
	js, _ := assets.ReadFile("assets/console.js")
	js = []byte(strings.ReplaceAll(string(js), `"http://www.w3.org/2000/svg"`, "")) // SVG's namespace, not a request
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("console.js holds %q", bad)
		}
	}
}
