package kafka

// SetChunkEvents sets how many events Write builds before producing them
// (chunkEvents) until the returned function restores it: the conformance
// suite's small Writes then span several chunks.
func SetChunkEvents(n int) (restore func()) {
	old := chunkEvents
	chunkEvents = n
	return func() { chunkEvents = old }
}
