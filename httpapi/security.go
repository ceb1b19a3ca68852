package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// Security says how Listen protects what it serves. The zero value serves
// plain HTTP without authentication, which Listen accepts on loopback
// addresses only.
type Security struct {
	// Token is the bearer token every request but /healthz and /readyz
	// must send (Authorization: Bearer TOKEN); "" for none.
	Token string
	// User and Password are the basic credentials every request but
	// /healthz and /readyz may send instead (Authorization: Basic); User
	// "" for none.
	User, Password string
	// TLS serves HTTPS with this configuration (LoadSecurity builds it);
	// nil serves plain HTTP. With ClientAuth RequireAndVerifyClientCert
	// every connection must present a certificate its ClientCAs signed,
	// which authenticates it.
	TLS *tls.Config
	// Insecure lets Listen serve an address other hosts can reach without
	// any authentication.
	Insecure bool
}

// authenticates tells whether every request (but the open probes) is
// authenticated, by a credential or a client certificate.
func (s *Security) authenticates() bool {
	return s != nil && (s.Token != "" || s.User != "" || s.TLS != nil && s.TLS.ClientAuth == tls.RequireAndVerifyClientCert)
}

// SecurityConfig is where the credentials and certificates come from: the
// flags of `sluice serve` and `sluice run --http`.
type SecurityConfig struct {
	// TokenFile holds the bearer token (surrounding white space is
	// trimmed). Without it the environment variable EnvToken is used.
	TokenFile string
	// BasicFile holds USER:PASSWORD on its first line. Without it the
	// environment variable EnvBasic is used.
	BasicFile string
	// TLSCert and TLSKey are PEM files of the server's certificate chain
	// and private key; both or neither.
	TLSCert, TLSKey string
	// TLSClientCA is a PEM file of the CA certificates that sign client
	// certificates; given, every connection must present one.
	TLSClientCA string
	// Insecure is Security.Insecure.
	Insecure bool
}

// The environment variables LoadSecurity reads when no file is given.
const (
	EnvToken = "SLUICE_AUTH_TOKEN"
	EnvBasic = "SLUICE_AUTH_BASIC"
)

// MinTokenLen is the shortest bearer token accepted: a guessable token is
// no authentication.
const MinTokenLen = 16

// LoadSecurity reads c's files (and, without them, the environment through
// getenv) into a Security. Its errors name the file or variable, never the
// credential.
func LoadSecurity(c SecurityConfig, getenv func(string) string) (*Security, error) {
	s := &Security{Insecure: c.Insecure}
	token, from := getenv(EnvToken), EnvToken
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the bearer token: %w", err)
		}
		token, from = string(b), c.TokenFile
	}
	token = strings.TrimSpace(token)
	if token == "" && c.TokenFile != "" {
		return nil, fmt.Errorf("the bearer token in %s is empty", from)
	}
	if token != "" && len(token) < MinTokenLen {
		return nil, fmt.Errorf("the bearer token in %s has %d characters, fewer than %d (hint: openssl rand -hex 32)", from, len(token), MinTokenLen)
	}
	s.Token = token

	basic, from := getenv(EnvBasic), EnvBasic
	if c.BasicFile != "" {
		b, err := os.ReadFile(c.BasicFile)
		if err != nil {
			return nil, fmt.Errorf("reading the basic credentials: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		basic, from = strings.TrimSuffix(line, "\r"), c.BasicFile
	}
	if basic != "" || c.BasicFile != "" {
		user, pass, ok := strings.Cut(basic, ":")
		if !ok || user == "" || pass == "" {
			return nil, fmt.Errorf("the basic credentials in %s are not USER:PASSWORD (both non-empty)", from)
		}
		s.User, s.Password = user, pass
	}

	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return nil, errors.New("client certificates (--tls-client-ca) need TLS: add --tls-cert and --tls-key")
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", c.TLSCert, c.TLSKey, err)
		}
		s.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		if c.TLSClientCA != "" {
			pem, err := os.ReadFile(c.TLSClientCA)
			if err != nil {
				return nil, fmt.Errorf("reading the client CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("the client CA file %s holds no PEM certificate", c.TLSClientCA)
			}
			s.TLS.ClientCAs = pool
			s.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return s, nil
}

// openPaths are served without credentials: liveness and readiness probes
// (a kubelet has no token), which hold no secret.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true}

// requireAuth wraps h so that every request but openPaths' carries s's
// bearer token or basic credentials; others get 401 with WWW-Authenticate
// naming the schemes accepted. The comparisons are constant-time over
// SHA-256 sums, so neither the content nor the length of a credential
// leaks through timing.
func requireAuth(h http.Handler, s *Security, log *slog.Logger) http.Handler {
	var challenges []string
	var token, user, pass [sha256.Size]byte
	if s.Token != "" {
		token = sha256.Sum256([]byte(s.Token))
		challenges = append(challenges, `Bearer realm="sluice"`)
	}
	if s.User != "" {
		user, pass = sha256.Sum256([]byte(s.User)), sha256.Sum256([]byte(s.Password))
		challenges = append(challenges, `Basic realm="sluice", charset="UTF-8"`)
	}
	equal := func(want [sha256.Size]byte, got string) int {
		sum := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(want[:], sum[:])
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		authz := r.Header.Get("Authorization")
		if authz == "" {
			unauthorized(w, challenges, "authentication required: "+howTo(s))
			return
		}
		scheme, cred, _ := strings.Cut(authz, " ")
		ok := false
		switch {
		case strings.EqualFold(scheme, "Bearer") && s.Token != "":
			ok = equal(token, strings.TrimSpace(cred)) == 1
		case strings.EqualFold(scheme, "Basic") && s.User != "":
			if u, p, parsed := r.BasicAuth(); parsed {
				ok = equal(user, u)&equal(pass, p) == 1
			}
		}
		if !ok {
			log.Warn("http request refused: credentials not valid", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			unauthorized(w, challenges, "the credentials are not valid: "+howTo(s))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func howTo(s *Security) string {
	switch {
	case s.Token != "" && s.User != "":
		return "send Authorization: Bearer TOKEN or Basic USER:PASSWORD"
	case s.Token != "":
		return "send Authorization: Bearer TOKEN"
	default:
		return "send Authorization: Basic USER:PASSWORD"
	}
}

// unauthorized answers 401 with Kafka Connect's error body, which every
// client of the endpoints can read.
func unauthorized(w http.ResponseWriter, challenges []string, msg string) {
	for _, c := range challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}{http.StatusUnauthorized, msg})
}
