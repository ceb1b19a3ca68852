package postgres

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
)

// BenchmarkStreamDecode decodes transactions of 2,048 updates of the
// benchmark's product rows (cmd/sluice-bench) into batches of 2,048
// events, as the drain does: the decoder's cost per change, without the
// network or the engine.
func BenchmarkStreamDecode(b *testing.B) {
	s := &Source{cfg: *DefaultConfig(), log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	out := &discardEmitter{}
	cp := &checkpoint{Version: 1, Slot: "s", Phase: phaseStream}
	d := newStreamDecoder(s, out, serverInfo{version: 150000, database: "db"}, nil, nil, cp, 0x100)
	d.nowMs = 1 // the clock is read per network read (receive)
	rel := msgBuilder{'R'}.u32(16384).str("public").str("product").u8('d').u16(8).
		u8(1).str("id").u32(23).u32(0xffffffff).
		u8(0).str("name").u32(1043).u32(504).
		u8(0).str("price").u32(701).u32(0xffffffff).
		u8(0).str("color").u32(1043).u32(54).
		u8(0).str("category").u32(1043).u32(54).
		u8(0).str("quantity").u32(23).u32(0xffffffff).
		u8(0).str("description").u32(1043).u32(1004).
		u8(0).str("internalId").u32(1043).u32(54)
	if err := d.handle(context.Background(), 0x100, string(rel)); err != nil {
		b.Fatal(err)
	}
	const rows = 2048
	upd := make([]string, rows)
	for i := range upd {
		upd[i] = string(msgBuilder{'U'}.u32(16384).u8('N').u16(8).text(strconv.Itoa(i + 1)).text("Ergonomic Rustic Gloves").
			text("123.45").text("violet").text("Tools").text(strconv.Itoa(i % 97)).
			text("The sturdy design for everyday use, batch 512; ref 0f3ad1c2b4e5968778695a4b3c2d1e0f, checked in hall 17").
			text("B0009PC1XA"))
	}
	lsn := uint64(0x1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		lsn += 0x100000
		begin := msgBuilder{'B'}.u64(lsn + 0x80000).u64(1).u32(7)
		if err := d.handle(context.Background(), lsn, string(begin)); err != nil {
			b.Fatal(err)
		}
		for i := range upd {
			if err := d.handle(context.Background(), lsn+uint64(i)*64, upd[i]); err != nil {
				b.Fatal(err)
			}
		}
		commit := msgBuilder{'C'}.u8(0).u64(lsn + 0x80000).u64(lsn + 0x80010).u64(1)
		if err := d.handle(context.Background(), lsn+0x80000, string(commit)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/change")
	b.ReportMetric(0, "ns/op")
}
