package javatime

import (
	"testing"
)

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct{ pattern, err string }{
		{"yyyy-MM-dd'T", `pattern "yyyy-MM-dd'T" ends with an incomplete string literal`},
		{"yyyy]", `pattern "yyyy]" contains ] without a previous [`},
		{"yyyy{", `pattern "yyyy{" includes the reserved character '{'`},
		{"ddd", "too many pattern letters: d"},
		{"aa", "too many pattern letters: a"},
		{"MMMMMM", "too many pattern letters: M"},
		{"V", "pattern letter count must be 2: V"},
		{"OO", "pattern letter count must be 1 or 4: O"},
		{"XXXXXX", "too many pattern letters: X"},
		{"SSSSSSSSSS", "pattern SSSSSSSSSS: the fraction width must be from 1 to 9"},
		{"YYYY-ww", "pattern letter Y (week-based year) is not supported by sluice"},
		{"zzzz", "pattern letters zzzz (full zone name) are not supported by sluice; use z, VV or an offset (XXX)"},
		{"b", "unknown pattern letter: b"},
	} {
		_, err := Compile(c.pattern)
		if err == nil || err.Error() != c.err {
			t.Errorf("Compile(%q) = %v, want %q", c.pattern, err, c.err)
		}
	}
}

// TestSeed004 is the timestamp_format of seed 004's orders and shipments:
// zone-less, so UTC.
func TestSeed004(t *testing.T) {
	p, err := Compile("yyyy-MM-dd'T'HH:mm:ss")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.ParseTimestamp("2020-04-03T11:20:00", UTC)
	if err != nil || got != 1585912800000000 {
		t.Fatalf("ParseTimestamp = %d, %v; want 1585912800000000", got, err)
	}
	s, err := p.FormatInstant(got, UTC)
	if err != nil || s != "2020-04-03T11:20:00" {
		t.Fatalf("FormatInstant = %q, %v", s, err)
	}
}

func TestParseErrors(t *testing.T) {
	p, _ := Compile("yyyy-MM-dd HH:mm:ss z")
	_, err := p.ParseTimestamp("2020-04-03 11:20:00 PDT", UTC)
	want := `text "2020-04-03 11:20:00 PDT" could not be parsed with pattern "yyyy-MM-dd HH:mm:ss z": zone names such as "PDT" are not read (Java maps them inconsistently: ksqlDB reads PDT as UTC-8); use an offset (X) or a zone id (VV)`
	if err == nil || err.Error() != want {
		t.Errorf("zone name: %v", err)
	}
	p, _ = Compile("yyyy-MM-dd")
	for text, want := range map[string]string{
		"2020-13-01":  `text "2020-13-01" could not be parsed with pattern "yyyy-MM-dd": invalid value for MonthOfYear (valid values 1 - 12): 13`,
		"2020-01-01x": `text "2020-01-01x" could not be parsed with pattern "yyyy-MM-dd": unparsed text found at index 10`,
		"2020/01/01":  `text "2020/01/01" could not be parsed with pattern "yyyy-MM-dd" at index 4`,
	} {
		_, err := p.ParseTimestamp(text, UTC)
		if err == nil || err.Error() != want {
			t.Errorf("ParseTimestamp(%q) = %v, want %s", text, err, want)
		}
	}
	f, _ := Compile("yyyy-MM-dd HH:mm")
	if _, err := f.FormatDate(0); err == nil || err.Error() != "the value has no field HourOfDay" {
		t.Errorf("FormatDate with HH: %v", err)
	}
}

func TestLoadZone(t *testing.T) {
	for id, want := range map[string]string{
		"Z": "Z", "+01:00": "+01:00", "-0800": "-08:00", "+5": "+05:00", "UTC": "UTC", "GMT+1": "GMT+01:00",
		"UTC+01:00": "UTC+01:00", "UT-03:30": "UT-03:30", "GMT+0": "GMT", "America/Los_Angeles": "America/Los_Angeles",
	} {
		z, err := LoadZone(id)
		if err != nil || z.ID() != want {
			t.Errorf("LoadZone(%q) = %v, %v; want %s", id, z, err, want)
		}
	}
	for _, id := range []string{"", "Local", "PST", "Mars/Base", "+19:00", "utc", "UTC+x"} {
		if _, err := LoadZone(id); err == nil {
			t.Errorf("LoadZone(%q) succeeded", id)
		}
	}
}
