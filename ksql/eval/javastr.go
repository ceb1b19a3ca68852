package eval

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Java strings are sequences of UTF-16 code units, and ksqlDB's string
// functions count and index in them (LEN('😀') is 2). sluice's strings
// are UTF-8; these helpers give the same counts and positions, quickly
// for the common all-ASCII strings.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// utf16Len is Java's String.length().
func utf16Len(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// utf16Units converts s to UTF-16 code units.
func utf16Units(s string) []uint16 { return utf16.Encode([]rune(s)) }

// fromUTF16 converts code units back; a surrogate cut in half becomes
// U+FFFD (Go strings hold no lone surrogates).
func fromUTF16(u []uint16) string { return string(utf16.Decode(u)) }

// utf16Slice is Java's s.substring(i, j) for 0 ≤ i ≤ j ≤ utf16Len(s).
func utf16Slice(s string, i, j int) string {
	if isASCII(s) {
		return s[i:j]
	}
	return fromUTF16(utf16Units(s)[i:j])
}

// utf16Index is Java's s.indexOf(sub, from), in code units; -1 if absent.
func utf16Index(s, sub string, from int) int {
	if isASCII(s) && isASCII(sub) {
		if from > len(s) {
			return -1
		}
		if i := strings.Index(s[from:], sub); i >= 0 {
			return i + from
		}
		return -1
	}
	u, su := utf16Units(s), utf16Units(sub)
	for i := max(from, 0); i+len(su) <= len(u); i++ {
		match := true
		for j := range su {
			if u[i+j] != su[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// isJavaSpace is Java's \s in a regular expression: [ \t\n\x0B\f\r].
func isJavaSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\x0B' || r == '\f' || r == '\r'
}
