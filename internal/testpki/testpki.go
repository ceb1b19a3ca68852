// Package testpki makes certificate authorities and the certificates they
// sign, as PEM files, for tests of TLS and client certificates (crypto/x509
// only: no openssl). The certificates are valid from an hour ago to an hour
// from now; keys are ECDSA P-256.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority whose certificate is in Dir/ca.pem.
type CA struct {
	Dir  string
	Pool *x509.CertPool // trusts the CA
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// CAFile is the path of the CA's PEM certificate.
func (ca *CA) CAFile() string { return filepath.Join(ca.Dir, "ca.pem") }

// NewCA makes a self-signed CA in a temporary directory.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := genKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Dir: t.TempDir(), cert: cert, key: key, Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	writePEM(t, ca.CAFile(), "CERTIFICATE", der)
	return ca
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost,
// written to Dir/NAME.pem and Dir/NAME-key.pem.
func (ca *CA) Server(t testing.TB, name string) (certFile, keyFile string) {
	t.Helper()
	return ca.ServerFor(t, name, "127.0.0.1", "::1", "localhost")
}

// ServerFor issues a server certificate, written as Server's, valid for
// exactly hosts (IP addresses or DNS names): a test connecting by another
// name sees the host name check fail.
func (ca *CA) ServerFor(t testing.TB, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, _ = ca.issue(t, name, hosts)
	return certFile, keyFile
}

// Client issues a client certificate, written as Server's, and returns
// it ready for a tls.Config.
func (ca *CA) Client(t testing.TB, name string) tls.Certificate {
	t.Helper()
	_, _, pair := ca.issue(t, name, nil)
	return pair
}

// issue makes a server certificate for hosts, or a client certificate
// when hosts is nil.
func (ca *CA) issue(t testing.TB, name string, hosts []string) (certFile, keyFile string, pair tls.Certificate) {
	key := genKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if hosts != nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	// PKCS#8: what every server reads (Kafka's PEM key stores only that).
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.Dir, name+".pem"), filepath.Join(ca.Dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func genKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
