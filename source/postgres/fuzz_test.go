package postgres

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// Every decoder and parser must return an error, never panic, on any input.

var fuzzTypes = []*colType{
	{dec: decString}, {dec: decBool}, {dec: decInt}, {dec: decNumeric}, {dec: decFloat32}, {dec: decFloat64},
	{dec: decBytea}, {dec: decDate}, {dec: decTime}, {dec: decTimeTZ}, {dec: decTimestamp}, {dec: decTimestampTZ},
	{dec: decInterval}, {dec: decMoney},
	{dec: decArray, elem: &colType{dec: decInt}, delim: ','},
	{dec: decArray, elem: &colType{dec: decString}, delim: ','},
	{dec: decArray, elem: &colType{dec: decTimestampTZ}, delim: ','},
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{
		"-5", "12.340", "NaN", "Infinity", "1.1", "t", `\xdeadbeef`, "2024-02-29", "0044-03-15 BC", "infinity",
		"13:45:12.123456", "13:45:12.5+02", "00:30:00-01:30:15", "2024-01-02 03:04:05.678", "2024-01-02 03:04:05+05:30",
		"P1Y2M3DT4H5M6.5S", "P-1DT-1.25S", "PT0S", "$1,234.50", "-$0.25", "{1,NULL,3}", `{"a b","c\"d",NULL}`,
		"{{1,2},{3,4}}", "[0:1]={1,2}", `{"2024-01-02 03:04:05+00"}`, "", "{", "}", "P", "-", "24:00:00",
	} {
		for i := range fuzzTypes {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		ct := fuzzTypes[int(which)%len(fuzzTypes)]
		v, err := decodeText(ct, s)
		if err == nil && ct.dec == decString && v.Str != s {
			t.Fatalf("string decoder changed %q to %q", s, v.Str)
		}
	})
}

func FuzzCopyLine(f *testing.F) {
	for _, s := range []string{
		"1\tabc\t\\N", `a\tb\\c\nd\x41\101\q`, "\t\t", "", `\`, `\x`, `\xZ`, `\7777`, "a\tb",
	} {
		f.Add(uint8(3), s)
	}
	f.Fuzz(func(t *testing.T, n uint8, line string) {
		fields := make([]copyField, int(n%16)+1)
		if err := splitCopyLine(line, fields); err != nil {
			return
		}
		// Without escapes, fields joined by tabs give the line back.
		joined := ""
		for i, fl := range fields {
			if i > 0 {
				joined += "\t"
			}
			if fl.null {
				joined += `\N`
			} else {
				joined += fl.s
			}
		}
		if !containsByte(line, '\\') && joined != line {
			t.Fatalf("split %q rejoined as %q", line, joined)
		}
	})
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

type discardEmitter struct{ n int }

func (d *discardEmitter) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	d.n += len(evs)
	return nil
}

// pgoutput message builders, shared with the unit tests.
type msgBuilder []byte

func (b msgBuilder) u8(v byte) msgBuilder    { return append(b, v) }
func (b msgBuilder) u16(v uint16) msgBuilder { return binary.BigEndian.AppendUint16(b, v) }
func (b msgBuilder) u32(v uint32) msgBuilder { return binary.BigEndian.AppendUint32(b, v) }
func (b msgBuilder) u64(v uint64) msgBuilder { return binary.BigEndian.AppendUint64(b, v) }
func (b msgBuilder) str(s string) msgBuilder { return append(append(b, s...), 0) }
func (b msgBuilder) text(s string) msgBuilder {
	return append(b.u8('t').u32(uint32(len(s))), s...)
}

func sampleMessages() [][]byte {
	rel := msgBuilder{'R'}.u32(16384).str("public").str("t").u8('d').u16(3).
		u8(1).str("id").u32(23).u32(0xffffffff).
		u8(0).str("v").u32(25).u32(0xffffffff).
		u8(0).str("ts").u32(1184).u32(0xffffffff)
	begin := msgBuilder{'B'}.u64(0x1000).u64(1).u32(7)
	ins := msgBuilder{'I'}.u32(16384).u8('N').u16(3).text("1").text("x").text("2024-01-02 03:04:05+00")
	upd := msgBuilder{'U'}.u32(16384).u8('K').u16(3).text("1").u8('n').u8('n').u8('N').u16(3).text("2").u8('u').u8('n')
	del := msgBuilder{'D'}.u32(16384).u8('K').u16(3).text("2").u8('n').u8('n')
	trunc := msgBuilder{'T'}.u32(1).u8(0).u32(16384)
	commit := msgBuilder{'C'}.u8(0).u64(0x1000).u64(0x1010).u64(1)
	msg := msgBuilder{'M'}.u8(0).u64(0x1020).str(heartbeatPrefix).u32(0)
	return [][]byte{rel, begin, ins, upd, del, trunc, commit, msg}
}

func fuzzDecoder() (*streamDecoder, *discardEmitter) {
	s := &Source{cfg: *DefaultConfig(), log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	s.cfg.BatchSize = 2
	out := &discardEmitter{}
	cp := &checkpoint{Version: 1, Slot: "s", Phase: phaseStream}
	return newStreamDecoder(s, out, serverInfo{version: 150000, database: "db"}, nil, nil, cp, 0x100), out
}

func FuzzPgoutput(f *testing.F) {
	// Input: messages, each prefixed by a 2-byte length.
	var all []byte
	for _, m := range sampleMessages() {
		all = binary.BigEndian.AppendUint16(all, uint16(len(m)))
		all = append(all, m...)
		f.Add(append([]byte(nil), all...))
	}
	for _, m := range sampleMessages() {
		f.Add(binary.BigEndian.AppendUint16(nil, uint16(len(m))))
		f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m[:len(m)/2]...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := fuzzDecoder()
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			if err := d.handle(context.Background(), 0x200, string(data[:n])); err != nil {
				return
			}
			data = data[n:]
		}
	})
}

func TestPgoutputDecoder(t *testing.T) {
	d, out := fuzzDecoder()
	for i, m := range sampleMessages() {
		if err := d.handle(context.Background(), uint64(0x200+i), string(m)); err != nil {
			t.Fatalf("message %d (%c): %v", i, m[0], err)
		}
	}
	// insert, update, delete, truncate; the heartbeat flushed them.
	if out.n != 4 {
		t.Fatalf("emitted %d events, want 4", out.n)
	}
	if d.emitted != 0x1020 {
		t.Fatalf("checkpoint LSN %X, want the heartbeat's 1020", d.emitted)
	}
	// Every truncation of a valid message is an error, not a panic.
	for _, m := range sampleMessages() {
		for n := 0; n < len(m); n++ {
			d, _ := fuzzDecoder()
			for _, pre := range sampleMessages()[:2] {
				_ = d.handle(context.Background(), 1, string(pre))
			}
			_ = d.handle(context.Background(), 1, string(m[:n]))
		}
	}
}
