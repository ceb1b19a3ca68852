package eval

import (
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

func bytesLit(s string) *ir.Literal { return lit(event.Bytes([]byte(s)), types.TBytes) }

func TestStringFunctions(t *testing.T) {
	s := func(v string) event.Value { return str(v) }
	sc := col(0, tStr)
	row := func(v string) []event.Value { return []event.Value{str(v)} }
	null := []event.Value{vN}
	runCases(t, []exprCase{
		{name: "CONCAT skips NULL", e: call("CONCAT", sLit("a"), nLit(tStr), sLit("b")), want: s("ab")},
		{name: "CONCAT all NULL", e: call("CONCAT", nLit(tStr)), want: s("")},
		{name: "CONCAT bytes", e: call("CONCAT", bytesLit("a"), bytesLit("b")), want: event.Bytes([]byte("ab"))},
		{name: "CONCAT_WS", e: call("CONCAT_WS", sLit("SEP"), sLit("foo"), nLit(tStr), sLit("baz")), want: s("fooSEPbaz")},
		{name: "CONCAT_WS NULL sep", e: call("CONCAT_WS", nLit(tStr), sLit("foo")), want: vN},
		{name: "'+' concatenates", e: bin(ir.Add, sLit("prefix-"), sc, tStr), row: row("s1"), want: s("prefix-s1")},
		{name: "LCASE", e: call("LCASE", sLit("AbC")), want: s("abc")},
		{name: "UCASE", e: call("UCASE", sLit("AbC")), want: s("ABC")},
		{name: "TRIM", e: call("TRIM", sLit(" \t a b \n")), want: s("a b")},
		{name: "LTRIM", e: call("LTRIM", sLit("  a ")), want: s("a ")},
		{name: "RTRIM", e: call("RTRIM", sLit("  a ")), want: s("  a")},
		{name: "LEN", e: call("LEN", sLit("héllo")), want: i64(5)},
		{name: "LEN UTF-16", e: call("LEN", sLit("😀")), want: i64(2)},
		{name: "LEN bytes", e: call("LEN", bytesLit("héllo")), want: i64(6)},
		{name: "SUBSTRING pos", e: call("SUBSTRING", sc, iLit(6)), row: row("some_string"), want: s("string")},
		{name: "SUBSTRING short", e: call("SUBSTRING", sc, iLit(6)), row: row("short"), want: s("")},
		{name: "SUBSTRING pos len", e: call("SUBSTRING", sc, iLit(6), iLit(3)), row: row("some_string"), want: s("str")},
		{name: "SUBSTRING 0", e: call("SUBSTRING", sc, iLit(0), iLit(2)), row: row("some"), want: s("so")},
		{name: "SUBSTRING negative", e: call("SUBSTRING", sc, iLit(-3)), row: row("some_string"), want: s("ing")},
		{name: "SUBSTRING negative beyond", e: call("SUBSTRING", sc, iLit(-30), iLit(2)), row: row("abc"), want: s("ab")},
		{name: "SUBSTRING negative len", e: call("SUBSTRING", sc, iLit(2), iLit(-1)), row: row("abc"), want: s("")},
		{name: "SUBSTRING NULL pos", e: call("SUBSTRING", sc, nLit(tInt)), row: row("abc"), want: vN},
		{name: "SUBSTRING UTF-16", e: call("SUBSTRING", sc, iLit(2), iLit(2)), row: row("a😀b"), want: s("😀")},
		{name: "SUBSTRING bytes", e: call("SUBSTRING", bytesLit("some_string"), iLit(6), iLit(3)), want: event.Bytes([]byte("str"))},
		{name: "REPLACE", e: call("REPLACE", sc, sLit("a"), sLit("o")), row: row("anaconda"), want: s("onocondo")},
		{name: "REPLACE NULL", e: call("REPLACE", sc, nLit(tStr), sLit("o")), row: row("anaconda"), want: vN},
		{name: "INSTR", e: call("INSTR", sc, sLit("or")), row: row("corporate floor"), want: i64(2)},
		{name: "INSTR pos", e: call("INSTR", sc, sLit("or"), iLit(4)), row: row("corporate floor"), want: i64(5)},
		{name: "INSTR pos occ", e: call("INSTR", sc, sLit("or"), iLit(4), iLit(2)), row: row("corporate floor"), want: i64(14)},
		{name: "INSTR negative", e: call("INSTR", sc, sLit("or"), iLit(-4)), row: row("corporate floor"), want: i64(5)},
		{name: "INSTR negative occ", e: call("INSTR", sc, sLit("or"), iLit(-4), iLit(2)), row: row("corporate floor"), want: i64(2)},
		{name: "INSTR none", e: call("INSTR", sc, sLit("or"), iLit(4)), row: row("short"), want: i64(0)},
		{name: "INSTR overlapping", e: call("INSTR", sc, sLit("aa"), iLit(1), iLit(2)), row: row("aaa"), want: i64(2)},
		{name: "INSTR NULL string", e: call("INSTR", sc, sLit("or")), row: null, want: i64(0)},
		{name: "INITCAP", e: call("INITCAP", sc), row: row("the   Quick br0wn fOx"), want: s("The   Quick Br0wn Fox")},
		{name: "INITCAP underscore", e: call("INITCAP", sc), row: row("some_string"), want: s("Some_string")},
		{name: "INITCAP leading space", e: call("INITCAP", sc), row: row("  hi"), want: s("Hi")},
		{name: "LPAD", e: call("LPAD", sLit("foo"), iLit(7), sLit("Bar")), want: s("BarBfoo")},
		{name: "LPAD cut", e: call("LPAD", sLit("foo"), iLit(2), sLit("Bar")), want: s("fo")},
		{name: "LPAD negative", e: call("LPAD", sLit("foo"), iLit(-1), sLit("Bar")), want: vN},
		{name: "LPAD empty padding", e: call("LPAD", sLit("foo"), iLit(5), sLit("")), want: vN},
		{name: "RPAD", e: call("RPAD", sLit("foo"), iLit(7), sLit("Bar")), want: s("fooBarB")},
		{name: "RPAD bytes", e: call("RPAD", bytesLit("ab"), iLit(5), bytesLit("xy")), want: event.Bytes([]byte("abxyx"))},
		{name: "SPLIT", e: call("SPLIT", sc, sLit(".")), row: row("..a.."), want: arr(s(""), s(""), s("a"), s(""), s(""))},
		{name: "SPLIT empty delimiter", e: call("SPLIT", sc, sLit("")), row: row("abc"), want: arr(s("a"), s("b"), s("c"))},
		{name: "SPLIT empty string", e: call("SPLIT", sc, sLit("")), row: row(""), want: arr(s(""))},
		{name: "SPLIT multi-char", e: call("SPLIT", sc, sLit("$$")), row: row(".abc$$"), want: arr(s(".abc"), s(""))},
		{name: "SPLIT_TO_MAP", e: call("SPLIT_TO_MAP", sc, sLit("/"), sLit(":=")), row: row("apple:=green//potato:=brown/:=x/k:=v:=w/k:=last"),
			want: arr(s("apple"), s("green"), s("potato"), s("brown"), s(""), s("x"), s("k"), s("last"))},
		{name: "SPLIT_TO_MAP same delimiters", e: call("SPLIT_TO_MAP", sc, sLit("/"), sLit("/")), row: row("a/b"), want: vN},
		{name: "CHR", e: call("CHR", iLit(75)), want: s("K")},
		{name: "CHR emoji", e: call("CHR", iLit(128512)), want: s("😀")},
		{name: "CHR invalid", e: call("CHR", iLit(-1)), want: vN},
		{name: "CHR escape", e: call("CHR", sLit(`\u004b`)), want: s("K")},
		{name: "CHR surrogates", e: call("CHR", sLit(`\ud83d\ude00`)), want: s("😀")},
		{name: "CHR not escape", e: call("CHR", sLit("75")), want: vN},
		{name: "ELT", e: call("ELT", iLit(2), sLit("a"), sLit("b")), want: s("b")},
		{name: "ELT out", e: call("ELT", iLit(3), sLit("a"), sLit("b")), want: vN},
		{name: "FIELD", e: call("FIELD", sLit("b"), sLit("a"), sLit("b")), want: i64(2)},
		{name: "FIELD none", e: call("FIELD", nLit(tStr), sLit("a")), want: i64(0)},
		{name: "MASK", e: call("MASK", sLit("AbCd#$123xy Z")), want: s("XxXx--nnnxx-X")},
		{name: "MASK chars", e: call("MASK", sLit("AbCd#$123xy Z"), sLit("*"), sLit("-"), sLit("?"), nLit(tStr)), want: s("*-*-#$???-- *")},
		{name: "MASK_KEEP_LEFT", e: call("MASK_KEEP_LEFT", sLit("AbCd#$123xy Z"), iLit(5)), want: s("AbCd#-nnnxx-X")},
		{name: "MASK_KEEP_RIGHT", e: call("MASK_KEEP_RIGHT", sLit("AbCd#$123xy Z"), iLit(5)), want: s("XxXx--nn3xy Z")},
		{name: "MASK_LEFT", e: call("MASK_LEFT", sLit("AbCd#$123xy Z"), iLit(5)), want: s("XxXx-$123xy Z")},
		{name: "MASK_RIGHT", e: call("MASK_RIGHT", sLit("AbCd#$123xy Z"), iLit(5)), want: s("AbCd#$12nxx-X")},
		{name: "MASK_LEFT negative", e: call("MASK_LEFT", sLit("a"), iLit(-1)), err: "function mask_left requires a non-negative number of characters to mask or skip"},
		{name: "MASK bad char", e: call("MASK", sLit("a"), sLit("**"), nLit(tStr), nLit(tStr), nLit(tStr)), err: `invalid mask character "**": it must be one character`},
		{name: "REGEXP_EXTRACT", e: call("REGEXP_EXTRACT", sLit("test."), sc), row: row("some_test_string"), want: s("test_")},
		{name: "REGEXP_EXTRACT none", e: call("REGEXP_EXTRACT", sLit("test."), sc), row: row("nothing"), want: vN},
		{name: "REGEXP_EXTRACT group", e: call("REGEXP_EXTRACT", sLit("(.*) (.*)"), sc, iLit(2)), row: row("steven zhang"), want: s("zhang")},
		{name: "REGEXP_EXTRACT no group", e: call("REGEXP_EXTRACT", sLit("(.*) (.*)"), sc, iLit(3)), row: row("steven zhang"), want: vN},
		{name: "REGEXP_EXTRACT_ALL", e: call("REGEXP_EXTRACT_ALL", sLit(`(\w+) (\w*)`), sc, iLit(2)), row: row("apurva mehta agavra "), want: arr(s("mehta"), s(""))},
		{name: "REGEXP_EXTRACT_ALL none", e: call("REGEXP_EXTRACT_ALL", sLit("test."), sc), row: row("nothing"), want: arr()},
		{name: "REGEXP_REPLACE", e: call("REGEXP_REPLACE", sc, sLit("(ab|cd)"), sLit("cat")), row: row("aabcda"), want: s("acatcata")},
		{name: "REGEXP_REPLACE groups", e: call("REGEXP_REPLACE", sc, sLit(`(\w+)@(\w+)`), sLit(`$2 at $1 \$1`)), row: row("me@host"), want: s("host at me $1")},
		{name: "REGEXP_REPLACE bad group", e: call("REGEXP_REPLACE", sc, sLit("a"), sLit("$1")), row: row("a"), err: `REGEXP_REPLACE: replacement "$1": no group 1`},
		{name: "REGEXP_SPLIT_TO_ARRAY", e: call("REGEXP_SPLIT_TO_ARRAY", sc, sLit("(ab|cd)")), row: row("aabcda"), want: arr(s("a"), s(""), s("a"))},
		{name: "REGEXP_SPLIT_TO_ARRAY empty match", e: call("REGEXP_SPLIT_TO_ARRAY", sc, sLit("")), row: row("abc"), want: arr(s("a"), s("b"), s("c"))},
		{name: "TO_BYTES hex", e: call("TO_BYTES", sLit("4a4B"), sLit("hex")), want: event.Bytes([]byte("JK"))},
		{name: "TO_BYTES base64 unpadded", e: call("TO_BYTES", sLit("IQ"), sLit("base64")), want: event.Bytes([]byte("!"))},
		{name: "FROM_BYTES hex", e: call("FROM_BYTES", bytesLit("JK"), sLit("HEX")), want: s("4A4B")},
		{name: "FROM_BYTES ascii", e: call("FROM_BYTES", bytesLit("a\xffb"), sLit("ascii")), want: s("a\uFFFDb")},
		{name: "TO_BYTES bad hex", e: call("TO_BYTES", sc, sLit("hex")), row: row("xyz"), err: `TO_BYTES: "xyz" is not hexadecimal`},
		{name: "ENCODE", e: call("ENCODE", sLit("0x4a4b"), sLit("hex"), sLit("utf8")), want: s("JK")},
		{name: "ENCODE hex out", e: call("ENCODE", sLit("JK"), sLit("ascii"), sLit("hex")), want: s("4a4b")},
	})
	compileErr(t, "bad regex", call("REGEXP_EXTRACT", sLit("(?<=a)b"), sc),
		"REGEXP_EXTRACT: invalid regular expression \"(?<=a)b\": error parsing regexp: invalid named capture: `(?<=a)b` (sluice uses RE2 syntax: no lookaround, backreferences or possessive quantifiers)")
	compileErr(t, "bad encoding", call("TO_BYTES", sc, sLit("utf16")), "TO_BYTES: unknown encoding \"utf16\": the encodings are 'hex', 'utf8', 'ascii' and 'base64'")
}

func TestResolveScalar(t *testing.T) {
	for _, c := range []struct {
		name string
		args []types.Type
		want string
	}{
		{"SUBSTRING", []types.Type{tStr, tInt}, "STRING"},
		{"SUBSTRING", []types.Type{tStr, types.Type{}}, "STRING"},
		{"ABS", []types.Type{tInt}, "INTEGER"},
		{"ABS", []types.Type{types.DecimalOf(5, 2)}, "DECIMAL(5, 2)"},
		{"ROUND", []types.Type{types.DecimalOf(5, 2)}, "DECIMAL(3, 0)"},
		{"ROUND", []types.Type{tInt}, "BIGINT"},
		{"SQRT", []types.Type{tInt}, "DOUBLE"},
		{"SIGN", []types.Type{tInt}, "INTEGER"},
		{"COALESCE", []types.Type{tInt, tBig}, "BIGINT"},
		{"COALESCE", []types.Type{tInt, types.DecimalOf(5, 2)}, "DECIMAL(12, 2)"},
		{"COALESCE", []types.Type{types.Type{}, tStr}, "STRING"},
		{"GREATEST", []types.Type{tInt, tDbl}, "DOUBLE"},
		{"ARRAY_CONTAINS", []types.Type{types.ArrayOf(tStr), tStr}, "BOOLEAN"},
		{"ARRAY_MAX", []types.Type{types.ArrayOf(tBig)}, "BIGINT"},
		{"AS_MAP", []types.Type{types.ArrayOf(tStr), types.ArrayOf(tInt)}, "MAP<STRING, INTEGER>"},
		{"ARRAY", []types.Type{tInt, tBig}, "ARRAY<BIGINT>"},
		{"MAP", []types.Type{tStr, tInt, tStr, tDbl}, "MAP<STRING, DOUBLE>"},
		{"PARSE_TIMESTAMP", []types.Type{tStr, tStr}, "TIMESTAMP"},
		{"TIMESTAMPADD", []types.Type{tStr, tInt, types.TTimestamp}, "TIMESTAMP"},
		{"UNIX_TIMESTAMP", nil, "BIGINT"},
		{"FORMAT_TIMESTAMP", []types.Type{types.TDate, tStr}, "STRING"},
	} {
		got, err := ResolveScalar(c.name, c.args)
		if err != nil || got.String() != c.want {
			t.Errorf("ResolveScalar(%s, %v) = %v, %v; want %s", c.name, c.args, got, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		args []types.Type
		err  string
	}{
		{"NOPE", nil, "unknown function NOPE"},
		{"SUBSTRING", []types.Type{tStr, tStr}, "function SUBSTRING does not take (STRING, STRING); it takes SUBSTRING(STRING, INTEGER), SUBSTRING(STRING, INTEGER, INTEGER), SUBSTRING(BYTES, INTEGER), SUBSTRING(BYTES, INTEGER, INTEGER)"},
		{"LEN", []types.Type{tInt}, "function LEN does not take (INTEGER); it takes LEN(STRING), LEN(BYTES)"},
		{"COALESCE", []types.Type{tStr, tInt}, "function COALESCE does not take (STRING, INTEGER); it takes COALESCE(T, T...)"},
	} {
		_, err := ResolveScalar(c.name, c.args)
		if err == nil || err.Error() != c.err {
			t.Errorf("ResolveScalar(%s, %v) = %v; want %q", c.name, c.args, err, c.err)
		}
	}
}
