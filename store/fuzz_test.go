package store

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeUndo: any bytes decode without a panic, and a decoded record
// encodes back to a record that decodes the same.
func FuzzDecodeUndo(f *testing.F) {
	f.Add(appendUndo(nil, []byte("key"), []byte("old value"), true))
	f.Add(appendUndo(nil, []byte("key"), nil, false))
	f.Add(appendUndo(nil, nil, nil, true))
	f.Add([]byte{undoPresent, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		key, old, present, err := decodeUndo(rec)
		if err != nil {
			return
		}
		k2, o2, p2, err := decodeUndo(appendUndo(nil, key, old, present))
		if err != nil || !bytes.Equal(k2, key) || !bytes.Equal(o2, old) || p2 != present {
			t.Fatalf("round trip of %q: %q %q %v %v", rec, k2, o2, p2, err)
		}
	})
}

// FuzzParseUndoKey: any bytes parse without a panic; a parsed key ends
// with its parts, and the key its parts make parses the same.
func FuzzParseUndoKey(f *testing.F) {
	f.Add(appendU64(appendU64(spacePrefix(tagUndo, "agg"), 7), 3))
	f.Add(appendU64(appendU64(spacePrefix(tagUndo, ""), 0), 0))
	f.Add([]byte("u\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, k []byte) {
		proc, epoch, seq, err := parseUndoKey(k)
		if err != nil {
			return
		}
		again := appendU64(appendU64(spacePrefix(tagUndo, proc), epoch), seq)
		p2, e2, s2, err := parseUndoKey(again)
		if err != nil || p2 != proc || e2 != epoch || s2 != seq || !bytes.HasSuffix(k, again[len(again)-16-len(proc):]) {
			t.Fatalf("%q parses to %q %d %d, which make %q (%q %d %d %v)", k, proc, epoch, seq, again, p2, e2, s2, err)
		}
	})
}

// FuzzDecodeLease: any bytes decode without a panic, and a decoded row
// encodes back to a row that decodes the same.
func FuzzDecodeLease(f *testing.F) {
	f.Add(encodeLease(Lease{Kind: "chunk", Owner: "node-1", Status: StatusOwned, Progress: []byte(`{"row":7}`), Epoch: 3, Version: 9, Expires: time.Unix(0, 1767322245000000000)}))
	f.Add(encodeLease(Lease{Kind: "leader", Status: StatusOpen, Version: 1}))
	f.Add([]byte{leaseRowVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, row []byte) {
		l, err := decodeLease(row)
		if err != nil {
			return
		}
		l2, err := decodeLease(encodeLease(l))
		if err != nil || l2.Kind != l.Kind || l2.Owner != l.Owner || l2.Status != l.Status || !bytes.Equal(l2.Progress, l.Progress) ||
			l2.Epoch != l.Epoch || l2.Version != l.Version || !l2.Expires.Equal(l.Expires) {
			t.Fatalf("round trip of %q: %+v → %+v, %v", row, l, l2, err)
		}
	})
}
