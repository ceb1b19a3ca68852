package javatime

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/ksql/eval/internal/jvmtest"
)

// diffPatterns are the patterns the differential test runs: what ksqlDB
// users write, and every supported letter at every count.
var diffPatterns = []string{
	"yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss.SSSX",
	"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "yyyy-MM-dd'T'HH:mm:ssZ", "yyyyMMddHHmmss", "yyyyMMdd", "yyyyMMddHHmmssSSS",
	"dd/MM/yyyy", "MM/dd/yy hh:mm a", "EEE, d MMM yyyy HH:mm:ss Z", "EEEE, MMMM d, yyyy", "yyyy-DDD", "HH:mm",
	"h:mm a", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyy-MM-dd'T'HH:mm:ss.n", "u-M-d H:m:s", "G yyyy-MM-dd", "QQQ yyyy",
	"yyyy-MM-dd[ HH:mm[:ss]]", "yyyy-MM-dd'T'HH:mm:ss VV", "yyyy-MM-dd HH:mm:ss z", "yyyy-MM-dd HH:mm:ss O",
	"yyyy-MM-dd HH:mm:ss OOOO", "yyyy-MM-dd HH:mm x|xx|xxx|xxxx|xxxxx", "yyyy-MM-dd HH:mm X|XX|XXX|XXXX|XXXXX",
	"yyyy-MM-dd HH:mm Z|ZZ|ZZZ|ZZZZ|ZZZZZ", "''yyyy''", "'Date: 'yyyy-MM-dd", "kk:mm KK:mm", "A", "N",
	"yyyy-MM-dd SSSSSSSSS", "yyyyy-MM-dd", "y-MM-dd", "yyy-MM-dd", "yy-MM-dd", "MMMMM LLL LLLL QQQQ QQQQQ qqq qqqq",
	"EEEEE GGGG GGGGG", "yyyy D DD DDD", "yyyy-MM-dd'T'HH:mm:ss.SSSZZZZZ", "dd MMM uuuu hh:mm:ss a",
	"yyyy-MM-dd'T'HH:mm", "yyyy-MM", "yyyy", "HH:mm:ss", "yyyy-MM-dd", "MM-dd", "mm:ss", "hh a",
	"yyyy-MM-dd HH:mm:ss.S", "yyyy-MM-dd HH:mm:ss.SS", "[yyyy-MM-dd]['T'HH:mm]", "yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]",
}

var diffZones = []string{"Z", "UTC", "GMT", "+05:30", "-08:00", "America/Los_Angeles", "Europe/London",
	"Asia/Kolkata", "Australia/Lord_Howe", "Asia/Singapore", "UTC+01:00", "GMT-3"}

func diffInstants() []int64 {
	ins := []int64{
		0, -1, 1, 1585912800000000, // 2020-04-03T11:20:00Z (seed 004)
		1586253612345678,     // micros
		-62135596800000000,   // 0001-01-01
		-62135596800000001,   // just before year 1 (year 0 = 1 BC)
		253402300799999999,   // 9999-12-31T23:59:59.999999
		253402300800000000,   // 10000-01-01
		1583661600000000,     // 2020-03-08T10:00Z: US DST starts that day
		1604206800000000,     // 2020-11-01T05:00Z: US DST ends
		1604210400000000,     // 2020-11-01T06:00Z
		1585443600000000,     // 2020-03-29T01:00Z: EU DST starts
		951782400000000,      // 2000-02-29
		-2208988800000000,    // 1900-01-01
		1609459199999000,     // 2020-12-31T23:59:59.999
		1609502400000000,     // 2021-01-01T12:00Z (noon)
		1609545600000000 - 1, // 2021-01-01T23:59:59.999999
	}
	r := rand.New(rand.NewPCG(4, 11))
	for i := 0; i < 60; i++ {
		ins = append(ins, r.Int64N(4102444800000000)-2208988800000000) // 1900-2100
	}
	return ins
}

// zoneLetterMismatch is the documented difference: z where the tz
// database has no alphabetic abbreviation (Asia/Singapore, or India's
// daylight time of the 1940s), which sluice refuses to print.
func zoneLetterMismatch(pattern string, err error) bool {
	return strings.ContainsRune(strings.ReplaceAll(pattern, "'Date: '", ""), 'z') && strings.Contains(err.Error(), "no short name")
}

func TestFormatMatchesJava(t *testing.T) {
	type tc struct {
		pattern, zone string
		micros        int64
	}
	var cases []tc
	var qs []string
	for _, p := range diffPatterns {
		for _, z := range diffZones {
			for _, m := range diffInstants() {
				cases = append(cases, tc{p, z, m})
				qs = append(qs, fmt.Sprintf("F\t%s\t%d\t%s", p, m, z))
			}
		}
	}
	answers := jvmtest.Ask(t, qs)
	// Parse back what Java formatted, in Java and in Go.
	var pcases []tc
	var ptexts []string
	var pqs []string
	fails, refused := 0, 0
	for i, c := range cases {
		p, err := Compile(c.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.pattern, err)
		}
		z, err := LoadZone(c.zone)
		if err != nil {
			t.Fatalf("LoadZone(%q): %v", c.zone, err)
		}
		got, err := p.FormatInstant(c.micros, z)
		want := answers[i]
		switch {
		case !want.OK && err == nil:
			t.Errorf("format %q %d in %s: Java fails, sluice gives %q", c.pattern, c.micros, c.zone, got)
			fails++
		case want.OK && err != nil && zoneLetterMismatch(c.pattern, err):
			refused++
		case want.OK && err != nil:
			t.Errorf("format %q %d in %s: Java gives %q, sluice fails: %v", c.pattern, c.micros, c.zone, want.Result, err)
			fails++
		case want.OK && err == nil && got != want.Result:
			t.Errorf("format %q %d in %s: Java gives %q, sluice %q", c.pattern, c.micros, c.zone, want.Result, got)
			fails++
		}
		if want.OK {
			pcases = append(pcases, c)
			ptexts = append(ptexts, want.Result)
			pqs = append(pqs, fmt.Sprintf("P\t%s\t%s\t%s", c.pattern, want.Result, c.zone))
		}
		if fails > 20 {
			t.Fatal("too many differences")
		}
	}
	panswers := jvmtest.Ask(t, pqs)
	for i, c := range pcases {
		compareParse(t, c.pattern, ptexts[i], c.zone, panswers[i])
		if t.Failed() && i > 0 && fails > 20 {
			t.Fatal("too many differences")
		}
	}
	if refused > 200 {
		t.Errorf("sluice refused %d zone names (pattern letter z); expected only Asia/Singapore and India's 1940s", refused)
	}
	t.Logf("%d formats (%d zone names refused) and %d parses compared with Java", len(cases), refused, len(pcases))
}

func compareParse(t *testing.T, pattern, text, zone string, want jvmtest.Answer) {
	t.Helper()
	if refusedZoneName(pattern, text) {
		p, _ := Compile(pattern)
		_, err := p.ParseTimestamp(text, UTC)
		if err == nil || !strings.Contains(err.Error(), "zone names such as") {
			t.Errorf("parse %q with %q: want the zone name refused, got %v", text, pattern, err)
		}
		return
	}
	p, err := Compile(pattern)
	if err != nil {
		t.Fatalf("Compile(%q): %v", pattern, err)
	}
	z, err := LoadZone(zone)
	if err != nil {
		t.Fatalf("LoadZone(%q): %v", zone, err)
	}
	got, err := p.ParseTimestamp(text, z)
	switch {
	case !want.OK && err == nil:
		t.Errorf("parse %q with %q in %s: Java fails, sluice gives %d", text, pattern, zone, got)
	case want.OK && err != nil:
		t.Errorf("parse %q with %q in %s: Java gives %s, sluice fails: %v", text, pattern, zone, want.Result, err)
	case want.OK && strconv.FormatInt(got, 10) != want.Result:
		t.Errorf("parse %q with %q in %s: Java gives %s, sluice %d", text, pattern, zone, want.Result, got)
	}
}

// refusedZoneName: sluice refuses zone names (PDT, BST, IST) in parsing,
// where Java's answers depend on its locale data (PDT is UTC-8 in
// ksqlDB's parser).
func refusedZoneName(pattern, text string) bool {
	if !strings.Contains(pattern, "HH:mm:ss z") && !strings.Contains(pattern, "HH:mm z") {
		return false
	}
	name := text[strings.LastIndexByte(text, ' ')+1:]
	return len(name) >= 2 && len(name) <= 5 && name != "UTC" && name != "GMT" && strings.ToUpper(name) == name && !strings.ContainsAny(name, "+-/")
}

// TestParseMatchesJava runs texts that are not Java's own output: other
// cases, missing and extra fields, out-of-range values, adjacent digits.
func TestParseMatchesJava(t *testing.T) {
	type tc struct{ pattern, text, zone string }
	cases := []tc{
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03t11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03T11:20", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03T11:20:00Z", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-4-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-13-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2021-02-30T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2021-02-32T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03T24:00:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "+2020-04-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "-2020-04-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "+12020-04-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "12020-04-03T11:20:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss", "2020-04-03T11:20:00", "America/Los_Angeles"},
		{"yyyy-MM-dd HH:mm", "2020-03-08 02:30", "America/Los_Angeles"},
		{"yyyy-MM-dd HH:mm", "2020-11-01 01:30", "America/Los_Angeles"},
		{"yyyy-MM-dd HH:mm", "2020-03-29 02:30", "Europe/London"},
		{"yyyy-MM-dd HH:mm", "2020-10-25 01:30", "Europe/London"},
		{"yyyy-MM-dd HH:mm VV", "2020-11-01 01:30 America/Los_Angeles", "UTC"},
		{"yyyy-MM-dd HH:mm z", "2020-11-01 01:30 PST", "UTC"},
		{"yyyy-MM-dd HH:mm z", "2020-07-01 01:30 PDT", "UTC"},
		{"yyyy-MM-dd HH:mm z", "2020-07-01 01:30 UTC", "America/Los_Angeles"},
		{"yyyy-MM-dd HH:mm z", "2020-07-01 01:30 Europe/Paris", "UTC"},
		{"yyyy-MM-dd HH:mm XXX", "2020-07-01 01:30 +02:00", "UTC"},
		{"yyyy-MM-dd HH:mm XXX", "2020-07-01 01:30 Z", "UTC"},
		{"yyyy-MM-dd HH:mm XXX", "2020-07-01 01:30 z", "UTC"},
		{"yyyy-MM-dd HH:mm XXX", "2020-07-01 01:30 +0200", "UTC"},
		{"yyyy-MM-dd HH:mm X", "2020-07-01 01:30 +02", "UTC"},
		{"yyyy-MM-dd HH:mm X", "2020-07-01 01:30 +0230", "UTC"},
		{"yyyy-MM-dd HH:mm Z", "2020-07-01 01:30 -0800", "UTC"},
		{"yyyy-MM-dd HH:mm O", "2020-07-01 01:30 GMT+5:30", "UTC"},
		{"yyyy-MM-dd HH:mm O", "2020-07-01 01:30 GMT", "UTC"},
		{"yyyy-MM-dd HH:mm OOOO", "2020-07-01 01:30 GMT-08:00", "UTC"},
		{"yyyyMMddHHmmss", "20200403112000", "UTC"},
		{"yyyyMMddHHmmssSSS", "20200403112000123", "UTC"},
		{"yyyyMMdd", "202004031", "UTC"},
		{"yyyyMMdd", "2020043", "UTC"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2020-04-03 11:20:00.12", "UTC"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2020-04-03 11:20:00.1234", "UTC"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2020-04-03 11:20:00.12x", "UTC"},
		{"yyyy-MM-dd HH:mm:ss.SSSSSSSSS", "2020-04-03 11:20:00.123456789", "UTC"},
		{"dd MMM yyyy", "03 apr 2020", "UTC"},
		{"dd MMM yyyy", "03 APR 2020", "UTC"},
		{"dd MMMM yyyy", "03 April 2020", "UTC"},
		{"dd MMMM yyyy", "03 Apr 2020", "UTC"},
		{"EEE dd MMM yyyy", "Fri 03 Apr 2020", "UTC"},
		{"EEE dd MMM yyyy", "Sat 03 Apr 2020", "UTC"},
		{"EEEE dd MMM yyyy", "Friday 03 Apr 2020", "UTC"},
		{"MM/dd/yy hh:mm a", "04/03/20 11:20 pm", "UTC"},
		{"MM/dd/yy hh:mm a", "04/03/20 12:20 AM", "UTC"},
		{"MM/dd/yy hh:mm a", "04/03/20 13:20 AM", "UTC"},
		{"MM/dd/yy HH:mm a", "04/03/20 13:20 AM", "UTC"},
		{"MM/dd/yy HH:mm a", "04/03/20 13:20 PM", "UTC"},
		{"yy-MM-dd", "99-12-31", "UTC"},
		{"yy-MM-dd", "1999-12-31", "UTC"},
		{"y-MM-dd", "99-12-31", "UTC"},
		{"yyyy-DDD", "2020-366", "UTC"},
		{"yyyy-DDD", "2021-366", "UTC"},
		{"DDD", "366", "UTC"},
		{"DDD", "059", "UTC"},
		{"MM-dd", "02-29", "UTC"},
		{"MM-dd", "02-30", "UTC"},
		{"MM-dd", "04-31", "UTC"},
		{"dd", "31", "UTC"},
		{"MM", "02", "UTC"},
		{"yyyy", "2020", "UTC"},
		{"yyyy-MM", "2020-02", "UTC"},
		{"HH:mm", "11:20", "UTC"},
		{"mm:ss", "20:15", "UTC"},
		{"hh a", "11 PM", "UTC"},
		{"hh", "11", "UTC"},
		{"HH", "11", "America/Los_Angeles"},
		{"kk:mm", "24:00", "UTC"},
		{"KK:mm a", "11:00 PM", "UTC"},
		{"A", "40800123", "UTC"},
		{"N", "40800123456789", "UTC"},
		{"G yyyy-MM-dd", "BC 0044-03-15", "UTC"},
		{"G yyyy-MM-dd", "bc 0044-03-15", "UTC"},
		{"uuuu-MM-dd", "-0044-03-15", "UTC"},
		{"QQQ yyyy", "Q2 2020", "UTC"},
		{"QQQ yyyy-MM-dd", "Q3 2020-04-03", "UTC"},
		{"yyyy-MM-dd[ HH:mm[:ss]]", "2020-04-03", "UTC"},
		{"yyyy-MM-dd[ HH:mm[:ss]]", "2020-04-03 11:20", "UTC"},
		{"yyyy-MM-dd[ HH:mm[:ss]]", "2020-04-03 11:20:05", "UTC"},
		{"yyyy-MM-dd[ HH:mm[:ss]]", "2020-04-03 11", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]", "2020-04-03T11:20:00.123+02:00", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]", "2020-04-03T11:20:00-05:00", "UTC"},
		{"''yyyy''", "'2020'", "UTC"},
		{"'Date: 'yyyy-MM-dd", "date: 2020-04-03", "UTC"},
		{"yyyy-MM-dd", "2020-04-03 ", "UTC"},
		{"yyyy-MM-dd", "", "UTC"},
		{"yyyy-MM-dd", "2020-04-0３", "UTC"},
		{"HH:mm:ss", "11:20:60", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZZZZZ", "2020-04-03T11:20:00.000Z", "UTC"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZZZZZ", "2020-04-03T11:20:00.000+05:30:15", "UTC"},
	}
	qs := make([]string, len(cases))
	for i, c := range cases {
		qs[i] = fmt.Sprintf("P\t%s\t%s\t%s", c.pattern, c.text, c.zone)
	}
	answers := jvmtest.Ask(t, qs)
	for i, c := range cases {
		compareParse(t, c.pattern, c.text, c.zone, answers[i])
	}
}

// TestDateTimeMatchesJava compares FORMAT_DATE/FORMAT_TIME (LocalDate and
// LocalTime formats) and STRINGTODATE/PARSE_TIME (English, whole value).
func TestDateTimeMatchesJava(t *testing.T) {
	patterns := []string{"yyyy-MM-dd", "dd/MM/yyyy EEEE", "yyyy-MM-dd HH:mm", "HH:mm:ss.SSS", "hh:mm a", "HH:mm VV", "D", "MMMM yy"}
	days := []int64{0, -1, 18355, 2932896, -719162}
	times := []int64{0, 40800123456, 86399999999, 43200000000}
	var qs []string
	for _, p := range patterns {
		for _, d := range days {
			qs = append(qs, fmt.Sprintf("FD\t%s\t%d", p, d))
		}
		for _, m := range times {
			qs = append(qs, fmt.Sprintf("FT\t%s\t%d", p, m))
		}
	}
	parses := [][3]string{
		{"PD", "yyyy-MM-dd", "2020-04-03"}, {"PD", "dd MMMM yyyy", "03 april 2020"}, {"PD", "yyyy-MM", "2020-04"},
		{"PD", "yyyy-MM-dd HH:mm", "2020-04-03 10:00"}, {"PD", "yyyy-DDD", "2020-100"}, {"PD", "yyyy-MM-dd", "2021-02-29"},
		{"PT", "HH:mm", "11:20"}, {"PT", "HH:mm:ss.SSS", "11:20:01.5"}, {"PT", "HH:mm:ss.SSS", "11:20:01.500"},
		{"PT", "hh:mm a", "11:20 pm"}, {"PT", "yyyy HH:mm", "2020 11:20"}, {"PT", "mm:ss", "20:01"}, {"PT", "HH", "07"},
	}
	for _, p := range parses {
		qs = append(qs, p[0]+"\t"+p[1]+"\t"+p[2])
	}
	answers := jvmtest.Ask(t, qs)
	for i, q := range qs {
		f := strings.Split(q, "\t")
		p, err := Compile(f[1])
		if err != nil {
			t.Fatalf("Compile(%q): %v", f[1], err)
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		var got string
		switch f[0] {
		case "FD":
			got, err = p.FormatDate(n)
		case "FT":
			got, err = p.FormatTime(n)
		case "PD":
			var d int64
			d, err = p.ParseDate(f[2], English)
			got = strconv.FormatInt(d, 10)
		case "PT":
			var m int64
			m, err = p.ParseTime(f[2], English)
			got = strconv.FormatInt(m, 10)
		}
		want := answers[i]
		switch {
		case !want.OK && err == nil:
			t.Errorf("%s: Java fails, sluice gives %q", q, got)
		case want.OK && err != nil:
			t.Errorf("%s: Java gives %q, sluice fails: %v", q, want.Result, err)
		case want.OK && got != want.Result:
			t.Errorf("%s: Java gives %q, sluice %q", q, want.Result, got)
		}
	}
}
