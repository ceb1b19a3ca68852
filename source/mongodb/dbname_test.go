package mongodb

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestValidDBNameIsTheOldRegexp checks validDBName against the regular
// expression it replaced, on names of every length around the limit with
// each forbidden, allowed, multi-byte and invalid UTF-8 character first,
// in the middle and last, and on random strings.
func TestValidDBNameIsTheOldRegexp(t *testing.T) {
	old := regexp.MustCompile(`^[^/\\. "$*?\[\]\x00]{1,63}$`)
	odd := []string{"\x00", "\n", "é", "\xff", "\xef\xbf\xbd", "日"}
	for c := byte(0x20); c < 0x7f; c++ {
		odd = append(odd, string(c))
	}
	var in []string
	for n := 0; n <= 66; n++ {
		for _, base := range []string{strings.Repeat("d", n), strings.Repeat("é", n), strings.Repeat("\xff", n)} {
			in = append(in, base)
			for _, o := range odd {
				in = append(in, o+base, base+o, base[:len(base)/2]+o+base[len(base)/2:])
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", "0", "_", "-", ".", "$", " ", "/", "\\", "\"", "*", "?", "[", "]", "\x00", "é", "\xff", "日"}
	for range 5000 {
		var b strings.Builder
		for range r.IntN(70) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		in = append(in, b.String())
	}
	for _, s := range in {
		if got, want := validDBName(s), old.MatchString(s); got != want {
			t.Fatalf("validDBName(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
