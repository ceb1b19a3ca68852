package mysql

import (
	"slices"
	"testing"
)

// FuzzTextValues feeds the hand-written parsers of the text protocol's
// temporal, decimal and integer forms (snapshot rows, and the binlog's
// formatted times). The rule: never panic, and what parses re-parses the
// same way.
func FuzzTextValues(f *testing.F) {
	for _, s := range []string{"2024-02-29", "0000-00-00", "9999-12-31 23:59:59.999999", "2024-02-30",
		"-838:59:59.000000", "12:34:56", "1:2:3", "-12345678901234567890.0123456789", "1.", ".5", "-", "18446744073709551615",
		"2038-01-19 03:14:07.9", "1000-01-01 00:00:00", "0001-01-01 00:00:00.1234567"} {
		f.Add([]byte(s))
	}
	kinds := []vkind{vInt, vUint, vUint64, vFloat32, vFloat64, vDecimal, vString, vBytes, vJSON, vEnum, vSet, vBool, vBits, vDate, vTime, vDatetime, vTimestamp, vYear}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range kinds {
			ct := &colType{kind: k, size: 12}
			v, err := ct.fromText(b)
			if err != nil {
				continue
			}
			again, err := ct.fromText(b)
			if err != nil || !again.Equal(v) {
				t.Fatalf("kind %d: %q parses differently twice", k, b)
			}
			if k == vDate || k == vDatetime {
				if _, err := ct.fromBinlog(string(b)); err != nil {
					t.Fatalf("kind %d: %q parses as text but not from the binlog", k, b)
				}
			}
		}
		_ = isDecimalText(b)
		_, _ = parseTime(b)
		_ = (&colType{kind: vBytes}).keyLiteral(string(b))
		_ = (&colType{kind: vString}).keyLiteral(string(b))
		_ = (&colType{kind: vInt, numeric: true}).keyLiteral(string(b))
	})
}

// TestParsers pins the parsers' edge cases.
func TestParsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1970-01-01 00:00:00", 0, true},
		{"1969-12-31 23:59:59.5", -500000, true},
		{"2000-02-29 00:00:00", 951782400000000, true},
		{"2001-02-29 00:00:00", 0, false},
		{"2024-13-01 00:00:00", 0, false},
		{"2024-01-01 24:00:00", 0, false},
		{"2024-01-01 00:00:00.", 0, false},
		{"2024-01-01 00:00:00.1234567", 0, false},
	} {
		got, err := parseDatetime([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseDatetime(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"-00:00:01.5", -1500000, true},
		{"838:59:59", 3020399000000, true},
		{"12:60:00", 0, false},
		{"12:00", 0, false},
	} {
		got, err := parseTime([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for s, ok := range map[string]bool{"1": true, "-1.50": true, "1.": false, ".1": false, "1e5": false, "": false, "-": false, "1.2.3": false} {
		if isDecimalText([]byte(s)) != ok {
			t.Errorf("isDecimalText(%q) != %v", s, ok)
		}
	}
	if v, err := (&colType{kind: vDate}).fromText([]byte("0000-00-00")); err != nil || !v.IsNull() {
		t.Errorf("zero date: %v %v, want NULL", v, err)
	}
}

// FuzzCheckpoint: checkpoints come back from disk; parsing them and
// restoring the stream position from them never panics.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"v":1,"phase":"stream","file":"binlog.000002","pos":4,"gtid":"0-1-5,1-2-3"}`))
	f.Add([]byte(`{"v":1,"phase":"snapshot","file":"b.1","pos":4,"tables":{"a.b":{"last_key":["1"]}}}`))
	f.Add([]byte(`{"v":1,"phase":"stream","file":"x.000001","pos":4,"gtid":"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := parseCheckpoint(b)
		if err != nil || cp == nil {
			return
		}
		_ = cp.clone().marshal()
		for _, mariadb := range []bool{true, false} {
			d := &decoder{si: serverInfo{mariadb: mariadb}, gtids: map[uint32]string{}, byID: nil, emitted: *cp}
			if d.reset() == nil {
				_ = d.gtidString()
			}
		}
	})
}

// TestParseLabels pins the unescaping of ENUM and SET labels in
// information_schema's COLUMN_TYPE (as MariaDB 10.11 writes it; the NUL
// escape is MySQL's and MariaDB's append_unescaped).
func TestParseLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`enum('M','f','Xy')`, []string{"M", "f", "Xy"}},
		{`set('A','b','Ç')`, []string{"A", "b", "Ç"}},
		{`enum('it''s','a,b','''','')`, []string{"it's", "a,b", "'", ""}},
		{`enum('a\\b','x\\','l\nf','c\rr','n\0l','t` + "\t" + `b')`, []string{`a\b`, `x\`, "l\nf", "c\rr", "n\x00l", "t\tb"}},
		{`enum('UNSIGNED','(x)')`, []string{"UNSIGNED", "(x)"}},
		{`int(11)`, nil},
	} {
		if got := parseLabels(c.in); !slices.Equal(got, c.want) {
			t.Errorf("parseLabels(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}
