package main

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testpki"
)

// The security of --http (sluice serve and sluice run): loopback unless
// authenticated or explicitly insecure, bearer/basic credentials, TLS and
// client certificates. The rules themselves are tested in package httpapi;
// these tests prove the flags reach them.

const testToken = "e2e-token-0123456789abcdef"

// envWithoutAuth is the environment without SLUICE_AUTH_*, so that a
// developer's own settings do not change what the tests see.
func envWithoutAuth(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_AUTH_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

const remoteHint = ` (hint: use 127.0.0.1:PORT; to serve other hosts, require a bearer token (--auth-token-file FILE or $SLUICE_AUTH_TOKEN), basic credentials (--auth-basic-file FILE or $SLUICE_AUTH_BASIC) or client certificates (--tls-client-ca FILE), or add --insecure-no-auth)`

// TestServeRefusesRemote: sluice serve on every interface without
// authentication exits 2 with the hint, before it creates anything.
func TestServeRefusesRemote(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, addr := range []string{"0.0.0.0:8083", ":0"} {
		cmd := exec.Command(bin, "serve", "--state-dir", state, "--http", addr)
		cmd.Env = envWithoutAuth()
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != exitUsage {
			t.Fatalf("%s: exit %d (%v), want %d:\n%s", addr, code, err, exitUsage, out)
		}
		why := "not a loopback address"
		if addr == ":0" {
			why = "every interface is not a loopback address"
		}
		want := `sluice: --http: listen address "` + addr + `": ` + why + `, and no authentication is configured` + remoteHint + "\n"
		if string(out) != want {
			t.Fatalf("output:\n%s\nwant:\n%s", out, want)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("the refused server created its state directory (%v)", err)
	}
	// The flag that used to allow it says what replaces it.
	cmd := exec.Command(bin, "serve", "--state-dir", state, "--http", "0.0.0.0:0", "--http-allow-remote")
	cmd.Env = envWithoutAuth()
	out, err := cmd.CombinedOutput()
	want := "sluice: --http: --http-allow-remote is gone: an address other hosts can reach needs authentication (--auth-token-file FILE, --auth-basic-file FILE or --tls-client-ca FILE), or --insecure-no-auth to serve it without any\n"
	if exitCode(err) != exitUsage || string(out) != want {
		t.Fatalf("--http-allow-remote: %v\n%s\nwant:\n%s", err, out, want)
	}
}

type reply struct {
	code   int
	header http.Header
	body   string
}

func request(t *testing.T, c *http.Client, method, url, authz, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// loopbackURL is the URL of a server bound to every interface, through
// 127.0.0.1.
func loopbackURL(t *testing.T, scheme, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return scheme + "://127.0.0.1:" + port
}

// TestServeBearerToken: sluice serve on every interface with
// --auth-token-file refuses the API and /metrics without the token (401,
// WWW-Authenticate) or with another, serves them with it, and keeps the
// probes open.
func TestServeBearerToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir, nil, "--state-dir", filepath.Join(dir, "state"), "--http", "0.0.0.0:0", "--auth-token-file", tokenFile)
	url := loopbackURL(t, "http", strings.TrimPrefix(s.url, "http://"))
	c := http.DefaultClient
	const required = `{"error_code":401,"message":"authentication required: send Authorization: Bearer TOKEN"}` + "\n"
	const invalid = `{"error_code":401,"message":"the credentials are not valid: send Authorization: Bearer TOKEN"}` + "\n"
	for _, tc := range []struct{ method, path, authz, want string }{
		{"GET", "/connectors", "", required},
		{"GET", "/", "", required},
		{"GET", "/metrics", "", required},
		{"PUT", "/connectors/x/config", "", required},
		{"GET", "/connectors", "Bearer not-the-token-0123456789", invalid},
		{"PUT", "/connectors/x/config", "Bearer not-the-token-0123456789", invalid},
	} {
		body := ""
		if tc.method == "PUT" {
			body = `{"connector.class":"FileStreamSource","topic":"t","file":"/etc/passwd"}`
		}
		r := request(t, c, tc.method, url+tc.path, tc.authz, body)
		if r.code != 401 || r.body != tc.want || r.header.Get("WWW-Authenticate") != `Bearer realm="sluice"` {
			t.Errorf("%s %s (%q): %d %v %q, want 401 %q", tc.method, tc.path, tc.authz, r.code, r.header, r.body, tc.want)
		}
	}
	auth := "Bearer " + testToken
	if r := request(t, c, "GET", url+"/connectors", auth, ""); r.code != 200 || r.body != "[]\n" {
		t.Errorf("GET /connectors with the token: %d %q, want 200 [] (nothing created by the refused PUTs)", r.code, r.body)
	}
	if r := request(t, c, "GET", url+"/metrics", auth, ""); r.code != 200 || !strings.Contains(r.body, "# TYPE ") {
		t.Errorf("GET /metrics with the token: %d %q", r.code, r.body)
	}
	if r := request(t, c, "GET", url+"/healthz", "", ""); r.code != 200 || r.body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", r.code, r.body)
	}
	if r := request(t, c, "GET", url+"/readyz", "", ""); r.code != 200 {
		t.Errorf("GET /readyz: %d %q", r.code, r.body)
	}
	s.stop(t)
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	for _, want := range []string{
		`level=WARN msg="--http serves plain HTTP: credentials cross the network in clear text (hint: add --tls-cert and --tls-key)"`,
		`level=WARN msg="http request refused: credentials not valid" remote=127.0.0.1:`,
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log has no %s:\n%s", want, log)
		}
	}
	if strings.Contains(string(log), testToken) || strings.Contains(string(log), "not-the-token") {
		t.Errorf("a token is in the log:\n%s", log)
	}
}

// TestServeTLSClientCert: --tls-cert, --tls-key and --tls-client-ca serve
// HTTPS to clients with a certificate the CA signed, and basic credentials
// from the environment on top; the log gives the https URL.
func TestServeTLSClientCert(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "sluice test CA")
	cert, key := ca.Server(t, "server")
	client := ca.Client(t, "client")
	s := startServe(t, dir, []string{"SLUICE_AUTH_BASIC=admin:e2e pass word"}, "--state-dir", filepath.Join(dir, "state"),
		"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca.CAFile())
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	m := regexp.MustCompile(`url=(https://127\.0\.0\.1:\d+) `).FindSubmatch(log)
	if m == nil {
		t.Fatalf("no https url in the log:\n%s", log)
	}
	url := string(m[1])
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{client}}}}
	if r := request(t, withCert, "GET", url+"/connectors", "", ""); r.code != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="sluice", charset="UTF-8"` {
		t.Errorf("GET /connectors with a certificate and no credentials: %d %v %q", r.code, r.header, r.body)
	}
	req, _ := http.NewRequest("GET", url+"/connectors", nil)
	req.SetBasicAuth("admin", "e2e pass word")
	if r := request(t, withCert, "GET", url+"/connectors", req.Header.Get("Authorization"), ""); r.code != 200 || r.body != "[]\n" {
		t.Errorf("GET /connectors with a certificate and credentials: %d %q", r.code, r.body)
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	if _, err := noCert.Get(url + "/healthz"); err == nil || !strings.Contains(err.Error(), "tls: certificate required") {
		t.Errorf("a client without a certificate: %v, want the handshake refused", err)
	}
	s.stop(t)
}

// TestRunHTTPToken: sluice run --http shares serve's flags: /metrics needs
// the token from the environment, /healthz does not.
func TestRunHTTPToken(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, genPipeline(dir, 0, 200))
	cmd := exec.Command(bin, "run", "--http", "127.0.0.1:0", "--progress", "never", p)
	cmd.Env = envWithoutAuth("SLUICE_AUTH_TOKEN=" + testToken)
	f, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	var addr string
	waitFor(t, 30*time.Second, "the listen address in the log", dir, func() bool {
		log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
		if m := listenLine.FindSubmatch(log); m != nil {
			addr = string(m[1])
		}
		return addr != ""
	})
	c := http.DefaultClient
	if r := request(t, c, "GET", "http://"+addr+"/metrics", "", ""); r.code != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="sluice"` {
		t.Errorf("GET /metrics without the token: %d %v %q", r.code, r.header, r.body)
	}
	if r := request(t, c, "GET", "http://"+addr+"/metrics", "Bearer "+testToken, ""); r.code != 200 || !strings.Contains(r.body, "sluice_") {
		t.Errorf("GET /metrics with the token: %d %q", r.code, r.body)
	}
	if r := request(t, c, "GET", "http://"+addr+"/healthz", "", ""); r.code != 200 || r.body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", r.code, r.body)
	}
	// The console and the pipelines API are behind the same token; / leads
	// to the console.
	for _, path := range []string{"/console/", "/pipelines", "/"} {
		if r := request(t, c, "GET", "http://"+addr+path, "", ""); r.code != 401 {
			t.Errorf("GET %s without the token: %d %q", path, r.code, r.body)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r := request(t, noRedirect, "GET", "http://"+addr+"/", "Bearer "+testToken, ""); r.code != 302 || r.header.Get("Location") != "/console/" {
		t.Errorf("GET / with the token: %d %v", r.code, r.header)
	}
	if r := request(t, c, "GET", "http://"+addr+"/console/", "Bearer "+testToken, ""); r.code != 200 || !strings.Contains(r.body, `<script src="console.js" defer></script>`) {
		t.Errorf("GET /console/ with the token: %d %q", r.code, r.body)
	}
	if r := request(t, c, "GET", "http://"+addr+"/pipelines/p/status", "Bearer "+testToken, ""); r.code != 200 || !strings.Contains(r.body, `"name":"p","kind":"file","file":"`+filepath.Join(dir, "p.yaml")+`","state":"RUNNING"`) {
		t.Errorf("GET /pipelines/p/status with the token: %d %q", r.code, r.body)
	}
	waitFor(t, 30*time.Second, "a history sample", dir, func() bool {
		r := request(t, c, "GET", "http://"+addr+"/pipelines/p/history", "Bearer "+testToken, "")
		return r.code == 200 && strings.Contains(r.body, `"sources":{"gen":{"events":`)
	})
	// Pause over the API; nothing is stored for a pipeline of sluice run.
	if r := request(t, c, "PUT", "http://"+addr+"/pipelines/p/pause", "Bearer "+testToken, ""); r.code != 202 {
		t.Errorf("PUT /pipelines/p/pause: %d %q", r.code, r.body)
	}
	if r := request(t, c, "GET", "http://"+addr+"/pipelines/p/status", "Bearer "+testToken, ""); !strings.Contains(r.body, `"state":"PAUSED"`) {
		t.Errorf("after pause: %d %q", r.code, r.body)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*", "target.json")); len(matches) != 0 {
		t.Errorf("sluice run stored a target: %v", matches)
	}
	stopRun(t, cmd, dir)
}
