package sqlsink

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// QuotePG quotes a PostgreSQL identifier: wrapped in double quotes, inner
// double quotes doubled. Every name is quoted, so case and any character
// (including `"`, `;` and spaces) are kept literally.
func QuotePG(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteMySQL quotes a MySQL/MariaDB identifier with backticks, inner
// backticks doubled.
func QuoteMySQL(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// CheckIdent reports why name cannot be a table or column name on a server
// whose identifiers hold at most maxBytes bytes (PostgreSQL 63 — longer
// names are silently truncated —, MySQL 64 characters). Quoting makes every
// other character safe.
func CheckIdent(name string, maxLen int, server string) error {
	switch {
	case name == "":
		return fmt.Errorf("identifier is empty")
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("identifier %q contains a NUL byte", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("identifier %q is not valid UTF-8", name)
	case server == "mysql" && utf8.RuneCountInString(name) > maxLen:
		return fmt.Errorf("identifier %q is longer than %d characters, the %s limit", name, maxLen, server)
	case server != "mysql" && len(name) > maxLen:
		return fmt.Errorf("identifier %q is longer than %d bytes, the %s limit (the server would truncate it)", name, maxLen, server)
	case server == "mysql" && strings.HasSuffix(name, " "):
		return fmt.Errorf("identifier %q ends with a space, which MySQL does not allow", name)
	}
	return nil
}

// Redact removes the password of dsn (a URL, keyword/value or MySQL DSN)
// from msg, for errors that may quote the DSN.
func Redact(msg, dsn string) string {
	for _, pw := range passwords(dsn) {
		if len(pw) >= 1 {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

func passwords(dsn string) []string {
	var out []string
	// URL and MySQL forms: user:password@
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		head := dsn[:at]
		if i := strings.Index(head, "://"); i >= 0 {
			head = head[i+3:]
		}
		if _, pw, ok := strings.Cut(head, ":"); ok && pw != "" {
			out = append(out, pw)
		}
	}
	// keyword/value: password=...
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok && v != "" {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	return out
}
