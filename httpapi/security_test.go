package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testpki"
)

const token = "0123456789abcdef-token"

// apiHandler is the operator endpoints with an API beside them, as
// `sluice serve` mounts them.
func apiHandler() http.Handler {
	mux := http.NewServeMux()
	ops := Handler(Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics\n") })})
	mux.Handle("/healthz", ops)
	mux.Handle("/readyz", ops)
	mux.Handle("/metrics", ops)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "api "+r.URL.Path+" "+string(b))
	})
	return mux
}

func listen(t *testing.T, addr string, sec *Security) *Server {
	t.Helper()
	s, err := Listen(addr, sec, apiHandler(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

type response struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, url, authz, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestAuthBearer: with a bearer token, the API and /metrics refuse a
// request without it or with another one (401, WWW-Authenticate), accept
// the token, and the probes stay open.
func TestAuthBearer(t *testing.T) {
	s := listen(t, "127.0.0.1:0", &Security{Token: token})
	c := http.DefaultClient
	const required = `{"error_code":401,"message":"authentication required: send Authorization: Bearer TOKEN"}` + "\n"
	const invalid = `{"error_code":401,"message":"the credentials are not valid: send Authorization: Bearer TOKEN"}` + "\n"
	for _, tc := range []struct {
		method, path, authz string
		body                string
	}{
		{"GET", "/metrics", "", required},
		{"GET", "/connectors", "", required},
		{"PUT", "/connectors/x/config", "", required},
		{"GET", "/", "", required},
		{"GET", "/healthz/../metrics", "", required}, // not a probe
		{"GET", "/metrics", "Bearer wrong", invalid},
		{"GET", "/metrics", "Bearer " + token[:len(token)-1], invalid},
		{"GET", "/metrics", "Bearer " + token + "x", invalid},
		{"GET", "/metrics", "Bearer", invalid},
		{"GET", "/metrics", token, invalid},
		{"GET", "/metrics", basic("admin", token), invalid}, // basic is not configured
	} {
		r := do(t, c, tc.method, s.URL()+tc.path, tc.authz, "")
		if r.code != 401 || r.body != tc.body || r.header.Get("Content-Type") != "application/json" ||
			strings.Join(r.header.Values("WWW-Authenticate"), "|") != `Bearer realm="sluice"` || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s (%q): %d %v %q, want 401 with WWW-Authenticate and %q", tc.method, tc.path, tc.authz, r.code, r.header, r.body, tc.body)
		}
	}
	for _, tc := range []struct{ path, authz, body string }{
		{"/metrics", "Bearer " + token, "metrics\n"},
		{"/metrics", "bearer " + token, "metrics\n"}, // the scheme is case-insensitive (RFC 9110)
		{"/connectors", "Bearer " + token, "api /connectors "},
		{"/healthz", "", "ok\n"},
		{"/healthz", "Bearer wrong", "ok\n"},
	} {
		if r := do(t, c, "GET", s.URL()+tc.path, tc.authz, ""); r.code != 200 || r.body != tc.body {
			t.Errorf("GET %s (%q): %d %q, want 200 %q", tc.path, tc.authz, r.code, r.body, tc.body)
		}
	}
	if r := do(t, c, "GET", s.URL()+"/readyz", "", ""); r.code != 200 || !strings.Contains(r.body, `"ready": true`) {
		t.Errorf("GET /readyz without credentials: %d %q", r.code, r.body)
	}
}

// TestAuthBasicAndBearer: with both, either is accepted and the 401 offers
// both schemes.
func TestAuthBasicAndBearer(t *testing.T) {
	s := listen(t, "127.0.0.1:0", &Security{Token: token, User: "admin", Password: "pa:ss word"})
	c := http.DefaultClient
	for _, authz := range []string{"", basic("admin", "wrong"), basic("admin2", "pa:ss word"), basic("", "pa:ss word"), "Basic !!!", "Bearer pa:ss word"} {
		r := do(t, c, "GET", s.URL()+"/connectors", authz, "")
		msg := "the credentials are not valid"
		if authz == "" {
			msg = "authentication required"
		}
		want := `{"error_code":401,"message":"` + msg + `: send Authorization: Bearer TOKEN or Basic USER:PASSWORD"}` + "\n"
		if r.code != 401 || r.body != want || strings.Join(r.header.Values("WWW-Authenticate"), "|") != `Bearer realm="sluice"|Basic realm="sluice", charset="UTF-8"` {
			t.Errorf("%q: %d %v %q, want 401 %q", authz, r.code, r.header, r.body, want)
		}
	}
	for _, authz := range []string{basic("admin", "pa:ss word"), "Bearer " + token} {
		if r := do(t, c, "GET", s.URL()+"/connectors", authz, ""); r.code != 200 || r.body != "api /connectors " {
			t.Errorf("%q: %d %q", authz, r.code, r.body)
		}
	}
}

// TestListenRemoteNeedsAuth: every interface is refused without
// authentication, with it (a credential or client certificates), or made
// insecure explicitly, it is served.
func TestListenRemoteNeedsAuth(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, sec := range []*Security{nil, {}, {TLS: &tls.Config{}}} {
		for addr, want := range map[string]string{
			"0.0.0.0:0": `listen address "0.0.0.0:0": not a loopback address, and no authentication is configured`,
			":0":        `listen address ":0": every interface is not a loopback address, and no authentication is configured`,
		} {
			_, err := Listen(addr, sec, apiHandler(), log)
			if err == nil || err.Error() != want || !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("Listen(%s, %+v): %v, want %s", addr, sec, err, want)
			}
		}
	}
	for _, sec := range []*Security{{Token: token}, {User: "a", Password: "b"}, {Insecure: true}, {TLS: &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}}} {
		s, err := Listen("0.0.0.0:0", sec, apiHandler(), log)
		if err != nil {
			t.Fatalf("Listen(0.0.0.0:0, %+v): %v", sec, err)
		}
		s.Shutdown(context.Background())
	}
}

// TestBodyLimit: a body of MaxBody bytes is read, one byte more is not.
func TestBodyLimit(t *testing.T) {
	s := listen(t, "127.0.0.1:0", nil)
	full := strings.Repeat("x", MaxBody)
	if r := do(t, http.DefaultClient, "PUT", s.URL()+"/connectors/x/config", "", full); r.code != 200 || r.body != "api /connectors/x/config "+full {
		t.Fatalf("a body of MaxBody bytes: %d (%d bytes)", r.code, len(r.body))
	}
	if r := do(t, http.DefaultClient, "PUT", s.URL()+"/connectors/x/config", "", full+"x"); r.code != 413 || r.body != "too large\n" {
		t.Fatalf("a body of MaxBody+1 bytes: %d %q", r.code, r.body)
	}
}

func tlsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
}

// TestTLS: --tls-cert and --tls-key serve HTTPS; a client trusting the CA
// gets through (with the token), plain HTTP does not.
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	cert, key := ca.Server(t, "server")
	sec, err := LoadSecurity(SecurityConfig{TLSCert: cert, TLSKey: key}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sec.Token = token
	s := listen(t, "127.0.0.1:0", sec)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	c := tlsClient(ca.Pool)
	if r := do(t, c, "GET", s.URL()+"/metrics", "Bearer "+token, ""); r.code != 200 || r.body != "metrics\n" {
		t.Fatalf("GET /metrics over TLS: %d %q", r.code, r.body)
	}
	if r := do(t, c, "GET", s.URL()+"/metrics", "", ""); r.code != 401 {
		t.Fatalf("GET /metrics over TLS without the token: %d %q", r.code, r.body)
	}
	// A client that does not trust the CA is refused by the handshake.
	if _, err := tlsClient(nil).Get(s.URL() + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("a client not trusting the CA: %v", err)
	}
	// Plain HTTP to the TLS port: Go's server answers 400.
	if r := do(t, http.DefaultClient, "GET", "http://"+s.Addr()+"/healthz", "", ""); r.code != 400 || r.body != "Client sent an HTTP request to an HTTPS server.\n" {
		t.Fatalf("plain HTTP: %d %q", r.code, r.body)
	}
}

// TestTLSClientCert: with --tls-client-ca, a connection without a
// certificate, or with one another CA signed, is refused; one the CA
// signed is served, with no other credential, on every interface.
func TestTLSClientCert(t *testing.T) {
	ca, other := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "other CA")
	cert, key := ca.Server(t, "server")
	good, bad := ca.Client(t, "client"), other.Client(t, "intruder")
	sec, err := LoadSecurity(SecurityConfig{TLSCert: cert, TLSKey: key, TLSClientCA: ca.CAFile()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := listen(t, "0.0.0.0:0", sec)
	_, port, _ := net.SplitHostPort(s.Addr())
	url := "https://127.0.0.1:" + port
	if r := do(t, tlsClient(ca.Pool, good), "GET", url+"/connectors", "", ""); r.code != 200 || r.body != "api /connectors " {
		t.Fatalf("with a client certificate: %d %q", r.code, r.body)
	}
	for name, c := range map[string]*http.Client{"no certificate": tlsClient(ca.Pool), "another CA's": tlsClient(ca.Pool, bad)} {
		_, err := c.Get(url + "/healthz")
		// TLS 1.3: the server's alert arrives on the client's first read.
		if err == nil || !strings.Contains(err.Error(), "remote error: tls: certificate required") && !strings.Contains(err.Error(), "remote error: tls: unknown certificate authority") && !strings.Contains(err.Error(), "remote error: tls: bad certificate") {
			t.Errorf("%s: %v, want the handshake refused", name, err)
		}
	}
}

// TestLoadSecurity: credentials from files or the environment (a file
// wins), and errors that name the file or variable, never the credential.
func TestLoadSecurity(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)

	s, err := LoadSecurity(SecurityConfig{TokenFile: file("token", "  "+token+"\n"), BasicFile: file("basic", "admin:pa:ss word\r\nignored\n")}, env(map[string]string{EnvToken: "from-the-environment-1234"}))
	if err != nil || s.Token != token || s.User != "admin" || s.Password != "pa:ss word" || s.TLS != nil || s.Insecure {
		t.Fatalf("from files: %+v %v", s, err)
	}
	s, err = LoadSecurity(SecurityConfig{Insecure: true}, env(map[string]string{EnvToken: token, EnvBasic: "u:p"}))
	if err != nil || s.Token != token || s.User != "u" || s.Password != "p" || !s.Insecure {
		t.Fatalf("from the environment: %+v %v", s, err)
	}
	s, err = LoadSecurity(SecurityConfig{}, none)
	if err != nil || s.authenticates() || s.Insecure {
		t.Fatalf("nothing: %+v %v", s, err)
	}

	cert, key := testpki.NewCA(t, "CA").Server(t, "server")
	for _, tc := range []struct {
		c    SecurityConfig
		env  func(string) string
		want string
	}{
		{SecurityConfig{TokenFile: filepath.Join(dir, "absent")}, none, "reading the bearer token: open " + filepath.Join(dir, "absent") + ": no such file or directory"},
		{SecurityConfig{TokenFile: file("empty", "\n")}, none, "the bearer token in " + filepath.Join(dir, "empty") + " is empty"},
		{SecurityConfig{TokenFile: file("short", "secret-short\n")}, none, "the bearer token in " + filepath.Join(dir, "short") + " has 12 characters, fewer than 16 (hint: openssl rand -hex 32)"},
		{SecurityConfig{}, env(map[string]string{EnvToken: "secret-short"}), "the bearer token in SLUICE_AUTH_TOKEN has 12 characters, fewer than 16 (hint: openssl rand -hex 32)"},
		{SecurityConfig{BasicFile: file("nocolon", "secret-password\n")}, none, "the basic credentials in " + filepath.Join(dir, "nocolon") + " are not USER:PASSWORD (both non-empty)"},
		{SecurityConfig{BasicFile: file("emptybasic", "")}, none, "the basic credentials in " + filepath.Join(dir, "emptybasic") + " are not USER:PASSWORD (both non-empty)"},
		{SecurityConfig{}, env(map[string]string{EnvBasic: "admin:"}), "the basic credentials in SLUICE_AUTH_BASIC are not USER:PASSWORD (both non-empty)"},
		{SecurityConfig{TLSCert: cert}, none, "TLS needs both a certificate (--tls-cert) and its key (--tls-key)"},
		{SecurityConfig{TLSKey: key}, none, "TLS needs both a certificate (--tls-cert) and its key (--tls-key)"},
		{SecurityConfig{TLSClientCA: cert}, none, "client certificates (--tls-client-ca) need TLS: add --tls-cert and --tls-key"},
		{SecurityConfig{TLSCert: cert, TLSKey: cert}, none, "loading the TLS certificate " + cert + " and key " + cert + ": tls: found a certificate rather than a key in the PEM for the private key"},
		{SecurityConfig{TLSCert: cert, TLSKey: key, TLSClientCA: key}, none, "the client CA file " + key + " holds no PEM certificate"},
	} {
		_, err := LoadSecurity(tc.c, tc.env)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %s", tc.c, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-") {
			t.Errorf("%+v: the error holds the credential: %v", tc.c, err)
		}
	}
}
