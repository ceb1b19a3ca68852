package namecheck

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// inUse is every pattern the code builds with New, beside the regular
// expression it replaced (the same text as before, character for
// character).
var inUse = []struct {
	p   Pattern
	old string
}{
	{New("A-Za-z", "A-Za-z0-9_-", 0, 62), `^[A-Za-z][A-Za-z0-9_-]{0,62}$`},               // config, dataprepper, ksqldb, connect
	{New("A-Za-z0-9_$*?[]-", "A-Za-z0-9_$*?[]-", 0, 63), `^[A-Za-z0-9_$*?\[\]-]{1,64}$`}, // source/mysql
	{New("a-z0-9_", "a-z0-9_", 0, 62), `^[a-z0-9_]{1,63}$`},                              // source/postgres slot
	{New("A-Za-z_", "A-Za-z0-9_$", 0, 62), `^[A-Za-z_][A-Za-z0-9_$]{0,62}$`},             // source/postgres
	{New("A-Za-z_", "A-Za-z0-9_$", 0, 63), `^[A-Za-z_][A-Za-z0-9_$]{0,63}$`},             // source/sqlpoll
	{New("A-Za-z0-9", "A-Za-z0-9_.-", 0, 62), `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`},       // dataprepper prefix
	{New("A-Za-z0-9", "A-Za-z0-9_.:-", 0, 127), `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`},   // topology node id
	{New("A-Za-z0-9", "A-Za-z0-9_.-", 0, 127), `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`},     // topology namespace
	{New("a-z_", "a-z0-9_", 0, 50), `^[a-z_][a-z0-9_]{0,50}$`},                           // topology, pgleases lease table
}

// corpus is the strings every pattern is checked on: every length from 0
// to 130 of a valid name, each with every printable ASCII character, a
// control character, a newline, a non-ASCII letter and an invalid UTF-8
// byte put first, in the middle and last; then random strings.
func corpus() []string {
	var out []string
	odd := []string{"\x00", "\n", "\t", "é", "\xff", "ß", "١"}
	for c := byte(0x20); c < 0x7f; c++ {
		odd = append(odd, string(c))
	}
	for n := 0; n <= 130; n++ {
		base := strings.Repeat("a", n)
		out = append(out, base, strings.Repeat("A", n), strings.Repeat("_", n), strings.Repeat("9", n))
		for _, o := range odd {
			out = append(out, o+base, base+o)
			if n > 1 {
				out = append(out, base[:n/2]+o+base[n/2:])
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "aZ09_-.$:*?[]\\/ \"\x00\né"
	for range 5000 {
		var b strings.Builder
		for range r.IntN(70) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		out = append(out, b.String())
	}
	return out
}

func TestMatchesTheRegexpItReplaced(t *testing.T) {
	in := corpus()
	for _, u := range inUse {
		old := regexp.MustCompile(u.old)
		same := regexp.MustCompile(u.p.String())
		for _, s := range in {
			want := old.MatchString(s)
			if got := u.p.Match(s); got != want {
				t.Fatalf("%s.Match(%q) = %v, regexp %s says %v", u.p, s, got, u.old, want)
			}
			if got := same.MatchString(s); got != want {
				t.Fatalf("String() %s matches %q: %v, regexp %s says %v", u.p, s, got, u.old, want)
			}
		}
	}
}

func TestExact(t *testing.T) {
	p := New("A-Za-z", "A-Za-z0-9_-", 0, 62)
	for s, want := range map[string]bool{
		"":                            false,
		"a":                           true,
		"a-b_9":                       true,
		"9a":                          false,
		"_a":                          false,
		"a b":                         false,
		"a\n":                         false,
		"aé":                          false,
		strings.Repeat("a", 63):       true,
		strings.Repeat("a", 64):       false,
		"a" + strings.Repeat("-", 62): true,
	} {
		if got := p.Match(s); got != want {
			t.Errorf("Match(%q) = %v, want %v", s, got, want)
		}
	}
	if got, want := New("A-Z0-9_$*?[]-", "a", 1, 2).String(), `^[A-Z0-9_$*?\[\]-][a]{1,2}$`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestNewPanicsOnBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		first, rest string
		min, max    int
		want        string
	}{
		{`a\]`, "a", 0, 1, `namecheck: character "\\" in set "a\\]": only printable ASCII, no escapes`},
		{"z-a", "a", 0, 1, `namecheck: bad range "z-a" in set "z-a"`},
		{"é", "a", 0, 1, `namecheck: character "\xc3" in set "é": only printable ASCII, no escapes`},
		{"a", "a", 2, 1, "namecheck: bad repetition {2,1}"},
		{"a", "a", -1, 1, "namecheck: bad repetition {-1,1}"},
	} {
		func() {
			defer func() {
				if r := recover(); r != tc.want {
					t.Errorf("New(%q, %q, %d, %d) panicked with %v, want %q", tc.first, tc.rest, tc.min, tc.max, r, tc.want)
				}
			}()
			New(tc.first, tc.rest, tc.min, tc.max)
		}()
	}
}

// TestNoAllocation: building and using a Pattern allocates nothing, which
// is the point of the package.
func TestNoAllocation(t *testing.T) {
	var p Pattern
	if n := testing.AllocsPerRun(100, func() {
		p = New("A-Za-z0-9", "A-Za-z0-9_.:-", 0, 127)
		_ = p.Match("node-1.example:9092")
	}); n != 0 {
		t.Errorf("New + Match: %v allocations, want 0", n)
	}
}
