package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A small scanner over JSON that encoding/json has already validated
// (json.Valid): it splits objects into members without decoding values,
// which is most of the decode's speed. It still checks structure as it
// goes, so that it never misreads (or panics on) input it is given
// unvalidated.

const maxDepth = 64

var errSyntax = errors.New("invalid JSON")

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errSyntax
}

// valueEnd returns the index past the value starting at b[i].
func valueEnd(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	if depth > maxDepth {
		return 0, errors.New("JSON nests too deep")
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, errSyntax
				}
				if i, err = stringEnd(b, i); err != nil {
					return 0, err
				}
				i = skipWS(b, i)
				if i >= len(b) || b[i] != ':' {
					return 0, errSyntax
				}
				i = skipWS(b, i+1)
			}
			if i, err = valueEnd(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, errSyntax
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, errSyntax
			}
			i = skipWS(b, i+1)
		}
	default:
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] >= '0' && b[j] <= '9' ||
			b[j] == 'e' || b[j] == 'E' || b[j] >= 'a' && b[j] <= 'z') {
			j++
		}
		if j == i {
			return 0, errSyntax
		}
		return j, nil
	}
}

// members returns an object's members in document order; it rejects
// duplicate names.
func members(raw []byte) ([]jsonMember, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %.20s", raw)
	}
	out := make([]jsonMember, 0, 16)
	var seen map[string]bool
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		if skipWS(raw, i+1) != len(raw) {
			return nil, errors.New("data after the JSON object")
		}
		return out, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, errSyntax
		}
		end, err := stringEnd(raw, i)
		if err != nil {
			return nil, err
		}
		name, err := jsonString(raw[i:end])
		if err != nil {
			return nil, err
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, errSyntax
		}
		i = skipWS(raw, i+1)
		vend, err := valueEnd(raw, i, 0)
		if err != nil {
			return nil, err
		}
		// Duplicates: a scan for small objects, a set past 16 members, so
		// that time stays linear in the input.
		if seen != nil {
			if seen[name] {
				return nil, fmt.Errorf("duplicate member %q", name)
			}
			seen[name] = true
		} else {
			for _, m := range out {
				if m.name == name {
					return nil, fmt.Errorf("duplicate member %q", name)
				}
			}
			if len(out) == 16 {
				seen = make(map[string]bool, 64)
				for _, m := range out {
					seen[m.name] = true
				}
				seen[name] = true
			}
		}
		out = append(out, jsonMember{name, raw[i:vend]})
		i = skipWS(raw, vend)
		if i >= len(raw) {
			return nil, errSyntax
		}
		if raw[i] == '}' {
			if skipWS(raw, i+1) != len(raw) {
				return nil, errors.New("data after the JSON object")
			}
			return out, nil
		}
		if raw[i] != ',' {
			return nil, errSyntax
		}
		i = skipWS(raw, i+1)
	}
}

// jsonString decodes a JSON string; plain ones (no escapes, control
// characters or invalid UTF-8) without encoding/json.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		plain := true
		for _, c := range raw[1 : len(raw)-1] {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(raw) {
			return string(raw[1 : len(raw)-1]), nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a string, got %.30s", raw)
	}
	return s, nil
}

// elements returns an array's elements.
func elements(raw []byte) ([][]byte, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, fmt.Errorf("want an array, got %.30s", raw)
	}
	end, err := valueEnd(raw, i, 0)
	if err != nil {
		return nil, err
	}
	if skipWS(raw, end) != len(raw) {
		return nil, errors.New("data after the JSON array")
	}
	var out [][]byte
	i = skipWS(raw, i+1)
	for i < len(raw) && raw[i] != ']' {
		vend, err := valueEnd(raw, i, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, raw[i:vend])
		i = skipWS(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
	}
	return out, nil
}
