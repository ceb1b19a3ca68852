// Package expr evaluates the expressions of the filter and map processors
// on change events, with expr-lang (github.com/expr-lang/expr): its syntax,
// operators and builtins (https://expr-lang.org/docs/language-definition),
// typed values, and an exact decimal type.
//
// # Two compilations
//
// Compile checks an expression when the pipeline file is loaded, without
// knowing any table: syntax, unknown functions, unknown metadata fields
// (meta.ops) and types it can tell are reported with the file's line and
// the position in the expression. Columns are unknown then and pass.
//
// Expr.For compiles it again for one table's Schema, at the first event of
// that schema, and caches the result per *event.Schema (a schema change
// upstream brings a new Schema, hence a new compilation). Columns now have
// types, so a misspelt column (`column "prise" not in
// shop.public.product`, with `did you mean price?`) or a type mismatch is
// found there. Such an error belongs to the events of that schema: the
// processor reports each of them as a record error (to its dead letter, or
// stopping the pipeline), it does not crash the process, and other tables
// flow on.
//
// # Names
//
//	price, name, ...   columns of the row being evaluated: the after image,
//	                   the before image for a delete (see Program.Eval)
//	after.price        the after image's column (nil when there is no after image);
//	before.price       likewise; after and before alone are maps of every column
//	op                 "r" (snapshot read), "c", "u", "d", "t" (truncate)
//	stream, table      e.g. "shop.public.orders", "orders"
//	schema, namespace  the schema (PostgreSQL) or "" where the source has none
//	database, source   the database; the source's name in the pipeline
//	connector          "postgresql", "mysql", "mongodb", ...
//	key                the key columns as a map (key.id), nil without a key
//	ts_ms, ts_us       commit time in the source, ms or µs since the epoch (int)
//	snapshot           true for rows read by a snapshot
//	meta.op, ...       the metadata above, whatever the columns are called
//	$env["odd name"]   a column whose name is not an identifier
//	col("name")        the column as an untyped value, nil when the table
//	                   lacks it: one expression for documents of several
//	                   shapes (Data Prepper's /key); a branch that does not
//	                   fit the column's type fails only when it runs
//
// Besides expr-lang's builtins, decimal() and round(x, places),
// regex_replace(s, pattern, replacement) replaces every match of an RE2
// pattern, with $1, ${name} for groups and $$ for a $ (Go's
// regexp.Expand); NULL gives NULL. parse_time(s, layout[, zone]) parses
// with a Go layout (NULL when it does not parse, so alternatives chain
// with ??), format_time(t, layout[, zone]) formats in a zone (default
// UTC), parse_epoch(v, "s,ms,us,ns") reads a number of seconds,
// milliseconds, microseconds or nanoseconds since the epoch, told by its
// digits (timefuncs.go).
//
// A column shadows the metadata name it shares (a column called source is
// read by `source`; the source's name is then meta.source). `after`,
// `before` and `meta` always mean the images and the metadata; a column
// with one of those names is read as after.after, after.meta, and so on.
// Configurations that must keep their meaning when a table gains a column
// should write meta.op rather than op.
//
// # Types
//
// Values are typed: an expression never sees a number as text or a time as
// an integer.
//
//	column type (event.Type)             expression value (Go type)
//	bool                                 bool
//	int16, int32, int64                  int64
//	float32, float64                     float64 (a float32 widened exactly)
//	decimal, numeric, money              Decimal (exact; NaN and ±Infinity kept)
//	string, uuid, enum, xml, inet, other string
//	bytes                                []byte
//	json, jsonb                          parsed: map[string]any, []any, string,
//	                                     bool, nil, int64 for integers that fit,
//	                                     else float64
//	date                                 time.Time, midnight UTC
//	time                                 time.Time on 0000-01-01 UTC (Go's date
//	                                     for a clock time: date("09:30", "15:04"))
//	timetz                               time.Time on 0000-01-01 in its own zone
//	timestamp (no zone)                  time.Time in UTC (the wall clock as stored)
//	timestamptz                          time.Time in UTC (the instant)
//	interval                             time.Duration (a month is 30.4375 days)
//	array                                []any of the element type's values
//	NULL                                 nil
//
// Times keep their zones: date(), now() and the time methods (ts.Hour(),
// ts.In(...)) see the instant and zone above, and date("2024-01-01") is
// midnight UTC, not the machine's local time.
//
// Decimal arithmetic never goes through float64. + - * % and comparisons
// are exact and keep the SQL scale (10.50 * 2 is 21.00); / keeps at least
// 16 significant digits (PostgreSQL's rule) and rounds half away from zero.
// An integer operand is exact; a float operand, and so a float literal, is
// taken at its shortest decimal text (10.5 is exactly 10.5), so `price >
// 10.5` compares exactly. Literals next to a decimal are converted once, at
// compile time. round(x, places), floor, ceil, abs, int, float, unary minus,
// `in` and decimal(x) (from text, integers, floats) work on decimals.
// Reading a decimal through a computed name (after[name]) gives a Decimal
// without a static type, which the operators do not reach; compare it
// through decimal(x) or read it by name.
//
// Methods: an expression calls the methods of the values it holds
// (tstz.Year(), t.In(timezone("Asia/Kolkata")).Hour(), d.Hours()) for
// time.Time, time.Duration, time.Month, time.Weekday, *time.Location and
// Decimal. expr-lang is built from third_party/expr, which looks methods
// up by constant names (its SLUICE.md): a lookup by a name the compiler
// cannot see makes the Go linker keep every exported method of the whole
// program, 20 MB of sluice's executable (TestLinkerDropsUncalledMethods,
// TestMethodNamesCover).
//
// Integer arithmetic is expr-lang's: 64-bit, wrapping on overflow as Go
// does, and / between integers gives a float. Use decimal(x) for exact
// results beyond 2^63.
//
// # NULL, unchanged TOAST, errors
//
// NULL is nil. Comparing with == and != is defined (nil == nil), ??
// supplies a default (qty ?? 0), and optional chaining reads into JSON
// (doc?.a?.b). Any other operation on nil (qty > 10 where qty is NULL) is
// an error of that event, with a hint naming the NULL column: never a
// silent false.
//
// A column the source did not send (event.KindUnchanged: PostgreSQL's
// unchanged TOAST values) is not NULL and is never made up: an expression
// that names it fails on such an event, whether or not the branch that
// reads it runs (after or before used as a whole map, as in after[name],
// read every column). A processor turns every evaluation error into a record
// error of the event (component.RecordErrors), which goes to the
// processor's dead letter or stops the pipeline with its checkpoint
// intact. Messages name the configuration key, the expression and the
// position in it; they never include row values of their own (a message
// of expr-lang itself may quote an argument, as int("abc") does).
//
// # Cost
//
// Most conditions and map expressions (comparisons, && || !, arithmetic,
// in, contains, matches with a constant pattern, ?:, upper, lower, trim
// and len over boolean, integer, float and text columns, read by name or
// by col("name"), a decimal column compared with a number, op and the
// schema's metadata) take the direct path (fast.go): Go closures built
// from the checked tree that read the row's values in place and box only
// the result. Anything else, and any event where a value read is NULL or
// an unchanged TOAST value, runs on expr-lang's virtual machine, which
// gives the same results (FuzzDirect, TestDirectMatchesMachine).
//
// On the machine, an evaluation converts only the values the expression
// names, stores them in a map that lives as long as the Env, and runs the
// compiled program in a reused virtual machine: no map or row is
// allocated per event; boxing a value the expression reads may allocate
// (an int64 beyond 255, a string header, a time, a parsed decimal).
// Metadata of the schema (stream, table, ...) is boxed once per
// compilation.
//
// Measured (BenchmarkEval, 2 cores), machine → direct path: a float
// comparison on seed 001's product row 66 → 11 ns (1 → 0 allocations);
// two conditions 126 → 30 ns; op and table 117 → 49 ns; upper(name) 193 →
// 118 ns; a Data Prepper condition as translated, col("quantity") != nil
// && col("quantity") > 10, 364 → 28 ns (1 → 0 allocations); a decimal
// column compared with a number 217 → 66 ns (4 → 0
// allocations: the column's text is compared digit by digit, not parsed);
// decimal arithmetic stays on the machine, about 350 ns and 7 allocations.
package expr
