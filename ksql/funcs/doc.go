// Package funcs is the catalogue of the streaming SQL's functions and the
// typing rules of its operators and casts: names, overloads with their
// argument and return types, documentation, and which aggregates can run
// over tables. The planner (package plan) resolves every call and
// operator here and writes the resolved types into the ir; the expression
// compiler (package eval) implements each function and reads the same
// table, so the two cannot disagree on a name or a type.
//
// # Contract with eval
//
//   - An ir.Call or ir.AggCall names a function of Builtin by its
//     upper-case name. Its arguments already have exactly the parameter
//     types of the overload the planner chose (Match.Params): the planner
//     wraps an argument in an ir.Cast where it widened it (INTEGER to
//     BIGINT, to DOUBLE, to DECIMAL(10, 0) …) or typed a NULL. So eval can
//     pick the implementation by the argument types, or call
//     Func.Resolve(argTypes) to get the overload index. The call's T is
//     Match.Ret.
//   - COUNT(*) is an ir.AggCall "COUNT" with no arguments.
//   - An argument marked literal ("!", LATEST_BY_OFFSET's n and
//     ignoreNulls) is an *ir.Literal.
//   - Func.Undo says which aggregates must implement
//     ir.Aggregator.Undo (the planner refuses the others over a table).
//   - Binary gives the operand and result types of each operator; the
//     planner converts both operands to the operand type (for arithmetic on
//     DECIMALs each keeps its own precision and scale; the result type is
//     the ir.Binary's T, and the value is rounded half-up to its scale).
//   - CanCast lists the casts an ir.Cast may ask for.
//   - Constructors are ir.Calls of three pseudo-functions that are not in
//     the registry, built by the planner when an element is not constant
//     (a constant one is an ir.Literal): ARRAY (its elements, all of the
//     element type), MAP (keys and values alternating: k1, v1, k2, v2 …)
//     and STRUCT (the field values in the order of the Call's T.Fields).
//   - A FULL OUTER join's synthetic key is COALESCE(left key, right key).
//
// The planner types ROWTIME, WINDOWSTART and WINDOWEND as BIGINT epoch
// milliseconds (ksqlDB 0.28's SystemColumns), so the deprecated BIGINT
// time functions (TIMESTAMPTOSTRING(ROWTIME, …)) apply to them as written.
//
// Signatures are written as text in builtin.go ("SUBSTRING(STRING,
// INTEGER) STRING"), the form the error messages and the reference show.
//
// # Resolution (ksqlDB's rules)
//
// A call takes the overload needing the fewest implicit widenings;
// widening follows ksqlDB: INTEGER → BIGINT → DECIMAL → DOUBLE, nothing
// narrows, and no other type converts implicitly (STRING never becomes a
// number without CAST). A type variable T takes the common type of its
// scalar arguments (COALESCE(INTEGER, BIGINT) is BIGINT), but one bound
// inside an ARRAY or MAP is exact. An argument that is NULL fits any
// parameter; a call whose type variables are bound by NULLs alone is an
// error, as in ksqlDB.
package funcs
