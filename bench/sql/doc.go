// Package benchsql holds the streaming SQL benchmark's queries (issue 11,
// "Benchmark"): one file per topology, a_*.sql to d_*.sql, each the twin of
// the same-lettered Kafka Streams topology in scripts/kstreams/Bench.java,
// over the input shape documented in README.md. It has no code: its test
// keeps the files planning against that shape as the dialect evolves.
package benchsql
