// Package suggest finds the names near a misspelt one, for the "did you
// mean" hints of the streaming SQL's parser and planner.
package suggest

import (
	"sort"
	"strings"
)

// Near returns the candidates within a small edit distance of name
// (case-insensitive), closest first, at most max of them. The bound grows
// with the name's length: one edit for names up to 4 runes, two up to 8,
// three beyond, so that short names are not matched to unrelated ones.
func Near(name string, candidates []string, max int) []string {
	if name == "" || max <= 0 {
		return nil
	}
	n := strings.ToUpper(name)
	limit := 1
	switch l := len([]rune(n)); {
	case l > 8:
		limit = 3
	case l > 4:
		limit = 2
	}
	type hit struct {
		name string
		d    int
	}
	var hits []hit
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		u := strings.ToUpper(c)
		d := distance(n, u, limit)
		if d <= limit || strings.HasPrefix(u, n) && len(n) >= 3 {
			hits = append(hits, hit{c, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		return hits[i].name < hits[j].name
	})
	if len(hits) > max {
		hits = hits[:max]
	}
	if len(hits) == 0 {
		return nil
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.name
	}
	return out
}

// Hint formats Near's result as " (did you mean A?)" or
// " (did you mean A, B or C?)", or "" when there is none.
func Hint(name string, candidates []string) string {
	near := Near(name, candidates, 3)
	if len(near) == 0 {
		return ""
	}
	return " (did you mean " + Or(near) + "?)"
}

// Or joins names as "A", "A or B", "A, B or C".
func Or(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Nearest returns the n candidates most like name (case-insensitive),
// however far: those sharing the longest run of characters with it first
// (DATE_FORMAT is nearest FORMAT_DATE), then by edit distance, then by
// name. It is the fallback when Near finds nothing, so the reader still
// sees where to look.
func Nearest(name string, candidates []string, n int) []string {
	if name == "" || n <= 0 {
		return nil
	}
	u := strings.ToUpper(name)
	type hit struct {
		name      string
		run, dist int
	}
	var hits []hit
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		cu := strings.ToUpper(c)
		hits = append(hits, hit{c, commonRun(u, cu), distance(u, cu, 1<<20)})
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.run != b.run {
			return a.run > b.run
		}
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		return a.name < b.name
	})
	var out []string
	for i := 0; i < len(hits) && i < n; i++ {
		out = append(out, hits[i].name)
	}
	return out
}

// And joins names as "A, B and C".
func And(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// commonRun is the length of the longest run of runes a and b share.
func commonRun(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	best := 0
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cur[j] = 0
			if ra[i-1] == rb[j-1] {
				cur[j] = prev[j-1] + 1
				best = max(best, cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return best
}

// distance is the Damerau (optimal string alignment) edit distance of a
// and b, giving up with limit+1 once it must exceed limit; the cost is
// bounded by the lengths, which callers cap (identifiers).
func distance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return limit + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
