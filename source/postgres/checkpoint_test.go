package postgres

import (
	"testing"
)

// FuzzCheckpoint: a checkpoint of any content is parsed or refused with an
// error; one that parses can be cloned and marshalled (what the snapshot
// does with it) without panicking, and reads back the same.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"v":1,"slot":"s","phase":"snapshot","consistent_point":"0/16B3748","tables":{"public.orders":{"last_key":["41000"]},"public.items":{"done":true}}}`))
	f.Add([]byte(`{"v":1,"slot":"s","phase":"stream","consistent_point":"0/16B3748","lsn":"0/1A2B3C0"}`))
	f.Add([]byte(`{"v":1,"slot":"s","phase":"snapshot","tables":{"public.gone":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := parseCheckpoint(b)
		if err != nil || cp == nil {
			return
		}
		again, err := parseCheckpoint(cp.clone().marshal())
		if err != nil || string(again.marshal()) != string(cp.marshal()) {
			t.Fatalf("%s does not read back: %v", cp.marshal(), err)
		}
	})
}

// TestCheckpointNullTable: a table entry without progress is refused at
// parse time (clone dereferenced it: a panic).
func TestCheckpointNullTable(t *testing.T) {
	_, err := parseCheckpoint([]byte(`{"v":1,"slot":"s","phase":"snapshot","tables":{"public.gone":null}}`))
	if err == nil || err.Error() != `checkpoint table "public.gone" has no progress` {
		t.Fatalf("got %v", err)
	}
}
