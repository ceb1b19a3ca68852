package exec

import "github.com/sluice-dev/sluice/event"

// AppendRow appends the row encoding of row (see rowenc.go) to b, for
// callers keeping rows in the same operator state (the sql processor's
// buffer of inputs that wait for a schema).
func AppendRow(b []byte, row []event.Value) []byte { return appendRow(b, row) }

// DecodeRowPrefix decodes a row written by AppendRow at the start of b and
// returns it with the number of bytes it took.
func DecodeRowPrefix(b []byte) ([]event.Value, int, error) { return decodeRowPrefix(b) }
