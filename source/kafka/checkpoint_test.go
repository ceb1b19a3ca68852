package kafka

import (
	"testing"
)

// FuzzCheckpoint: a checkpoint of any content is parsed or refused with an
// error, never a panic; what parses has valid partitions and offsets and
// reads back the same.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"pg.public.items":{"0":42,"3":7}}`))
	f.Add([]byte(`{"t":{"0":-1}}`))
	f.Add([]byte(`{"t":{"-1":5}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseCheckpoint(b)
		if err != nil {
			return
		}
		for topic, ps := range o {
			for p, off := range ps {
				if p < 0 || off < 0 {
					t.Fatalf("parsed %s: topic %q partition %d offset %d", b, topic, p, off)
				}
			}
		}
		again, err := parseCheckpoint(o.checkpoint())
		if err != nil || string(again.checkpoint()) != string(o.checkpoint()) {
			t.Fatalf("%s does not read back: %v", o.checkpoint(), err)
		}
	})
}

// TestCheckpointNegative: a negative partition or offset is refused: kgo
// reads negative offsets as "the end" or "the start" of a partition, so a
// damaged checkpoint would silently skip or replay it.
func TestCheckpointNegative(t *testing.T) {
	for in, want := range map[string]string{
		`{"t":{"0":-2}}`: `kafka source: checkpoint: topic t partition 0: offset -2 is negative`,
		`{"t":{"-1":5}}`: `kafka source: checkpoint: topic t: partition "-1" is not a partition number`,
	} {
		if _, err := parseCheckpoint([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", in, err, want)
		}
	}
}
