// Package eval evaluates sluice's streaming SQL: it compiles the resolved
// expressions of package ir into closures (Compile), holds the scalar
// function library (ResolveScalar, FunctionReference) and implements the
// aggregate functions (CompileAggregate). The reference semantics are
// ksqlDB 0.28's; every place sluice differs is written below with the
// reason. The user-facing list of functions is generated from this
// package into docs/reference/sql-functions.md.
//
// # Errors: never a silent NULL
//
// ksqlDB evaluates an expression and, when it throws (a bad cast, an
// unparsable timestamp, an integer division by zero), writes the error to
// its processing log and carries on with NULL. sluice does not: an
// Evaluator's error is a record error, which the pipeline sends to the
// dead-letter destination or stops on (issue 11). So these are errors in
// sluice where ksqlDB gives NULL: failed casts and parses, integer and
// DECIMAL division or modulo by zero, text that is not JSON for
// EXTRACTJSONFIELD, JSON_ARRAY_LENGTH and JSON_KEYS, an invalid JSON path,
// regular expression, pattern, zone or time unit, and a DECIMAL result
// that does not fit its type. Integer overflow is an error too, where
// ksqlDB's Java arithmetic wraps around silently (2147483647 + 1 is
// -2147483648 there), and so is a narrowing cast out of range (ksqlDB
// keeps the low bits of a BIGINT, saturates a DOUBLE). A constant that
// fails (a bad pattern literal) fails Compile, so the query is refused
// before it runs. Where ksqlDB returns NULL by design — an array index out
// of range, a missing map key or JSON path, LPAD to a negative length —
// sluice returns NULL too.
//
// # NULL
//
// AND, OR and NOT follow SQL's three-valued logic (ksqlDB throws on a NULL
// operand, giving NULL). A comparison with a NULL operand is NULL where
// ksqlDB says FALSE: the same in a WHERE clause, different under NOT,
// where NOT (x = NULL) stays NULL (the row is dropped) while ksqlDB makes
// it TRUE. x IN (…) is TRUE on a match, else NULL if x or an item is NULL,
// else FALSE (ksqlDB: FALSE), so NOT IN with a NULL item is never TRUE, as
// in SQL. BETWEEN is x >= lo AND x <= hi. A CASE condition that is NULL is
// not TRUE; a CASE without ELSE gives NULL. Arithmetic and concatenation
// with NULL give NULL (ksqlDB's 'a' + NULL is 'anull', Java's string
// concatenation). A scalar function with a NULL argument gives NULL
// unless its description says otherwise (COALESCE, CONCAT, INSTR, …).
//
// # Comparisons
//
// Numbers compare exactly when either side is DECIMAL (a DOUBLE through
// its Java text, as BigDecimal.valueOf), as doubles when either is DOUBLE
// (NaN makes every comparison FALSE, -0.0 equals 0.0, as Java's primitive
// comparisons), else as integers. Strings compare as Java's compareTo, by
// UTF-16 code units (characters above U+FFFF sort before U+E000…U+FFFF);
// BYTES as ByteBuffer.compareTo, by signed bytes. A DATE compares with a
// TIMESTAMP as its midnight; a STRING compared with a DATE, TIME or
// TIMESTAMP is read as one (CAST's rules; text that does not parse is an
// error). BOOLEAN, ARRAY, MAP and STRUCT have = and <> only: deep
// equality, NULL elements equal, map entries in any order, and inside
// collections NaN equals NaN as Java's Double.equals.
//
// # Arithmetic
//
// The planner gives each operation its result type with ksqlDB's rules;
// eval computes in it. INTEGER with INTEGER is INTEGER, with BIGINT
// BIGINT; / truncates toward zero and % takes the dividend's sign, as
// Java. DOUBLE arithmetic is IEEE 754 (1.0 / 0 is Infinity, as Java). A
// DECIMAL operation converts INTEGER and BIGINT operands to DECIMAL(10, 0)
// and DECIMAL(19, 0) and is exact; with a DOUBLE operand the operation is
// DOUBLE. ksqlDB's result types are, for DECIMAL(p1, s1) op DECIMAL(p2,
// s2): + and − DECIMAL(max(p1-s1, p2-s2) + max(s1, s2) + 1, max(s1, s2));
// * DECIMAL(p1+p2+1, s1+s2); / DECIMAL(p1-s1+s2+max(6, s1+p2+1), max(6,
// s1+p2+1)); % DECIMAL(min(p1-s1, p2-s2) + max(s1, s2), max(s1, s2)). A
// quotient is rounded half up to the result's scale (10.00 / 3.00 is
// 3.3333333); ksqlDB fails there (NULL) whenever the exact quotient has
// more digits than the result's precision, so every quotient that does
// not terminate (10 / 3) is NULL in ksqlDB — sluice rounds as SQL Server,
// where the type rules come from. ksqlDB's 'a' + b concatenates strings.
//
// The DOUBLE math functions are Java's Math as ksqlDB's UDFs call it,
// checked against Java 17 over 58k calls (TestMathMatchesJava): SQRT,
// DEGREES and RADIANS (one multiplication by Java's constant), and POWER's
// special cases (a NaN exponent, and ±1 to an infinite power, are NaN)
// bit for bit; EXP, LN, SINH, COSH, TANH, ASIN, ATAN and ATAN2 within one
// ulp, which Java's Math itself allows (javamath.go mends Go's math where
// it differed: overflow just below the largest double, subnormal
// logarithms, a lost sign). A deliberate gap: SIN, COS, TAN, COT, ACOS and
// other POWERs are Go's, which can be off in the last bits — up to
// hundreds of ulps (a relative 1e-13) for huge arguments, near multiples
// of π, ACOS near 1, or large integer powers — where Java's are within one
// ulp; matching them needs fdlibm's argument reduction and kernels, not
// yet ported.
//
// Implicit widening, for function arguments, CASE results and the
// operands of comparisons: INTEGER → BIGINT → DECIMAL → DOUBLE, a DECIMAL
// to a wider DECIMAL, DATE → TIMESTAMP, and collections element-wise.
//
// # CAST
//
// The casts are ksqlDB's. STRING to a number reads Java's syntax
// (Integer.parseInt, Double.parseDouble: "1e3", "1.5d") after trimming;
// NaN and Infinity are refused. STRING to BOOLEAN accepts any case of a
// prefix of true, yes, false, no and fails on anything else (ksqlDB:
// FALSE). DOUBLE and DECIMAL to INTEGER or BIGINT truncate toward zero.
// To DECIMAL(p, s) rounds half up to s; a DOUBLE goes through its exact
// binary value rounded to p digits first, as ksqlDB (so CAST(1.005 AS
// DECIMAL(5, 2)) is 1.01); a value that does not fit after rounding is an
// error (ksqlDB checks before rounding and lets 9.995 through as the
// four-digit 10.00 of a DECIMAL(3, 2)). DOUBLE to STRING is Java's
// Double.toString ("1.0", "1.0E7", "4.9E-324") as JDK 19 and later print
// it; JDK 11, which ksqlDB runs on, prints one superfluous digit for a
// rare few doubles (JDK-4511638). DECIMAL to STRING is its plain text.
// TIMESTAMP to STRING is yyyy-MM-dd'T'HH:mm:ss.SSS in UTC, with six
// fraction digits when the value has microseconds (ksqlDB's TIMESTAMP
// has milliseconds only); DATE is yyyy-MM-dd; TIME is LocalTime's text of
// its whole seconds ("10:30", "10:30:05"), as ksqlDB. STRING to TIMESTAMP
// reads yyyy-MM-dd'T'HH:mm:ss.SSS, trailing parts optional ("2020-05"),
// with an offset (+hh, +hhmm, +hh:mm, Z), up to six fraction digits
// (ksqlDB: three). ARRAY, MAP and STRUCT to STRING print as Java's
// toString of what ksqlDB holds ([1, null], {a=1}, Struct{A=1} without
// NULL fields); a MAP prints in sluice's insertion order, where Java's
// HashMap order is unspecified. ARRAY, MAP and STRUCT cast element-wise,
// a STRUCT field by field by name.
//
// # Strings, LIKE, subscripts
//
// LEN, SUBSTRING, INSTR, LPAD, RPAD and the MASK functions count UTF-16
// code units as Java (LEN('😀') is 2). LCASE and UCASE use Unicode's
// simple case mapping (Java upper-cases ß to SS). LIKE matches the whole
// string, case-sensitively: % any run of characters, line breaks included
// (ksqlDB's regular expression stops at them), _ one character, and the
// ESCAPE character makes the next one literal; a pattern ending with it is
// an error. Regular expressions are RE2 (Go's regexp): Java's syntax
// without lookaround, backreferences, possessive quantifiers and atomic
// groups, which fail to compile with an error saying so; REGEXP_REPLACE
// reads Java's replacement syntax. x[i] is 1-based, negative from the end,
// NULL out of range or for a NULL index; m[k] is the value of key k.
//
// # Dates and times
//
// Patterns are Java's DateTimeFormatter, compiled by package javatime
// (tested against Java). PARSE_TIMESTAMP and FORMAT_TIMESTAMP default to
// GMT as ksqlDB; STRINGTOTIMESTAMP and TIMESTAMPTOSTRING, which use the
// JVM's zone in ksqlDB, use UTC. ksqlDB's parser keeps milliseconds, and
// so does sluice's PARSE_TIMESTAMP. PARSE_DATE takes DateTimeFormatter
// letters where ksqlDB takes SimpleDateFormat's (the same for y, M, d).
// DATEADD and friends take the unit as a constant string ('DAYS' or
// 'DAY', … 'NANOSECONDS'); DATEADD of hours floors to the day (ksqlDB
// truncates toward 1970, moving dates before it forward).
//
// # Functions left out
//
// RANDOM and UUID are left out: a replay after a crash (which sluice's
// exactly-once state makes routine) would give other values, and a UUID
// used as a document id would duplicate documents in a sink.
// UNIX_TIMESTAMP() and UNIX_DATE() read the clock and are kept, documented
// as not repeatable. LTRIM, RTRIM and POWER are sluice extensions.
//
// # Aggregates
//
// An Aggregator keeps its state in bytes that start with a layout version
// (accV1), so operators store it as it is; Add, Undo and Merge never write
// into the accumulator they are given. Values inside use a tagged,
// self-describing encoding (aggcodec.go) whose decoder checks every
// length: damaged state is an error, never a panic. COUNT, SUM, AVG and
// COLLECT_LIST undo (ksqlDB's table aggregations); MIN, MAX, the _BY_OFFSET
// functions and COLLECT_SET do not (Undo's ok is false, and the planner
// refuses them over tables, as ksqlDB). SUM of no rows is 0 and AVG 0.0,
// as ksqlDB. COLLECT_LIST, COLLECT_SET and the n of the _BY_OFFSET
// functions are bounded by CollectLimit (1000), ksqlDB's
// collect_list.limit in Confluent Cloud; 0.28 is unbounded by default,
// which would let one group's state grow without limit.
// LATEST_BY_OFFSET keeps the value of the highest seq Add was given
// (EARLIEST the lowest), so order is by the input's sequence, not by
// arrival; NULLs are ignored unless the last argument is FALSE. Every
// aggregator implements ir.Merger for session windows.
//
// # What the planner must match
//
// Function names are upper case. ir.Call.T must be what ResolveScalar
// gives for the arguments' types (Compile checks); an argument may be
// narrower than its parameter (Compile widens it). ARRAY[…], MAP(k := v,
// …) and STRUCT(f := v, …) are calls of ARRAY, MAP (keys and values
// alternating) and STRUCT (T names the fields). The unit of DATEADD,
// TIMESTAMPADD, TIMEADD and their _SUB forms is a STRING literal. The
// count and ignore-nulls arguments of LATEST_BY_OFFSET and
// EARLIEST_BY_OFFSET are literals (ResolveAggregate takes their values);
// COUNT(*) has no arguments. IsAggregate tells aggregates from scalars;
// FunctionNames lists both for "did you mean".
//
// # Speed
//
// Compile turns the tree into nested closures once; a node whose inputs
// are constants is evaluated at compile time, and a constant operand of a
// binary operator once. Scalars travel as event.Value (no interface, no
// allocation): filters and numeric projections allocate nothing per row;
// only new strings, decimals and collections do. Eval runs on one
// goroutine at a time (ir.Evaluator's contract), which lets a call reuse
// one argument buffer. Figures are in bench_test.go.
package eval
