package searchtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/internal/testpki"
	"github.com/sluice-dev/sluice/sink/internal/search"
)

// TLSSecret is the password (and API key) the TLS tests use: no error or
// log line may hold it.
const TLSSecret = "canary-TLS-pw-2290"

// Auth sets the credentials of one case on a sink's configuration (basic
// auth from cfg, or an API key for Elasticsearch).
type Auth func(cfg *search.Config, user, password string) New

// TLS runs the sink through an HTTPS proxy that checks credentials
// (svctest.AuthProxy, in front of the cluster at base): with ca_file and
// each of auths' right credentials it connects and writes a document;
// with another CA, a host name the certificate does not hold and a wrong
// password it fails Connect at once with a permanent error that says what
// to fix (the refusal names the keys) and holds no secret. refused is
// the start of the wrong password's error.
func TLS(t *testing.T, base, product string, auths map[string]Auth) {
	proxy := svctest.NewAuthProxy(t, base, "app", TLSSecret, TLSSecret)
	var b [4]byte
	_, _ = rand.Read(b[:])
	index := "tls-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, base+"/"+index, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	ctx := context.Background()
	sink := func(t *testing.T, auth Auth, host, user, password, caFile string, logs *logtest.Recorder) component.Sink {
		cfg := search.Defaults()
		cfg.Hosts, cfg.CAFile, cfg.Index = []string{host}, caFile, index
		build := auth(&cfg, user, password)
		s, err := build(cfg, component.Env{Name: "search", Path: "sinks.search", Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(ctx) })
		return s
	}
	// What a 401 says: the keys of basic auth, or of the API key.
	refusal := func(auth Auth) string {
		var cfg search.Config
		auth(&cfg, "app", "x")
		if cfg.Username != "" {
			return " refused user \"app\": status 401: security_exception: unable to authenticate user for REST request [/]; " +
				"check the user and password in sinks.search.username and sinks.search.password (a ${VAR} there is read from the environment)"
		}
		return " refused the credentials: status 401: security_exception: unable to authenticate user for REST request [/]; " +
			"check the API key in sinks.search.api_key (a ${VAR} there is read from the environment)"
	}
	other := testpki.NewCA(t, "another CA")
	for name, auth := range auths {
		t.Run(name, func(t *testing.T) {
			s := sink(t, auth, proxy.URL, "app", TLSSecret, proxy.CA.CAFile(), logtest.New())
			if err := s.(component.Connector).Connect(ctx); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if err := s.Write(ctx, []event.Event{*eventtest.ProductEvent()}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			resp, err := http.Get(base + "/" + index + "/_doc/132")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var doc struct {
				Source map[string]any `json:"_source"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || doc.Source["name"] != "Incredible Iron Pants" {
				t.Fatalf("document: %s", body)
			}
			for _, tc := range []struct {
				name, host, password, caFile, want string
			}{
				{"wrong CA", proxy.URL, TLSSecret, other.CAFile(), "x509: certificate signed by unknown authority; " +
					"the server's certificate is not signed by a CA this client trusts: set ca_file to the PEM file of the CA that signed it"},
				{"wrong host name", strings.Replace(proxy.URL, "localhost", "127.0.0.1", 1), TLSSecret, proxy.CA.CAFile(),
					"x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs; " +
						"the server's certificate does not hold the host name connected to: use a host name in hosts that it holds, or insecure: true for a test cluster"},
				{"wrong password", proxy.URL, "not-" + TLSSecret, proxy.CA.CAFile(), refusal(auth)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					logs := logtest.New()
					start := time.Now()
					err := sink(t, auth, tc.host, "app", tc.password, tc.caFile, logs).(component.Connector).Connect(ctx)
					if err == nil || !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), product+" sink: ") || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("Connect = %v (permanent %v)\nwant a permanent error with %s", err, component.IsPermanent(err), tc.want)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("failed after %s, want at once", d)
					}
					if strings.Contains(err.Error(), TLSSecret) {
						t.Errorf("the error holds the secret: %v", err)
					}
					if h := logs.Holding(TLSSecret); len(h) > 0 {
						t.Errorf("logs hold the secret: %q", h)
					}
				})
			}
		})
	}
}
