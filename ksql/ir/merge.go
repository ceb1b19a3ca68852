package ir

// Merger is implemented by the Aggregators that SESSION windows can use:
// when a row bridges two sessions of a key, the operator merges their
// accumulators into one (Kafka Streams' session Merger, ksqlDB's
// UDAF merge). Merge returns the accumulator of the rows of both a and b;
// it must not depend on which of the two came first, except for functions
// ordered by the input sequence (LATEST_BY_OFFSET, EARLIEST_BY_OFFSET),
// which compare the sequences their accumulators keep.
type Merger interface {
	Merge(a, b []byte) ([]byte, error)
}
