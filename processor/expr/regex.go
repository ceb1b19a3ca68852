package expr

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	exprlang "github.com/expr-lang/expr"
)

// regex_replace(s, pattern, replacement) replaces every match of pattern
// (RE2 syntax) in s by replacement, in which $1, ${1} and ${name} insert
// groups and $$ is a $ (Go's regexp.Expand). expr-lang's replace() takes
// a literal; this one is what Data Prepper's substitute_string needs
// (package frontdoor/dataprepper translates Java's replacement syntax).
// A NULL s gives NULL.

// regexCache holds compiled patterns, shared by every expression (a
// pipeline's patterns are few; past regexCacheMax it starts afresh).
var regexCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexCacheMax = 1024

func compiledRegex(pattern string) (*regexp.Regexp, error) {
	regexCache.Lock()
	defer regexCache.Unlock()
	if re, ok := regexCache.m[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if regexCache.m == nil || len(regexCache.m) >= regexCacheMax {
		regexCache.m = map[string]*regexp.Regexp{}
	}
	// The key is a copy: a pattern read from a column aliases the batch's
	// memory, which a source may recycle once the batch is written
	// (component.KeepsNoEvents), and a map's keys must not change.
	regexCache.m[strings.Clone(pattern)] = re
	return re, nil
}

func regexOptions() []exprlang.Option {
	return []exprlang.Option{exprlang.Function("regex_replace", func(p ...any) (any, error) {
		if p[0] == nil {
			return nil, nil
		}
		s, ok := p[0].(string)
		pat, ok2 := p[1].(string)
		repl, ok3 := p[2].(string)
		if !ok || !ok2 || !ok3 {
			return nil, fmt.Errorf("regex_replace takes strings (got %s, %s, %s)", goTypeName(p[0]), goTypeName(p[1]), goTypeName(p[2]))
		}
		re, err := compiledRegex(pat)
		if err != nil {
			return nil, fmt.Errorf("regex_replace: %v", err)
		}
		return re.ReplaceAllString(s, repl), nil
	}, new(func(any, string, string) string))}
}
