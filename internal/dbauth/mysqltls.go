package dbauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
)

// MySQL TLS modes (ssl_mode): the values of Debezium's MySQL connector's
// database.ssl.mode.
const (
	SSLDisabled       = "disabled"        // plain TCP
	SSLPreferred      = "preferred"       // TLS if the server offers it, unverified
	SSLRequired       = "required"        // TLS, unverified
	SSLVerifyCA       = "verify_ca"       // TLS, the certificate signed by ssl_ca (or the system's CAs)
	SSLVerifyIdentity = "verify_identity" // verify_ca, and the certificate holds the host name
)

// MySQLSSL is the TLS setup of a connection to MySQL/MariaDB, shared by the
// mysql source (both its SQL and its binlog connections) and sink. The
// key names are the mysql client's (--ssl-mode, --ssl-ca, --ssl-cert,
// --ssl-key) with Debezium's mode values.
type MySQLSSL struct {
	// SSLMode is the TLS mode: disabled, preferred (TLS when the server
	// offers it, unverified), required (TLS, unverified), verify_ca (the
	// certificate is signed by ssl_ca) or verify_identity (verify_ca, and
	// it holds the host name): Debezium's database.ssl.mode values. Unset,
	// the DSN's tls parameter decides (go-sql-driver: tls=true is
	// verify_identity with the system's CAs).
	SSLMode string `yaml:"ssl_mode"`
	// SSLCA is the PEM file of the CA certificates that verify the
	// server's certificate (default: the system's); it needs verify_ca or
	// verify_identity.
	SSLCA string `yaml:"ssl_ca"`
	// SSLCert is the PEM file of a client certificate, for users the
	// server requires one of (REQUIRE X509); with ssl_key.
	SSLCert string `yaml:"ssl_cert"`
	// SSLKey is the PEM file of ssl_cert's private key.
	SSLKey string `yaml:"ssl_key"`
}

// Validate checks the settings; every error is a *component.FieldError.
func (c *MySQLSSL) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	switch c.SSLMode {
	case "", SSLDisabled, SSLPreferred, SSLRequired, SSLVerifyCA, SSLVerifyIdentity:
	default:
		add("ssl_mode", fmt.Sprintf("%q is not a TLS mode", c.SSLMode), "use disabled, preferred, required, verify_ca or verify_identity")
	}
	if c.SSLCA != "" && c.SSLMode != SSLVerifyCA && c.SSLMode != SSLVerifyIdentity {
		add("ssl_ca", "is set but ssl_mode does not verify certificates", "set ssl_mode: verify_identity (or verify_ca)")
	}
	if (c.SSLCert == "") != (c.SSLKey == "") {
		add("ssl_cert", "and ssl_key go together", "set both, the PEM client certificate and its key")
	}
	if c.SSLCert != "" && (c.SSLMode == "" || c.SSLMode == SSLDisabled) {
		add("ssl_cert", "is set but ssl_mode does not turn TLS on", "set ssl_mode: verify_identity (or required)")
	}
	for _, f := range []struct{ key, path string }{{"ssl_ca", c.SSLCA}, {"ssl_cert", c.SSLCert}, {"ssl_key", c.SSLKey}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				add(f.key, err.Error(), "a PEM file readable by sluice")
			}
		}
	}
	return errs
}

// Apply sets dc's TLS from the settings; with no ssl_mode it leaves the
// DSN's. It reads the PEM files; its errors name the key, never a secret.
func (c *MySQLSSL) Apply(dc *mysql.Config) error {
	if c.SSLMode == "" {
		return nil
	}
	dc.TLS, dc.TLSConfig, dc.AllowFallbackToPlaintext = nil, "", false
	if c.SSLMode == SSLDisabled {
		return nil
	}
	host, _, err := net.SplitHostPort(dc.Addr)
	if err != nil {
		host = dc.Addr
	}
	t := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.SSLCert != "" {
		pair, err := tls.LoadX509KeyPair(c.SSLCert, c.SSLKey)
		if err != nil {
			return fmt.Errorf("ssl_cert and ssl_key: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	if c.SSLCA != "" {
		pem, err := os.ReadFile(c.SSLCA)
		if err != nil {
			return fmt.Errorf("ssl_ca: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ssl_ca %s: no PEM certificates", c.SSLCA)
		}
	}
	switch c.SSLMode {
	case SSLPreferred, SSLRequired:
		t.InsecureSkipVerify = true //nolint:gosec // the user asked for encryption without verification
		dc.AllowFallbackToPlaintext = c.SSLMode == SSLPreferred
	case SSLVerifyCA:
		// The chain, not the name: Go verifies both or neither.
		t.InsecureSkipVerify = true //nolint:gosec // verified below
		roots := t.RootCAs
		t.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		}
	}
	dc.TLS = t
	return nil
}

// verifyChain verifies a server's certificate chain against roots (the
// system's when nil), without the host name.
func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("the server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}
