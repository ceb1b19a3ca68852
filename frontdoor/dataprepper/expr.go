package dataprepper

import (
	"fmt"
	"regexp"
	"strings"
)

// metadata maps the event metadata that Data Prepper's mongodb and
// documentdb sources set (MetadataKeyAttributes in its mongodb plugin) to
// sluice's template names. opensearch_action is not here: sluice derives
// the bulk action from each change, which is what that metadata holds
// (index for inserts, updates, replaces and exported documents, delete for
// deletes), so it is only accepted as the whole action value.
var metadata = map[string]string{
	"primary_key":           "${key}", // String.valueOf(_id)
	"partition_key":         "${key}", // the same value
	"document_version":      "${version}",
	"mongodb_collection":    "${database}.${table}", // the configured db.collection
	"documentdb_collection": "${database}.${table}",
}

// untranslated metadata: named so that the error says why.
var untranslatedMetadata = map[string]string{
	"ingestion_type":        "sluice events carry the operation, not EXPORT/STREAM; a snapshot row and a change are written alike",
	"mongodb_event_name":    "sluice has no template name for the change stream's operation type",
	"documentdb_event_name": "sluice has no template name for the change stream's operation type",
	"mongodb_timestamp":     "use ${getMetadata(\"document_version\")} for ordering",
	"documentdb_timestamp":  "use ${getMetadata(\"document_version\")} for ordering",
}

var (
	getMetadataRE = regexp.MustCompile(`^\s*getMetadata\(\s*"([^"]*)"\s*\)\s*$`)
	envRE         = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*(:-.*)?$`)
)

// actionExpr is the one action value sluice takes besides leaving it out.
const actionExpr = `${getMetadata("opensearch_action")}`

// template translates a Data Prepper value with ${...} expressions into a
// sluice template: getMetadata("…") of the metadata above, ${/json/pointer}
// event fields (sluice's ${/column}) and ${ENV_VAR} (sluice's environment
// interpolation) are translated or kept; anything else is an error that
// names the expression. A literal $ becomes $$$$: the pipeline's ${VAR}
// interpolation makes it $$, which the sink's template reads as $.
func template(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			b.WriteString("$$$$")
			continue
		}
		if strings.HasPrefix(s[i:], "${{") {
			return "", fmt.Errorf("%s is a Data Prepper secret reference; sluice reads secrets from the environment", cut(s[i:]))
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q has an unclosed ${", s[i:])
		}
		inner := s[i+2 : i+end]
		i += end
		switch {
		case strings.HasPrefix(inner, "/"):
			b.WriteString("${" + inner + "}")
		case envRE.MatchString(inner):
			b.WriteString("${" + inner + "}")
		default:
			m := getMetadataRE.FindStringSubmatch(inner)
			if m == nil {
				return "", fmt.Errorf("expression ${%s} is not translated; sluice takes ${getMetadata(\"primary_key\")}, ${getMetadata(\"document_version\")}, ${getMetadata(\"mongodb_collection\")} and ${/field}", inner)
			}
			if t, ok := metadata[m[1]]; ok {
				b.WriteString(t)
				continue
			}
			if m[1] == "opensearch_action" {
				return "", fmt.Errorf("getMetadata(\"opensearch_action\") is the bulk action; it is only taken as the whole value of action")
			}
			if why, ok := untranslatedMetadata[m[1]]; ok {
				return "", fmt.Errorf("metadata %q is not translated: %s", m[1], why)
			}
			return "", fmt.Errorf("metadata %q is not set by the mongodb and documentdb sources", m[1])
		}
	}
	return b.String(), nil
}

// cut shortens a secret reference for a message (its name is not a secret,
// but keep messages short).
func cut(s string) string {
	if end := strings.Index(s, "}}"); end >= 0 {
		return s[:end+2]
	}
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// plain translates a value that takes no expressions (hosts, user names,
// passwords): a Data Prepper secret reference or expression there is an
// error; ${ENV_VAR} stays for sluice's interpolation, and any other $ is
// written $$ so that interpolation gives it back unchanged.
func plain(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if strings.HasPrefix(s[i:], "${{") {
			return "", fmt.Errorf("%s is a Data Prepper secret reference; sluice reads secrets from the environment", cut(s[i:]))
		}
		if strings.HasPrefix(s[i:], "${") {
			if end := strings.IndexByte(s[i:], '}'); end >= 0 {
				inner := s[i+2 : i+end]
				if !envRE.MatchString(inner) {
					return "", fmt.Errorf("expression ${%s} is not taken here", inner)
				}
				b.WriteString(s[i : i+end+1])
				i += end
				continue
			}
		}
		b.WriteString("$$")
	}
	return b.String(), nil
}
