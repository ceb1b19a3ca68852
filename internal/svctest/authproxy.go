package svctest

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testpki"
)

// AuthProxy is an HTTPS reverse proxy that checks credentials the way a
// secured OpenSearch or Elasticsearch cluster does (HTTP basic auth, or
// Elasticsearch's "Authorization: ApiKey" header) before passing requests
// to a test cluster, whose distribution has no security plugin. It
// answers a refusal with 401 and the cluster's security_exception body.
type AuthProxy struct {
	URL string // https://localhost:PORT
	CA  *testpki.CA
}

// NewAuthProxy starts an AuthProxy in front of target (a URL) that admits
// user:password and, when apiKey is not empty, "ApiKey " + apiKey; its
// certificate, from a new test CA, is valid for localhost only. It is
// closed at cleanup.
func NewAuthProxy(t testing.TB, target, user, password, apiKey string) *AuthProxy {
	t.Helper()
	to, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t, "sluice test CA")
	cert, key := ca.ServerFor(t, "proxy", "localhost")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(to)
		r.Out.Header.Del("Authorization")
	}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		scheme, cred, _ := strings.Cut(got, " ") // schemes are case-insensitive (RFC 9110)
		ok := subtle.ConstantTimeCompare([]byte(got), []byte(basic)) == 1 ||
			(apiKey != "" && strings.EqualFold(scheme, "ApiKey") && subtle.ConstantTimeCompare([]byte(cred), []byte(apiKey)) == 1)
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Basic realm="security"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user for REST request [` +
				r.URL.Path + `]"}],"type":"security_exception","reason":"unable to authenticate user for REST request [` + r.URL.Path + `]"},"status":401}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing handshakes are the tests'

	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &AuthProxy{URL: "https://localhost:" + u.Port(), CA: ca}
}
