package funcs

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

func typesOf(s ...types.Type) []types.Type { return s }

func TestResolve(t *testing.T) {
	r := Builtin()
	dec := types.DecimalOf(4, 2)
	for _, tc := range []struct {
		fn     string
		args   []types.Type
		sig    string
		params string
		ret    string
	}{
		{"SUBSTRING", typesOf(types.TString, types.TInteger), "SUBSTRING(STRING, INTEGER) STRING", "STRING, INTEGER", "STRING"},
		{"substring", typesOf(types.TString, types.TInteger, types.TInteger), "SUBSTRING(STRING, INTEGER, INTEGER) STRING", "STRING, INTEGER, INTEGER", "STRING"},
		{"ABS", typesOf(types.TInteger), "ABS(INTEGER) INTEGER", "INTEGER", "INTEGER"},
		{"ABS", typesOf(dec), "ABS(DECIMAL) $0", "DECIMAL(4, 2)", "DECIMAL(4, 2)"},
		{"ROUND", typesOf(dec), "ROUND(DECIMAL) @", "DECIMAL(4, 2)", "DECIMAL(2, 0)"},
		{"ROUND", typesOf(types.TInteger, types.TInteger), "ROUND(DOUBLE, INTEGER) DOUBLE", "DOUBLE, INTEGER", "DOUBLE"},
		{"SQRT", typesOf(types.TBigint), "SQRT(DOUBLE) DOUBLE", "DOUBLE", "DOUBLE"},
		{"COALESCE", typesOf(types.TInteger, types.TBigint), "COALESCE(T, T...) T", "BIGINT, BIGINT", "BIGINT"},
		{"COALESCE", typesOf(types.Type{}, types.TString, types.TString), "COALESCE(T, T...) T", "STRING, STRING, STRING", "STRING"},
		{"COALESCE", typesOf(types.TInteger, dec), "COALESCE(T, T...) T", "DECIMAL(12, 2), DECIMAL(12, 2)", "DECIMAL(12, 2)"},
		{"IFNULL", typesOf(types.TString, types.Type{}), "IFNULL(T, T) T", "STRING, STRING", "STRING"},
		{"ARRAY_CONTAINS", typesOf(types.ArrayOf(types.TBigint), types.TInteger), "ARRAY_CONTAINS(ARRAY<T>, T) BOOLEAN", "ARRAY<BIGINT>, BIGINT", "BOOLEAN"},
		{"MAP_VALUES", typesOf(types.MapOf(types.TString, types.TDouble)), "MAP_VALUES(MAP<STRING, T>) ARRAY<T>", "MAP<STRING, DOUBLE>", "ARRAY<DOUBLE>"},
		{"COUNT", nil, "COUNT() BIGINT", "", "BIGINT"},
		{"SUM", typesOf(types.TInteger), "SUM(INTEGER) INTEGER", "INTEGER", "INTEGER"},
		{"SUM", typesOf(dec), "SUM(DECIMAL) $0", "DECIMAL(4, 2)", "DECIMAL(4, 2)"},
		{"AVG", typesOf(dec), "AVG(DOUBLE) DOUBLE", "DOUBLE", "DOUBLE"},
		{"LATEST_BY_OFFSET", typesOf(types.TString), "LATEST_BY_OFFSET(T) T", "STRING", "STRING"},
		{"LATEST_BY_OFFSET", typesOf(types.TInteger, types.TInteger), "LATEST_BY_OFFSET(T, INTEGER!) ARRAY<T>", "INTEGER, INTEGER", "ARRAY<INTEGER>"},
		{"COLLECT_SET", typesOf(types.TDate), "COLLECT_SET(T) ARRAY<T>", "DATE", "ARRAY<DATE>"},
		{"PARSE_TIMESTAMP", typesOf(types.TString, types.TString), "PARSE_TIMESTAMP(STRING, STRING) TIMESTAMP", "STRING, STRING", "TIMESTAMP"},
		{"TIMESTAMPTOSTRING", typesOf(types.TInteger, types.TString), "TIMESTAMPTOSTRING(BIGINT, STRING) STRING", "BIGINT, STRING", "STRING"},
		{"FORMAT_TIMESTAMP", typesOf(types.TDate, types.TString), "FORMAT_TIMESTAMP(TIMESTAMP, STRING) STRING", "TIMESTAMP, STRING", "STRING"},
		{"SIGN", typesOf(types.TInteger), "SIGN(BIGINT) INTEGER", "BIGINT", "INTEGER"},
		{"CONCAT", typesOf(types.TString, types.TString, types.TString), "CONCAT(STRING...) STRING", "STRING, STRING, STRING", "STRING"},
		{"COALESCE", typesOf(types.TDate, types.TTimestamp), "COALESCE(T, T...) T", "TIMESTAMP, TIMESTAMP", "TIMESTAMP"},
	} {
		f, ok := r.Lookup(tc.fn)
		if !ok {
			t.Fatalf("no %s", tc.fn)
		}
		m, err := f.Resolve(tc.args)
		if err != nil {
			t.Errorf("%s%v: %v", tc.fn, tc.args, err)
			continue
		}
		var ps []string
		for _, p := range m.Params {
			ps = append(ps, p.String())
		}
		if m.Sig.String() != tc.sig || strings.Join(ps, ", ") != tc.params || m.Ret.String() != tc.ret || f.Sigs[m.Index] != m.Sig {
			t.Errorf("%s%v = %s (%s) %s, want %s (%s) %s", tc.fn, tc.args, m.Sig, strings.Join(ps, ", "), m.Ret, tc.sig, tc.params, tc.ret)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	r := Builtin()
	for _, tc := range []struct {
		fn   string
		args []types.Type
		want string
	}{
		{"SUBSTRING", typesOf(types.TString), "SUBSTRING takes 2 or 3 arguments, got 1"},
		{"UCASE", nil, "UCASE takes 1 argument, got 0"},
		{"COALESCE", nil, "COALESCE takes at least 1 argument, got 0"},
		{"ELT", nil, "ELT takes at least 1 argument, got 0"},
		{"SUBSTRING", typesOf(types.TInteger, types.TInteger), "SUBSTRING does not take (INTEGER, INTEGER); it takes SUBSTRING(STRING, INTEGER) or SUBSTRING(BYTES, INTEGER)"},
		{"UCASE", typesOf(types.TInteger), "UCASE does not take (INTEGER); it takes UCASE(STRING)"},
		{"SUM", typesOf(types.TString), "SUM does not take (STRING); it takes SUM(INTEGER), SUM(BIGINT), SUM(DOUBLE) or SUM(DECIMAL)"},
		{"COALESCE", typesOf(types.TString, types.TInteger), "COALESCE does not take (STRING, INTEGER); it takes COALESCE(T, T...)"},
		{"COALESCE", typesOf(types.Type{}), "COALESCE cannot infer the type of its arguments from NULL alone: give the NULL a type with CAST(NULL AS type)"},
		{"LATEST_BY_OFFSET", typesOf(types.TString, types.TString), "LATEST_BY_OFFSET does not take (STRING, STRING); it takes LATEST_BY_OFFSET(T, BOOLEAN!) or LATEST_BY_OFFSET(T, INTEGER!)"},
	} {
		f, _ := r.Lookup(tc.fn)
		_, err := f.Resolve(tc.args)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s%v: error %v, want %q", tc.fn, tc.args, err, tc.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := Builtin()
	undo := map[string]bool{}
	for _, n := range r.Names() {
		f, _ := r.Lookup(n)
		if f.Doc == "" || len(f.Sigs) == 0 {
			t.Errorf("%s: no doc or signature", n)
		}
		if f.Undo {
			undo[n] = true
		}
	}
	// ksqlDB's TableUdafs among the aggregates sluice has.
	if len(undo) != 4 || !undo["COUNT"] || !undo["SUM"] || !undo["AVG"] || !undo["COLLECT_LIST"] {
		t.Errorf("undo-able aggregates: %v", undo)
	}
	for _, n := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "COLLECT_LIST", "COLLECT_SET"} {
		if f, ok := r.Lookup(n); !ok || f.Kind != Aggregate {
			t.Errorf("%s is not an aggregate", n)
		}
	}
}

func TestBinary(t *testing.T) {
	d := func(p, s int) types.Type { return types.DecimalOf(p, s) }
	for _, tc := range []struct {
		op          ir.BinOp
		l, r        types.Type
		operand, rs string
	}{
		{ir.Add, types.TInteger, types.TInteger, "INTEGER", "INTEGER"},
		{ir.Add, types.TInteger, types.TBigint, "BIGINT", "BIGINT"},
		{ir.Mul, types.TBigint, types.TDouble, "DOUBLE", "DOUBLE"},
		{ir.Add, d(4, 2), d(3, 1), "DECIMAL(4, 2)", "DECIMAL(5, 2)"},
		{ir.Add, d(4, 2), types.TInteger, "DECIMAL(12, 2)", "DECIMAL(13, 2)"},
		{ir.Mul, d(4, 2), d(3, 1), "DECIMAL(4, 2)", "DECIMAL(8, 3)"},
		{ir.Div, d(4, 2), d(3, 1), "DECIMAL(4, 2)", "DECIMAL(9, 6)"},
		{ir.Mod, d(4, 2), d(3, 1), "DECIMAL(4, 2)", "DECIMAL(4, 2)"},
		{ir.Concat, types.TString, types.TString, "STRING", "STRING"},
		{ir.Concat, types.TBytes, types.TBytes, "BYTES", "BYTES"},
		{ir.Add, types.TString, types.TString, "STRING", "STRING"},
		{ir.Eq, types.TInteger, types.TDouble, "DOUBLE", "BOOLEAN"},
		{ir.Lt, types.TTimestamp, types.TString, "TIMESTAMP", "BOOLEAN"},
		{ir.Eq, types.TString, types.Type{}, "STRING", "BOOLEAN"},
		{ir.Ge, types.TDate, types.TTimestamp, "TIMESTAMP", "BOOLEAN"},
		{ir.And, types.TBoolean, types.Type{}, "BOOLEAN", "BOOLEAN"},
	} {
		o, res, err := Binary(tc.op, tc.l, tc.r)
		if err != nil || o.String() != tc.operand || res.String() != tc.rs {
			t.Errorf("%s %s %s = %s, %s, %v; want %s, %s", tc.l, OpSymbol(tc.op), tc.r, o, res, err, tc.operand, tc.rs)
		}
	}
	for _, tc := range []struct {
		op   ir.BinOp
		l, r types.Type
		want string
	}{
		{ir.Add, types.TString, types.TInteger, "operator + does not apply to STRING and INTEGER"},
		{ir.Eq, types.TString, types.TInteger, "operator = does not apply to STRING and INTEGER"},
		{ir.Lt, types.ArrayOf(types.TInteger), types.ArrayOf(types.TInteger), "operator < does not apply to ARRAY<INTEGER>: only = and <> compare arrays, maps and structs"},
		{ir.And, types.TInteger, types.TBoolean, "operator AND does not apply to INTEGER and BOOLEAN"},
		{ir.Add, types.Type{}, types.Type{}, "operator + cannot infer a type from NULL + NULL: give a NULL a type with CAST(NULL AS type)"},
	} {
		_, _, err := Binary(tc.op, tc.l, tc.r)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %s %s: %v, want %q", tc.l, OpSymbol(tc.op), tc.r, err, tc.want)
		}
	}
}

func TestCanCast(t *testing.T) {
	for _, tc := range []struct {
		from, to types.Type
		ok       bool
	}{
		{types.TString, types.TInteger, true},
		{types.TDouble, types.DecimalOf(5, 2), true},
		{types.ArrayOf(types.TInteger), types.TString, true},
		{types.ArrayOf(types.TInteger), types.ArrayOf(types.TString), true},
		{types.TTimestamp, types.TDate, true},
		{types.TBoolean, types.TInteger, false},
		{types.TBytes, types.TInteger, false},
		{types.TDate, types.TTime, false},
	} {
		if got := CanCast(tc.from, tc.to); got != tc.ok {
			t.Errorf("CanCast(%s, %s) = %v", tc.from, tc.to, got)
		}
	}
}
