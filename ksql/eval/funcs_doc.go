package eval

import (
	"fmt"
	"slices"
	"strings"
)

// funcDocs describes every function for the generated reference
// (docs/reference/sql-functions.md; TestFunctionReference keeps it fresh).
var funcDocs = map[string]string{
	// Strings
	"CONCAT":                "Joins its arguments; NULLs are skipped.",
	"CONCAT_WS":             "Joins the arguments after the first with the first as separator; NULLs are skipped, a NULL separator gives NULL.",
	"LCASE":                 "Lower case (Unicode simple case mapping).",
	"UCASE":                 "Upper case (Unicode simple case mapping; Java maps ß to SS, sluice keeps ß).",
	"TRIM":                  "Removes characters up to space (' ' and control characters) at both ends, as Java's trim.",
	"LTRIM":                 "TRIM at the start only (a sluice extension).",
	"RTRIM":                 "TRIM at the end only (a sluice extension).",
	"LEN":                   "The length in UTF-16 code units as Java counts (LEN('😀') is 2); bytes for BYTES.",
	"SUBSTRING":             "The part from a 1-based position (negative: from the end), of the given length or to the end; positions beyond the string clamp.",
	"REPLACE":               "Replaces every occurrence of the second argument by the third.",
	"INSTR":                 "The 1-based position of the occurrence-th match of a substring from a position (negative: searching backwards from the end); 0 when absent or when the string or substring is NULL.",
	"INITCAP":               "Lower-cases the string and capitalises the first character of every run of non-space characters; leading whitespace is dropped, as ksqlDB does.",
	"LPAD":                  "Pads on the left with repeats of the padding to the length, or cuts to it; NULL for a negative length or empty padding.",
	"RPAD":                  "Pads on the right with repeats of the padding to the length, or cuts to it; NULL for a negative length or empty padding.",
	"SPLIT":                 "Splits at every delimiter, empty pieces included; an empty delimiter splits into characters.",
	"SPLIT_TO_MAP":          "Splits into entries at the first delimiter and each entry into key and value at the second; entries without it are skipped, a repeated key keeps its last value.",
	"CHR":                   "The character of a code point, or of a Java escape such as '\\u004b'; NULL for an invalid one.",
	"ELT":                   "The n-th of the remaining arguments (1-based), NULL when there is none.",
	"FIELD":                 "The 1-based position of the first argument among the others, 0 when absent or NULL.",
	"MASK":                  "Replaces upper-case letters by X, lower-case by x, digits by n and other characters by -, or by the given mask characters (NULL: keep that class).",
	"MASK_KEEP_LEFT":        "MASK except the first n characters.",
	"MASK_KEEP_RIGHT":       "MASK except the last n characters.",
	"MASK_LEFT":             "MASK of the first n characters only.",
	"MASK_RIGHT":            "MASK of the last n characters only.",
	"REGEXP_EXTRACT":        "The first match of a regular expression (pattern first), or its group; NULL without a match or group. RE2 syntax.",
	"REGEXP_EXTRACT_ALL":    "Every match of a regular expression, or its group.",
	"REGEXP_REPLACE":        "Replaces every match of a regular expression; the replacement uses Java's syntax ($1, ${name}, \\$).",
	"REGEXP_SPLIT_TO_ARRAY": "Splits at every match of a regular expression.",
	"ENCODE":                "Converts text between the encodings hex, utf8, ascii and base64.",
	"TO_BYTES":              "The bytes of a text in the encoding hex, utf8, ascii or base64.",
	"FROM_BYTES":            "The text of bytes in the encoding hex, utf8, ascii or base64.",
	// Math
	"ABS":      "The absolute value; ABS of the smallest INTEGER or BIGINT is an overflow error.",
	"CEIL":     "The smallest whole number not below the value; a DECIMAL keeps its type.",
	"FLOOR":    "The largest whole number not above the value; a DECIMAL keeps its type.",
	"ROUND":    "Rounds half up (toward positive infinity on ties) to a whole number (a BIGINT for DOUBLE) or to the given decimal places (negative: left of the point).",
	"SIGN":     "-1, 0 or 1.",
	"SQRT":     "The square root (NaN for a negative number).",
	"EXP":      "e to the power of the value.",
	"LN":       "The natural logarithm.",
	"POWER":    "The first argument to the power of the second (a sluice extension).",
	"ACOS":     "Arc cosine.",
	"ASIN":     "Arc sine.",
	"ATAN":     "Arc tangent.",
	"ATAN2":    "The angle of the point (x, y) given as (y, x).",
	"COS":      "Cosine.",
	"COSH":     "Hyperbolic cosine.",
	"COT":      "Cotangent.",
	"SIN":      "Sine.",
	"SINH":     "Hyperbolic sine.",
	"TAN":      "Tangent.",
	"TANH":     "Hyperbolic tangent.",
	"DEGREES":  "Radians to degrees.",
	"RADIANS":  "Degrees to radians.",
	"PI":       "π.",
	"GREATEST": "The greatest non-NULL argument (NULL when all are NULL); DOUBLE NaN is the greatest.",
	"LEAST":    "The least non-NULL argument (NULL when all are NULL).",
	// NULLs
	"COALESCE": "The first non-NULL argument.",
	"IFNULL":   "The first argument, or the second when it is NULL.",
	"NULLIF":   "NULL when both arguments are equal, else the first.",
	// Time
	"PARSE_TIMESTAMP":   "Reads a TIMESTAMP with a Java DateTimeFormatter pattern, in the text's zone, else the given zone, else GMT; milliseconds are kept, as ksqlDB.",
	"STRINGTOTIMESTAMP": "PARSE_TIMESTAMP as milliseconds since the epoch (BIGINT); the default zone is UTC.",
	"FORMAT_TIMESTAMP":  "Writes a TIMESTAMP with a Java DateTimeFormatter pattern in the given zone, else GMT.",
	"TIMESTAMPTOSTRING": "FORMAT_TIMESTAMP of milliseconds since the epoch (BIGINT); the default zone is UTC.",
	"PARSE_DATE":        "Reads a DATE with a pattern; a pattern with time fields is an error.",
	"STRINGTODATE":      "Reads a whole date with a pattern as days since 1970-01-01 (INTEGER).",
	"FORMAT_DATE":       "Writes a DATE with a pattern (time letters are an error).",
	"DATETOSTRING":      "FORMAT_DATE of days since 1970-01-01 (INTEGER).",
	"PARSE_TIME":        "Reads a TIME with a pattern (date letters are an error).",
	"FORMAT_TIME":       "Writes a TIME with a pattern (date letters are an error).",
	"UNIX_TIMESTAMP":    "Milliseconds since the epoch of a TIMESTAMP, or of now (not repeatable: a replay after a crash reads the clock again).",
	"UNIX_DATE":         "Days since 1970-01-01 of a DATE, or of today in UTC (not repeatable).",
	"FROM_UNIXTIME":     "The TIMESTAMP of milliseconds since the epoch.",
	"FROM_DAYS":         "The DATE of days since 1970-01-01.",
	"DATEADD":           "Adds an interval to a DATE: DATEADD('DAYS', 3, d); units NANOSECONDS … DAYS, singular or plural, as a constant.",
	"DATESUB":           "Subtracts an interval from a DATE.",
	"TIMESTAMPADD":      "Adds an interval to a TIMESTAMP: TIMESTAMPADD('HOURS', 1, ts).",
	"TIMESTAMPSUB":      "Subtracts an interval from a TIMESTAMP.",
	"TIMEADD":           "Adds an interval to a TIME, wrapping around midnight.",
	"TIMESUB":           "Subtracts an interval from a TIME, wrapping around midnight.",
	"CONVERT_TZ":        "Shifts a TIMESTAMP by the difference between two zones' offsets at that time.",
	// JSON
	"EXTRACTJSONFIELD":    "The value at a JSONPath ($.a.b, $.a[0], $[\"a b\"]): a string as its text, anything else as compact JSON; NULL where the path leads nowhere. Text that is not JSON is an error.",
	"IS_JSON_STRING":      "Whether the text is JSON (FALSE for NULL and empty text).",
	"JSON_ARRAY_LENGTH":   "The number of elements of a JSON array; NULL for other JSON; text that is not JSON is an error.",
	"JSON_KEYS":           "The keys of a JSON object, in order; NULL for other JSON; text that is not JSON is an error.",
	"JSON_ARRAY_CONTAINS": "Whether a JSON array has a top-level element equal to the value, of the same JSON kind; FALSE for text that is not a JSON array.",
	"TO_JSON_STRING":      "The value as JSON: struct fields and map keys sorted, decimals plain, BYTES in base64, temporal values as CAST to STRING gives them.",
	// Collections
	"ARRAY_LENGTH":    "The number of elements.",
	"ARRAY_CONTAINS":  "Whether the array has an element equal to the value (NULL equals NULL); FALSE for a NULL array.",
	"ARRAY_DISTINCT":  "The distinct elements, in first-seen order.",
	"ARRAY_UNION":     "The distinct elements of both arrays.",
	"ARRAY_INTERSECT": "The distinct elements of the first array that are in the second.",
	"ARRAY_EXCEPT":    "The distinct elements of the first array that are not in the second.",
	"ARRAY_REMOVE":    "The array without the elements equal to the value.",
	"ARRAY_CONCAT":    "Both arrays one after the other; NULL only when both are NULL.",
	"ARRAY_JOIN":      "The elements' text joined by a delimiter (default ','); NULL elements are 'null'.",
	"ARRAY_MAX":       "The greatest non-NULL element.",
	"ARRAY_MIN":       "The least non-NULL element.",
	"ARRAY_SORT":      "The array sorted 'ASC' (default) or 'DESC', NULLs last; NULL for another direction.",
	"SLICE":           "The elements from a 1-based position to another, inclusive (NULL: the start or the end); NULL when out of range.",
	"AS_MAP":          "A MAP of keys and values given as two arrays (a missing value is NULL).",
	"MAP_KEYS":        "The keys of a MAP.",
	"MAP_VALUES":      "The values of a MAP.",
	"MAP_UNION":       "Both maps' entries, the second's winning on a repeated key.",
}

// aggDocs describes the aggregate functions.
var aggDocs = map[string]string{
	"COUNT":              "COUNT(*) counts rows, COUNT(x) rows where x is not NULL. Undoable.",
	"SUM":                "The sum of the non-NULL values, 0 for none, of the argument's type; overflow is an error. Undoable.",
	"AVG":                "The average of the non-NULL values as a DOUBLE, 0.0 for none. Undoable.",
	"MIN":                "The least non-NULL value. Not undoable (ksqlDB refuses it over tables too).",
	"MAX":                "The greatest non-NULL value. Not undoable.",
	"LATEST_BY_OFFSET":   "The value of the latest row (highest sequence); NULLs are ignored unless the last argument is FALSE; with a count, the latest n values, oldest first (at most 1000). Not undoable.",
	"EARLIEST_BY_OFFSET": "The value of the earliest row; NULLs ignored unless told otherwise; with a count, the earliest n values. Not undoable.",
	"COLLECT_LIST":       "Every value, NULLs included, in arrival order, up to 1000. Undoable.",
	"COLLECT_SET":        "The distinct values, in arrival order, up to 1000. Not undoable (as in ksqlDB).",
}

// FunctionReference is the Markdown reference of the function library.
func FunctionReference() string {
	var b strings.Builder
	b.WriteString("# Streaming SQL functions\n\n")
	b.WriteString("Generated from package ksql/eval (`go test ./ksql/eval -run TestFunctionReference -update`). ")
	b.WriteString("Names are case-insensitive; an argument may be narrower than its parameter (INTEGER for BIGINT or DOUBLE, DATE for TIMESTAMP). ")
	b.WriteString("Unless a function says otherwise, a NULL argument gives NULL. A failure at run time (text that does not parse, an overflow) is a record error, never a silent NULL. ")
	b.WriteString("Type variables: T stands for one type throughout a signature, ANY for any type.\n\n")
	b.WriteString("## Scalar functions\n\n| Function | Signatures | Description |\n|---|---|---|\n")
	var names []string
	for n := range scalars {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		sigs := Signatures(n)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", n, escapeCell(strings.Join(sigs, "<br>")), escapeCell(funcDocs[n]))
	}
	b.WriteString("\nConstructors: `ARRAY[a, b]`, `MAP(k1 := v1, k2 := v2)` and `STRUCT(name := v, …)` build collections; their values widen to one type.\n")
	b.WriteString("\n## Aggregate functions\n\n| Function | Signatures | Description |\n|---|---|---|\n")
	names = names[:0]
	for n := range aggregates {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", n, escapeCell(strings.Join(aggregates[n].sigs, "<br>")), escapeCell(aggDocs[n]))
	}
	b.WriteString("\n## Left out\n\n")
	b.WriteString("RANDOM and UUID (a replay after a crash would give other values, and a UUID used as a key would duplicate documents in a sink); ")
	b.WriteString("the lambda functions (TRANSFORM, FILTER, REDUCE) and table functions (EXPLODE); ")
	b.WriteString("TOPK, TOPKDISTINCT, HISTOGRAM, COUNT_DISTINCT, STDDEV_SAMP; GEO_DISTANCE, the URL_ functions, ENTRIES, GENERATE_SERIES, JSON_CONCAT, JSON_RECORDS, ")
	b.WriteString("INT_FROM_BYTES and friends. LOG is not there either: ksqlDB has none and SQL dialects disagree on its base; use LN(x) / LN(b).\n")
	return b.String()
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
