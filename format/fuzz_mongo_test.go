package format

import (
	"encoding/json"
	"testing"
)

// FuzzExtJSON feeds the relaxed Extended JSON parser arbitrary text; what it
// accepts must render without panicking, and the relaxed, row and natural
// renderings must be valid JSON (the STRICT one may hold bare NaN, as the
// Java driver's does).
func FuzzExtJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"$numberLong":"5"},"c":[1,2.5,"x"],"d":{"$date":"2020-01-01T00:00:00.123Z"}}`,
		`{"$oid":"65a1b2c3d4e5f60718293a4c"}`, `[{"k":"v"},{"k":"w","n":1}]`, `[[1],[2,3]]`,
		`{"$binary":{"base64":"AQID","subType":"80"}}`, `{"$timestamp":{"t":1,"i":2}}`,
		`{"$regularExpression":{"pattern":"a","options":"i"}}`, `{"$code":"f","$scope":{"x":1}}`,
		`{"$dbPointer":{"$ref":"a.b","$id":{"$oid":"65a1b2c3d4e5f60718293a4f"}}}`, `{"$numberDouble":"NaN"}`,
		`{"$date":{"$numberLong":"-1"}}`, `{"$minKey":1}`, `"\ud83c\udf0d \u0000"`, `[1,"a"]`, `{"$numberDecimal":"1E+5"}`,
		`{"$oid":1}`, `{"a":`, `[`, `1e400`, `-0.0`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseExtJSON(s)
		if err != nil {
			return
		}
		_ = appendStrict(nil, &v, false)
		if r := appendStrict(nil, &v, true); !json.Valid(r) {
			t.Fatalf("relaxed rendering of %q is not JSON: %s", s, r)
		}
		if r, ok, err := appendRowValue(nil, &v, "f", 0); err == nil && ok && !json.Valid(r) {
			t.Fatalf("row rendering of %q is not JSON: %s", s, r)
		}
		if r, err := appendNaturalValue(nil, &v, 0); err == nil && !json.Valid(r) {
			t.Fatalf("natural rendering of %q is not JSON: %s", s, r)
		}
	})
}
