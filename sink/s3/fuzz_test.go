package s3

import (
	"bytes"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// FuzzReadSpool: a spool file of any content (a torn or corrupted tail, a
// foreign file) is read without panicking, and what it yields is a prefix
// of whole, checksummed records.
func FuzzReadSpool(f *testing.F) {
	var good []byte
	good = appendFrame(good, recHeader, pos{}, 0, []byte(`{"stream":"s"}`))
	good = appendFrame(good, 0, pos{hi: 1, lo: 2}, 3, []byte("line\n"))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var total int64
		end, err := readSpool(bytes.NewReader(b), false, func(_ byte, _ pos, _ int64, payload []byte) error {
			total += int64(len(payload)) + frameHead
			return nil
		})
		if err != nil || end != total || end > int64(len(b)) {
			t.Fatalf("end %d, records %d bytes, input %d, err %v", end, total, len(b), err)
		}
	})
}

// FuzzDecodeRow: spooled Parquet rows of any content decode or fail
// cleanly.
func FuzzDecodeRow(f *testing.F) {
	row, _, _ := parquetRow(nil, specsFor(typesSchema), &event.Event{Schema: typesSchema, Op: event.OpCreate, After: typesRow(1)})
	f.Add(appendRow(nil, row))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeRow(nil, b)
	})
}

// FuzzPartition: any template parses or is rejected, and renders without
// panicking.
func FuzzPartition(f *testing.F) {
	f.Add(DefaultPartition)
	f.Add("$${x}/${table}$")
	f.Add("${")
	e := change(1, event.OpCreate)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePartition(s)
		if err == nil {
			p.render(nil, &e)
		}
	})
}
