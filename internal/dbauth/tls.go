package dbauth

import (
	"errors"
	"io/fs"

	"github.com/sluice-dev/sluice/internal/transient"
)

// PostgresTLS is transient.TLSFix for a PostgreSQL DSN, the setting dsnKey.
func PostgresTLS(err error, dsnKey string) (fix string, ok bool) {
	return transient.TLSFix(err, "sslrootcert in "+dsnKey, transient.NameFix("sslmode=verify-ca in "+dsnKey), "sslmode, sslrootcert, sslcert and sslkey in "+dsnKey)
}

// MySQLTLS is transient.TLSFix for a MySQL/MariaDB connection configured by the
// ssl_* keys of the mysql source and sink; key gives a key's path.
func MySQLTLS(err error, key func(string) string) (fix string, ok bool) {
	return transient.TLSFix(err, key("ssl_ca"), transient.NameFix(key("ssl_mode")+": verify_ca"),
		key("ssl_mode")+", "+key("ssl_ca")+", "+key("ssl_cert")+" and "+key("ssl_key"))
}

// PostgresTLSFile reports whether err, from parsing a PostgreSQL DSN, is
// a TLS file (sslrootcert, sslcert, sslkey) that cannot be read, and
// returns that error: the path and why, never the DSN (the parser's own
// message quotes it).
func PostgresTLSFile(err error) (string, bool) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot read " + pe.Path + ": " + pe.Err.Error(), true
	}
	return "", false
}
