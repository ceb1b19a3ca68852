package connect

import (
	"regexp"
	"strings"
)

// Passwords inside values that are not secret keys themselves: the user
// info of a URL (mongodb://user:PASSWORD@host, postgres://u:PASSWORD@h)
// and a password parameter of a JDBC URL (?user=u&password=PASSWORD,
// ;password=PASSWORD). connection.url and mongodb.connection.string carry
// them as often as the dedicated keys do.
var (
	urlUserPassword = regexp.MustCompile(`(://[^/?#@:\s]*:)([^@/?#\s]*)(@)`)
	urlParamSecret  = regexp.MustCompile(`(?i)([?&;](?:password|pwd|sslpassword)=)([^&;\s]*)`)
)

// MaskValue is v with the passwords embedded in it (see above) replaced
// by Mask.
func MaskValue(v string) string {
	if !strings.Contains(v, "://") && !strings.Contains(v, "=") {
		return v
	}
	v = urlUserPassword.ReplaceAllString(v, "${1}"+Mask+"${3}")
	return urlParamSecret.ReplaceAllString(v, "${1}"+Mask)
}

// embeddedSecrets lists the passwords embedded in v.
func embeddedSecrets(v string) []string {
	var out []string
	for _, re := range []*regexp.Regexp{urlUserPassword, urlParamSecret} {
		for _, m := range re.FindAllStringSubmatch(v, -1) {
			if s := m[2]; s != "" && s != Mask {
				out = append(out, s)
			}
		}
	}
	return out
}

// unmaskValue is a value sent back with its embedded passwords masked,
// given the stored value it was shown as: when masking the stored value
// gives exactly what came back, the stored value stands.
func unmaskValue(v, stored string) string {
	if strings.Contains(v, Mask) && MaskValue(stored) == v {
		return stored
	}
	return v
}
