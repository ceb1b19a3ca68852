package funcs

import "github.com/sluice-dev/sluice/ksql/types"

// Builtin returns the standard functions (ksqlDB 0.28's, the subset
// sluice implements). Every call builds a fresh registry.
func Builtin() *Registry {
	var fs []*Func
	for _, e := range scalarTable {
		fs = append(fs, build(Scalar, e))
	}
	for _, e := range aggregateTable {
		fs = append(fs, build(Aggregate, e))
	}
	return New(fs...)
}

type entry struct {
	doc      string
	sigs     []string
	undo     bool
	volatile bool
	// retFn overrides the return type of the signatures written with
	// return type "@".
	retFn func(args []types.Type) types.Type
}

func build(k Kind, e entry) *Func {
	f := &Func{Kind: k, Doc: e.doc, Undo: e.undo, Volatile: e.volatile}
	for _, text := range e.sigs {
		s := parseSig(text)
		if f.Name == "" {
			f.Name = s.Name
		} else if s.Name != f.Name {
			panic("funcs: signature " + text + " under " + f.Name)
		}
		if text[len(text)-1] == '@' {
			s.retFn = e.retFn
		}
		f.Sigs = append(f.Sigs, s)
	}
	return f
}

// roundDecimal is ROUND(DECIMAL(p, s))'s type, as ksqlDB: DECIMAL(p - s,
// 0) (at least one digit).
func roundDecimal(args []types.Type) types.Type {
	return types.DecimalOf(max(args[0].Precision-args[0].Scale, 1), 0)
}

// scalarTable lists the scalar functions. Signature text: NAME(params)
// RETURN; a parameter is a type, DECIMAL (any precision and scale), a type
// variable T or U, or ARRAY<…>/MAP<…>; "..." makes the last parameter
// repeat zero or more times; "!" requires a literal argument; a return of
// "$n" is argument n's type, "@" is computed by the entry's retFn.
// Temporal values follow package types (DATE days, TIME and TIMESTAMP
// microseconds); BIGINT epoch values of the deprecated functions
// (TIMESTAMPTOSTRING, STRINGTOTIMESTAMP, UNIX_TIMESTAMP, FROM_UNIXTIME) are
// milliseconds, as in ksqlDB. Time zones are IANA names; patterns are Java
// DateTimeFormatter patterns.
var scalarTable = []entry{
	// Strings.
	{doc: "Lower-cases a string.", sigs: []string{"LCASE(STRING) STRING"}},
	{doc: "Upper-cases a string.", sigs: []string{"UCASE(STRING) STRING"}},
	{doc: "Length in characters (bytes for BYTES).", sigs: []string{"LEN(STRING) INTEGER", "LEN(BYTES) INTEGER"}},
	{doc: "Removes leading and trailing whitespace.", sigs: []string{"TRIM(STRING) STRING"}},
	{doc: "Removes leading whitespace (a sluice extension).", sigs: []string{"LTRIM(STRING) STRING"}},
	{doc: "Removes trailing whitespace (a sluice extension).", sigs: []string{"RTRIM(STRING) STRING"}},
	{doc: "Substring from a 1-based position (negative: from the end), optionally of a length.", sigs: []string{
		"SUBSTRING(STRING, INTEGER) STRING", "SUBSTRING(STRING, INTEGER, INTEGER) STRING",
		"SUBSTRING(BYTES, INTEGER) BYTES", "SUBSTRING(BYTES, INTEGER, INTEGER) BYTES"}},
	{doc: "Replaces every occurrence of a substring.", sigs: []string{"REPLACE(STRING, STRING, STRING) STRING"}},
	{doc: "Concatenates its arguments, skipping NULLs.", sigs: []string{"CONCAT(STRING...) STRING", "CONCAT(BYTES...) BYTES"}},
	{doc: "Concatenates the non-NULL arguments after the first, separated by the first.", sigs: []string{"CONCAT_WS(STRING, STRING...) STRING", "CONCAT_WS(BYTES, BYTES...) BYTES"}},
	{doc: "1-based position of a substring (0: absent), optionally from a position and for an occurrence.", sigs: []string{
		"INSTR(STRING, STRING) INTEGER", "INSTR(STRING, STRING, INTEGER) INTEGER", "INSTR(STRING, STRING, INTEGER, INTEGER) INTEGER"}},
	{doc: "Pads on the left to a length with a padding (cuts a longer input).", sigs: []string{"LPAD(STRING, INTEGER, STRING) STRING", "LPAD(BYTES, INTEGER, BYTES) BYTES"}},
	{doc: "Pads on the right to a length with a padding (cuts a longer input).", sigs: []string{"RPAD(STRING, INTEGER, STRING) STRING", "RPAD(BYTES, INTEGER, BYTES) BYTES"}},
	{doc: "Splits on a delimiter (empty: into characters).", sigs: []string{"SPLIT(STRING, STRING) ARRAY<STRING>", "SPLIT(BYTES, BYTES) ARRAY<BYTES>"}},
	{doc: "Splits into entries and each entry into key and value.", sigs: []string{"SPLIT_TO_MAP(STRING, STRING, STRING) MAP<STRING, STRING>"}},
	{doc: "Capitalises the first letter of each word, lower-cases the rest.", sigs: []string{"INITCAP(STRING) STRING"}},
	{doc: "The first match of a regular expression, or of its group n.", sigs: []string{
		"REGEXP_EXTRACT(STRING, STRING) STRING", "REGEXP_EXTRACT(STRING, STRING, INTEGER) STRING"}},
	{doc: "Every match of a regular expression, or of its group n.", sigs: []string{
		"REGEXP_EXTRACT_ALL(STRING, STRING) ARRAY<STRING>", "REGEXP_EXTRACT_ALL(STRING, STRING, INTEGER) ARRAY<STRING>"}},
	{doc: "Replaces every match of a regular expression.", sigs: []string{"REGEXP_REPLACE(STRING, STRING, STRING) STRING"}},
	{doc: "Splits on a regular expression.", sigs: []string{"REGEXP_SPLIT_TO_ARRAY(STRING, STRING) ARRAY<STRING>"}},
	{doc: "The character of a code point or of a Java escape ('\\u004b').", sigs: []string{"CHR(INTEGER) STRING", "CHR(STRING) STRING"}},
	{doc: "The n-th (1-based) of the other arguments.", sigs: []string{"ELT(INTEGER, STRING...) STRING"}},
	{doc: "The 1-based position of the first argument among the others (0: absent).", sigs: []string{"FIELD(STRING, STRING...) INTEGER"}},
	{doc: "Converts text between the encodings hex, utf8, ascii and base64.", sigs: []string{"ENCODE(STRING, STRING, STRING) STRING"}},
	{doc: "Encodes text as bytes (hex, utf8, ascii, base64).", sigs: []string{"TO_BYTES(STRING, STRING) BYTES"}},
	{doc: "Decodes bytes into text (hex, utf8, ascii, base64).", sigs: []string{"FROM_BYTES(BYTES, STRING) STRING"}},
	{doc: "Masks letters and digits (X, x, n, - or the given characters).", sigs: []string{"MASK(STRING) STRING", "MASK(STRING, STRING, STRING, STRING, STRING) STRING"}},
	{doc: "MASK except the first n characters.", sigs: []string{"MASK_KEEP_LEFT(STRING, INTEGER) STRING", "MASK_KEEP_LEFT(STRING, INTEGER, STRING, STRING, STRING, STRING) STRING"}},
	{doc: "MASK except the last n characters.", sigs: []string{"MASK_KEEP_RIGHT(STRING, INTEGER) STRING", "MASK_KEEP_RIGHT(STRING, INTEGER, STRING, STRING, STRING, STRING) STRING"}},
	{doc: "MASK of the first n characters.", sigs: []string{"MASK_LEFT(STRING, INTEGER) STRING", "MASK_LEFT(STRING, INTEGER, STRING, STRING, STRING, STRING) STRING"}},
	{doc: "MASK of the last n characters.", sigs: []string{"MASK_RIGHT(STRING, INTEGER) STRING", "MASK_RIGHT(STRING, INTEGER, STRING, STRING, STRING, STRING) STRING"}},
	// JSON.
	{doc: "The value at a JSONPath ('$.a.b[0]') in a JSON string, as text; NULL when absent.", sigs: []string{"EXTRACTJSONFIELD(STRING, STRING) STRING"}},
	{doc: "Whether a string is valid JSON.", sigs: []string{"IS_JSON_STRING(STRING) BOOLEAN"}},
	{doc: "The length of a JSON array; NULL for other JSON.", sigs: []string{"JSON_ARRAY_LENGTH(STRING) INTEGER"}},
	{doc: "Whether a JSON array has an element equal to a value.", sigs: []string{"JSON_ARRAY_CONTAINS(STRING, T) BOOLEAN"}},
	{doc: "The keys of a JSON object; NULL for other JSON.", sigs: []string{"JSON_KEYS(STRING) ARRAY<STRING>"}},
	{doc: "Any value as JSON text.", sigs: []string{"TO_JSON_STRING(T) STRING"}},
	// Numbers.
	{doc: "Absolute value.", sigs: []string{"ABS(INTEGER) INTEGER", "ABS(BIGINT) BIGINT", "ABS(DOUBLE) DOUBLE", "ABS(DECIMAL) $0"}},
	{doc: "Smallest integral value not below the argument.", sigs: []string{"CEIL(INTEGER) INTEGER", "CEIL(BIGINT) BIGINT", "CEIL(DOUBLE) DOUBLE", "CEIL(DECIMAL) $0"}},
	{doc: "Largest integral value not above the argument.", sigs: []string{"FLOOR(INTEGER) INTEGER", "FLOOR(BIGINT) BIGINT", "FLOOR(DOUBLE) DOUBLE", "FLOOR(DECIMAL) $0"}},
	{doc: "Rounds half up, to a whole number or to a number of decimal places.", sigs: []string{
		"ROUND(INTEGER) BIGINT", "ROUND(BIGINT) BIGINT", "ROUND(DOUBLE) BIGINT", "ROUND(DOUBLE, INTEGER) DOUBLE",
		"ROUND(DECIMAL) @", "ROUND(DECIMAL, INTEGER) $0"}, retFn: roundDecimal},
	{doc: "-1, 0 or 1 by the argument's sign.", sigs: []string{"SIGN(BIGINT) INTEGER", "SIGN(DOUBLE) INTEGER"}},
	{doc: "Square root.", sigs: []string{"SQRT(DOUBLE) DOUBLE"}},
	{doc: "e raised to the argument.", sigs: []string{"EXP(DOUBLE) DOUBLE"}},
	{doc: "Natural logarithm.", sigs: []string{"LN(DOUBLE) DOUBLE"}},
	{doc: "The first argument to the power of the second (a sluice extension).", sigs: []string{"POWER(DOUBLE, DOUBLE) DOUBLE"}},
	{doc: "π.", sigs: []string{"PI() DOUBLE"}},
	{doc: "Degrees to radians.", sigs: []string{"RADIANS(DOUBLE) DOUBLE"}},
	{doc: "Radians to degrees.", sigs: []string{"DEGREES(DOUBLE) DOUBLE"}},
	{doc: "Sine.", sigs: []string{"SIN(DOUBLE) DOUBLE"}},
	{doc: "Cosine.", sigs: []string{"COS(DOUBLE) DOUBLE"}},
	{doc: "Tangent.", sigs: []string{"TAN(DOUBLE) DOUBLE"}},
	{doc: "Cotangent.", sigs: []string{"COT(DOUBLE) DOUBLE"}},
	{doc: "Arc sine.", sigs: []string{"ASIN(DOUBLE) DOUBLE"}},
	{doc: "Arc cosine.", sigs: []string{"ACOS(DOUBLE) DOUBLE"}},
	{doc: "Arc tangent.", sigs: []string{"ATAN(DOUBLE) DOUBLE"}},
	{doc: "The angle of the point (x, y), given as (y, x).", sigs: []string{"ATAN2(DOUBLE, DOUBLE) DOUBLE"}},
	{doc: "Hyperbolic sine.", sigs: []string{"SINH(DOUBLE) DOUBLE"}},
	{doc: "Hyperbolic cosine.", sigs: []string{"COSH(DOUBLE) DOUBLE"}},
	{doc: "Hyperbolic tangent.", sigs: []string{"TANH(DOUBLE) DOUBLE"}},
	{doc: "The largest argument, ignoring NULLs.", sigs: []string{"GREATEST(T, T...) T"}},
	{doc: "The smallest argument, ignoring NULLs.", sigs: []string{"LEAST(T, T...) T"}},
	// NULL handling.
	{doc: "The first non-NULL argument.", sigs: []string{"COALESCE(T, T...) T"}},
	{doc: "The first argument, or the second when the first is NULL.", sigs: []string{"IFNULL(T, T) T"}},
	{doc: "NULL when the arguments are equal, else the first.", sigs: []string{"NULLIF(T, T) T"}},
	// Date and time.
	{doc: "Parses a string with a pattern into a TIMESTAMP, optionally in a time zone (default UTC).", sigs: []string{
		"PARSE_TIMESTAMP(STRING, STRING) TIMESTAMP", "PARSE_TIMESTAMP(STRING, STRING, STRING) TIMESTAMP"}},
	{doc: "Formats a TIMESTAMP with a pattern, optionally in a time zone (default UTC).", sigs: []string{
		"FORMAT_TIMESTAMP(TIMESTAMP, STRING) STRING", "FORMAT_TIMESTAMP(TIMESTAMP, STRING, STRING) STRING"}},
	{doc: "Formats epoch milliseconds with a pattern, optionally in a time zone (default UTC). Deprecated in ksqlDB.", sigs: []string{
		"TIMESTAMPTOSTRING(BIGINT, STRING) STRING", "TIMESTAMPTOSTRING(BIGINT, STRING, STRING) STRING"}},
	{doc: "Parses a string with a pattern into epoch milliseconds, optionally in a time zone. Deprecated in ksqlDB.", sigs: []string{
		"STRINGTOTIMESTAMP(STRING, STRING) BIGINT", "STRINGTOTIMESTAMP(STRING, STRING, STRING) BIGINT"}},
	{doc: "Parses a string with a pattern into a DATE.", sigs: []string{"PARSE_DATE(STRING, STRING) DATE"}},
	{doc: "Formats a DATE with a pattern.", sigs: []string{"FORMAT_DATE(DATE, STRING) STRING"}},
	{doc: "Parses a string with a pattern into a TIME.", sigs: []string{"PARSE_TIME(STRING, STRING) TIME"}},
	{doc: "Formats a TIME with a pattern.", sigs: []string{"FORMAT_TIME(TIME, STRING) STRING"}},
	{doc: "Formats days since 1970-01-01 with a pattern. Deprecated in ksqlDB.", sigs: []string{"DATETOSTRING(INTEGER, STRING) STRING"}},
	{doc: "Parses a string with a pattern into days since 1970-01-01. Deprecated in ksqlDB.", sigs: []string{"STRINGTODATE(STRING, STRING) INTEGER"}},
	{doc: "Epoch milliseconds of a TIMESTAMP, or of now.", sigs: []string{"UNIX_TIMESTAMP() BIGINT", "UNIX_TIMESTAMP(TIMESTAMP) BIGINT"}, volatile: true},
	{doc: "Days since 1970-01-01 of a DATE, or of today.", sigs: []string{"UNIX_DATE() INTEGER", "UNIX_DATE(DATE) INTEGER"}, volatile: true},
	{doc: "The TIMESTAMP of epoch milliseconds.", sigs: []string{"FROM_UNIXTIME(BIGINT) TIMESTAMP"}},
	{doc: "The DATE of days since 1970-01-01.", sigs: []string{"FROM_DAYS(INTEGER) DATE"}},
	{doc: "Converts a TIMESTAMP from one time zone to another.", sigs: []string{"CONVERT_TZ(TIMESTAMP, STRING, STRING) TIMESTAMP"}},
	{doc: "Adds an interval of a unit (DATEADD(DAYS, 3, d)) to a DATE.", sigs: []string{"DATEADD(STRING, INTEGER, DATE) DATE"}},
	{doc: "Subtracts an interval of a unit from a DATE.", sigs: []string{"DATESUB(STRING, INTEGER, DATE) DATE"}},
	{doc: "Adds an interval of a unit to a TIME, wrapping at midnight.", sigs: []string{"TIMEADD(STRING, INTEGER, TIME) TIME"}},
	{doc: "Subtracts an interval of a unit from a TIME, wrapping at midnight.", sigs: []string{"TIMESUB(STRING, INTEGER, TIME) TIME"}},
	{doc: "Adds an interval of a unit (TIMESTAMPADD(HOURS, 1, ts)) to a TIMESTAMP.", sigs: []string{"TIMESTAMPADD(STRING, BIGINT, TIMESTAMP) TIMESTAMP"}},
	{doc: "Subtracts an interval of a unit from a TIMESTAMP.", sigs: []string{"TIMESTAMPSUB(STRING, BIGINT, TIMESTAMP) TIMESTAMP"}},
	// Collections.
	{doc: "The number of elements of an array.", sigs: []string{"ARRAY_LENGTH(ARRAY<T>) INTEGER"}},
	{doc: "Whether an array contains a value.", sigs: []string{"ARRAY_CONTAINS(ARRAY<T>, T) BOOLEAN"}},
	{doc: "The elements as text joined by a delimiter (default ',').", sigs: []string{"ARRAY_JOIN(ARRAY<T>) STRING", "ARRAY_JOIN(ARRAY<T>, STRING) STRING"}},
	{doc: "The distinct elements, in first-seen order.", sigs: []string{"ARRAY_DISTINCT(ARRAY<T>) ARRAY<T>"}},
	{doc: "The largest non-NULL element.", sigs: []string{"ARRAY_MAX(ARRAY<T>) T"}},
	{doc: "The smallest non-NULL element.", sigs: []string{"ARRAY_MIN(ARRAY<T>) T"}},
	{doc: "The elements sorted, 'ASC' (default) or 'DESC'; NULLs last.", sigs: []string{"ARRAY_SORT(ARRAY<T>) ARRAY<T>", "ARRAY_SORT(ARRAY<T>, STRING) ARRAY<T>"}},
	{doc: "Both arrays, one after the other.", sigs: []string{"ARRAY_CONCAT(ARRAY<T>, ARRAY<T>) ARRAY<T>"}},
	{doc: "The distinct elements of the first array not in the second.", sigs: []string{"ARRAY_EXCEPT(ARRAY<T>, ARRAY<T>) ARRAY<T>"}},
	{doc: "The distinct elements of the first array in the second.", sigs: []string{"ARRAY_INTERSECT(ARRAY<T>, ARRAY<T>) ARRAY<T>"}},
	{doc: "The distinct elements of both arrays.", sigs: []string{"ARRAY_UNION(ARRAY<T>, ARRAY<T>) ARRAY<T>"}},
	{doc: "The array without the elements equal to a value.", sigs: []string{"ARRAY_REMOVE(ARRAY<T>, T) ARRAY<T>"}},
	{doc: "The elements between two 1-based positions, inclusive.", sigs: []string{"SLICE(ARRAY<T>, INTEGER, INTEGER) ARRAY<T>"}},
	{doc: "A map of keys and values given as two arrays.", sigs: []string{"AS_MAP(ARRAY<STRING>, ARRAY<T>) MAP<STRING, T>"}},
	{doc: "The keys of a map.", sigs: []string{"MAP_KEYS(MAP<STRING, T>) ARRAY<STRING>"}},
	{doc: "The values of a map.", sigs: []string{"MAP_VALUES(MAP<STRING, T>) ARRAY<T>"}},
	{doc: "Both maps' entries, the second's winning on a repeated key.", sigs: []string{"MAP_UNION(MAP<STRING, T>, MAP<STRING, T>) MAP<STRING, T>"}},
}

// aggregateTable lists the aggregate functions. LATEST_BY_OFFSET and
// EARLIEST_BY_OFFSET ignore NULLs unless their ignoreNulls argument is
// FALSE; with a count n they return the last (first) n values as an
// array. COUNT() is COUNT(*).
var aggregateTable = []entry{
	{doc: "The number of rows (COUNT(*)), or of rows where the argument is not NULL.", sigs: []string{"COUNT() BIGINT", "COUNT(T) BIGINT"}, undo: true},
	{doc: "The sum of the non-NULL values.", sigs: []string{"SUM(INTEGER) INTEGER", "SUM(BIGINT) BIGINT", "SUM(DOUBLE) DOUBLE", "SUM(DECIMAL) $0"}, undo: true},
	{doc: "The average of the non-NULL values.", sigs: []string{"AVG(INTEGER) DOUBLE", "AVG(BIGINT) DOUBLE", "AVG(DOUBLE) DOUBLE"}, undo: true},
	{doc: "The smallest non-NULL value.", sigs: []string{
		"MIN(INTEGER) INTEGER", "MIN(BIGINT) BIGINT", "MIN(DOUBLE) DOUBLE", "MIN(DECIMAL) $0", "MIN(STRING) STRING",
		"MIN(BYTES) BYTES", "MIN(DATE) DATE", "MIN(TIME) TIME", "MIN(TIMESTAMP) TIMESTAMP"}},
	{doc: "The largest non-NULL value.", sigs: []string{
		"MAX(INTEGER) INTEGER", "MAX(BIGINT) BIGINT", "MAX(DOUBLE) DOUBLE", "MAX(DECIMAL) $0", "MAX(STRING) STRING",
		"MAX(BYTES) BYTES", "MAX(DATE) DATE", "MAX(TIME) TIME", "MAX(TIMESTAMP) TIMESTAMP"}},
	{doc: "The value of the latest row (by input order), ignoring NULLs unless ignoreNulls is FALSE; with n, the latest n values.", sigs: []string{
		"LATEST_BY_OFFSET(T) T", "LATEST_BY_OFFSET(T, BOOLEAN!) T",
		"LATEST_BY_OFFSET(T, INTEGER!) ARRAY<T>", "LATEST_BY_OFFSET(T, INTEGER!, BOOLEAN!) ARRAY<T>"}},
	{doc: "The value of the earliest row (by input order), ignoring NULLs unless ignoreNulls is FALSE; with n, the earliest n values.", sigs: []string{
		"EARLIEST_BY_OFFSET(T) T", "EARLIEST_BY_OFFSET(T, BOOLEAN!) T",
		"EARLIEST_BY_OFFSET(T, INTEGER!) ARRAY<T>", "EARLIEST_BY_OFFSET(T, INTEGER!, BOOLEAN!) ARRAY<T>"}},
	{doc: "All values, NULLs included, in input order.", sigs: []string{"COLLECT_LIST(T) ARRAY<T>"}, undo: true},
	{doc: "The distinct values, NULLs included, in first-seen order.", sigs: []string{"COLLECT_SET(T) ARRAY<T>"}},
}
