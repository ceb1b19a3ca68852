// Package exec runs the streaming SQL's query plans (package ir) as
// operators over a processor's operator state (component.State), driven by
// change events, emitting output rows. The rules each operator follows,
// with the ksqlDB / Kafka Streams rule behind it, are written at the
// operator's type; the package doc gathers them once the operators are
// complete.
package exec
