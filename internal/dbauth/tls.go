package dbauth

import (
	"crypto/x509"
	"errors"

	"github.com/sluice-dev/sluice/internal/transient"
)

// TLSFix says what to change when err is a TLS setup that does not
// verify (transient.TLS: never retried): the CA, the host name, or the
// rest of the TLS settings. caKey names the setting of the CA file,
// nameFix says what to do about a host name the certificate does not
// hold, otherKeys names the remaining TLS settings. ok is false for any
// other error. Used by every component that connects over TLS.
func TLSFix(err error, caKey, nameFix, otherKeys string) (fix string, ok bool) {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
	)
	switch {
	case errors.As(err, &ua):
		return "the server's certificate is not signed by a CA this client trusts: set " + caKey +
			" to the PEM file of the CA that signed it", true
	case errors.As(err, &he):
		return "the server's certificate does not hold the host name connected to: " + nameFix, true
	case transient.TLS(err):
		return "check " + otherKeys + " (the server may not speak TLS there, or its certificate is not valid now)", true
	}
	return "", false
}

// PostgresTLS is TLSFix for a PostgreSQL DSN, the setting dsnKey.
func PostgresTLS(err error, dsnKey string) (fix string, ok bool) {
	return TLSFix(err, "sslrootcert in "+dsnKey, NameFix("sslmode=verify-ca in "+dsnKey), "sslmode, sslrootcert, sslcert and sslkey in "+dsnKey)
}

// MySQLTLS is TLSFix for a MySQL/MariaDB connection configured by the
// ssl_* keys of the mysql source and sink; key gives a key's path.
func MySQLTLS(err error, key func(string) string) (fix string, ok bool) {
	return TLSFix(err, key("ssl_ca"), NameFix(key("ssl_mode")+": verify_ca"),
		key("ssl_mode")+", "+key("ssl_ca")+", "+key("ssl_cert")+" and "+key("ssl_key"))
}

// NameFix is TLSFix's advice for a host name the certificate does not
// hold, where mode (a setting and its value) checks the CA only.
func NameFix(mode string) string {
	return "connect by a name it holds, or set " + mode + " (it checks the CA, not the name)"
}
